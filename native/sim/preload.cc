// SPDX-License-Identifier: GPL-2.0-or-later
// libdahdisim.so: an LD_PRELOAD library that turns /dev/dahdi/* calls of any program into the simulator.
#include <dahdi/user.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fdpass.h"
#include "law.h"
#include "protocol.h"

using simproto::Reply;
using simproto::Request;
using simproto::Slot;
namespace law = switchboard::sim;

namespace {

// ---- the real libc functions ----
template <typename F>
F real(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}
#define REAL(name) static auto real_##name = real<decltype(&::name)>(#name)

struct FdEnt {
  uint32_t kind = 0;   // simproto::DevKind
  std::atomic<bool> nonblock{false};  // O_NONBLOCK, kept here so read() and write() need no fcntl()
  std::atomic<bool> gone{false};      // the daemon hung up: the "card" is gone
  int slot = -1;       // shared-memory slot once bound to a channel, pseudo channel or timer
  std::shared_ptr<std::mutex> rpc = std::make_shared<std::mutex>();
  FdEnt() = default;
  FdEnt(const FdEnt& o) : kind(o.kind), nonblock(o.nonblock.load()), gone(o.gone.load()), slot(o.slot), rpc(o.rpc) {}
};

constexpr int kMaxFd = 65536;
std::atomic<FdEnt*> g_fds[kMaxFd];
std::mutex g_init;
int g_session = -1;
std::atomic<bool> g_gone{false};  // the daemon hung up on this process's session
Slot* g_slots = nullptr;
uint8_t* g_arena = nullptr;
bool g_warned = false;

FdEnt* ent(int fd) {
  if (fd < 0 || fd >= kMaxFd) return nullptr;
  return g_fds[fd].load(std::memory_order_acquire);
}

Slot* slotOf(const FdEnt* e) { return (e && e->slot >= 0 && g_slots) ? &g_slots[e->slot] : nullptr; }

std::string simDir() {
  const char* d = getenv("SWITCHBOARD_SIM_DIR");
  return d && *d ? d : "/run/switchboard-sim";
}

int connectSim() {
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::string path = simDir() + "/dahdi.sock";
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    int e = errno;
    REAL(close);
    real_close(fd);
    if (!g_warned) {
      g_warned = true;
      std::fprintf(stderr, "dahdisim: cannot reach the DAHDI simulator at %s: %s (start it with `switchboard sim up`)\n",
                   path.c_str(), std::strerror(e));
    }
    errno = ENOENT;  // as if the DAHDI modules were not loaded
    return -1;
  }
  return fd;
}

// One request, one reply; optional fd to pass, optional fd received.
int rpc(int sock, const Request& rq, const void* payload, Reply& rep, void* out, size_t outCap, int passFd = -1,
        int* gotFd = nullptr) {
  std::vector<uint8_t> buf(sizeof rq + rq.len);
  std::memcpy(buf.data(), &rq, sizeof rq);
  if (rq.len) std::memcpy(buf.data() + sizeof rq, payload, rq.len);
  ssize_t n = simproto::sendWithFd(sock, buf.data(), buf.size(), passFd);
  if (n < 0) return -1;
  std::vector<uint8_t> rbuf(sizeof(Reply) + simproto::kMaxPayload);
  iovec riov{rbuf.data(), rbuf.size()};
  alignas(cmsghdr) char rc[CMSG_SPACE(sizeof(int))];
  msghdr rm{};
  rm.msg_iov = &riov;
  rm.msg_iovlen = 1;
  rm.msg_control = rc;
  rm.msg_controllen = sizeof rc;
  // The socket may be O_NONBLOCK for the program's sake; an RPC always waits for its answer.
  for (;;) {
    n = recvmsg(sock, &rm, MSG_CMSG_CLOEXEC);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      pollfd p{sock, POLLIN, 0};
      REAL(poll);
      real_poll(&p, 1, -1);
      continue;
    }
    return -1;
  }
  if (n < static_cast<ssize_t>(sizeof(Reply))) {
    errno = EIO;
    return -1;
  }
  std::memcpy(&rep, rbuf.data(), sizeof rep);
  if (out && outCap) std::memcpy(out, rbuf.data() + sizeof rep, std::min<size_t>(outCap, rep.len));
  if (gotFd) *gotFd = simproto::takeFd(rm);
  return 0;
}

