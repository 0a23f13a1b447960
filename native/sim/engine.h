// SPDX-License-Identifier: GPL-2.0-or-later
// The simulated DAHDI "kernel": spans, channels, cables, faults, conferences and the 1 ms tick.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "hdlc.h"
#include "protocol.h"

namespace switchboard::sim {

using simproto::Slot;

enum class SpanType { E1, T1, Analog };
enum class PortType { None, FXS, FXO };  // analog module type: FXS powers a phone, FXO faces a line

struct Faults {
  bool los = false;      // receive pair pulled at this span
  bool ais = false;      // all-ones arriving at this span
  bool rai = false;      // far end's RAI bit forced on towards this span
  double errorRate = 0;  // bit error ratio on this span's receive
  double slipPpm = 0;    // clock offset of this span's receive, parts per million
};

struct Counters {
  uint32_t bpv = 0, crc4 = 0, ebit = 0, fas = 0, fe = 0, cv = 0, be = 0, errsec = 0, slips = 0;
};

struct Chan;

struct Span {
  int no = 0;
  std::string name, desc;
  SpanType type = SpanType::E1;
  int nchans = 0;
  int basechan = 0;
  int cable = 0;                 // span number at the far end of the cable, 0 = none
  bool configured = false;       // DAHDI_SPANCONFIG seen
  bool running = false;          // DAHDI_STARTUP seen
  int lineconfig = 0, lbo = 0, sync = 0;
  Faults faults;
  Counters counters;
  uint32_t alarms = 0;           // DAHDI_ALARM_*
  bool sendingRai = false;
  double errAcc = 0, slipAcc = 0;
  bool erroredThisSecond = false;
  uint32_t tickInSecond = 0;
  std::vector<PortType> ports;   // analog: module type per port
  std::vector<Chan*> chans;      // index chanpos-1
};

struct Conf;

struct alignas(64) Chan {
  // --- what the tick touches every millisecond, together at the front (the first two cache lines) ---
  bool open = false;
  bool txstarted = false;        // DAHDI_POLICY_WHEN_FULL: transmit held until all buffers full
  bool confOutValid = false;
  int slot = 0;                  // shared-memory slot index
  uint32_t rxfill = 0;           // bytes in the receive block being filled
  uint32_t txpos = 0;            // bytes of the current transmit block already sent
  std::array<uint8_t, 8> apptx{}, linerx{}, linetx{};
  int rxbits = -1, txbits = 0;   // CAS/RBS ABCD
  int sig = 0;                   // configured DAHDI_SIG_*, 0 = unused
  std::unique_ptr<HdlcEncoder> enc;
  std::unique_ptr<HdlcDecoder> dec;
  // A copy of the open slot's buffer geometry, so the tick need not read the slot's parameters
  // (the daemon is their only writer; syncParams() refreshes it after every change).
  uint32_t bs = 0, nb = 0, txpolicy = 0;
  uint8_t idleCode = 0xFF;
  uint8_t* rxbuf = nullptr;
  uint8_t* txbuf = nullptr;
  const uint8_t* txHint = nullptr;  // where the next transmit bytes are read (for prefetching)
  uint8_t* rxHint = nullptr;        // where the next received bytes go
  // --- identity and configuration ---
  int channo = 0;
  Span* span = nullptr;          // null for pseudo channels
  int chanpos = 0;
  bool pseudo = false;
  PortType port = PortType::None;
  int peerChan = 0;              // analog: channel on the other end of the line
  uint32_t sigcap = 0;
  int deflaw = 0;
  int idlebits = 0;
  int dacs = 0;                  // DACS partner channel
  uint64_t openerId = 0;         // connection that has it open
  int echocan = 0;               // echo canceller taps (pass-through)
  std::string echocanName;
  int tonezone = -1;
  int confno = 0, confmode = 0;
  int hdlcRate = 64;
  // analog
  bool offhook = false;          // FXO module: our app's hook; FXS module: the far device's hook
  bool ringing = false;          // FXS module ringing the line
  bool ringOn = false;
  uint32_t ringPhaseMs = 0;      // ms into the current cadence position
  int cadencePos = 0;            // even positions ring, odd ones are silent
  int firstCadencePos = 0;       // where the cadence loops back to (DAHDI's negative entry)
  std::array<int, 16> cadence{};  // DAHDI_SETCADENCE (DAHDI_MAX_CADENCE entries), ms; all 0: the default 2 s on, 4 s off
  std::array<int16_t, 8> confOut{};  // conference mix this real channel sends on the next tick
  int defaultLaw() const;        // the configured law, else A-law on E1 and mu-law elsewhere
  uint8_t idle() const;
};

struct TimerFile {
  int slot = 0;
  uint32_t period = 0, countdown = 0;
};

// The result of an RPC: return value, errno, payload to copy back.
struct IoResult {
  int ret = 0;
  int err = 0;
  int value = -1;
};

struct OpenFile {
  uint64_t id = 0;
  uint32_t kind = 0;             // simproto::DevKind
  Chan* chan = nullptr;          // after DAHDI_SPECIFY / numbered open / pseudo
  TimerFile* timer = nullptr;
};

struct TickStats {
  bool realtime = false;
  uint64_t ticks = 0;
  static constexpr size_t kLateBuckets = 20000;  // 1 us buckets up to 20 ms; the last one holds more
  uint64_t lateHist[kLateBuckets] = {};
  uint64_t lateMaxUs = 0;
  uint64_t busyNs = 0;           // time spent processing ticks
};

class Engine {
 public:
  Engine(simproto::Header* shm, std::vector<Span> spans, std::vector<std::pair<int, int>> analogLines);
  std::mutex mu;                 // held by the tick and by every RPC

