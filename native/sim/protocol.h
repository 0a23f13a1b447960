// SPDX-License-Identifier: GPL-2.0-or-later
// The contract between the userspace DAHDI daemon and its preload library: shared-memory layout and RPC messages.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

// How it fits together
// --------------------
// The daemon (switchboard-simd) plays the DAHDI kernel: it owns spans, channels, cables and the
// 1 ms tick. The preload library (libdahdisim.so) plays the character devices: every open() of a
// /dev/dahdi/* path becomes a SOCK_SEQPACKET connection to DIR/dahdi.sock, and that socket is the
// file descriptor the program sees (so poll, epoll and close are real). ioctls travel over that
// socket as RPCs; bearer data never does. Each channel's receive and transmit buffers, its event
// queue and its wait state live in one shared-memory segment (a memfd handed to each process
// once, over its session socket), laid out like the kernel's numbufs x blocksize buffers, so
// read() and write() are memory copies in the caller's process.
//
// Waking a waiting process: each waiting thread owns an eventfd registered with the daemon as a
// "waker". Before it sleeps it writes its waker index and the readiness it waits for into the
// channel; the daemon, when that readiness appears, takes the waker (exchange to -1) and signals
// its eventfd once at the end of the tick. The waiter re-checks the shared state after arming,
// so no wake-up is lost.

namespace simproto {

constexpr uint32_t kVersion = 1;
constexpr uint32_t kMaxSlots = 8192;       // channels + pseudo channels + timers
constexpr uint32_t kMaxWakers = 4096;
constexpr uint32_t kBufSpace = 32768;      // DAHDI_MAX_BUF_SPACE: numbufs * blocksize per direction
constexpr uint32_t kMaxBufs = 32;          // DAHDI_MAX_NUM_BUFS
constexpr uint32_t kMaxEvents = 64;        // DAHDI_MAX_EVENTSIZE

// Readiness bits, the same values as poll(2) so translation is trivial.
constexpr uint32_t kReadyIn = 0x001;       // POLLIN
constexpr uint32_t kReadyPri = 0x002;      // POLLPRI
constexpr uint32_t kReadyOut = 0x004;      // POLLOUT

enum SlotKind : uint32_t { SLOT_FREE = 0, SLOT_CHAN = 1, SLOT_PSEUDO = 2, SLOT_TIMER = 3 };

// Channel flags mirrored to the client (the daemon is the only writer, under its engine lock).
constexpr uint32_t CF_OPEN = 1u << 0;
constexpr uint32_t CF_LINEAR = 1u << 1;    // DAHDI_SETLINEAR: read/write signed 16-bit samples
constexpr uint32_t CF_HDLC = 1u << 2;      // frames, not a byte stream
constexpr uint32_t CF_FCS = 1u << 3;       // HDLC with the two FCS bytes carried to/from the user
constexpr uint32_t CF_GONE = 1u << 4;      // span removed: reads fail with ENODEV

struct alignas(64) Slot {
  // --- identity and parameters (daemon writes under its lock; client reads) ---
  std::atomic<uint32_t> kind;
  std::atomic<uint32_t> flags;
  std::atomic<uint32_t> gen;               // bumped whenever buffers are reset (blocksize, flush)
  int32_t channo;
  uint32_t blocksize;
  uint32_t numbufs;
  uint32_t txpolicy;                       // DAHDI_POLICY_*
  uint32_t law;                            // DAHDI_LAW_MULAW or DAHDI_LAW_ALAW
  uint32_t rx_off;                         // numbufs x blocksize receive bytes, at arena + rx_off
  uint32_t tx_off;                         // and the transmit bytes, at arena + tx_off

  // --- receive buffers: daemon produces, client consumes ---
  alignas(64) std::atomic<uint32_t> rx_in;   // blocks completed (monotonic)
  std::atomic<uint32_t> rx_out;              // blocks consumed (monotonic)
  uint32_t rx_len[kMaxBufs];

  // --- transmit buffers: client produces, daemon consumes ---
  alignas(64) std::atomic<uint32_t> tx_in;
  std::atomic<uint32_t> tx_out;
  uint32_t tx_len[kMaxBufs];