// The process's session with the daemon: the shared memory and the wakers.
bool ensureSession() {
  if (g_session >= 0) return true;
  std::lock_guard<std::mutex> lk(g_init);
  if (g_session >= 0) return true;
  int s = connectSim();
  if (s < 0) return false;
  Request rq{simproto::MSG_HELLO, simproto::kVersion, 0, static_cast<int32_t>(getpid()), 0, 0};
  Reply rep{};
  int memfd = -1;
  if (rpc(s, rq, nullptr, rep, nullptr, 0, -1, &memfd) < 0 || memfd < 0) {
    REAL(close);
    real_close(s);
    errno = ENOENT;
    return false;
  }
  void* m = mmap(nullptr, simproto::shmSize(), PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  REAL(close);
  real_close(memfd);
  if (m == MAP_FAILED) {
    real_close(s);
    return false;
  }
  auto* hdr = static_cast<simproto::Header*>(m);
  if (hdr->magic != simproto::kMagic || hdr->version != simproto::kVersion || hdr->slot_size != sizeof(Slot)) {
    std::fprintf(stderr, "dahdisim: simulator protocol mismatch (daemon version %u, library %u): rebuild both\n",
                 hdr->version, simproto::kVersion);
    munmap(m, simproto::shmSize());
    real_close(s);
    errno = ENOENT;
    return false;
  }
  // Keep the session descriptor out of the way of programs that expect low numbers.
  int high = fcntl(s, F_DUPFD_CLOEXEC, 900);
  if (high >= 0) {
    real_close(s);
    s = high;
  }
  g_slots = reinterpret_cast<Slot*>(static_cast<uint8_t*>(m) + simproto::kSlotsOffset);
  g_arena = static_cast<uint8_t*>(m) + simproto::kArenaOffset;
  g_session = s;
  return true;
}

std::mutex g_sessionRpc;

// A waiting thread's eventfd, registered with the daemon.
struct Waker {
  int efd = -1;
  int idx = -1;
  ~Waker() {
    if (idx >= 0 && g_session >= 0) {
      Request rq{simproto::MSG_WAKER_DEL, static_cast<uint32_t>(idx), 0, 0, 0, 0};
      Reply rep{};
      std::lock_guard<std::mutex> lk(g_sessionRpc);
      rpc(g_session, rq, nullptr, rep, nullptr, 0);
    }
    if (efd >= 0) {
      REAL(close);
      real_close(efd);
    }
  }
};

bool registerWaker(Waker& w) {
  if (w.idx >= 0) return true;
  if (!ensureSession()) return false;
  w.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w.efd < 0) return false;
  Request rq{simproto::MSG_WAKER_ADD, 0, 0, 0, 0, 0};
  Reply rep{};
  std::lock_guard<std::mutex> lk(g_sessionRpc);
  if (rpc(g_session, rq, nullptr, rep, nullptr, 0, w.efd) < 0 || rep.ret < 0) return false;
  w.idx = rep.value;
  return true;
}

thread_local Waker t_waker;

void drain(int efd) {
  uint64_t v;
  REAL(read);
  while (real_read(efd, &v, sizeof v) == sizeof v) {
  }
}

uint32_t pollToReady(short ev) {
  uint32_t m = 0;
  if (ev & (POLLIN | POLLRDNORM)) m |= simproto::kReadyIn;
  if (ev & POLLPRI) m |= simproto::kReadyPri;
  if (ev & (POLLOUT | POLLWRNORM)) m |= simproto::kReadyOut;
  return m;
}

short readyToPoll(uint32_t r, short want) {
  short out = 0;
  if (r & simproto::kReadyIn) out |= static_cast<short>(want & (POLLIN | POLLRDNORM));
  if (r & simproto::kReadyPri) out |= POLLPRI & want;
  if (r & simproto::kReadyOut) out |= static_cast<short>(want & (POLLOUT | POLLWRNORM));
  return out;
}

uint32_t slotReady(const Slot* s) { return s ? simproto::readiness(*s) : 0; }

void arm(Slot* s, int idx, uint32_t mask) {
  s->waitmask.store(mask, std::memory_order_relaxed);
  s->waker.store(idx, std::memory_order_seq_cst);
}
void disarm(Slot* s, int idx) {
  int expect = idx;
  s->waker.compare_exchange_strong(expect, -1);
}

int64_t nowNs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

