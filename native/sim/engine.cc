// SPDX-License-Identifier: GPL-2.0-or-later
// The simulated DAHDI "kernel": channel buffers, HDLC, CAS, analog hook/ring, alarms, faults and conferencing.
#include "engine.h"

#include <dahdi/user.h>
#include <poll.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "law.h"

namespace switchboard::sim {


namespace {

constexpr int kDefaultBlocksize = DAHDI_DEFAULT_BLOCKSIZE;
constexpr int kDefaultNumbufs = DAHDI_DEFAULT_NUM_BUFS;

// What a digital timeslot can be configured as (a T1/E1 framer channel).
constexpr uint32_t kDigitalSigcap = DAHDI_SIG_EM | DAHDI_SIG_CLEAR | DAHDI_SIG_EM_E1 | DAHDI_SIG_FXSLS |
                                    DAHDI_SIG_FXSGS | DAHDI_SIG_FXSKS | DAHDI_SIG_FXOLS | DAHDI_SIG_FXOGS |
                                    DAHDI_SIG_FXOKS | DAHDI_SIG_CAS | DAHDI_SIG_DACS_RBS | DAHDI_SIG_SF |
                                    DAHDI_SIG_HDLCRAW | DAHDI_SIG_HDLCFCS | DAHDI_SIG_HDLCNET |
                                    DAHDI_SIG_HARDHDLC | DAHDI_SIG_MTP2;
// An FXS module (it powers a phone) is signalled with FXO signalling, and vice versa.
constexpr uint32_t kFxsModuleSigcap = DAHDI_SIG_FXOKS | DAHDI_SIG_FXOLS | DAHDI_SIG_FXOGS | DAHDI_SIG_CLEAR;
constexpr uint32_t kFxoModuleSigcap = DAHDI_SIG_FXSKS | DAHDI_SIG_FXSLS | DAHDI_SIG_CLEAR;

bool isHdlcSig(int sig) {
  return sig == DAHDI_SIG_HDLCRAW || sig == DAHDI_SIG_HDLCFCS || sig == DAHDI_SIG_HDLCNET ||
         sig == DAHDI_SIG_HARDHDLC || sig == DAHDI_SIG_MTP2;
}
bool isFxsSig(int sig) { return sig == DAHDI_SIG_FXSLS || sig == DAHDI_SIG_FXSKS || sig == DAHDI_SIG_FXSGS; }
bool isFxoSig(int sig) { return sig == DAHDI_SIG_FXOLS || sig == DAHDI_SIG_FXOKS || sig == DAHDI_SIG_FXOGS; }

template <typename T>
bool getArg(const std::vector<uint8_t>& d, T& out) {
  if (d.size() < sizeof(T)) return false;
  std::memcpy(&out, d.data(), sizeof(T));
  return true;
}
template <typename T>
void putArg(std::vector<uint8_t>& d, const T& v) {
  if (d.size() < sizeof(T)) d.resize(sizeof(T));
  std::memcpy(d.data(), &v, sizeof(T));
}

IoResult ok(int value = -1) { return IoResult{0, 0, value}; }
IoResult fail(int err) { return IoResult{-1, err, -1}; }

void copyStr(char* dst, size_t n, const std::string& s) {
  std::snprintf(dst, n, "%s", s.c_str());
}

int16_t toLinear(uint8_t b, int law) { return law == DAHDI_LAW_ALAW ? alaw2lin(b) : ulaw2lin(b); }
uint8_t fromLinear(int32_t v, int law) {
  int16_t s = saturate16(v);
  return law == DAHDI_LAW_ALAW ? lin2alaw(s) : lin2ulaw(s);
}

}  // namespace

int Chan::defaultLaw() const {
  if (deflaw) return deflaw;
  return span && span->type == SpanType::E1 ? DAHDI_LAW_ALAW : DAHDI_LAW_MULAW;
}

uint8_t Chan::idle() const { return defaultLaw() == DAHDI_LAW_ALAW ? kAlawSilence : kUlawSilence; }

Engine::Engine(simproto::Header* shm, std::vector<Span> spans, std::vector<std::pair<int, int>> analogLines)
    : spans_(std::move(spans)) {
  slots_ = reinterpret_cast<Slot*>(reinterpret_cast<uint8_t*>(shm) + simproto::kSlotsOffset);
  int channo = 1;
  chans_.resize(1);
  // All channels in one array, in span order: the tick walks them in this order.
  size_t total = 0;
  for (auto& s : spans_) total += static_cast<size_t>(s.nchans);
  chanStore_.reserve(total);  // never reallocated: the pointers below stay valid
  for (auto& s : spans_) {
    s.basechan = channo;
    for (int p = 1; p <= s.nchans; p++) {
      Chan* c = &chanStore_.emplace_back();
      c->channo = channo;
      c->slot = channo;
      c->span = &s;
      c->chanpos = p;
      if (s.type == SpanType::Analog) {
        c->port = static_cast<size_t>(p - 1) < s.ports.size() ? s.ports[static_cast<size_t>(p - 1)] : PortType::FXS;
        c->sigcap = c->port == PortType::FXS ? kFxsModuleSigcap : kFxoModuleSigcap;
      } else {
        c->sigcap = kDigitalSigcap;
      }
      s.chans.push_back(c);
      wire_.push_back(c);
      chans_.push_back(c);
      channo++;
    }
  }
  int firstFree = channo;
  for (int i = static_cast<int>(simproto::kMaxSlots) - 1; i >= firstFree; i--) freeSlots_.push_back(i);
  nextPseudoNo_ = std::max(channo, 4097);
  for (uint32_t i = 0; i < simproto::kMaxSlots; i++) slots_[i].waker.store(-1);
  wakerMarked_.assign(simproto::kMaxWakers, 0);
  arena_ = reinterpret_cast<uint8_t*>(shm) + simproto::kArenaOffset;
  slotBytes_.assign(simproto::kMaxSlots, 0);
  // Analog lines join two ports, each named span*1000+port.
  for (auto [a, b] : analogLines) {
    Chan* ca = portChan(a / 1000, a % 1000);
    Chan* cb = portChan(b / 1000, b % 1000);
    if (ca && cb) {
      ca->peerChan = cb->channo;
      cb->peerChan = ca->channo;
    }
  }
}

Chan* Engine::portChan(int span, int port) {
  if (span < 1 || span > static_cast<int>(spans_.size())) return nullptr;
  Span& s = spans_[static_cast<size_t>(span - 1)];
  if (port < 1 || port > s.nchans) return nullptr;
  return s.chans[static_cast<size_t>(port - 1)];
}

Chan* Engine::chanByNo(int channo) {
  if (channo <= 0) return nullptr;
  if (static_cast<size_t>(channo) < chans_.size()) return chans_[static_cast<size_t>(channo)];
  for (auto& p : pseudos_)
    if (p && p->channo == channo) return p.get();
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Buffers and events

void Engine::resetBuffers(Chan& c, bool rx, bool tx) {
  Slot& s = slotOf(c.slot);
  if (rx) {
    s.rx_out.store(s.rx_in.load());
    c.rxfill = 0;
    if (c.dec) c.dec->reset();
  }
  if (tx) {
    s.tx_out.store(s.tx_in.load());
    c.txpos = 0;
    c.txstarted = false;
  }
  s.gen.fetch_add(1);
  notify(s);
}

void Engine::notify(Slot& s) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  int w = s.waker.load(std::memory_order_acquire);
  if (w < 0) return;
  if (!(simproto::readiness(s) & s.waitmask.load(std::memory_order_acquire))) return;
  if (s.waker.compare_exchange_strong(w, -1) && w < static_cast<int>(simproto::kMaxWakers) && !wakerMarked_[w]) {
    wakerMarked_[w] = 1;
    pendingWakers_.push_back(w);
  }
}

std::vector<int> Engine::takeWakers() {
  std::vector<int> out;
  out.swap(pendingWakers_);
  for (int w : out) wakerMarked_[static_cast<size_t>(w)] = 0;
  return out;
}

void Engine::qevent(Chan& c, int ev) {
  if (!c.open) return;
  Slot& s = slotOf(c.slot);
  uint32_t in = s.ev_in.load(std::memory_order_relaxed);
  if (in - s.ev_out.load(std::memory_order_acquire) >= simproto::kMaxEvents) return;  // queue full: dropped, as DAHDI does
  s.ev[in % simproto::kMaxEvents] = ev;
  s.ev_in.store(in + 1, std::memory_order_release);
  notify(s);
}

void Engine::hangupChan(Chan& c) {
  c.ringing = false;
  c.ringOn = false;
  if (c.port == PortType::FXO) c.offhook = false;
}

void Engine::applyChanSig(Chan& c, int sig) {
  c.sig = sig;
  c.enc.reset();
  c.dec.reset();
  Slot& s = slotOf(c.slot);
  uint32_t flags = s.flags.load() & ~(simproto::CF_HDLC | simproto::CF_FCS);
  if (isHdlcSig(sig)) {
    c.enc = std::make_unique<HdlcEncoder>();
    c.dec = std::make_unique<HdlcDecoder>();
    Chan* cp = &c;
    c.dec->setHandler([this, cp](HdlcEvent&& ev) {
      if (!cp->open) return;
      switch (ev.type) {
        case HdlcEvent::Type::Frame:
          if (ev.fcsOk) pushRxFrame(*cp, ev.payload);
          else qevent(*cp, DAHDI_EVENT_BADFCS);
          break;
        case HdlcEvent::Type::Abort: qevent(*cp, DAHDI_EVENT_ABORT); break;
        case HdlcEvent::Type::Overrun: qevent(*cp, DAHDI_EVENT_OVERRUN); break;
      }
    });
    if (c.hdlcRate == 56) {
      c.enc->setBitsPerByte(7);
      c.dec->setBitsPerByte(7);
    }
    flags |= simproto::CF_HDLC | simproto::CF_FCS;
  }
  s.flags.store(flags);
}

// ---------------------------------------------------------------------------------------------
// Opening and closing files

Chan* Engine::allocPseudo() {
  if (freeSlots_.empty()) return nullptr;
  auto c = std::make_unique<Chan>();
  c->pseudo = true;
  c->slot = freeSlots_.back();
  freeSlots_.pop_back();
  c->channo = nextPseudoNo_++;
  c->sigcap = DAHDI_SIG_CLEAR;
  c->sig = DAHDI_SIG_CLEAR;
  c->deflaw = DAHDI_LAW_MULAW;
  Chan* raw = c.get();
  for (auto& p : pseudos_) {
    if (!p) {
      p = std::move(c);
      return raw;
    }
  }
  pseudos_.push_back(std::move(c));
  return raw;
}

void Engine::freePseudo(Chan* c) {
  for (auto& p : pseudos_) {
    if (p.get() == c) {
      freeSlots_.push_back(c->slot);
      p.reset();
      return;
    }
  }
}

uint32_t Engine::allocBuf(uint32_t bytes) {
  size_t cls = 0;
  while ((256u << cls) < bytes) cls++;
  if (!freeLists_[cls].empty()) {
    uint32_t off = freeLists_[cls].back();
    freeLists_[cls].pop_back();
    return off;
  }
  uint32_t off = static_cast<uint32_t>(arenaTop_);
  arenaTop_ += 256u << cls;
  return off;
}

void Engine::freeBuf(uint32_t off, uint32_t bytes) {
  size_t cls = 0;
  while ((256u << cls) < bytes) cls++;
  freeLists_[cls].push_back(off);
}

void Engine::freeBuffers(Slot& s) {
  size_t idx = static_cast<size_t>(&s - slots_);
  if (!slotBytes_[idx]) return;
  freeBuf(s.rx_off, slotBytes_[idx]);
  freeBuf(s.tx_off, slotBytes_[idx]);
  slotBytes_[idx] = 0;
}

void Engine::sizeBuffers(Slot& s) {
  size_t idx = static_cast<size_t>(&s - slots_);
  uint32_t need = s.numbufs * s.blocksize;
  if (slotBytes_[idx] >= need && slotBytes_[idx] / 2 < need) return;
  freeBuffers(s);
  s.rx_off = allocBuf(need);
  s.tx_off = allocBuf(need);
  uint32_t cls = 256;
  while (cls < need) cls <<= 1;
  slotBytes_[idx] = cls;
}

void Engine::initSlot(Slot& s, Chan& c, uint32_t kind) {
  s.kind.store(kind);
  s.channo = c.channo;
  s.blocksize = kDefaultBlocksize;
  s.numbufs = kDefaultNumbufs;
  sizeBuffers(s);
  s.txpolicy = DAHDI_POLICY_IMMEDIATE;
  s.law = static_cast<uint32_t>(c.defaultLaw());
  s.rx_out.store(s.rx_in.load());
  s.tx_out.store(s.tx_in.load());
  s.ev_out.store(s.ev_in.load());
  s.timer_tripped.store(0);
  s.timer_ping.store(0);
  s.rx_overruns.store(0);
  s.tx_underruns.store(0);
  s.waker.store(-1);
  s.gen.fetch_add(1);
  uint32_t flags = simproto::CF_OPEN;
  if (isHdlcSig(c.sig)) flags |= simproto::CF_HDLC | simproto::CF_FCS;
  s.flags.store(flags);
}

void Engine::syncParams(Chan& c) {
  const Slot& s = slotOf(c.slot);
  c.bs = s.blocksize;
  c.nb = s.numbufs;
  c.txpolicy = s.txpolicy;
  c.idleCode = s.law == DAHDI_LAW_ALAW ? kAlawSilence : kUlawSilence;
  c.rxbuf = rxData(s);
  c.txbuf = txData(s);
  c.txHint = c.txbuf;
  c.rxHint = c.rxbuf;
}

void Engine::bindChan(Chan& c, uint64_t id) {
  c.open = true;
  c.openerId = id;
  c.rxfill = 0;
  c.txpos = 0;
  c.txstarted = false;
  initSlot(slotOf(c.slot), c, c.pseudo ? simproto::SLOT_PSEUDO : simproto::SLOT_CHAN);
  syncParams(c);
}

// A file names a real channel (DAHDI_SPECIFY, /dev/dahdi/N): it must exist and not be open.
IoResult Engine::bindNumbered(OpenFile& f, int channo, const char* how) {
  Chan* c = chanByNo(channo);
  if (!c || c->pseudo) {
    std::fprintf(stderr, "simd: %s channel %d: no such channel (channels are 1-%zu)\n", how, channo, chans_.size() - 1);
    return fail(ENXIO);
  }
  if (c->open) return fail(EBUSY);
  bindChan(*c, f.id);
  f.chan = c;
  return ok(c->slot);
}

IoResult Engine::open(OpenFile& f, uint32_t kind, int num, int) {
  f.kind = kind;
  switch (kind) {
    case simproto::DEV_CTL:
    case simproto::DEV_CHANNEL:
      return ok();
    case simproto::DEV_PSEUDO: {
      Chan* c = allocPseudo();
      if (!c) return fail(ENOMEM);
      bindChan(*c, f.id);
      f.chan = c;
      return ok(c->slot);
    }
    case simproto::DEV_TIMER: {
      if (freeSlots_.empty()) return fail(ENOMEM);
      auto t = std::make_unique<TimerFile>();
      t->slot = freeSlots_.back();
      freeSlots_.pop_back();
      Slot& s = slotOf(t->slot);
      s.kind.store(simproto::SLOT_TIMER);
      s.timer_tripped.store(0);
      s.timer_ping.store(0);
      s.waker.store(-1);
      s.flags.store(simproto::CF_OPEN);
      f.timer = t.get();
      timers_.push_back(std::move(t));
      return ok(f.timer->slot);
    }
    case simproto::DEV_NUMBERED:
      f.kind = simproto::DEV_CHANNEL;
      return bindNumbered(f, num, "open /dev/dahdi/N");
    default:
      return fail(ENODEV);
  }
}

void Engine::close(OpenFile& f) {
  if (f.timer) {
    Slot& s = slotOf(f.timer->slot);
    s.kind.store(simproto::SLOT_FREE);
    s.flags.store(0);
    freeSlots_.push_back(f.timer->slot);
    timers_.erase(std::remove_if(timers_.begin(), timers_.end(), [&](auto& t) { return t.get() == f.timer; }),
                  timers_.end());
    f.timer = nullptr;
  }
  if (f.chan) {
    Chan& c = *f.chan;
    if (c.open && c.openerId == f.id) {
      c.open = false;
      // DAHDI's close: conference membership, echo canceller and linear mode end with the file.
      c.confno = 0;
      c.confmode = 0;
      // The next open starts from the zone's ring cadence, as initialize_channel() does.
      c.cadence.fill(0);
      c.firstCadencePos = 0;
      hangupChan(c);
      if (c.port == PortType::FXO) c.offhook = false;
      Slot& s = slotOf(c.slot);
      s.flags.store(0);
      s.kind.store(simproto::SLOT_FREE);
      freeBuffers(s);
      if (c.pseudo) freePseudo(&c);
      recountBridges();
    }
    f.chan = nullptr;
  }
}

// ---------------------------------------------------------------------------------------------
// The tick

void Engine::produceTx(Chan& c, uint8_t* out) {
  if (!c.open) {
    std::memset(out, c.dec ? 0xFF : c.idle(), 8);
    if (c.enc) c.enc->next(out, 8);  // a configured D-channel sends flags even when nobody has it open
    return;
  }
  Slot& s = slotOf(c.slot);
  const uint32_t nb = c.nb;
  const uint32_t bs = c.bs;
  if (c.enc) {
    if (c.enc->idle()) {
      uint32_t out_ = s.tx_out.load(std::memory_order_relaxed);
      if (s.tx_in.load(std::memory_order_acquire) != out_) {
        uint32_t b = out_ % nb;
        uint32_t len = std::min(s.tx_len[b], bs);
        // The user leaves two bytes for the FCS, which the "hardware" computes.
        uint32_t payload = len >= 2 ? len - 2 : 0;
        if (payload > 0) c.enc->queue(txData(s) + b * bs, payload);
        s.tx_out.store(out_ + 1, std::memory_order_release);
        notify(s);
      }
    }
    c.enc->next(out, 8);
    return;
  }
  const uint8_t idle = c.idleCode;
  // We are the only consumer of the transmit buffers: tx_out is ours, tx_in the writer's.
  uint32_t out_ = s.tx_out.load(std::memory_order_relaxed);
  uint32_t in = s.tx_in.load(std::memory_order_acquire);
  if (!c.txstarted) {
    uint32_t need = c.txpolicy == DAHDI_POLICY_WHEN_FULL ? nb : (c.txpolicy == DAHDI_POLICY_HALF_FULL ? nb / 2 : 1);
    if (need < 1) need = 1;
    if (in - out_ >= need) c.txstarted = true;
  }
  uint32_t i = 0;
  while (i < 8) {
    if (!c.txstarted || in == out_) {
      if (c.txstarted) {
        // Ran dry: DAHDI counts an underrun and, for buffered policies, waits to refill.
        s.tx_underruns.store(s.tx_underruns.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        if (c.txpolicy != DAHDI_POLICY_IMMEDIATE) c.txstarted = false;
      }
      std::memset(out + i, idle, 8 - i);
      return;
    }
    uint32_t b = out_ % nb;
    uint32_t len = std::min(s.tx_len[b], bs);
    uint32_t take = std::min(8 - i, len - c.txpos);
    const uint8_t* src = c.txbuf + b * bs + c.txpos;
    if (take == 8) std::memcpy(out, src, 8);
    else std::memcpy(out + i, src, take);
    i += take;
    c.txpos += take;
    if (c.txpos >= len) {
      c.txpos = 0;
      s.tx_out.store(++out_, std::memory_order_release);
      notify(s);
      in = s.tx_in.load(std::memory_order_acquire);
    }
  }
  c.txHint = c.txbuf + (out_ % nb) * bs + c.txpos;
}

void Engine::pushRxBlockBytes(Chan& c, const uint8_t* in, size_t n) {
  Slot& s = slotOf(c.slot);
  const uint32_t nb = c.nb;
  const uint32_t bs = c.bs;
  for (size_t i = 0; i < n;) {
    uint32_t rin = s.rx_in.load(std::memory_order_relaxed);
    if (c.rxfill == 0 && rin - s.rx_out.load(std::memory_order_acquire) >= nb) {
      s.rx_overruns.store(s.rx_overruns.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);  // every buffer full: the chunk is lost
      return;
    }
    uint32_t b = rin % nb;
    size_t take = std::min<size_t>(n - i, bs - c.rxfill);
    uint8_t* dst = c.rxbuf + b * bs + c.rxfill;
    if (take == 8) std::memcpy(dst, in + i, 8);  // the usual whole chunk: one move, not a call
    else std::memcpy(dst, in + i, take);
    c.rxfill += static_cast<uint32_t>(take);
    i += take;
    if (c.rxfill >= bs) {
      s.rx_len[b] = bs;
      c.rxfill = 0;
      s.rx_in.store(rin + 1, std::memory_order_release);
      notify(s);
    }
  }
  c.rxHint = c.rxbuf + (s.rx_in.load(std::memory_order_relaxed) % nb) * bs + c.rxfill;
}

void Engine::pushRxFrame(Chan& c, const std::vector<uint8_t>& frame) {
  Slot& s = slotOf(c.slot);
  const uint32_t nb = s.numbufs;
  const uint32_t bs = s.blocksize;
  size_t len = frame.size() + 2;
  uint32_t rin = s.rx_in.load(std::memory_order_relaxed);
  if (len > bs || rin - s.rx_out.load(std::memory_order_acquire) >= nb) {
    s.rx_overruns.store(s.rx_overruns.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    qevent(c, DAHDI_EVENT_OVERRUN);
    return;
  }
  uint32_t b = rin % nb;
  uint8_t* dst = rxData(s) + b * bs;
  std::memcpy(dst, frame.data(), frame.size());
  // DAHDI hands the FCS bytes to the reader after the frame (libpri drops them).
  uint16_t fcs = static_cast<uint16_t>(~fcs16(frame.data(), frame.size()));
  dst[frame.size()] = static_cast<uint8_t>(fcs & 0xff);
  dst[frame.size() + 1] = static_cast<uint8_t>(fcs >> 8);
  s.rx_len[b] = static_cast<uint32_t>(len);
  s.rx_in.store(rin + 1, std::memory_order_release);
  notify(s);
}

void Engine::consumeRx(Chan& c, const uint8_t* in) {
  if (c.dec) {
    c.dec->push(in, 8);
    return;
  }
  if (c.open) pushRxBlockBytes(c, in, 8);
}

// Carry one direction of a cable: what `from` transmits arrives at `to`, through `to`'s faults.
void Engine::carry(Span& from, Span& to) {
  const int n = to.nchans;
  const bool e1 = to.type == SpanType::E1;
  if (to.faults.los || !from.running) {
    for (Chan* c : to.chans) c->linerx.fill(0xFF);
    return;
  }
  if (to.faults.ais) {
    for (Chan* c : to.chans) {
      c->linerx.fill(0xFF);
      c->rxbits = 0xF;
    }
    return;
  }
  for (int i = 0; i < std::min(n, from.nchans); i++)
    to.chans[static_cast<size_t>(i)]->linerx = from.chans[static_cast<size_t>(i)]->linetx;
  // CAS/RBS bits ride with the frame.
  for (int i = 0; i < std::min(n, from.nchans); i++) {
    Chan* rc = to.chans[static_cast<size_t>(i)];
    int bits = from.chans[static_cast<size_t>(i)]->txbits & 0xF;
    if (rc->rxbits != bits) {
      rc->rxbits = bits;
      if (rc->open && (rc->sig == DAHDI_SIG_CAS || rc->sig == DAHDI_SIG_EM || rc->sig == DAHDI_SIG_EM_E1 ||
                       rc->sig == DAHDI_SIG_DACS_RBS || isFxsSig(rc->sig) || isFxoSig(rc->sig)))
        qevent(*rc, DAHDI_EVENT_BITSCHANGED);
    }
  }
  // Bit errors: the bits of one millisecond of line signal, including the framing.
  if (to.faults.errorRate > 0) {
    const double bitsPerMs = e1 ? 2048.0 : 1544.0;
    to.errAcc += to.faults.errorRate * bitsPerMs;
    bool crcHit = false;
    while (to.errAcc >= 1.0) {
      to.errAcc -= 1.0;
      uint64_t r = rng_();
      to.counters.bpv++;
      to.counters.cv++;
      to.counters.be++;
      to.erroredThisSecond = true;
      crcHit = true;
      if (e1) {
        uint32_t bit = static_cast<uint32_t>(r % 2048);
        uint32_t ts = (bit / 8) % 32;
        if (ts == 0) {
          to.counters.fas++;
          continue;
        }
        if (ts <= static_cast<uint32_t>(n)) to.chans[ts - 1]->linerx[(bit / 256) % 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      } else {
        uint32_t bit = static_cast<uint32_t>(r % 1544);
        uint32_t inFrame = bit % 193;
        if (inFrame == 0) {
          to.counters.fe++;
          continue;
        }
        uint32_t ts = (inFrame - 1) / 8;
        if (ts < static_cast<uint32_t>(n)) to.chans[ts]->linerx[(bit / 193) % 8] ^= static_cast<uint8_t>(1u << ((inFrame - 1) % 8));
      }
    }
    // One CRC-4 check per sub-multiframe (1 ms); the far end learns of it through the E-bits.
    if (crcHit && e1 && (to.lineconfig & DAHDI_CONFIG_CRC4)) {
      to.counters.crc4++;
      from.counters.ebit++;
    }
  }
  // A clock offset makes the receive elastic store slip one whole frame now and then.
  if (to.faults.slipPpm != 0) {
    to.slipAcc += std::fabs(to.faults.slipPpm) * 1e-6 * 8.0;
    if (to.slipAcc >= 1.0) {
      to.slipAcc -= 1.0;
      to.counters.slips++;
      for (int i = 0; i < n; i++) {
        auto& b = to.chans[static_cast<size_t>(i)]->linerx;
        if (to.faults.slipPpm > 0) {
          std::memmove(b.data(), b.data() + 1, 7);  // a frame deleted, the last one repeated
        } else {
          std::memmove(b.data() + 1, b.data(), 7);  // a frame repeated
        }
      }
    }
  }
}

void Engine::spanAlarms(Span& s) {
  if (s.type == SpanType::Analog) return;
  uint32_t a = 0;
  Span* peer = s.cable ? &spans_[static_cast<size_t>(s.cable - 1)] : nullptr;
  bool los = !peer || s.faults.los;
  bool lof = peer && !peer->running;
  if (los || lof) {
    a |= DAHDI_ALARM_RED;
    if (los) a |= DAHDI_ALARM_LOS;
  } else if (s.faults.ais) {
    a |= DAHDI_ALARM_BLUE;
  } else if (s.faults.rai || peer->sendingRai) {
    a |= DAHDI_ALARM_YELLOW;
  }
  s.sendingRai = (a & (DAHDI_ALARM_RED | DAHDI_ALARM_BLUE)) != 0 && s.running;
  // Like dahdi_alarm_notify(): channels hear of it when the general state changes.
  uint32_t reported = a & ~static_cast<uint32_t>(DAHDI_ALARM_NOTOPEN);
  uint32_t before = s.alarms & ~static_cast<uint32_t>(DAHDI_ALARM_NOTOPEN);
  if ((!reported) != (!before)) {
    for (Chan* c : s.chans) qevent(*c, reported ? DAHDI_EVENT_ALARM : DAHDI_EVENT_NOALARM);
  }
  s.alarms = a;
}

static_assert(std::tuple_size<decltype(Chan::cadence)>::value == DAHDI_MAX_CADENCE, "one cadence entry per DAHDI position");

void Engine::analogTick(Chan& c) {
  if (c.port != PortType::FXS) return;
  Chan* peer = chanByNo(c.peerChan);
  if (c.ringing) {
    // The cadence DAHDI_SETCADENCE set, else the US one (2 s on, 4 s off): even positions ring.
    auto at = [&c](int pos) {
      if (c.cadence[0] == 0) return pos == 0 ? 2000 : pos == 1 ? 4000 : 0;
      return pos < DAHDI_MAX_CADENCE ? c.cadence[static_cast<size_t>(pos)] : 0;
    };
    if (c.ringPhaseMs == 0) {
      bool on = c.cadencePos % 2 == 0;
      if (on != c.ringOn) {
        c.ringOn = on;
        qevent(c, on ? DAHDI_EVENT_RINGERON : DAHDI_EVENT_RINGEROFF);
        if (on && peer && peer->port == PortType::FXO && !peer->offhook) {
          qevent(*peer, DAHDI_EVENT_RINGBEGIN);
          qevent(*peer, DAHDI_EVENT_RINGOFFHOOK);
        }
      }
    }
    if (++c.ringPhaseMs >= static_cast<uint32_t>(at(c.cadencePos))) {
      // As the kernel does: past the last entry (or a zero one) the cadence starts again where
      // the negative entry was, or at the beginning.
      c.ringPhaseMs = 0;
      c.cadencePos = at(c.cadencePos + 1) > 0 ? c.cadencePos + 1 : c.firstCadencePos;
    }
  }
}

bool Engine::inConference(const Chan& c) {
  int m = c.confmode & DAHDI_CONF_MODE_MASK;
  return c.confno > 0 && (m == DAHDI_CONF_CONF || m == DAHDI_CONF_CONFANN || m == DAHDI_CONF_CONFMON ||
                          m == DAHDI_CONF_CONFANNMON || m == DAHDI_CONF_REALANDPSEUDO);
}

int Engine::lawOf(const Chan& c) const {
  return c.open ? static_cast<int>(slots_[c.slot].law) : c.defaultLaw();
}

void Engine::recountBridges() {
  bridges_ = 0;
  for (size_t i = 1; i < chans_.size(); i++)
    if (chans_[i]->dacs || chans_[i]->confmode) bridges_++;
  for (auto& p : pseudos_)
    if (p && p->confmode) bridges_++;
}

// What a pseudo channel (or a conference listener) hears this tick; false when it hears silence.
bool Engine::listen(Chan& c, const std::map<int, std::array<int32_t, 8>>& mix, std::array<int16_t, 8>& out) {
  int m = c.confmode & DAHDI_CONF_MODE_MASK;
  int law = lawOf(c);
  if (inConference(c)) {
    if (!(c.confmode & DAHDI_CONF_LISTENER)) return false;
    auto it = mix.find(c.confno);
    std::array<int32_t, 8> sum{};
    if (it != mix.end()) sum = it->second;
    if (c.confmode & DAHDI_CONF_TALKER) {
      const auto& a = c.pseudo ? c.apptx : c.linerx;  // sum minus self
      for (size_t k = 0; k < 8; k++) sum[k] -= toLinear(a[k], law);
    }
    for (size_t k = 0; k < 8; k++) out[k] = saturate16(sum[k]);
    return true;
  }
  Chan* o = c.pseudo && c.confno ? chanByNo(c.confno) : nullptr;
  if (!o) return false;
  int olaw = lawOf(*o);
  switch (m) {
    case DAHDI_CONF_MONITOR:
    case DAHDI_CONF_MONITOR_RX_PREECHO:
      for (size_t k = 0; k < 8; k++) out[k] = toLinear(o->linerx[k], olaw);
      return true;
    case DAHDI_CONF_MONITORTX:
    case DAHDI_CONF_MONITOR_TX_PREECHO:
      for (size_t k = 0; k < 8; k++) out[k] = toLinear(o->linetx[k], olaw);
      return true;
    case DAHDI_CONF_MONITORBOTH:
    case DAHDI_CONF_MONITORBOTH_PREECHO:
      for (size_t k = 0; k < 8; k++) out[k] = saturate16(toLinear(o->linerx[k], olaw) + toLinear(o->linetx[k], olaw));
      return true;
    default:
      return false;
  }
}

void Engine::prefetch(const std::vector<Chan*>& list, size_t i, bool tx) {
  constexpr size_t kFar = 16, kNear = 8;  // channel objects first, then their buffers
  if (i + kFar < list.size()) {
    const char* far = reinterpret_cast<const char*>(list[i + kFar]);
    __builtin_prefetch(far);
    __builtin_prefetch(far + 64);
  }
  if (i + kNear >= list.size()) return;
  const Chan* n = list[i + kNear];
  if (!n->open) return;
  const Slot& s = slots_[n->slot];
  if (tx) {
    __builtin_prefetch(&s.tx_in);
    __builtin_prefetch(n->txHint);
  } else {
    __builtin_prefetch(&s.rx_in, 1);
    __builtin_prefetch(n->rxHint, 1);
  }
}

void Engine::tick() {
  stats.ticks++;

  for (auto& t : timers_) {
    if (t->period && --t->countdown == 0) {
      t->countdown = t->period;
      Slot& s = slotOf(t->slot);
      s.timer_tripped.fetch_add(1);
      notify(s);
    }
  }

  // Thousands of channels do not fit in the cache, so the channels a few steps ahead are
  // prefetched (memory latency, not work, is what a tick of a big board costs), and without
  // cross-connects a cable's two spans are sent, carried and received together, so that their
  // channels are still in cache for the receive half.
  auto txList = [&](const std::vector<Chan*>& list) {
    for (size_t i = 0; i < list.size(); i++) {
      prefetch(list, i, true);
      Chan* c = list[i];
      produceTx(*c, c->apptx.data());
      c->linetx = c->apptx;
    }
  };
  auto rxList = [&](const std::vector<Chan*>& list) {
    for (size_t i = 0; i < list.size(); i++) {
      prefetch(list, i, false);
      Chan* c = list[i];
      if (c->open) consumeRx(*c, c->linerx.data());
      else if (c->dec) c->dec->push(c->linerx.data(), 8);  // keeps flag sync; frames go nowhere
    }
  };
  // What a span hears: its cable's far end, or for an analog card each line's far port.
  auto wireSpan = [&](Span& sp) {
    if (sp.type == SpanType::Analog) {
      for (Chan* c : sp.chans) {
        Chan* peer = c->peerChan ? chanByNo(c->peerChan) : nullptr;
        if (peer) c->linerx = peer->linetx;
        else c->linerx.fill(c->idle());
      }
    } else if (sp.cable) {
      carry(spans_[static_cast<size_t>(sp.cable - 1)], sp);
    } else {
      for (Chan* c : sp.chans) c->linerx.fill(0xFF);
    }
  };

  for (auto& p : pseudos_)
    if (p) produceTx(*p, p->apptx.data());

  if (bridges_) {
    // 1. Everything transmits; 2. in-kernel cross-connects; 3. the wire; 4. everything receives.
    txList(wire_);
    for (size_t i = 1; i < chans_.size(); i++) {
      Chan& c = *chans_[i];
      // DACS and DIGITALMON send the partner's receive of the last tick.
      int src = c.dacs ? c.dacs : ((c.confmode & DAHDI_CONF_MODE_MASK) == DAHDI_CONF_DIGITALMON ? c.confno : 0);
      if (src) {
        if (Chan* o = chanByNo(src)) {
          c.linetx = o->linerx;
          if (c.sig == DAHDI_SIG_DACS_RBS && o->rxbits >= 0) c.txbits = o->rxbits;  // the bits follow the voice
        }
      } else if (c.confOutValid) {
        // A real channel listening to a conference sends the mix on top of what its user writes.
        int law = lawOf(c);
        for (size_t k = 0; k < 8; k++) c.linetx[k] = fromLinear(toLinear(c.apptx[k], law) + c.confOut[k], law);
      }
    }
    for (auto& sp : spans_) wireSpan(sp);
    rxList(wire_);
  } else {
    for (auto& sp : spans_) {
      if (sp.type == SpanType::Analog) continue;
      Span* far = sp.cable ? &spans_[static_cast<size_t>(sp.cable - 1)] : nullptr;
      if (far && far->no < sp.no) continue;  // done with its partner
      txList(sp.chans);
      if (far) txList(far->chans);
      wireSpan(sp);
      if (far) wireSpan(*far);
      rxList(sp.chans);
      if (far) rxList(far->chans);
    }
    for (auto& sp : spans_)
      if (sp.type == SpanType::Analog) txList(sp.chans);
    for (auto& sp : spans_)
      if (sp.type == SpanType::Analog) wireSpan(sp);
    for (auto& sp : spans_)
      if (sp.type == SpanType::Analog) rxList(sp.chans);
  }

  // 4. Conferences and monitors: talkers of this tick, heard by listeners now (pseudo channels)
  //    or on the next tick (real channels, through their transmit).
  std::map<int, std::array<int32_t, 8>> mix;
  if (bridges_) {
    auto collect = [&](const Chan& c) {
      if (!inConference(c) || !(c.confmode & DAHDI_CONF_TALKER)) return;
      auto& m = mix[c.confno];
      const auto& a = c.pseudo ? c.apptx : c.linerx;
      int law = lawOf(c);
      for (size_t k = 0; k < 8; k++) m[k] += toLinear(a[k], law);
    };
    for (size_t i = 1; i < chans_.size(); i++) collect(*chans_[i]);
    for (auto& p : pseudos_)
      if (p) collect(*p);
    for (size_t i = 1; i < chans_.size(); i++) {
      Chan& c = *chans_[i];
      c.confOutValid = inConference(c) && listen(c, mix, c.confOut);
    }
  }
  for (auto& p : pseudos_) {
    if (!p) continue;
    std::array<uint8_t, 8> in;
    std::array<int16_t, 8> lin;
    if ((p->confmode & DAHDI_CONF_MODE_MASK) == DAHDI_CONF_DIGITALMON) {
      Chan* o = chanByNo(p->confno);
      in = o ? o->linerx : std::array<uint8_t, 8>{};
    } else if (bridges_ && listen(*p, mix, lin)) {
      int law = lawOf(*p);
      for (size_t k = 0; k < 8; k++) in[k] = fromLinear(lin[k], law);
    } else {
      in.fill(p->idle());
    }
    consumeRx(*p, in.data());
  }

  for (auto& sp : spans_) {
    if (sp.type == SpanType::Analog) {
      for (Chan* c : sp.chans) analogTick(*c);
      continue;
    }
    spanAlarms(sp);
    if (++sp.tickInSecond >= 1000) {
      sp.tickInSecond = 0;
      if (sp.erroredThisSecond || (sp.alarms & (DAHDI_ALARM_RED | DAHDI_ALARM_BLUE))) sp.counters.errsec++;
      sp.erroredThisSecond = false;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ioctls

void Engine::logUnknownIoctl(const OpenFile& f, uint32_t cmd) {
  const char* dev = f.kind == simproto::DEV_CTL ? "/dev/dahdi/ctl"
                    : f.kind == simproto::DEV_PSEUDO ? "/dev/dahdi/pseudo"
                    : f.kind == simproto::DEV_TIMER ? "/dev/dahdi/timer"
                                                    : "/dev/dahdi/channel";
  std::fprintf(stderr,
               "simd: ioctl 0x%08x (type 0x%02x nr %u size %u) on %s%s is unknown to the simulator: "
               "ENOTTY\n",
               cmd, _IOC_TYPE(cmd), _IOC_NR(cmd), _IOC_SIZE(cmd), dev,
               f.chan ? (" channel " + std::to_string(f.chan->channo)).c_str() : "");
}

IoResult Engine::ioctl(OpenFile& f, uint32_t cmd, std::vector<uint8_t>& d) {
  bool handled = false;
  IoResult r = ctlIoctl(f, cmd, d, handled);
  if (handled) return r;
  if (f.timer) {
    Slot& s = slotOf(f.timer->slot);
    int j = 0;
    switch (cmd) {
      case DAHDI_TIMERCONFIG:
        if (!getArg(d, j) || j < 0) return fail(EINVAL);
        f.timer->period = static_cast<uint32_t>(j);
        f.timer->countdown = static_cast<uint32_t>(j);
        return ok();
      case DAHDI_TIMERACK: {
        getArg(d, j);
        uint32_t t = s.timer_tripped.load();
        uint32_t ack = (j < 1 || static_cast<uint32_t>(j) > t) ? t : static_cast<uint32_t>(j);
        s.timer_tripped.fetch_sub(ack);
        return IoResult{static_cast<int>(ack), 0, -1};
      }
      case DAHDI_TIMERPING:
        s.timer_ping.store(1);
        notify(s);
        return ok();
      case DAHDI_TIMERPONG:
        s.timer_ping.store(0);
        return ok();
      case DAHDI_GETEVENT:
        j = s.timer_ping.load() ? DAHDI_EVENT_TIMER_PING : (s.timer_tripped.load() ? DAHDI_EVENT_TIMER_EXPIRED : 0);
        putArg(d, j);
        return ok();
      default:
        logUnknownIoctl(f, cmd);
        return fail(ENOTTY);
    }
  }
  if (f.kind == simproto::DEV_CHANNEL && !f.chan) {
    if (cmd == DAHDI_SPECIFY) {
      int channo = 0;
      if (!getArg(d, channo)) return fail(EFAULT);
      return bindNumbered(f, channo, "DAHDI_SPECIFY");
    }
    if (cmd == DAHDI_CHANNO) return fail(EINVAL);
    logUnknownIoctl(f, cmd);
    return fail(ENOTTY);
  }
  if (f.chan) return chanIoctl(f, *f.chan, cmd, d);
  logUnknownIoctl(f, cmd);
  return fail(ENOTTY);
}

IoResult Engine::ctlIoctl(OpenFile& f, uint32_t cmd, std::vector<uint8_t>& d, bool& handled) {
  handled = true;
  switch (cmd) {
    case DAHDI_GETVERSION: {
      dahdi_versioninfo vi{};
      copyStr(vi.version, sizeof vi.version, "3.1.0-switchboard-sim");
      copyStr(vi.echo_canceller, sizeof vi.echo_canceller, "SIM (pass-through)");
      putArg(d, vi);
      return ok();
    }
    case DAHDI_SPANSTAT: {
      dahdi_spaninfo si{};
      if (!getArg(d, si)) return fail(EFAULT);
      int no = si.spanno ? si.spanno : (f.chan && f.chan->span ? f.chan->span->no : 0);
      if (no < 1 || no > static_cast<int>(spans_.size())) return fail(EINVAL);
      Span& s = spans_[static_cast<size_t>(no - 1)];
      si = dahdi_spaninfo{};
      si.spanno = no;
      copyStr(si.name, sizeof si.name, s.name);
      copyStr(si.desc, sizeof si.desc, s.desc);
      si.alarms = static_cast<int>(s.alarms);
      si.bpvcount = static_cast<int>(s.counters.bpv);
      si.crc4count = static_cast<int>(s.counters.crc4);
      si.ebitcount = static_cast<int>(s.counters.ebit);
      si.fascount = static_cast<int>(s.counters.fas);
      si.fecount = s.counters.fe;
      si.cvcount = s.counters.cv;
      si.becount = s.counters.be;
      si.errsec = s.counters.errsec;
      int synced = 0;
      for (auto& o : spans_)
        if (o.running && o.sync > 0 && !(o.alarms & (DAHDI_ALARM_RED | DAHDI_ALARM_BLUE)) &&
            (!synced || o.sync < spans_[static_cast<size_t>(synced - 1)].sync))
          synced = o.no;
      si.syncsrc = synced;
      int configured = 0;
      for (Chan* c : s.chans)
        if (c->sig) configured++;
      si.numchans = configured;
      si.totalchans = s.nchans;
      si.totalspans = static_cast<int>(spans_.size());
      si.lbo = s.lbo;
      si.lineconfig = s.lineconfig;
      static const char* lbos[] = {"0 db (CSU)/0-133 feet (DSX-1)", "133-266 feet (DSX-1)", "266-399 feet (DSX-1)",
                                   "399-533 feet (DSX-1)", "533-655 feet (DSX-1)", "-7.5db (CSU)", "-15db (CSU)",
                                   "-22.5db (CSU)"};
      copyStr(si.lboname, sizeof si.lboname, s.lbo >= 0 && s.lbo < 8 ? lbos[s.lbo] : "unknown");
      copyStr(si.location, sizeof si.location, "simulator");
      copyStr(si.manufacturer, sizeof si.manufacturer, "Switchboard");
      copyStr(si.devicetype, sizeof si.devicetype,
              s.type == SpanType::Analog ? "Switchboard simulated analog card" : "Switchboard simulated E1/T1 card");
      if (s.type == SpanType::E1) {
        si.linecompat = DAHDI_CONFIG_AMI | DAHDI_CONFIG_HDB3 | DAHDI_CONFIG_CCS | DAHDI_CONFIG_CRC4;
        copyStr(si.spantype, sizeof si.spantype, "E1");
      } else if (s.type == SpanType::T1) {
        si.linecompat = DAHDI_CONFIG_AMI | DAHDI_CONFIG_B8ZS | DAHDI_CONFIG_D4 | DAHDI_CONFIG_ESF;
        copyStr(si.spantype, sizeof si.spantype, "T1");
      } else {
        // As DAHDI's analog drivers report it: FXS, FXO, or "ANALOG_MIXED" cut to the field's 5 characters.
        si.linecompat = 0;
        bool fxs = false, fxo = false;
        for (auto p : s.ports) (p == PortType::FXS ? fxs : fxo) = true;
        copyStr(si.spantype, sizeof si.spantype, fxs && fxo ? "ANALO" : fxs ? "FXS" : "FXO");
      }
      putArg(d, si);
      return ok();
    }
    case DAHDI_GET_PARAMS:
    case DAHDI_SET_PARAMS: {
      dahdi_params p{};
      if (!getArg(d, p)) return fail(EFAULT);
      // As in DAHDI: a channel's own descriptor answers for itself (whatever channo holds, which
      // some callers leave uninitialised); /dev/dahdi/ctl answers for the channel number asked.
      const bool returnMaster = (p.channo & DAHDI_GET_PARAMS_RETURN_MASTER) != 0;
      Chan* c = f.chan ? f.chan : chanByNo(p.channo & ~DAHDI_GET_PARAMS_RETURN_MASTER);
      if (!c) return fail(EINVAL);
      if (cmd == DAHDI_SET_PARAMS) return ok();  // timing parameters of robbed-bit signalling: accepted
      p = dahdi_params{};
      // Every channel is its own master here (no slaves), so the master number is its own.
      p.channo = returnMaster ? c->channo | (c->channo << 16) : c->channo;
      p.spanno = c->span ? c->span->no : 0;
      p.chanpos = c->chanpos;
      p.sigtype = c->sig;
      p.sigcap = static_cast<int>(c->sigcap);
      p.rxisoffhook = c->port == PortType::FXS ? (chanByNo(c->peerChan) && chanByNo(c->peerChan)->offhook) : 0;
      p.rxbits = c->rxbits < 0 ? 0 : c->rxbits;
      p.txbits = c->txbits;
      p.curlaw = lawOf(*c);
      p.idlebits = c->dacs ? c->dacs : c->idlebits;
      if (c->span) {
        std::snprintf(p.name, sizeof p.name, "%s/%d", c->span->name.c_str(), c->chanpos);
      } else {
        std::snprintf(p.name, sizeof p.name, "Pseudo/%d", c->channo);
      }
      p.chan_alarms = c->span ? (c->span->alarms & ~static_cast<uint32_t>(DAHDI_ALARM_NOTOPEN)) : 0;
      putArg(d, p);
      return ok();
    }
    case DAHDI_SPANCONFIG: {
      dahdi_lineconfig lc{};
      if (!getArg(d, lc)) return fail(EFAULT);
      if (lc.span < 1 || lc.span > static_cast<int>(spans_.size())) {
        std::fprintf(stderr, "simd: DAHDI_SPANCONFIG: span %d does not exist (spans are 1-%zu)\n", lc.span,
                     spans_.size());
        return fail(ENXIO);
      }
      Span& s = spans_[static_cast<size_t>(lc.span - 1)];
      uint32_t compat = s.type == SpanType::E1   ? (DAHDI_CONFIG_AMI | DAHDI_CONFIG_HDB3 | DAHDI_CONFIG_CCS | DAHDI_CONFIG_CRC4)
                        : s.type == SpanType::T1 ? (DAHDI_CONFIG_AMI | DAHDI_CONFIG_B8ZS | DAHDI_CONFIG_D4 | DAHDI_CONFIG_ESF)
                                                 : 0;
      if ((static_cast<uint32_t>(lc.lineconfig) & 0x1ff0 & compat) != (static_cast<uint32_t>(lc.lineconfig) & 0x1ff0)) {
        std::fprintf(stderr, "simd: DAHDI_SPANCONFIG span %d: line configuration 0x%x not supported by a%s span\n",
                     lc.span, lc.lineconfig, s.type == SpanType::E1 ? "n E1" : s.type == SpanType::T1 ? " T1" : "n analog");
        return fail(EINVAL);
      }
      s.lineconfig = lc.lineconfig;
      s.lbo = lc.lbo;
      s.sync = lc.sync;
      s.configured = true;
      return ok();
    }
    case DAHDI_CHANCONFIG: {
      dahdi_chanconfig cc{};
      if (!getArg(d, cc)) return fail(EFAULT);
      Chan* c = chanByNo(cc.chan);
      if (!c || c->pseudo) {
        std::fprintf(stderr, "simd: DAHDI_CHANCONFIG: no channel %d\n", cc.chan);
        return fail(EINVAL);
      }
      if (cc.sigtype && cc.sigtype != DAHDI_SIG_SLAVE && cc.sigtype != DAHDI_SIG_DACS &&
          (static_cast<uint32_t>(cc.sigtype) & c->sigcap) != static_cast<uint32_t>(cc.sigtype)) {
        std::fprintf(stderr, "simd: DAHDI_CHANCONFIG channel %d: signalling 0x%x is not supported by this port\n",
                     cc.chan, cc.sigtype);
        return fail(EINVAL);
      }
      if (cc.sigtype == DAHDI_SIG_DACS || cc.sigtype == DAHDI_SIG_DACS_RBS) {
        Chan* o = chanByNo(cc.idlebits);
        if (!o || o->pseudo || o == c) {
          std::fprintf(stderr, "simd: DAHDI_CHANCONFIG channel %d: DACS partner %d is not a channel\n", cc.chan,
                       cc.idlebits);
          return fail(EINVAL);
        }
        c->dacs = o->channo;
      } else {
        c->dacs = 0;
      }
      recountBridges();
      c->deflaw = cc.deflaw;
      c->idlebits = c->dacs ? 0 : cc.idlebits;
      if (cc.sigtype == DAHDI_SIG_CAS) c->txbits = cc.idlebits & 0xF;
      applyChanSig(*c, cc.sigtype);
      if (c->open) {
        slots_[c->slot].law = static_cast<uint32_t>(cc.deflaw ? cc.deflaw : slots_[c->slot].law);
        syncParams(*c);
      }
      return ok();
    }
    case DAHDI_STARTUP:
    case DAHDI_SHUTDOWN: {
      int no = 0;
      if (!getArg(d, no)) return fail(EFAULT);
      if (no < 1 || no > static_cast<int>(spans_.size())) {
        std::fprintf(stderr, "simd: %s: span %d does not exist (spans are 1-%zu)\n",
                     cmd == DAHDI_STARTUP ? "DAHDI_STARTUP" : "DAHDI_SHUTDOWN", no, spans_.size());
        return fail(ENXIO);
      }
      Span& s = spans_[static_cast<size_t>(no - 1)];
      if (cmd == DAHDI_STARTUP) {
        if (!s.running) {
          s.running = true;
          for (Chan* c : s.chans) hangupChan(*c);
        }
      } else {
        for (Chan* c : s.chans) applyChanSig(*c, 0);
        s.running = false;
      }
      return ok();
    }
    case DAHDI_ATTACH_ECHOCAN: {
      dahdi_attach_echocan ae{};
      if (!getArg(d, ae)) return fail(EFAULT);
      Chan* c = chanByNo(ae.chan);
      if (!c) return fail(EINVAL);
      ae.echocan[sizeof ae.echocan - 1] = 0;
      c->echocanName = ae.echocan;
      return ok();
    }
    case DAHDI_DEFAULTZONE: {
      int z = 0;
      if (!getArg(d, z)) return fail(EFAULT);
      if (!zones_.count(z)) return fail(EINVAL);
      defaultZone_ = z;
      return ok();
    }
    case DAHDI_LOADZONE: {
      dahdi_tone_def_header th{};
      if (!getArg(d, th)) return fail(EFAULT);
      if (th.zone < 0 || th.zone >= DAHDI_TONE_ZONE_MAX || th.count < 0 || th.count > DAHDI_TONE_ZONE_MAX * 64)
        return fail(EINVAL);
      th.name[sizeof th.name - 1] = 0;
      zones_[th.zone] = th.name;
      return ok();
    }
    case DAHDI_FREEZONE: {
      int z = 0;
      if (!getArg(d, z)) return fail(EFAULT);
      zones_.erase(z);
      return ok();
    }
    case DAHDI_SET_DIALPARAMS:
      return ok();  // kernel DTMF/MF generation is not simulated; DSP tones come from spandsp
    case DAHDI_GET_DIALPARAMS: {
      dahdi_dialparams dp{};
      dp.mfv1_tonelen = 100;
      dp.dtmf_tonelen = 100;
      putArg(d, dp);
      return ok();
    }
    case DAHDI_MAINT: {
      dahdi_maintinfo mi{};
      if (!getArg(d, mi)) return fail(EFAULT);
      if (mi.spanno < 1 || mi.spanno > static_cast<int>(spans_.size())) return fail(EINVAL);
      Span& s = spans_[static_cast<size_t>(mi.spanno - 1)];
      if (mi.command == DAHDI_RESET_COUNTERS) {
        s.counters = Counters{};
        return ok();
      }
      if (mi.command == DAHDI_MAINT_NONE) return ok();
      break;
    }
    default:
      break;
  }
  handled = false;
  return ok();
}

IoResult Engine::chanIoctl(OpenFile& f, Chan& c, uint32_t cmd, std::vector<uint8_t>& d) {
  Slot& s = slotOf(c.slot);
  int j = 0;
  switch (cmd) {
    case DAHDI_SPECIFY:
      return fail(EINVAL);  // already bound
    case DAHDI_CHANNO:
      putArg(d, c.channo);
      return ok();
    case DAHDI_GET_BLOCKSIZE:
      j = static_cast<int>(s.blocksize);
      putArg(d, j);
      return ok();
    case DAHDI_SET_BLOCKSIZE:
      if (!getArg(d, j)) return fail(EFAULT);
      if (j < 16 || j > DAHDI_MAX_BLOCKSIZE || static_cast<uint32_t>(j) * s.numbufs > simproto::kBufSpace)
        return fail(EINVAL);
      s.blocksize = static_cast<uint32_t>(j);
      sizeBuffers(s);
      syncParams(c);
      resetBuffers(c, true, true);
      return ok();
    case DAHDI_GET_BUFINFO: {
      dahdi_bufferinfo bi{};
      bi.txbufpolicy = static_cast<int>(s.txpolicy);
      bi.rxbufpolicy = DAHDI_POLICY_IMMEDIATE;
      bi.numbufs = static_cast<int>(s.numbufs);
      bi.bufsize = static_cast<int>(s.blocksize);
      bi.readbufs = static_cast<int>(s.rx_in.load() - s.rx_out.load());
      bi.writebufs = static_cast<int>(s.tx_in.load() - s.tx_out.load());
      putArg(d, bi);
      return ok();
    }
    case DAHDI_SET_BUFINFO: {
      dahdi_bufferinfo bi{};
      if (!getArg(d, bi)) return fail(EFAULT);
      if (bi.numbufs < 2 || bi.numbufs > DAHDI_MAX_NUM_BUFS || bi.bufsize < 16 || bi.bufsize > DAHDI_MAX_BLOCKSIZE ||
          static_cast<uint32_t>(bi.numbufs * bi.bufsize) > simproto::kBufSpace)
        return fail(EINVAL);
      s.numbufs = static_cast<uint32_t>(bi.numbufs);
      s.blocksize = static_cast<uint32_t>(bi.bufsize);
      s.txpolicy = static_cast<uint32_t>(bi.txbufpolicy);
      sizeBuffers(s);
      syncParams(c);
      resetBuffers(c, true, true);
      return ok();
    }
    case DAHDI_FLUSH:
      if (!getArg(d, j)) return fail(EFAULT);
      if (j & DAHDI_FLUSH_READ) resetBuffers(c, true, false);
      if (j & DAHDI_FLUSH_WRITE) resetBuffers(c, false, true);
      if (j & DAHDI_FLUSH_EVENT) s.ev_out.store(s.ev_in.load());
      return ok();
    case DAHDI_SETLAW:
      if (!getArg(d, j)) return fail(EFAULT);
      if (j == DAHDI_LAW_DEFAULT)
        j = c.defaultLaw();
      if (j != DAHDI_LAW_MULAW && j != DAHDI_LAW_ALAW) return fail(EINVAL);
      s.law = static_cast<uint32_t>(j);
      syncParams(c);
      return ok();
    case DAHDI_SETLINEAR:
      if (!getArg(d, j)) return fail(EFAULT);
      if (j) s.flags.fetch_or(simproto::CF_LINEAR);
      else s.flags.fetch_and(~simproto::CF_LINEAR);
      return ok();
    case DAHDI_HDLCRAWMODE:
    case DAHDI_HDLCFCSMODE:
      if (!getArg(d, j)) return fail(EFAULT);
      if (c.sig != DAHDI_SIG_CLEAR && !c.pseudo && !isHdlcSig(c.sig)) return fail(EINVAL);
      applyChanSig(c, j ? (cmd == DAHDI_HDLCFCSMODE ? DAHDI_SIG_HDLCFCS : DAHDI_SIG_HDLCRAW) : DAHDI_SIG_CLEAR);
      resetBuffers(c, true, true);
      return ok();
    case DAHDI_HDLC_RATE:
      if (!getArg(d, j)) return fail(EFAULT);
      if (j != 56 && j != 64) return fail(EINVAL);
      c.hdlcRate = j;
      if (c.enc) c.enc->setBitsPerByte(j == 56 ? 7 : 8);
      if (c.dec) c.dec->setBitsPerByte(j == 56 ? 7 : 8);
      return ok();
    case DAHDI_GETRXBITS:
      j = c.rxbits < 0 ? 0 : c.rxbits;
      putArg(d, j);
      return ok();
    case DAHDI_SETTXBITS:
      if (!getArg(d, j)) return fail(EFAULT);
      if (c.sig != DAHDI_SIG_CAS && c.sig != DAHDI_SIG_DACS_RBS) return fail(EINVAL);
      c.txbits = j & 0xF;
      return ok();
    case DAHDI_HOOK: {
      if (!getArg(d, j)) return fail(EFAULT);
      Chan* peer = chanByNo(c.peerChan);
      if (c.port == PortType::FXO || isFxsSig(c.sig)) {
        // An FXO module (or FXS-signalled line) goes on and off hook towards the exchange.
        if (j == DAHDI_OFFHOOK || j == DAHDI_ONHOOK) {
          bool off = j == DAHDI_OFFHOOK;
          if (off != c.offhook) {
            c.offhook = off;
            if (peer && peer->port == PortType::FXS) {
              if (off && peer->ringing) {
                peer->ringing = false;
                peer->ringOn = false;
              }
              qevent(*peer, off ? DAHDI_EVENT_RINGOFFHOOK : DAHDI_EVENT_ONHOOK);
            }
          }
          return ok();  // plain on/off hook completes at once: no HOOKCOMPLETE, as in DAHDI
        }
        if (j == DAHDI_FLASH || j == DAHDI_WINK || j == DAHDI_START) {
          if (peer && peer->port == PortType::FXS) qevent(*peer, DAHDI_EVENT_WINKFLASH);
          qevent(c, DAHDI_EVENT_HOOKCOMPLETE);
          return ok();
        }
        return fail(EINVAL);
      }
      if (c.port == PortType::FXS || isFxoSig(c.sig)) {
        switch (j) {
          case DAHDI_RING:
            if (peer && peer->offhook) return fail(EBUSY);
            c.ringing = true;
            c.ringPhaseMs = 0;
            c.cadencePos = 0;
            c.ringOn = false;
            return ok();
          case DAHDI_RINGOFF:
            c.ringing = false;
            if (c.ringOn) qevent(c, DAHDI_EVENT_RINGEROFF);
            c.ringOn = false;
            return ok();
          case DAHDI_ONHOOK:
            // Kewlstart: dropping battery tells an off-hook FXO at the far end that we hung up.
            c.ringing = false;
            c.ringOn = false;
            if (peer && peer->offhook && (peer->sig == DAHDI_SIG_FXSKS)) qevent(*peer, DAHDI_EVENT_ONHOOK);
            return ok();
          case DAHDI_OFFHOOK:
            return ok();
          default:
            return fail(EINVAL);
        }
      }
      return fail(EINVAL);
    }
    case DAHDI_SETPOLARITY: {
      if (!getArg(d, j)) return fail(EFAULT);
      Chan* peer = chanByNo(c.peerChan);
      if (c.port != PortType::FXS) return fail(EINVAL);
      if (peer) qevent(*peer, DAHDI_EVENT_POLARITY);
      return ok();
    }
    case DAHDI_SETCONF: {
      dahdi_confinfo ci{};
      if (!getArg(d, ci)) return fail(EFAULT);
      int m = ci.confmode & DAHDI_CONF_MODE_MASK;
      Chan* target = ci.chan ? chanByNo(ci.chan) : &c;
      if (!target) return fail(EINVAL);
      if (m == DAHDI_CONF_NORMAL) {
        target->confno = 0;
        target->confmode = 0;
        recountBridges();
        return ok();
      }
      bool monitor = m == DAHDI_CONF_MONITOR || m == DAHDI_CONF_MONITORTX || m == DAHDI_CONF_MONITORBOTH ||
                     m == DAHDI_CONF_MONITOR_RX_PREECHO || m == DAHDI_CONF_MONITOR_TX_PREECHO ||
                     m == DAHDI_CONF_MONITORBOTH_PREECHO || m == DAHDI_CONF_DIGITALMON;
      if (monitor && !chanByNo(ci.confno)) return fail(EINVAL);
      if (!monitor && (ci.confno < 1 || ci.confno > DAHDI_MAX_CONF)) return fail(EINVAL);
      if (m > DAHDI_CONF_MONITORBOTH_PREECHO) return fail(EINVAL);
      target->confno = ci.confno;
      target->confmode = ci.confmode;
      recountBridges();
      putArg(d, ci);
      return ok();
    }
    case DAHDI_GETCONF: {
      dahdi_confinfo ci{};
      getArg(d, ci);
      Chan* target = ci.chan ? chanByNo(ci.chan) : &c;
      if (!target) return fail(EINVAL);
      ci.chan = target->channo;
      ci.confno = target->confno;
      ci.confmode = target->confmode;
      putArg(d, ci);
      return ok();
    }
    case DAHDI_CONFMUTE:
    case DAHDI_GETCONFMUTE:
      j = 0;
      if (cmd == DAHDI_GETCONFMUTE) putArg(d, j);
      return ok();
    case DAHDI_ECHOCANCEL:
      if (!getArg(d, j)) return fail(EFAULT);
      c.echocan = j;
      return ok();
    case DAHDI_ECHOCANCEL_PARAMS: {
      dahdi_echocanparams ep{};
      if (!getArg(d, ep)) return fail(EFAULT);
      if (ep.param_count > DAHDI_MAX_ECHOCANPARAMS) return fail(EINVAL);
      c.echocan = static_cast<int>(ep.tap_length);
      return ok();
    }
    case DAHDI_ECHOTRAIN:
    case DAHDI_ECHOCANCEL_FAX_MODE:
    case DAHDI_AUDIOMODE:
    case DAHDI_BUFFER_EVENTS:
    case DAHDI_SETSIGFREEZE:
      return ok();  // accepted; the simulated card has no analogue echo or audio path to change
    case DAHDI_SETCADENCE: {
      // As dahdi-base: the ring cadence in ms (on, off, on ...), a negative entry marking where it
      // loops back to; no argument restores the default.
      dahdi_ring_cadence cad{};
      c.cadence.fill(0);
      c.firstCadencePos = 0;
      if (getArg(d, cad)) {
        for (size_t i = 0; i < c.cadence.size(); i++) c.cadence[i] = cad.ringcadence[i];
        for (size_t i = 0; i < c.cadence.size(); i++) {
          if (c.cadence[i] < 0) {
            c.cadence[i] = -c.cadence[i];
            c.firstCadencePos = static_cast<int>(i);
            break;
          }
        }
        if (c.cadence[0] <= 0) c.cadence.fill(0);
      }
      return ok();
    }
    case DAHDI_GETSIGFREEZE:
      j = 0;
      putArg(d, j);
      return ok();
    case DAHDI_SETTONEZONE:
      if (!getArg(d, j)) return fail(EFAULT);
      if (!zones_.count(j)) return fail(ENODATA);
      c.tonezone = j;
      return ok();
    case DAHDI_GETTONEZONE:
      j = c.tonezone < 0 ? defaultZone_ : c.tonezone;
      putArg(d, j);
      return ok();
    case DAHDI_GETGAINS: {
      dahdi_gains g{};
      getArg(d, g);
      for (int k = 0; k < 256; k++) {
        g.rxgain[k] = static_cast<uint8_t>(k);
        g.txgain[k] = static_cast<uint8_t>(k);
      }
      putArg(d, g);
      return ok();
    }
    case DAHDI_SETGAINS:
      return ok();
    case DAHDI_DIALING:
      j = 0;
      putArg(d, j);
      return ok();
    default:
      logUnknownIoctl(f, cmd);
      return fail(ENOTTY);
  }
}

// ---------------------------------------------------------------------------------------------
// Control

std::string Engine::cable(int a, int b) {
  int n = static_cast<int>(spans_.size());
  if (a < 1 || a > n) return "span " + std::to_string(a) + " does not exist (spans are 1-" + std::to_string(n) + ")";
  if (b < 1 || b > n) return "span " + std::to_string(b) + " does not exist (spans are 1-" + std::to_string(n) + ")";
  Span& sa = spans_[static_cast<size_t>(a - 1)];
  Span& sb = spans_[static_cast<size_t>(b - 1)];
  if (sa.type == SpanType::Analog || sb.type == SpanType::Analog) return "analog ports are joined by lines in the board config, not by span cables";
  if (sa.type != sb.type) return "span " + std::to_string(a) + " and span " + std::to_string(b) + " are not the same type (E1 vs T1)";
  if (a == b) return "a span cannot be cabled to itself; use a loopback plug";
  if (sa.cable && sa.cable != b) uncable(a);
  if (sb.cable && sb.cable != a) uncable(b);
  sa.cable = b;
  sb.cable = a;
  return "";
}

std::string Engine::uncable(int span) {
  int n = static_cast<int>(spans_.size());
  if (span < 1 || span > n) return "span " + std::to_string(span) + " does not exist (spans are 1-" + std::to_string(n) + ")";
  Span& s = spans_[static_cast<size_t>(span - 1)];
  if (s.cable) spans_[static_cast<size_t>(s.cable - 1)].cable = 0;
  s.cable = 0;
  return "";
}

std::string Engine::fault(int span, const std::string& kind, double value) {
  int n = static_cast<int>(spans_.size());
  if (span < 1 || span > n) return "span " + std::to_string(span) + " does not exist (spans are 1-" + std::to_string(n) + ")";
  Span& s = spans_[static_cast<size_t>(span - 1)];
  if (s.type == SpanType::Analog) return "span " + std::to_string(span) + " is an analog card: line faults apply to E1/T1 spans";
  if (kind == "los") s.faults.los = true;
  else if (kind == "ais") s.faults.ais = true;
  else if (kind == "rai") s.faults.rai = true;
  else if (kind == "errors") {
    if (!(value >= 0 && value <= 0.01)) return "errors rate must be a bit error ratio between 0 and 0.01, got " + std::to_string(value);
    s.faults.errorRate = value;
  } else if (kind == "slip") {
    if (!(std::fabs(value) <= 1000)) return "slip must be a clock offset in ppm between -1000 and 1000, got " + std::to_string(value);
    s.faults.slipPpm = value;
  } else if (kind == "clear") {
    s.faults = Faults{};
  } else {
    return "unknown fault '" + kind + "' (los, ais, rai, errors RATE, slip PPM, clear)";
  }
  return "";
}

std::string Engine::channelsJson(int span) {
  std::string out = "[";
  Span& s = spans_[static_cast<size_t>(span - 1)];
  for (Chan* c : s.chans) {
    Slot& sl = slotOf(c->slot);
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%s{\"channel\":%d,\"chanpos\":%d,\"sig\":%d,\"open\":%s,\"rxbits\":%d,\"txbits\":%d,"
                  "\"offhook\":%s,\"ringing\":%s,\"blocksize\":%u,\"numbufs\":%u,\"rxQueued\":%u,\"txQueued\":%u,"
                  "\"eventsQueued\":%u,\"rxOverruns\":%u,\"txUnderruns\":%u,\"waker\":%d,\"confno\":%d,\"confmode\":%d}",
                  out.size() > 1 ? "," : "", c->channo, c->chanpos, c->sig, c->open ? "true" : "false", c->rxbits, c->txbits,
                  c->offhook ? "true" : "false", c->ringing ? "true" : "false", c->open ? sl.blocksize : 0,
                  c->open ? sl.numbufs : 0, c->open ? sl.rx_in.load() - sl.rx_out.load() : 0,
                  c->open ? sl.tx_in.load() - sl.tx_out.load() : 0, c->open ? sl.ev_in.load() - sl.ev_out.load() : 0,
                  c->open ? sl.rx_overruns.load() : 0, c->open ? sl.tx_underruns.load() : 0, sl.waker.load(), c->confno,
                  c->confmode);
    out += buf;
  }
  return out + "]";
}

int Engine::openChannels(const Span& s) const {
  int n = 0;
  for (const Chan* c : s.chans)
    if (c->open) n++;
  return n;
}

}  // namespace switchboard::sim