  // --- RPC side (caller holds mu) ---
  IoResult open(OpenFile& f, uint32_t kind, int num, int flags);
  void close(OpenFile& f);
  IoResult ioctl(OpenFile& f, uint32_t cmd, std::vector<uint8_t>& data);

  // --- tick (caller holds mu) ---
  void tick();
  // wakers signalled by the last tick or RPC (the I/O layer writes their eventfds)
  std::vector<int> takeWakers();

  // --- control (caller holds mu) ---
  std::string cable(int a, int b);
  std::string uncable(int span);
  std::string fault(int span, const std::string& kind, double value);
  const std::vector<Span>& spans() const { return spans_; }
  int openChannels(const Span& s) const;
  // Per-channel state of a span as a JSON array (text), for `sim status --channels`.
  std::string channelsJson(int span);
  int spanCount() const { return static_cast<int>(spans_.size()); }
  TickStats stats;

 private:
  simproto::Slot& slotOf(int idx) { return slots_[idx]; }
  Chan* chanByNo(int channo);
  Chan* portChan(int span, int port);
  void resetBuffers(Chan& c, bool rx, bool tx);
  void qevent(Chan& c, int ev);
  void notify(simproto::Slot& s);
  void hangupChan(Chan& c);
  void applyChanSig(Chan& c, int sig);
  void spanAlarms(Span& s);
  void produceTx(Chan& c, uint8_t* out);
  void consumeRx(Chan& c, const uint8_t* in);
  void pushRxBlockBytes(Chan& c, const uint8_t* in, size_t n);
  void pushRxFrame(Chan& c, const std::vector<uint8_t>& frame);
  void analogTick(Chan& c);
  void carry(Span& from, Span& to);
  IoResult bindNumbered(OpenFile& f, int channo, const char* how);
  IoResult chanIoctl(OpenFile& f, Chan& c, uint32_t cmd, std::vector<uint8_t>& data);
  IoResult ctlIoctl(OpenFile& f, uint32_t cmd, std::vector<uint8_t>& data, bool& handled);
  Chan* allocPseudo();
  void freePseudo(Chan* c);
  void logUnknownIoctl(const OpenFile& f, uint32_t cmd);
  static bool inConference(const Chan& c);
  int lawOf(const Chan& c) const;
  void recountBridges();
  // Buffer arena (shared memory after the slots): size classes of powers of two, 256 B to 32 KiB.
  void sizeBuffers(Slot& s);
  void freeBuffers(Slot& s);
  uint32_t allocBuf(uint32_t bytes);
  void freeBuf(uint32_t off, uint32_t bytes);
  uint8_t* rxData(const Slot& s) { return arena_ + s.rx_off; }
  uint8_t* txData(const Slot& s) { return arena_ + s.tx_off; }
  void initSlot(Slot& s, Chan& c, uint32_t kind);
  void syncParams(Chan& c);
  void bindChan(Chan& c, uint64_t id);
  bool listen(Chan& c, const std::map<int, std::array<int32_t, 8>>& mix, std::array<int16_t, 8>& out);

  simproto::Slot* slots_;
  std::vector<Span> spans_;
  std::vector<Chan> chanStore_;                    // the real channels, contiguous
  std::vector<Chan*> chans_;                       // index channo (0 unused) into chanStore_
  std::vector<Chan*> wire_;                        // every real channel in span order, for the tick
  void prefetch(const std::vector<Chan*>& list, size_t i, bool tx);
  std::vector<std::unique_ptr<Chan>> pseudos_;
  std::vector<std::unique_ptr<TimerFile>> timers_;
  std::vector<int> freeSlots_;
  std::vector<int> pendingWakers_;
  std::vector<uint8_t> wakerMarked_;
  std::mt19937_64 rng_{20261122};
  int defaultZone_ = 0;
  std::map<int, std::string> zones_;
  int nextPseudoNo_ = 0;
  int bridges_ = 0;
  uint8_t* arena_ = nullptr;
  uint64_t arenaTop_ = 0;
  std::vector<uint32_t> freeLists_[8];
  std::vector<uint32_t> slotBytes_;  // bytes allocated per direction per slot, 0 = none  // channels with DACS or a conference mode: the tick skips that work when none
};


}  // namespace switchboard::sim