// poll() over a mix of simulator and ordinary descriptors. timeoutNs < 0 waits forever.
// The process's session socket is polled for hangup alongside: when the daemon goes away, every
// simulator descriptor reports POLLERR|POLLHUP and reads fail with ENODEV, as after a card removal.
int simPoll(pollfd* fds, nfds_t nfds, int64_t timeoutNs, const sigset_t* sigmask) {
  REAL(ppoll);
  const int64_t deadline = timeoutNs < 0 ? -1 : nowNs() + timeoutNs;
  std::vector<pollfd> pf;
  // Readiness of the simulator descriptors from shared memory; counts the ready ones.
  auto simReady = [&]() {
    int n = 0;
    for (nfds_t i = 0; i < nfds; i++) {
      FdEnt* e = ent(fds[i].fd);
      if (!e) continue;
      if (e->gone.load() || g_gone.load()) fds[i].revents = POLLERR | POLLHUP;
      else fds[i].revents = slotOf(e) ? readyToPoll(slotReady(slotOf(e)), fds[i].events) : 0;
      if (fds[i].revents) n++;
    }
    return n;
  };
  // After a real poll: ordinary descriptors' results, and hangups of simulator sockets.
  auto harvest = [&]() {
    int n = 0;
    for (nfds_t i = 0; i < nfds; i++) {
      if (ent(fds[i].fd)) continue;
      fds[i].revents = pf[i].revents;
      if (pf[i].revents) n++;
    }
    if (pf[nfds].revents & (POLLHUP | POLLERR)) g_gone.store(true);
    return n;
  };
  for (;;) {
    int ready = simReady();
    int64_t left = deadline < 0 ? -1 : std::max<int64_t>(0, deadline - nowNs());
    pf.assign(fds, fds + nfds);
    for (auto& p : pf)
      if (ent(p.fd)) p.fd = -1;  // readiness comes from shared memory
    pf.push_back(pollfd{g_session, 0, 0});  // hangup only
    if (ready || left == 0) {
      timespec zero{0, 0};
      int r = real_ppoll(pf.data(), pf.size(), &zero, sigmask);
      if (r < 0) return r;
      int others = harvest();
      return simReady() + others;
    }
    if (!registerWaker(t_waker)) {
      errno = ENOMEM;
      return -1;
    }
    drain(t_waker.efd);
    for (nfds_t i = 0; i < nfds; i++)
      if (Slot* s = slotOf(ent(fds[i].fd))) arm(s, t_waker.idx, pollToReady(fds[i].events) | simproto::kReadyPri);
    int r = 0;
    if (!simReady()) {
      pf.push_back(pollfd{t_waker.efd, POLLIN, 0});
      timespec ts;
      timespec* tp = nullptr;
      if (left >= 0) {
        ts.tv_sec = left / 1000000000LL;
        ts.tv_nsec = left % 1000000000LL;
        tp = &ts;
      }
      r = real_ppoll(pf.data(), pf.size(), tp, sigmask);
    }
    for (nfds_t i = 0; i < nfds; i++)
      if (Slot* s = slotOf(ent(fds[i].fd))) disarm(s, t_waker.idx);
    if (r < 0) return r;
    int others = r > 0 ? harvest() : 0;
    int sims = simReady();
    if (others || sims) return others + sims;
  }
}

int waitOn(int fd, short events) {
  pollfd p{fd, events, 0};
  return simPoll(&p, 1, -1, nullptr);
}

bool nonblocking(int fd) {
  FdEnt* e = ent(fd);
  return e && e->nonblock.load(std::memory_order_relaxed);
}

// ---- device paths ----
bool classify(const char* path, uint32_t& kind, int& num) {
  if (!path || std::strncmp(path, "/dev/dahdi/", 11) != 0) return false;
  const char* rest = path + 11;
  num = 0;
  if (!std::strcmp(rest, "ctl")) kind = simproto::DEV_CTL;
  else if (!std::strcmp(rest, "channel")) kind = simproto::DEV_CHANNEL;
  else if (!std::strcmp(rest, "pseudo")) kind = simproto::DEV_PSEUDO;
  else if (!std::strcmp(rest, "timer")) kind = simproto::DEV_TIMER;
  else if (*rest >= '0' && *rest <= '9') {
    kind = simproto::DEV_NUMBERED;
    num = std::atoi(rest);
  } else {
    kind = 0;  // transcode and others: not simulated
  }
  return true;
}

int simOpen(const char* path, int flags) {
  uint32_t kind;
  int num;
  classify(path, kind, num);
  if (!kind) {
    errno = ENOENT;
    return -1;
  }
  if (!ensureSession()) return -1;
  int fd = connectSim();
  if (fd < 0) return -1;
  Request rq{simproto::MSG_OPEN, kind, 0, num, 0, 0};
  Reply rep{};
  if (rpc(fd, rq, nullptr, rep, nullptr, 0) < 0 || rep.ret < 0) {
    int e = rep.ret < 0 ? rep.err : EIO;
    REAL(close);
    real_close(fd);
    errno = e;
    return -1;
  }
  if (!(flags & O_CLOEXEC)) {
    REAL(fcntl);
    real_fcntl(fd, F_SETFD, 0);
  }
  if (flags & O_NONBLOCK) {
    REAL(fcntl);
    real_fcntl(fd, F_SETFL, O_NONBLOCK);
  }
  if (fd >= kMaxFd) {
    REAL(close);
    real_close(fd);
    errno = EMFILE;
    return -1;
  }
  auto* e = new FdEnt;
  e->nonblock = (flags & O_NONBLOCK) != 0;
  e->kind = kind == simproto::DEV_NUMBERED ? simproto::DEV_CHANNEL : kind;
  e->slot = rep.value;
  g_fds[fd].store(e, std::memory_order_release);
  return fd;
}