  // --- events: daemon produces, client consumes ---
  alignas(64) std::atomic<uint32_t> ev_in;
  std::atomic<uint32_t> ev_out;
  int32_t ev[kMaxEvents];

  // --- timers (/dev/dahdi/timer) ---
  std::atomic<uint32_t> timer_tripped;
  std::atomic<uint32_t> timer_ping;

  // --- waiting ---
  alignas(64) std::atomic<int32_t> waker;    // waker index of the thread waiting, or -1
  std::atomic<uint32_t> waitmask;            // kReady* bits it waits for

  // --- counters the client bumps (daemon reads for status) ---
  std::atomic<uint32_t> rx_overruns;
  std::atomic<uint32_t> tx_underruns;
};

struct Header {
  uint32_t magic;                          // 'DHSM'
  uint32_t version;
  uint32_t nslots;
  uint32_t slot_size;
};

constexpr uint32_t kMagic = 0x4d534844;
constexpr size_t kSlotsOffset = 4096;
// The buffers live apart from the slots, packed by the daemon's allocator: a channel with 4 x 160
// byte blocks uses 1 KiB per direction, not 32 KiB, so thousands of streaming channels touch few
// pages per tick. The arena is sparse: room for every slot at the largest buffer space.
constexpr size_t kArenaOffset = (kSlotsOffset + sizeof(Slot) * kMaxSlots + 4095) / 4096 * 4096;
constexpr size_t kArenaSize = size_t{kMaxSlots} * 2 * kBufSpace;
inline size_t shmSize() { return kArenaOffset + kArenaSize; }

// Readiness of a slot as seen by poll(): computed identically by daemon and client.
inline uint32_t readiness(const Slot& s) {
  uint32_t r = 0;
  uint32_t kind = s.kind.load(std::memory_order_acquire);
  if (kind == SLOT_TIMER) {
    if (s.timer_tripped.load(std::memory_order_acquire) || s.timer_ping.load(std::memory_order_acquire))
      r |= kReadyPri;
    return r;
  }
  if (s.ev_in.load(std::memory_order_acquire) != s.ev_out.load(std::memory_order_acquire)) r |= kReadyPri;
  if (s.rx_in.load(std::memory_order_acquire) != s.rx_out.load(std::memory_order_acquire)) r |= kReadyIn;
  uint32_t nb = s.numbufs ? s.numbufs : 1;
  if (s.tx_in.load(std::memory_order_acquire) - s.tx_out.load(std::memory_order_acquire) < nb) r |= kReadyOut;
  if (s.flags.load(std::memory_order_acquire) & CF_GONE) r |= kReadyIn | kReadyPri;
  return r;
}

// ---- RPC messages over the SOCK_SEQPACKET sockets ----
enum MsgType : uint32_t {
  MSG_HELLO = 1,        // session: -> Reply + memfd (SCM_RIGHTS)
  MSG_WAKER_ADD = 2,    // session: eventfd in SCM_RIGHTS -> Reply.value = waker index
  MSG_WAKER_DEL = 3,    // session: arg = waker index
  MSG_OPEN = 4,         // file: path kind + number -> Reply.value = slot or -1
  MSG_IOCTL = 5,        // file: cmd + payload -> Reply + payload
};

enum DevKind : uint32_t { DEV_CTL = 1, DEV_CHANNEL = 2, DEV_PSEUDO = 3, DEV_TIMER = 4, DEV_NUMBERED = 5 };

struct Request {
  uint32_t type;
  uint32_t arg;         // dev kind (OPEN), waker index (WAKER_DEL)
  uint32_t cmd;         // ioctl request (IOCTL)
  int32_t num;          // channel number for DEV_NUMBERED; caller pid for HELLO; open flags for OPEN
  uint32_t len;         // payload bytes that follow
  uint32_t pad;
  // payload follows
};

struct Reply {
  int32_t ret;          // return value of the call (>= 0) or -1
  int32_t err;          // errno when ret == -1
  int32_t value;        // slot index, waker index, ...
  uint32_t len;         // payload bytes that follow
  // payload follows
};

constexpr size_t kMaxPayload = 65536;

}  // namespace simproto