// ---- data path ----
ssize_t simRead(int fd, FdEnt* e, void* buf, size_t count) {
  count &= 0xffff;
  if (count < 1) {
    errno = EINVAL;
    return -1;
  }
  for (;;) {
    Slot* s = slotOf(e);
    if (!s || e->kind == simproto::DEV_TIMER || e->kind == simproto::DEV_CTL) {
      errno = EINVAL;
      return -1;
    }
    if (e->gone.load() || g_gone.load() || (s->flags.load(std::memory_order_acquire) & simproto::CF_GONE)) {
      errno = ENODEV;
      return -1;
    }
    if (s->ev_in.load(std::memory_order_acquire) != s->ev_out.load(std::memory_order_acquire)) {
      errno = ELAST;  // an event is waiting: DAHDI_GETEVENT first
      return -1;
    }
    uint32_t out = s->rx_out.load(std::memory_order_relaxed);
    if (s->rx_in.load(std::memory_order_acquire) != out) {
      const uint32_t nb = s->numbufs, bs = s->blocksize;
      uint32_t b = out % nb;
      uint32_t len = std::min(s->rx_len[b], bs);
      const uint8_t* src = g_arena + s->rx_off + b * bs;
      size_t amnt;
      if (s->flags.load(std::memory_order_relaxed) & simproto::CF_LINEAR) {
        amnt = std::min<size_t>(count, static_cast<size_t>(len) * 2) & ~static_cast<size_t>(1);
        auto* dst = static_cast<int16_t*>(buf);
        bool alaw = s->law == DAHDI_LAW_ALAW;
        for (size_t i = 0; i < amnt / 2; i++) dst[i] = alaw ? law::alaw2lin(src[i]) : law::ulaw2lin(src[i]);
      } else {
        amnt = std::min<size_t>(count, len);
        std::memcpy(buf, src, amnt);
      }
      // As in the kernel, the rest of the block is discarded.
      s->rx_out.store(out + 1, std::memory_order_release);
      return static_cast<ssize_t>(amnt);
    }
    if (nonblocking(fd)) {
      errno = EAGAIN;
      return -1;
    }
    if (waitOn(fd, POLLIN | POLLPRI) < 0) return -1;
  }
}

ssize_t simWrite(int fd, FdEnt* e, const void* buf, size_t count) {
  count &= 0xffff;
  if (count < 1) {
    errno = EINVAL;
    return -1;
  }
  for (;;) {
    Slot* s = slotOf(e);
    if (!s || e->kind == simproto::DEV_TIMER || e->kind == simproto::DEV_CTL) {
      errno = EINVAL;
      return -1;
    }
    if (e->gone.load() || g_gone.load()) {
      errno = ENODEV;
      return -1;
    }
    if (s->ev_in.load(std::memory_order_acquire) != s->ev_out.load(std::memory_order_acquire)) {
      errno = ELAST;
      return -1;
    }
    const uint32_t nb = s->numbufs, bs = s->blocksize;
    uint32_t in = s->tx_in.load(std::memory_order_relaxed);
    if (in - s->tx_out.load(std::memory_order_acquire) < nb) {
      uint32_t b = in % nb;
      uint8_t* dst = g_arena + s->tx_off + b * bs;
      size_t consumed;
      uint32_t n;
      if (s->flags.load(std::memory_order_relaxed) & simproto::CF_LINEAR) {
        n = static_cast<uint32_t>(std::min<size_t>(count / 2, bs));
        const auto* src = static_cast<const int16_t*>(buf);
        bool alaw = s->law == DAHDI_LAW_ALAW;
        for (uint32_t i = 0; i < n; i++) dst[i] = alaw ? law::lin2alaw(src[i]) : law::lin2ulaw(src[i]);
        consumed = static_cast<size_t>(n) * 2;
      } else {
        n = static_cast<uint32_t>(std::min<size_t>(count, bs));
        std::memcpy(dst, buf, n);
        consumed = n;
      }
      s->tx_len[b] = n;
      s->tx_in.store(in + 1, std::memory_order_release);
      return static_cast<ssize_t>(consumed);
    }
    if (nonblocking(fd)) {
      errno = EAGAIN;
      return -1;
    }
    if (waitOn(fd, POLLOUT | POLLPRI) < 0) return -1;
  }
}

size_t ioctlSize(unsigned long cmd, void* arg) {
  size_t sz = _IOC_SIZE(cmd);
  if (cmd == DAHDI_LOADZONE && arg) {
    auto* th = static_cast<dahdi_tone_def_header*>(arg);
    if (th->count > 0 && th->count < 4096) sz += static_cast<size_t>(th->count) * sizeof(dahdi_tone_def);
  } else if (cmd == DAHDI_ECHOCANCEL_PARAMS && arg) {
    auto* ep = static_cast<dahdi_echocanparams*>(arg);
    if (ep->param_count <= DAHDI_MAX_ECHOCANPARAMS) sz += ep->param_count * sizeof(dahdi_echocanparam);
  }
  return std::min(sz, simproto::kMaxPayload);
}

int simIoctl(int fd, FdEnt* e, unsigned long cmd, void* arg) {
  Slot* s = slotOf(e);
  // Handled here, against shared memory: the calls a real-time loop makes all the time.
  if (s && cmd == DAHDI_GETEVENT && e->kind != simproto::DEV_TIMER) {
    uint32_t out = s->ev_out.load(std::memory_order_relaxed);
    int ev = 0;
    if (s->ev_in.load(std::memory_order_acquire) != out) {
      ev = s->ev[out % simproto::kMaxEvents];
      s->ev_out.store(out + 1, std::memory_order_release);
    }
    *static_cast<int*>(arg) = ev;
    return 0;
  }
  if (s && cmd == DAHDI_IOMUX) {
    int* flags = static_cast<int*>(arg);
    int want = *flags;
    short events = 0;
    if (want & DAHDI_IOMUX_READ) events |= POLLIN;
    if (want & (DAHDI_IOMUX_WRITE | DAHDI_IOMUX_WRITEEMPTY)) events |= POLLOUT;
    if (want & DAHDI_IOMUX_SIGEVENT) events |= POLLPRI;
    for (;;) {
      uint32_t r = slotReady(s);
      int got = 0;
      if ((want & DAHDI_IOMUX_READ) && (r & simproto::kReadyIn)) got |= DAHDI_IOMUX_READ;
      if ((want & DAHDI_IOMUX_WRITE) && (r & simproto::kReadyOut)) got |= DAHDI_IOMUX_WRITE;
      if ((want & DAHDI_IOMUX_WRITEEMPTY) && s->tx_in.load() == s->tx_out.load()) got |= DAHDI_IOMUX_WRITEEMPTY;
      if ((want & DAHDI_IOMUX_SIGEVENT) && (r & simproto::kReadyPri)) got |= DAHDI_IOMUX_SIGEVENT;
      if (got || (want & DAHDI_IOMUX_NOWAIT)) {
        *flags = got;
        return 0;
      }
      pollfd p{fd, events, 0};
      if (simPoll(&p, 1, (want & DAHDI_IOMUX_WRITEEMPTY) ? 1000000 : -1, nullptr) < 0) return -1;
    }
  }
  if (s && cmd == DAHDI_SYNC) {
    while (s->tx_in.load() != s->tx_out.load()) usleep(1000);
    return 0;
  }
  if (_IOC_TYPE(cmd) != DAHDI_CODE) {
    REAL(ioctl);
    int r = real_ioctl(fd, cmd, arg);  // FIONBIO and friends act on the real descriptor
    if (r == 0 && cmd == FIONBIO && arg) e->nonblock = *static_cast<int*>(arg) != 0;
    return r;
  }
  size_t sz = ioctlSize(cmd, arg);
  Request rq{simproto::MSG_IOCTL, 0, static_cast<uint32_t>(cmd), 0, static_cast<uint32_t>(arg ? sz : 0), 0};
  Reply rep{};
  std::lock_guard<std::mutex> lk(*e->rpc);
  if (rpc(fd, rq, arg, rep, (_IOC_DIR(cmd) & _IOC_READ) ? arg : nullptr, sz) < 0) {
    e->gone.store(true);  // the daemon went away mid-call
    errno = ENODEV;
    return -1;
  }
  if (rep.ret < 0) {
    errno = rep.err;
    return -1;
  }
  if (cmd == DAHDI_SPECIFY && rep.value >= 0) e->slot = rep.value;
  return rep.ret;
}

void forget(int fd) {
  if (fd < 0 || fd >= kMaxFd) return;
  FdEnt* e = g_fds[fd].exchange(nullptr);
  delete e;
}

// ---- epoll: per-epoll-set bookkeeping of simulator descriptors ----
struct EpEntry {
  int fd;
  epoll_event ev;
};
struct EpSet {
  std::vector<EpEntry> entries;
  Waker waker;
  bool added = false;
};
std::mutex g_epMu;
std::unordered_map<int, std::shared_ptr<EpSet>> g_ep;
constexpr uint64_t kEpMagic = 0xD4D1517A5EEDF00DULL;

std::shared_ptr<EpSet> epSet(int epfd) {
  std::lock_guard<std::mutex> lk(g_epMu);
  auto it = g_ep.find(epfd);
  return it == g_ep.end() ? nullptr : it->second;
}

uint32_t epollReady(const EpEntry& en) {
  FdEnt* e = ent(en.fd);
  uint32_t r = slotReady(slotOf(e));
  uint32_t out = 0;
  if ((r & simproto::kReadyIn) && (en.ev.events & EPOLLIN)) out |= EPOLLIN;
  if ((r & simproto::kReadyPri) && (en.ev.events & EPOLLPRI)) out |= EPOLLPRI;
  if ((r & simproto::kReadyOut) && (en.ev.events & EPOLLOUT)) out |= EPOLLOUT;
  return out;
}

}  // namespace

// =============================================================================================
// Interposed libc entry points

#pragma GCC visibility push(default)
extern "C" {

// The mode argument exists only when the flags create a file.
#define SIM_OPEN_MODE(flags, mode)              \
  mode_t mode = 0;                              \
  if ((flags) & (O_CREAT | O_TMPFILE)) {        \
    va_list ap;                                 \
    va_start(ap, flags);                        \
    mode = static_cast<mode_t>(va_arg(ap, int)); \
    va_end(ap);                                 \
  }

static bool isDahdi(const char* path) {
  uint32_t k;
  int n;
  return classify(path, k, n);
}

int open(const char* path, int flags, ...) {
  SIM_OPEN_MODE(flags, mode)
  if (isDahdi(path)) return simOpen(path, flags);
  REAL(open);
  return real_open(path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  SIM_OPEN_MODE(flags, mode)
  if (isDahdi(path)) return simOpen(path, flags);
  REAL(open64);
  return real_open64(path, flags, mode);
}

int openat(int dirfd, const char* path, int flags, ...) {
  SIM_OPEN_MODE(flags, mode)
  if (isDahdi(path)) return simOpen(path, flags);
  REAL(openat);
  return real_openat(dirfd, path, flags, mode);
}

int __open_2(const char* path, int flags) { return open(path, flags); }
int __open64_2(const char* path, int flags) { return open64(path, flags); }

int close(int fd) {
  if (ent(fd)) {
    forget(fd);
    std::lock_guard<std::mutex> lk(g_epMu);
    for (auto& [epfd, set] : g_ep) {
      auto& v = set->entries;
      v.erase(std::remove_if(v.begin(), v.end(), [fd](const EpEntry& en) { return en.fd == fd; }), v.end());
    }
  } else {
    std::lock_guard<std::mutex> lk(g_epMu);
    g_ep.erase(fd);
  }
  REAL(close);
  return real_close(fd);
}

ssize_t read(int fd, void* buf, size_t count) {
  if (FdEnt* e = ent(fd)) return simRead(fd, e, buf, count);
  REAL(read);
  return real_read(fd, buf, count);
}

ssize_t __read_chk(int fd, void* buf, size_t count, size_t buflen) {
  if (count > buflen) abort();
  return read(fd, buf, count);
}

ssize_t write(int fd, const void* buf, size_t count) {
  if (FdEnt* e = ent(fd)) return simWrite(fd, e, buf, count);
  REAL(write);
  return real_write(fd, buf, count);
}

int ioctl(int fd, unsigned long cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (FdEnt* e = ent(fd)) return simIoctl(fd, e, cmd, arg);
  REAL(ioctl);
  return real_ioctl(fd, cmd, arg);
}

static int fcntlCommon(int fd, int cmd, void* arg, bool is64) {
  using Fn = int (*)(int, int, ...);
  static Fn real_fcntl_ = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "fcntl"));
  static Fn real_fcntl64_ = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "fcntl64"));
  Fn f = is64 && real_fcntl64_ ? real_fcntl64_ : real_fcntl_;
  int r = f(fd, cmd, arg);
  if (r >= 0 && cmd == F_SETFL)
    if (FdEnt* e = ent(fd)) e->nonblock = (reinterpret_cast<intptr_t>(arg) & O_NONBLOCK) != 0;
  if (r >= 0 && r < kMaxFd && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
    if (FdEnt* e = ent(fd)) g_fds[r].store(new FdEnt(*e));
  return r;
}

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntlCommon(fd, cmd, arg, false);
}

int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntlCommon(fd, cmd, arg, true);
}

int dup(int fd) {
  REAL(dup);
  int r = real_dup(fd);
  if (r >= 0 && r < kMaxFd)
    if (FdEnt* e = ent(fd)) g_fds[r].store(new FdEnt(*e));
  return r;
}

int dup2(int fd, int fd2) {
  if (fd != fd2 && ent(fd2)) forget(fd2);
  REAL(dup2);
  int r = real_dup2(fd, fd2);
  if (r >= 0 && r < kMaxFd && fd != fd2)
    if (FdEnt* e = ent(fd)) g_fds[r].store(new FdEnt(*e));
  return r;
}

int dup3(int fd, int fd2, int flags) {
  if (fd != fd2 && ent(fd2)) forget(fd2);
  REAL(dup3);
  int r = real_dup3(fd, fd2, flags);
  if (r >= 0 && r < kMaxFd)
    if (FdEnt* e = ent(fd)) g_fds[r].store(new FdEnt(*e));
  return r;
}

int poll(pollfd* fds, nfds_t nfds, int timeout) {
  bool sim = false;
  for (nfds_t i = 0; i < nfds && !sim; i++) sim = ent(fds[i].fd) != nullptr;
  if (!sim) {
    REAL(poll);
    return real_poll(fds, nfds, timeout);
  }
  return simPoll(fds, nfds, timeout < 0 ? -1 : static_cast<int64_t>(timeout) * 1000000LL, nullptr);
}

int __poll_chk(pollfd* fds, nfds_t nfds, int timeout, size_t) { return poll(fds, nfds, timeout); }

int ppoll(pollfd* fds, nfds_t nfds, const timespec* tmo, const sigset_t* sigmask) {
  bool sim = false;
  for (nfds_t i = 0; i < nfds && !sim; i++) sim = ent(fds[i].fd) != nullptr;
  if (!sim) {
    REAL(ppoll);
    return real_ppoll(fds, nfds, tmo, sigmask);
  }
  return simPoll(fds, nfds, tmo ? tmo->tv_sec * 1000000000LL + tmo->tv_nsec : -1, sigmask);
}

static int selectCommon(int nfds, fd_set* rd, fd_set* wr, fd_set* ex, int64_t timeoutNs, const sigset_t* mask,
                        bool& handled) {
  handled = false;
  bool sim = false;
  for (int fd = 0; fd < nfds && !sim; fd++)
    if ((rd && FD_ISSET(fd, rd)) || (wr && FD_ISSET(fd, wr)) || (ex && FD_ISSET(fd, ex))) sim = ent(fd) != nullptr;
  if (!sim) return 0;
  handled = true;
  std::vector<pollfd> pf;
  for (int fd = 0; fd < nfds; fd++) {
    short ev = 0;
    if (rd && FD_ISSET(fd, rd)) ev |= POLLIN;
    if (wr && FD_ISSET(fd, wr)) ev |= POLLOUT;
    if (ex && FD_ISSET(fd, ex)) ev |= POLLPRI;
    if (ev) pf.push_back(pollfd{fd, ev, 0});
  }
  int r = simPoll(pf.data(), pf.size(), timeoutNs, mask);
  if (r < 0) return r;
  if (rd) FD_ZERO(rd);
  if (wr) FD_ZERO(wr);
  if (ex) FD_ZERO(ex);
  int count = 0;
  for (auto& p : pf) {
    if (rd && (p.revents & (POLLIN | POLLHUP | POLLERR))) FD_SET(p.fd, rd), count++;
    if (wr && (p.revents & (POLLOUT | POLLERR))) FD_SET(p.fd, wr), count++;
    if (ex && (p.revents & POLLPRI)) FD_SET(p.fd, ex), count++;
  }
  return count;
}

int select(int nfds, fd_set* rd, fd_set* wr, fd_set* ex, timeval* tv) {
  bool handled;
  int64_t t = tv ? tv->tv_sec * 1000000000LL + tv->tv_usec * 1000LL : -1;
  int r = selectCommon(nfds, rd, wr, ex, t, nullptr, handled);
  if (handled) return r;
  REAL(select);
  return real_select(nfds, rd, wr, ex, tv);
}

int pselect(int nfds, fd_set* rd, fd_set* wr, fd_set* ex, const timespec* ts, const sigset_t* mask) {
  bool handled;
  int64_t t = ts ? ts->tv_sec * 1000000000LL + ts->tv_nsec : -1;
  int r = selectCommon(nfds, rd, wr, ex, t, mask, handled);
  if (handled) return r;
  REAL(pselect);
  return real_pselect(nfds, rd, wr, ex, ts, mask);
}

int epoll_ctl(int epfd, int op, int fd, epoll_event* ev) {
  if (!ent(fd)) {
    REAL(epoll_ctl);
    return real_epoll_ctl(epfd, op, fd, ev);
  }
  std::shared_ptr<EpSet> set;
  {
    std::lock_guard<std::mutex> lk(g_epMu);
    auto& p = g_ep[epfd];
    if (!p) p = std::make_shared<EpSet>();
    set = p;
    auto& v = set->entries;
    auto it = std::find_if(v.begin(), v.end(), [fd](const EpEntry& en) { return en.fd == fd; });
    if (op == EPOLL_CTL_ADD) {
      if (it != v.end()) {
        errno = EEXIST;
        return -1;
      }
      v.push_back(EpEntry{fd, *ev});
    } else if (op == EPOLL_CTL_MOD) {
      if (it == v.end()) {
        errno = ENOENT;
        return -1;
      }
      it->ev = *ev;
    } else if (op == EPOLL_CTL_DEL) {
      if (it == v.end()) {
        errno = ENOENT;
        return -1;
      }
      v.erase(it);
    }
  }
  if (!set->added) {
    if (!registerWaker(set->waker)) return -1;
    epoll_event wev{};
    wev.events = EPOLLIN;
    wev.data.u64 = kEpMagic;
    REAL(epoll_ctl);
    if (real_epoll_ctl(epfd, EPOLL_CTL_ADD, set->waker.efd, &wev) < 0 && errno != EEXIST) return -1;
    set->added = true;
  }
  return 0;
}

int epoll_pwait(int epfd, epoll_event* evs, int maxevents, int timeout, const sigset_t* mask) {
  REAL(epoll_pwait);
  std::shared_ptr<EpSet> set = epSet(epfd);
  if (!set) return real_epoll_pwait(epfd, evs, maxevents, timeout, mask);
  const int64_t deadline = timeout < 0 ? -1 : nowNs() + static_cast<int64_t>(timeout) * 1000000LL;
  for (;;) {
    std::vector<EpEntry> entries;
    {
      std::lock_guard<std::mutex> lk(g_epMu);
      entries = set->entries;
    }
    int n = 0;
    for (auto& en : entries) {
      if (n >= maxevents) break;
      if (uint32_t r = epollReady(en)) {
        evs[n].events = r;
        evs[n].data = en.ev.data;
        n++;
      }
    }
    int64_t left = deadline < 0 ? -1 : std::max<int64_t>(0, deadline - nowNs());
    if (!n && left != 0) {
      drain(set->waker.efd);
      for (auto& en : entries)
        if (Slot* s = slotOf(ent(en.fd))) {
          uint32_t m = simproto::kReadyPri;
          if (en.ev.events & EPOLLIN) m |= simproto::kReadyIn;
          if (en.ev.events & EPOLLOUT) m |= simproto::kReadyOut;
          arm(s, set->waker.idx, m);
        }
      bool raced = false;
      for (auto& en : entries) raced = raced || epollReady(en);
      int r = 0;
      if (!raced) {
        r = real_epoll_pwait(epfd, evs, maxevents, left < 0 ? -1 : static_cast<int>((left + 999999) / 1000000), mask);
      }
      for (auto& en : entries)
        if (Slot* s = slotOf(ent(en.fd))) disarm(s, set->waker.idx);
      if (r < 0) return r;
      int kept = 0;
      for (int i = 0; i < r; i++)
        if (evs[i].data.u64 != kEpMagic) evs[kept++] = evs[i];
      if (kept) return kept;
      continue;
    }
    // Simulator descriptors are ready: add whatever ordinary ones are, without waiting.
    if (n < maxevents) {
      int r = real_epoll_pwait(epfd, evs + n, maxevents - n, 0, mask);
      if (r > 0) {
        int kept = n;
        for (int i = n; i < n + r; i++)
          if (evs[i].data.u64 != kEpMagic) evs[kept++] = evs[i];
        n = kept;
      }
    }
    return n;
  }
}

int epoll_wait(int epfd, epoll_event* evs, int maxevents, int timeout) {
  return epoll_pwait(epfd, evs, maxevents, timeout, nullptr);
}

}  // extern "C"
#pragma GCC visibility pop
