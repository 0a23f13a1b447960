// SPDX-License-Identifier: GPL-2.0-or-later
// Analog trunks over DAHDI hook events: FXS ports feeding phones and FXO ports on lines, DSP by spandsp.
//
// Signalling names are chan_dahdi's, which name the signalling and not the port: a port that feeds
// a phone (an FXS port) speaks FXO signalling (fxo_ks/fxo_ls, system.conf fxoks=/fxols=), and a
// port that is a phone on a line (an FXO port) speaks FXS signalling (fxs_ks/fxs_ls, fxsks=/fxsls=).
// Here the first is the "station" side and the second the "line" side.
//
// Everything on the line runs on the trunk's thread: hook and ring events, the kernel ring cadence,
// caller ID (spandsp adsi_tx / adsi_rx), DTMF (dtmf_tx / dtmf_rx), dial, busy and ringback tones
// (tone_gen). The bearer is read and written in 20 ms blocks in the channel's own law, and only
// while something needs it: digit detection during a call, caller ID, dialling, tones.
//
// How the uniform call API maps onto the line:
//  Station (FXS port). `place` rings the phone (DAHDI_RING; the kernel's cadence, or ringCadence
//   by DAHDI_SETCADENCE) and emits `alerting`; caller ID goes out cidDelay after the first ring
//   (RINGEROFF). RINGOFFHOOK is `answered`; ONHOOK is `released` by remote. A phone lifted on an
//   idle port is `offered` (called "", complete false) and hears dial tone; every digit it dials
//   (DTMF, or pulses counted by the kernel) is one `digits` event carrying that digit alone, and
//   the call's `called` in the snapshot accumulates them. Until the controller routes the call
//   (accept, alert, progress, answer) firstDigitTimeout / digitTimeout release it with cause 28.
//   Releasing a call whose phone is off hook restores the battery polarity, drops the loop
//   (kewlstart: the far device hears the clear) and plays busy tone until the phone hangs up.
//  Line (FXO port). RINGOFFHOOK is a ring: offered at once without caller ID, else when the
//   caller ID message arrives or at the second ring; no ring for ringTimeout means the caller gave
//   up (`released` by remote). `answer` goes off hook. `place` goes off hook (`dialing`), dials
//   `called` in DTMF after dialDelay and is `answered` once dialled (with polarity, `proceeding`
//   and then `answered` at the battery reversal). `digits` sends DTMF, as a phone does.
//   The far end clearing is detected from: the loop drop of kewlstart (ONHOOK while off hook, the
//   simulator gives it to fxsks ports), a battery reversal (POLARITY) with polarity on. A loopstart
//   line without polarity says nothing: the controller must release (a later media layer could
//   detect the busy tone).

#include <dahdi/user.h>
#include <fcntl.h>
#include <spandsp.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>

#include "calls.h"
#include "dahdi.h"
#include "engine.h"

namespace switchboard {
namespace {

constexpr int kBlock = 160;    // 20 ms at 8 kHz
constexpr int kNumBufs = 16;   // 320 ms each way: a late thread leaves no gap in a tone or a digit
constexpr int kMaxPorts = 255; // DAHDI channel positions on one span

// ---- timers --------------------------------------------------------------------------------
// Loop signalling has no numbered protocol timers; these are named as chan_dahdi and the
// caller ID standards name the intervals. Mirrors ANALOG_TIMERS in src/trunks/analog.ts (the
// snapshot reports the values in force so a test can compare the two tables).
enum TimerId {
  kFirstDigitTimeout,
  kDigitTimeout,
  kCidDelay,
  kRingTimeout,
  kDialDelay,
  kDtmfOn,
  kDtmfOff,
  kTimerCount,
};

struct TimerSpec {
  const char* name;
  int def, min, max;  // ms
  const char* meaning;
};

constexpr TimerSpec kTimers[kTimerCount] = {
    {"firstDigitTimeout", 16000, 1000, 120000,
     "FXS port: wait for the first digit after the phone goes off hook"},
    {"digitTimeout", 8000, 1000, 60000,
     "FXS port: wait for the next digit until the controller routes the call"},
    {"cidDelay", 500, 100, 3000,
     "FXS port: from the end of the first ring to the caller ID (GR-30-CORE, EN 300 659-1)"},
    {"ringTimeout", 8000, 1000, 30000,
     "FXO port: silence after a ring that means the caller gave up"},
    {"dialDelay", 500, 0, 10000, "FXO port: off hook to the first dialled digit (dial tone time)"},
    {"dtmfOn", 100, 40, 500, "DTMF digit length we send (ITU-T Q.24: at least 40 ms)"},
    {"dtmfOff", 100, 40, 500, "pause between the DTMF digits we send"},
};

// ---- names ---------------------------------------------------------------------------------

enum class CallerId { kOff, kBell, kV23, kDtmf };
const char* caller_id_name(CallerId c) {
  switch (c) {
    case CallerId::kOff: return "off";
    case CallerId::kBell: return "bell";
    case CallerId::kV23: return "v23";
    case CallerId::kDtmf: return "dtmf";
  }
  return "off";
}
int adsi_standard(CallerId c) {
  switch (c) {
    case CallerId::kBell: return ADSI_STANDARD_CLASS;   // Bell 202 FSK, Telcordia GR-30
    case CallerId::kV23: return ADSI_STANDARD_CLIP;     // V.23 FSK, ETSI EN 300 659
    case CallerId::kDtmf: return ADSI_STANDARD_CLIP_DTMF;  // ETSI EN 300 659 annex / DTMF CLIP
    case CallerId::kOff: break;
  }
  return ADSI_STANDARD_NONE;
}

// What a port is doing. The snapshot gives both this name (`phase`) and the uniform ChannelState.
enum class Phase {
  kIdle,        // on hook, nothing going on
  kRinging,     // station: we ring the phone; line: the line rings us
  kCollecting,  // station: the phone is off hook and dials; its call is offered
  kDialing,     // line: we are off hook and dial out
  kTalking,     // answered (or dialled, on a line without answer supervision)
  kLockout,     // station: no call but the phone is off hook (busy tone until it hangs up)
};
// The phases a port may go to from each phase (bit per Phase); anything else is a bug, logged
// and refused. A call ends through idle, so lockout is entered from idle.
constexpr unsigned bit(Phase p) { return 1u << static_cast<unsigned>(p); }
constexpr unsigned kNext[] = {
    /* idle */ bit(Phase::kIdle) | bit(Phase::kRinging) | bit(Phase::kCollecting) |
        bit(Phase::kDialing) | bit(Phase::kLockout),
    /* ringing */ bit(Phase::kIdle) | bit(Phase::kTalking),
    /* collecting */ bit(Phase::kIdle) | bit(Phase::kTalking),
    /* dialing */ bit(Phase::kIdle) | bit(Phase::kTalking),
    /* talking */ bit(Phase::kIdle),
    /* lockout */ bit(Phase::kIdle),
};

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::kIdle: return "idle";
    case Phase::kRinging: return "ringing";
    case Phase::kCollecting: return "collecting";
    case Phase::kDialing: return "dialing";
    case Phase::kTalking: return "talking";
    case Phase::kLockout: return "lockout";
  }
  return "idle";
}

// Call progress tones by tone zone (DAHDI zone names), after ITU-T E.180 Supplement 2.
struct Tone {
  int f1, l1, f2, l2;  // Hz, dBm0; f2 0 for a single frequency
  int on1, off1, on2, off2;  // ms; off1 0 for a continuous tone
};
struct ZoneTones {
  const char* zone;
  Tone dial, busy, ringback;
};
constexpr ZoneTones kZones[] = {
    {"us", {350, -13, 440, -13, 1000, 0, 0, 0}, {480, -13, 620, -13, 500, 500, 0, 0},
     {440, -13, 480, -13, 2000, 4000, 0, 0}},
    {"uk", {350, -13, 450, -13, 1000, 0, 0, 0}, {400, -13, 0, 0, 375, 375, 0, 0},
     {400, -13, 450, -13, 400, 200, 400, 2000}},
    {"de", {425, -10, 0, 0, 1000, 0, 0, 0}, {425, -10, 0, 0, 480, 480, 0, 0},
     {425, -10, 0, 0, 1000, 4000, 0, 0}},
    {"fr", {440, -10, 0, 0, 1000, 0, 0, 0}, {440, -10, 0, 0, 500, 500, 0, 0},
     {440, -10, 0, 0, 1500, 3500, 0, 0}},
    {"nl", {425, -10, 0, 0, 1000, 0, 0, 0}, {425, -10, 0, 0, 500, 500, 0, 0},
     {425, -10, 0, 0, 1000, 4000, 0, 0}},
};

enum class ToneKind { kNone, kDial, kBusy, kRingback };

bool dtmf_digit(char c) { return (c >= '0' && c <= '9') || c == '*' || c == '#' || (c >= 'A' && c <= 'D'); }

std::string sys(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// ---- one port ------------------------------------------------------------------------------

struct Port {
  int pos = 0;     // port number on the card (DAHDI channel position on the span)
  int channo = 0;  // DAHDI channel number
  bool media = false;  // the media layer has the bearer: audio is left alone until it returns
  int fd = -1;
  int law = DAHDI_LAW_MULAW;
  bool failed = false;   // the descriptor hung up (card removed, simulator gone): no longer polled
  bool offhook = false;  // station: the phone's hook; line: ours
  bool blocked = false;
  bool alarm = false;
  bool reversed = false;  // station: battery reversed (answer supervision towards the phone)
  bool ignoring = false;  // line: these rings are not offered (blocked, or released before answer)
  Phase phase = Phase::kIdle;
  std::optional<Call> call;
  std::string calling_name;
  bool calling_private = false;
  int rings = 0;
  // One timer is enough: each phase runs at most one.
  TimerId timer = kTimerCount;
  int64_t due = 0;
  // Receive: DTMF during calls, caller ID while a line rings.
  bool reading = false;
  dtmf_rx_state_t* dtmf_rx = nullptr;
  adsi_rx_state_t* cid_rx = nullptr;
  std::string heard;  // digits dtmf_rx reported for the block just processed
  int cid_standard = ADSI_STANDARD_NONE;
  bool cid_heard = false;
  std::string cid_number, cid_name;
  bool cid_private = false;
  // Transmit: caller ID, then DTMF, then a tone; a block waits in `out` when the kernel is full.
  adsi_tx_state_t* cid_tx = nullptr;
  dtmf_tx_state_t* dtmf_tx = nullptr;
  bool dtmf_busy = false;
  tone_gen_state_t* tone = nullptr;
  ToneKind tone_kind = ToneKind::kNone;
  uint8_t out[kBlock] = {};
  bool out_pending = false;

  bool transmitting() const { return out_pending || cid_tx || dtmf_busy || tone; }
};

void on_dtmf(void* user, const char* digits, int len) {
  static_cast<Port*>(user)->heard.append(digits, static_cast<size_t>(len));
}

// A caller ID message (checksum already verified by spandsp): number, name, reasons for absence.
void on_cid(void* user, const uint8_t* msg, int len) {
  Port* p = static_cast<Port*>(user);
  if (!p->cid_rx || len <= 0) return;
  uint8_t type = 0;
  const uint8_t* body = nullptr;
  int flen = 0;
  int pos = -1;
  const bool dtmf = p->cid_standard == ADSI_STANDARD_CLIP_DTMF;
  while ((pos = adsi_next_field(p->cid_rx, msg, len, pos, &type, &body, &flen)) > 0) {
    if (!body || flen < 0) continue;  // the message type
    const std::string v(reinterpret_cast<const char*>(body), static_cast<size_t>(flen));
    if (dtmf) {
      // EN 300 659 DTMF CLIP: A<number>, B<reason> (10 private, 00 unavailable), D<reason>.
      if (type == CLIP_DTMF_C_CALLER_NUMBER || type == CLIP_DTMF_HASH_UNSPECIFIED)
        p->cid_number = v;
      else if (type == CLIP_DTMF_C_ABSENCE)
        p->cid_private = v == "10";
    } else if (msg[0] == CLASS_SDMF_CALLERID) {
      // SDMF: MMDDHHMM then the number, or O/P for unavailable/private.
      const std::string n = v.size() > 8 ? v.substr(8) : "";
      if (n == "P")
        p->cid_private = true;
      else if (n != "O")
        p->cid_number = n;
    } else {
      // MDMF, CLASS and CLIP use the same codes for these parameters.
      switch (type) {
        case CLIP_CALLER_NUMBER: p->cid_number = v; break;
        case CLIP_CALLER_NAME: p->cid_name = v; break;
        case CLIP_ABSENCE1:
        case CLIP_ABSENCE2:
          if (v == "P") p->cid_private = true;
          break;
        default: break;
      }
    }
  }
  p->cid_heard = true;
}

// ---- the trunk -----------------------------------------------------------------------------

class AnalogStack final : public Stack {
 public:
  AnalogStack(Engine& engine, json config, std::string field);
  ~AnalogStack() override;
  void open() override;

 protected:
  void on_poll_set(std::vector<pollfd>& fds) override;
  void on_poll(const std::vector<pollfd>& fds) override;
  int on_timeout() override;
  void on_timers() override;
  void on_command(const json& cmd) override;
  void on_close() override;
  void on_retire(int cause) override;
  json on_check(json& cmd) override;
  json on_snapshot() override;
  bool holds_bearer(int channo) const override;
  int on_bearer(int channo, bool lend) override;

 private:
  // Configuration.
  bool station_ = false;  // FXS ports (fxo_ks / fxo_ls signalling)
  int span_ = 0;
  std::vector<int> positions_;
  CallerId caller_id_ = CallerId::kOff;
  const ZoneTones* zone_ = &kZones[0];
  bool tones_ = true;
  bool polarity_ = false;
  std::vector<int> cadence_;
  int timers_[kTimerCount] = {};

  std::vector<std::unique_ptr<Port>> ports_;
  size_t poll_base_ = 0;
  tone_gen_descriptor_t* tone_desc_[4] = {};
  int span_alarms_ = 0;

  Port* port_at(int pos);
  bool enter(Port& p, Phase to);
  void unexpected(Port& p, int e);
  void ioctl_or_log(Port& p, unsigned long req, int value, const char* what);
  void set_timer(Port& p, TimerId t) {
    p.timer = t;
    p.due = now_ms() + timers_[t];
  }
  void stop_timer(Port& p) { p.timer = kTimerCount; }

  // Bearer.
  void start_reading(Port& p);
  void stop_reading(Port& p);
  void read_audio(Port& p);
  void write_audio(Port& p);
  bool generate(Port& p);
  void play(Port& p, ToneKind kind);
  void stop_tone(Port& p);
  void send_dtmf(Port& p, const std::string& digits);
  void send_caller_id(Port& p);
  void stop_transmit(Port& p);

  // Events.
  void drain_events(Port& p);
  void station_event(Port& p, int e);
  void line_event(Port& p, int e);
  void alarm_event(Port& p, bool on);
  void digits_heard(Port& p);
  void cid_done(Port& p);
  void dtmf_done(Port& p);

  // Calls.
  void offer(Port& p);
  void answered(Port& p);
  void released(Port& p, int cause, const char* by);
  void release_unplaced(uint64_t id, int cause);
  void go_idle(Port& p);
  void lockout(Port& p);
  void line_on_hook(Port& p);
  void channel_event(Port& p);
  const char* channel_state(const Port& p) const;

  // Commands.
  void place(const json& cmd);
  void call_command(const std::string& op, const json& cmd);
  void maintenance(const std::string& op, const json& cmd);
};

AnalogStack::AnalogStack(Engine& engine, json config, std::string field)
    : Stack(engine, std::move(config), std::move(field)) {
  station_ = signalling_ == "fxo_ks" || signalling_ == "fxo_ls";
  span_ = int_field(config_, "span", field_, 1, DAHDI_MAX_SPANS - 1);
  spans_ = {span_};
  positions_ = list_field(config_, "ports", field_, 1, kMaxPorts);
  if (positions_.empty()) throw EngineError("E_CONFIG_FIELD", field_ + ".ports", "lists no port");

  const std::string cid = string_field(config_, "callerId", field_, "off");
  if (cid == "off") caller_id_ = CallerId::kOff;
  else if (cid == "bell") caller_id_ = CallerId::kBell;
  else if (cid == "v23") caller_id_ = CallerId::kV23;
  else if (cid == "dtmf") caller_id_ = CallerId::kDtmf;
  else
    throw EngineError("E_CONFIG_FIELD", field_ + ".callerId",
                      "\"" + cid + "\" is not one of off, bell, v23, dtmf");

  const std::string zone = string_field(config_, "zone", field_, "us");
  zone_ = nullptr;
  for (const auto& z : kZones)
    if (zone == z.zone) zone_ = &z;
  if (!zone_)
    throw EngineError("E_CONFIG_FIELD", field_ + ".zone",
                      "\"" + zone + "\" is not one of us, uk, de, fr, nl");
  tones_ = bool_field(config_, "tones", field_, true);
  polarity_ = bool_field(config_, "polarity", field_, false);

  if (config_.contains("ringCadence") && !config_["ringCadence"].is_null()) {
    const std::string f = field_ + ".ringCadence";
    if (!station_)
      throw EngineError("E_CONFIG_FIELD", f,
                        "is for FXS ports (fxo_ks/fxo_ls signalling): an FXO port does not ring");
    const json& c = config_["ringCadence"];
    if (!c.is_array() || c.size() < 2 || c.size() > DAHDI_MAX_CADENCE || c.size() % 2 != 0)
      throw EngineError("E_CONFIG_FIELD", f,
                        "must be an even list of 2 to 16 durations in ms (on, off, on, off ...)");
    for (size_t i = 0; i < c.size(); ++i) {
      if (!c[i].is_number_integer() || c[i].get<int64_t>() < 100 || c[i].get<int64_t>() > 10000)
        throw EngineError("E_CONFIG_FIELD", f + "[" + std::to_string(i) + "]",
                          "must be a duration of 100 to 10000 ms");
      cadence_.push_back(c[i].get<int>());
    }
  }

  const json timers = config_.contains("timers") ? config_["timers"] : json::object();
  if (!timers.is_null() && !timers.is_object())
    throw EngineError("E_CONFIG_FIELD", field_ + ".timers", "must be a map of timer names to ms");
  for (int t = 0; t < kTimerCount; ++t)
    timers_[t] = int_field(timers, kTimers[t].name, field_ + ".timers", kTimers[t].min,
                           kTimers[t].max, kTimers[t].def);
  if (timers.is_object())
    for (const auto& [name, _] : timers.items()) {
      bool known = false;
      for (const auto& spec : kTimers) known = known || name == spec.name;
      if (!known) {
        std::string list;
        for (const auto& spec : kTimers) list += std::string(list.empty() ? "" : ", ") + spec.name;
        throw EngineError("E_CONFIG_FIELD", field_ + ".timers." + name,
                          "is not a known timer (known: " + list + ")");
      }
    }
}

AnalogStack::~AnalogStack() {
  stop();  // the thread must be gone before the ports it uses
  on_close();
}

void AnalogStack::ioctl_or_log(Port& p, unsigned long req, int value, const char* what) {
  int v = value;
  // DAHDI answers a non-blocking DAHDI_RING/DAHDI_START with EINPROGRESS: it has begun.
  if (ioctl(p.fd, req, &v) < 0 && errno != EINPROGRESS)
    log("warn", "port " + std::to_string(p.pos) + ": " + sys(what),
        {{"span", span_}, {"channel", p.pos}});
}

void AnalogStack::open() {
  const std::string span_field = field_ + ".span";
  const std::string ports_field = field_ + ".ports";
  // Is it an analog card? DAHDI reports no line coding (linecompat 0) exactly for those.
  {
    const int ctl = ::open("/dev/dahdi/ctl", O_RDWR | O_CLOEXEC);
    if (ctl < 0) throw EngineError("E_DAHDI_OPEN", span_field, sys("/dev/dahdi/ctl"));
    dahdi_spaninfo info;
    std::memset(&info, 0, sizeof info);
    info.spanno = span_;
    const int r = ioctl(ctl, DAHDI_SPANSTAT, &info);
    ::close(ctl);
    if (r < 0)
      throw EngineError("E_CONFIG_FIELD", span_field,
                        "span " + std::to_string(span_) + " does not exist on this board");
    if (info.linecompat != 0)
      throw EngineError("E_CONFIG_FIELD", span_field,
                        "span " + std::to_string(span_) + " is an E1/T1 span (" +
                            std::string(info.spantype, strnlen(info.spantype, sizeof info.spantype)) +
                            "), not an analog card");
    for (int pos : positions_)
      if (pos > info.totalchans)
        throw EngineError("E_CONFIG_FIELD", ports_field,
                          "port " + std::to_string(pos) + " does not exist on span " +
                              std::to_string(span_) + " (ports are 1-" +
                              std::to_string(info.totalchans) + ")");
    span_alarms_ = info.alarms & ~DAHDI_ALARM_NOTOPEN;
  }
  const int base = dahdi_basechan(span_, span_field);
  int want = 0;
  const char* conf = "";
  if (signalling_ == "fxo_ks") want = DAHDI_SIG_FXOKS, conf = "fxoks";
  if (signalling_ == "fxo_ls") want = DAHDI_SIG_FXOLS, conf = "fxols";
  if (signalling_ == "fxs_ks") want = DAHDI_SIG_FXSKS, conf = "fxsks";
  if (signalling_ == "fxs_ls") want = DAHDI_SIG_FXSLS, conf = "fxsls";

  for (int pos : positions_) {
    auto p = std::make_unique<Port>();
    p->pos = pos;
    p->channo = base + pos - 1;
    dahdi_channels_.push_back(p->channo);
    p->fd = dahdi_open(p->channo, ports_field);
    Port& port = *p;
    ports_.push_back(std::move(p));
    const dahdi_params params = dahdi_get_params(port.fd, ports_field);
    // The card knows what the port is: an FXS module offers FXO signalling and vice versa.
    if ((params.sigcap & want) != want) {
      const bool fxs_port = (params.sigcap & __DAHDI_SIG_FXO) != 0;
      throw EngineError("E_CONFIG_FIELD", ports_field,
                        "port " + std::to_string(pos) + " of span " + std::to_string(span_) +
                            " is an " + (fxs_port ? "FXS" : "FXO") + " port; " + signalling_ +
                            " signalling needs an " + (station_ ? "FXS" : "FXO") +
                            " port (system.conf " + conf + "=)");
    }
    dahdi_require_sig(port.fd, port.channo, want, conf, ports_field);
    port.law = params.curlaw == DAHDI_LAW_ALAW ? DAHDI_LAW_ALAW : DAHDI_LAW_MULAW;
    port.alarm = params.chan_alarms != 0;
    dahdi_set_blocksize(port.fd, kBlock, ports_field);
    dahdi_bufferinfo bi;
    std::memset(&bi, 0, sizeof bi);
    bi.txbufpolicy = DAHDI_POLICY_IMMEDIATE;
    bi.rxbufpolicy = DAHDI_POLICY_IMMEDIATE;
    bi.numbufs = kNumBufs;
    bi.bufsize = kBlock;
    if (ioctl(port.fd, DAHDI_SET_BUFINFO, &bi) < 0)
      throw EngineError("E_DAHDI_IOCTL", ports_field, sys("DAHDI_SET_BUFINFO"));
    if (!cadence_.empty()) {
      dahdi_ring_cadence cad;
      std::memset(&cad, 0, sizeof cad);
      for (size_t i = 0; i < cadence_.size(); ++i) cad.ringcadence[i] = cadence_[i];
      if (ioctl(port.fd, DAHDI_SETCADENCE, &cad) < 0)
        throw EngineError("E_DAHDI_IOCTL", field_ + ".ringCadence", sys("DAHDI_SETCADENCE"));
    }
    port.dtmf_rx = dtmf_rx_init(nullptr, on_dtmf, &port);
    port.dtmf_tx = dtmf_tx_init(nullptr);
    if (!port.dtmf_rx || !port.dtmf_tx) throw EngineError("E_ENGINE", "", "spandsp: out of memory");
    // A North American dial tone filter keeps our own dial tone's echo from faking digits.
    dtmf_rx_parms(port.dtmf_rx, zone_->dial.f1 == 350, -1, -1, -99);
    dtmf_tx_set_timing(port.dtmf_tx, timers_[kDtmfOn], timers_[kDtmfOff]);
    if (station_) {
      // A phone already off hook when we start has no call: it gets busy tone until it hangs up.
      port.offhook = params.rxisoffhook != 0;
      if (port.offhook) lockout(port);
    } else {
      int hook = DAHDI_ONHOOK;
      if (ioctl(port.fd, DAHDI_HOOK, &hook) < 0)
        throw EngineError("E_DAHDI_IOCTL", ports_field, sys("DAHDI_HOOK"));
    }
  }
  const Tone* tones[4] = {nullptr, &zone_->dial, &zone_->busy, &zone_->ringback};
  for (int k = 1; k < 4; ++k) {
    const Tone& t = *tones[k];
    tone_desc_[k] = tone_gen_descriptor_init(nullptr, t.f1, t.l1, t.f2, t.l2, t.on1, t.off1,
                                             t.on2, t.off2, 1);
  }
}

void AnalogStack::on_retire(int cause) {
  for (auto& p : ports_)
    if (p->call) released(*p, cause, "stack");
}

void AnalogStack::on_close() {
  for (auto& p : ports_) {
    if (p->fd >= 0) ::close(p->fd);
    p->fd = -1;
    if (p->dtmf_rx) dtmf_rx_free(p->dtmf_rx);
    if (p->dtmf_tx) dtmf_tx_free(p->dtmf_tx);
    if (p->cid_rx) adsi_rx_free(p->cid_rx);
    if (p->cid_tx) adsi_tx_free(p->cid_tx);
    if (p->tone) tone_gen_free(p->tone);
    p->dtmf_rx = nullptr;
    p->dtmf_tx = nullptr;
    p->cid_rx = nullptr;
    p->cid_tx = nullptr;
    p->tone = nullptr;
  }
  for (auto& d : tone_desc_) {
    if (d) tone_gen_descriptor_free(d);
    d = nullptr;
  }
}

bool AnalogStack::enter(Port& p, Phase to) {
  if (kNext[static_cast<int>(p.phase)] & bit(to)) {
    p.phase = to;
    return true;
  }
  log("error",
      "port " + std::to_string(p.pos) + ": " + phase_name(p.phase) + " -> " + phase_name(to) +
          " is not a transition of the port machine; refused",
      {{"span", span_}, {"channel", p.pos}, {"kind", "state"}});
  return false;
}

// A hook event the port's phase has no use for: it changes nothing, and the log says so.
void AnalogStack::unexpected(Port& p, int e) {
  log("debug",
      "port " + std::to_string(p.pos) + ": " + dahdi_event_name(e) + " ignored in phase " +
          phase_name(p.phase),
      {{"span", span_}, {"channel", p.pos}, {"kind", "event"}});
}

Port* AnalogStack::port_at(int pos) {
  for (auto& p : ports_)
    if (p->pos == pos) return p.get();
  return nullptr;
}

// ---- poll loop -----------------------------------------------------------------------------

void AnalogStack::on_poll_set(std::vector<pollfd>& fds) {
  poll_base_ = fds.size();
  for (auto& p : ports_) {
    short events = 0;
    if (!p->failed) {
      events = POLLPRI;
      if (p->reading && !p->media) events |= POLLIN;
      if (p->transmitting() && !p->media) events |= POLLOUT;
    }
    fds.push_back({p->failed ? -1 : p->fd, events, 0});
  }
}

void AnalogStack::on_poll(const std::vector<pollfd>& fds) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < ports_.size() && poll_base_ + i < fds.size(); ++i) {
    Port& p = *ports_[i];
    const short re = fds[poll_base_ + i].revents;
    if (!re || p.failed) continue;
    if (re & (POLLHUP | POLLNVAL)) {
      p.failed = true;
      log("error", "port " + std::to_string(p.pos) + ": the DAHDI channel hung up",
          {{"span", span_}, {"channel", p.pos}});
      continue;
    }
    if (re & (POLLPRI | POLLERR)) drain_events(p);
    if ((re & POLLIN) && p.reading && !p.media) read_audio(p);
    if ((re & POLLOUT) && p.transmitting() && !p.media) write_audio(p);
  }
}

int AnalogStack::on_timeout() {
  int64_t next = -1;
  const int64_t now = now_ms();
  for (auto& p : ports_) {
    if (p->timer == kTimerCount) continue;
    const int64_t left = p->due > now ? p->due - now : 0;
    if (next < 0 || left < next) next = left;
  }
  return static_cast<int>(next);
}

void AnalogStack::on_timers() {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = now_ms();
  for (auto& pp : ports_) {
    Port& p = *pp;
    if (p.timer == kTimerCount || p.due > now) continue;
    const TimerId t = p.timer;
    stop_timer(p);
    switch (t) {
      case kFirstDigitTimeout:
      case kDigitTimeout:
        // The caller stopped dialling and nobody routed the call: address incomplete.
        if (p.call && p.phase == Phase::kCollecting) {
          released(p, 28, "stack");
          lockout(p);
        }
        break;
      case kCidDelay:
        if (p.phase == Phase::kRinging && p.call) send_caller_id(p);
        break;
      case kRingTimeout:
        // No ring for that long: the caller gave up before anyone answered.
        if (p.phase == Phase::kRinging) {
          if (p.call) released(p, 16, "remote");
          go_idle(p);
        }
        break;
      case kDialDelay:
        if (p.phase == Phase::kDialing && p.call) {
          if (p.call->called.empty())
            dtmf_done(p);
          else
            send_dtmf(p, p.call->called);
        }
        break;
      default:
        break;
    }
  }
}

// ---- bearer --------------------------------------------------------------------------------

void AnalogStack::start_reading(Port& p) {
  if (p.reading) return;
  // What the card kept while nobody read is stale: start from now.
  int flush = DAHDI_FLUSH_READ;
  ioctl(p.fd, DAHDI_FLUSH, &flush);
  dtmf_rx_init(p.dtmf_rx, on_dtmf, &p);
  dtmf_rx_parms(p.dtmf_rx, zone_->dial.f1 == 350, -1, -1, -99);
  p.heard.clear();
  p.reading = true;
}

void AnalogStack::stop_reading(Port& p) {
  p.reading = false;
  if (p.cid_rx) adsi_rx_free(p.cid_rx);
  p.cid_rx = nullptr;
}

bool AnalogStack::holds_bearer(int channo) const {
  for (const auto& p : ports_)
    if (p->channo == channo) return true;
  return false;
}

int AnalogStack::on_bearer(int channo, bool lend) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& p : ports_) {
    if (p->channo != channo) continue;
    p->media = lend;
    if (!lend && p->reading) {
      int what = DAHDI_FLUSH_READ;
      ioctl(p->fd, DAHDI_FLUSH, &what);
    }
    return p->fd;
  }
  return -1;
}

void AnalogStack::read_audio(Port& p) {
  if (p.media) return;
  uint8_t buf[kBlock];
  int16_t amp[kBlock];
  // Bounded: a port that always has data must not starve the others.
  for (int n = 0; n < 2 * kNumBufs && p.reading; ++n) {
    const ssize_t r = ::read(p.fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == ELAST) {
        drain_events(p);
        continue;
      }
      const int err = errno;
      if (err != EAGAIN && err != EINTR) {
        log("warn", "port " + std::to_string(p.pos) + ": " + sys("read"),
            {{"span", span_}, {"channel", p.pos}});
        if (err == ENODEV) p.failed = true;
      }
      return;
    }
    if (r == 0) return;
    const int len = static_cast<int>(r);
    for (int i = 0; i < len; ++i)
      amp[i] = p.law == DAHDI_LAW_ALAW ? alaw_to_linear(buf[i]) : ulaw_to_linear(buf[i]);
    if (p.cid_rx) {
      adsi_rx(p.cid_rx, amp, len);
      if (p.cid_heard) cid_done(p);
    } else if (p.call) {
      dtmf_rx(p.dtmf_rx, amp, len);
      if (!p.heard.empty()) digits_heard(p);
    }
  }
}

bool AnalogStack::generate(Port& p) {
  int16_t amp[kBlock];
  int n = 0;
  if (p.cid_tx) {
    const int m = adsi_tx(p.cid_tx, amp, kBlock);
    n += m;
    if (m < kBlock) {
      adsi_tx_free(p.cid_tx);
      p.cid_tx = nullptr;
    }
  }
  if (n < kBlock && p.dtmf_busy) {
    const int m = dtmf_tx(p.dtmf_tx, amp + n, kBlock - n);
    if (m < kBlock - n) {
      p.dtmf_busy = false;
      dtmf_done(p);
    }
    n += m;
  }
  if (n < kBlock && p.tone) {
    const int m = tone_gen(p.tone, amp + n, kBlock - n);
    if (m < kBlock - n) stop_tone(p);
    n += m;
  }
  if (n == 0) return false;
  for (int i = n; i < kBlock; ++i) amp[i] = 0;
  for (int i = 0; i < kBlock; ++i)
    p.out[i] = p.law == DAHDI_LAW_ALAW ? linear_to_alaw(amp[i]) : linear_to_ulaw(amp[i]);
  p.out_pending = true;
  return true;
}

void AnalogStack::write_audio(Port& p) {
  if (p.media) return;
  for (int n = 0; n < 2 * kNumBufs; ++n) {
    if (!p.out_pending && !generate(p)) return;
    const ssize_t w = ::write(p.fd, p.out, kBlock);
    if (w < 0) {
      if (errno == ELAST) {
        drain_events(p);
        continue;
      }
      const int err = errno;
      if (err != EAGAIN && err != EINTR) {
        log("warn", "port " + std::to_string(p.pos) + ": " + sys("write"),
            {{"span", span_}, {"channel", p.pos}});
        p.out_pending = false;
        if (err == ENODEV) p.failed = true;
      }
      return;
    }
    p.out_pending = false;
  }
}

void AnalogStack::play(Port& p, ToneKind kind) {
  stop_tone(p);
  if (!tones_ || kind == ToneKind::kNone) return;
  p.tone = tone_gen_init(nullptr, tone_desc_[static_cast<int>(kind)]);
  p.tone_kind = kind;
}

void AnalogStack::stop_tone(Port& p) {
  if (p.tone) tone_gen_free(p.tone);
  p.tone = nullptr;
  p.tone_kind = ToneKind::kNone;
}

void AnalogStack::send_dtmf(Port& p, const std::string& digits) {
  // Digits replace a tone (a dial tone stops when dialling starts).
  stop_tone(p);
  dtmf_tx_put(p.dtmf_tx, digits.c_str(), static_cast<int>(digits.size()));
  p.dtmf_busy = true;
}

void AnalogStack::stop_transmit(Port& p) {
  stop_tone(p);
  if (p.cid_tx) adsi_tx_free(p.cid_tx);
  p.cid_tx = nullptr;
  if (p.dtmf_busy) dtmf_tx_init(p.dtmf_tx);  // drops the digits not yet sent
  dtmf_tx_set_timing(p.dtmf_tx, timers_[kDtmfOn], timers_[kDtmfOff]);
  p.dtmf_busy = false;
  p.out_pending = false;
  int flush = DAHDI_FLUSH_WRITE;
  ioctl(p.fd, DAHDI_FLUSH, &flush);
}

// Caller ID after the first ring: an MDMF message (date and time, number or why it is absent,
// name) in Bell 202 or V.23 FSK, or the DTMF form A<number>C / B<reason>C.
void AnalogStack::send_caller_id(Port& p) {
  if (p.cid_tx) adsi_tx_free(p.cid_tx);
  p.cid_tx = adsi_tx_init(nullptr, adsi_standard(caller_id_));
  if (!p.cid_tx) return;
  uint8_t msg[256];
  int len = 0;
  const std::string number = p.call->calling;
  const std::string name = p.calling_name.substr(0, 15);
  auto add = [&](uint8_t type, const std::string& v) {
    len = adsi_add_field(p.cid_tx, msg, len, type, reinterpret_cast<const uint8_t*>(v.data()),
                         static_cast<int>(v.size()));
  };
  if (caller_id_ == CallerId::kDtmf) {
    len = adsi_add_field(p.cid_tx, msg, -1, CLIP_DTMF_C_TERMINATED, nullptr, 0);
    if (!number.empty() && !p.calling_private)
      add(CLIP_DTMF_C_CALLER_NUMBER, number);
    else
      add(CLIP_DTMF_C_ABSENCE, p.calling_private ? "10" : "00");
  } else {
    len = adsi_add_field(p.cid_tx, msg, -1, CLIP_MDMF_CALLERID, nullptr, 0);
    char when[16];
    const std::time_t t = std::time(nullptr);
    std::tm tm;
    localtime_r(&t, &tm);
    std::strftime(when, sizeof when, "%m%d%H%M", &tm);
    add(CLIP_DATETIME, when);
    if (!number.empty() && !p.calling_private)
      add(CLIP_CALLER_NUMBER, number);
    else
      add(CLIP_ABSENCE1, p.calling_private ? "P" : "O");
    if (!name.empty() && !p.calling_private)
      add(CLIP_CALLER_NAME, name);
    else if (p.calling_private)
      add(CLIP_ABSENCE2, "P");
  }
  if (adsi_tx_put_message(p.cid_tx, msg, len) <= 0) {
    adsi_tx_free(p.cid_tx);
    p.cid_tx = nullptr;
    log("warn", "caller ID message refused by the encoder", {{"span", span_}, {"channel", p.pos}});
  }
}

// ---- events from the card ------------------------------------------------------------------

void AnalogStack::drain_events(Port& p) {
  for (int n = 0; n < 64; ++n) {
    const int e = dahdi_get_event(p.fd);
    if (e == DAHDI_EVENT_NONE) return;
    if (e == DAHDI_EVENT_ALARM || e == DAHDI_EVENT_NOALARM) {
      alarm_event(p, e == DAHDI_EVENT_ALARM);
      continue;
    }
    if (station_)
      station_event(p, e);
    else
      line_event(p, e);
  }
}

void AnalogStack::station_event(Port& p, int e) {
  if (e & DAHDI_EVENT_PULSEDIGIT) {
    // A rotary phone: the kernel counts the loop breaks.
    if (p.call && p.reading) {
      p.heard.push_back(static_cast<char>(e & 0xFF));
      digits_heard(p);
    }
    return;
  }
  switch (e) {
    case DAHDI_EVENT_RINGOFFHOOK:  // the phone went off hook
      p.offhook = true;
      if (p.phase == Phase::kRinging && p.call) {
        answered(p);
      } else if (p.phase != Phase::kIdle) {
        unexpected(p, e);
      } else {
        if (p.blocked || p.alarm) {
          lockout(p);
          log("info", "port " + std::to_string(p.pos) + " is " + (p.blocked ? "blocked" : "in alarm") +
                          ": off hook refused with busy tone",
              {{"span", span_}, {"channel", p.pos}});
        } else {
          offer(p);
        }
      }
      break;
    case DAHDI_EVENT_ONHOOK:  // the phone hung up
      p.offhook = false;
      if (p.phase == Phase::kRinging) {
        unexpected(p, e);  // a ringing phone was on hook already
        break;
      }
      if (p.call) released(p, 16, "remote");
      go_idle(p);
      break;
    case DAHDI_EVENT_RINGEROFF:
      if (p.phase == Phase::kRinging && p.call) {
        ++p.rings;
        if (p.rings == 1 && caller_id_ != CallerId::kOff) set_timer(p, kCidDelay);
      }
      break;
    case DAHDI_EVENT_WINKFLASH:
      log("info", "port " + std::to_string(p.pos) + ": hook flash",
          {{"span", span_}, {"channel", p.pos}, {"kind", "flash"}});
      break;
    default:
      break;  // RINGERON, HOOKCOMPLETE ...: nothing to do
  }
}

void AnalogStack::line_event(Port& p, int e) {
  switch (e) {
    case DAHDI_EVENT_RINGOFFHOOK:  // a ring burst began (on hook)
      if (p.offhook) {
        unexpected(p, e);
        break;
      }
      if (p.phase == Phase::kIdle) {
        enter(p, Phase::kRinging);
        p.rings = 1;
        p.ignoring = p.blocked || p.alarm;
        p.cid_heard = false;
        p.cid_number.clear();
        p.cid_name.clear();
        p.cid_private = false;
        set_timer(p, kRingTimeout);
        if (p.ignoring) {
          log("info", "port " + std::to_string(p.pos) + " is " +
                          (p.blocked ? "blocked" : "in alarm") + ": ringing not offered",
              {{"span", span_}, {"channel", p.pos}});
        } else if (caller_id_ == CallerId::kOff) {
          offer(p);
        } else {
          // Caller ID comes between the first and the second ring.
          start_reading(p);
          p.cid_standard = adsi_standard(caller_id_);
          p.cid_rx = adsi_rx_init(nullptr, p.cid_standard, on_cid, &p);
        }
      } else if (p.phase == Phase::kRinging) {
        ++p.rings;
        set_timer(p, kRingTimeout);
        if (!p.ignoring && !p.call) offer(p);  // no caller ID before the second ring
      }
      break;
    case DAHDI_EVENT_ONHOOK:
      // Kewlstart: the exchange dropped the loop, the far end cleared.
      if (!p.offhook) {
        unexpected(p, e);
        break;
      }
      if (p.call) released(p, 16, "remote");
      line_on_hook(p);
      break;
    case DAHDI_EVENT_POLARITY:
      if (!polarity_ || !p.call) {
        log("info", "port " + std::to_string(p.pos) + ": battery polarity reversed",
            {{"span", span_}, {"channel", p.pos}, {"kind", "polarity"}});
      } else if (p.call->outgoing && p.call->state != CallState::kAnswered) {
        answered(p);  // answer supervision by battery reversal
      } else if (p.phase == Phase::kTalking) {
        released(p, 16, "remote");
        line_on_hook(p);
      } else {
        unexpected(p, e);
      }
      break;
    default:
      break;  // RINGBEGIN (RINGOFFHOOK follows), HOOKCOMPLETE ...
  }
}

void AnalogStack::alarm_event(Port& p, bool on) {
  p.alarm = on;
  const int bits = dahdi_span_alarm_bits(span_);
  const int now = bits < 0 ? (on ? DAHDI_ALARM_RED : 0) : (bits & ~DAHDI_ALARM_NOTOPEN);
  if (now != span_alarms_) {
    span_alarms_ = now;
    emit({{"event", "alarm"}, {"span", span_}, {"alarms", dahdi_alarm_names(now)}});
  }
  if (on && p.call) {
    released(p, 38, "stack");
    if (station_) {
      if (p.phase == Phase::kRinging) ioctl_or_log(p, DAHDI_HOOK, DAHDI_RINGOFF, "DAHDI_HOOK");
      if (p.offhook)
        lockout(p);
      else
        go_idle(p);
    } else {
      line_on_hook(p);
    }
  }
  channel_event(p);
}

void AnalogStack::digits_heard(Port& p) {
  const std::string digits = std::move(p.heard);
  p.heard.clear();
  if (!p.call) return;
  for (char d : digits) {
    if (p.phase == Phase::kCollecting && p.call->state == CallState::kOffered) {
      p.call->called.push_back(d);
      set_timer(p, kDigitTimeout);
    }
    if (p.tone_kind == ToneKind::kDial) stop_tone(p);
    json ev = p.call->event("digits");
    ev["digits"] = std::string(1, d);
    emit(std::move(ev));
  }
}

void AnalogStack::cid_done(Port& p) {
  p.cid_heard = false;
  if (p.phase != Phase::kRinging || p.call || p.ignoring) return;
  offer(p);
}

void AnalogStack::dtmf_done(Port& p) {
  if (!p.call || p.phase != Phase::kDialing) return;
  if (polarity_) {
    // The exchange will reverse the battery when the far end answers.
    p.call->state = CallState::kProceeding;
    emit(p.call->event("proceeding"));
  } else {
    answered(p);  // a loop-start line has no answer signal: dialled is connected
  }
}

// ---- calls ---------------------------------------------------------------------------------

void AnalogStack::offer(Port& p) {
  Call c;
  c.id = engine_.new_call_id();
  c.outgoing = false;
  c.state = CallState::kOffered;
  c.span = span_;
  c.timeslot = p.pos;
  c.channo = p.channo;
  c.started_ms = now_ms();
  json ev;
  if (station_) {
    // The phone dials next: called grows digit by digit.
    if (!enter(p, Phase::kCollecting)) return;
    p.calling_name.clear();
    p.calling_private = false;
    p.call = c;
    engine_.bind_call(c.id, this);
    ev = c.event("offered");
    ev["called"] = "";
    ev["calling"] = "";
    ev["complete"] = false;
    start_reading(p);
    play(p, ToneKind::kDial);
    set_timer(p, kFirstDigitTimeout);
  } else {
    c.calling = p.cid_number;
    p.calling_name = p.cid_name;
    p.calling_private = p.cid_private;
    stop_reading(p);
    p.call = c;
    engine_.bind_call(c.id, this);
    ev = c.event("offered");
    ev["called"] = "";
    ev["calling"] = c.calling;
    if (!p.calling_name.empty()) ev["callingName"] = p.calling_name;
    if (p.calling_private) ev["callingPresentation"] = "restricted";
  }
  emit(std::move(ev));
}

void AnalogStack::answered(Port& p) {
  stop_timer(p);
  if (station_ && p.phase == Phase::kRinging) {
    // The phone answered: the kernel stopped ringing; a caller ID still going out is cut.
    stop_transmit(p);
  } else if (station_) {
    stop_tone(p);
    if (polarity_ && !p.reversed) {
      ioctl_or_log(p, DAHDI_SETPOLARITY, 1, "DAHDI_SETPOLARITY");
      p.reversed = true;
    }
  } else if (!p.offhook) {
    int hook = DAHDI_OFFHOOK;
    if (ioctl(p.fd, DAHDI_HOOK, &hook) < 0)
      throw EngineError("E_DAHDI_IOCTL", "", sys("DAHDI_HOOK"));
    p.offhook = true;
  }
  if (!enter(p, Phase::kTalking)) return;
  p.call->state = CallState::kAnswered;
  start_reading(p);  // DTMF from the far end for the rest of the call
  emit(p.call->event("answered"));
}

void AnalogStack::released(Port& p, int cause, const char* by) {
  if (!p.call) return;
  json ev = p.call->event("released");
  ev["cause"] = cause;
  ev["causeName"] = cause_name(cause);
  ev["by"] = by;
  engine_.unbind_call(p.call->id);
  p.call.reset();
  stop_timer(p);
  emit(std::move(ev));
}

void AnalogStack::release_unplaced(uint64_t id, int cause) {
  Call c;
  c.id = id;
  json ev = c.event("released");
  ev["cause"] = cause;
  ev["causeName"] = cause_name(cause);
  ev["by"] = "stack";
  engine_.unbind_call(id);
  emit(std::move(ev));
}

// Back to rest: no call, nothing read or sent, battery normal.
void AnalogStack::go_idle(Port& p) {
  stop_timer(p);
  stop_reading(p);
  if (p.transmitting()) stop_transmit(p);
  if (p.reversed) {
    ioctl_or_log(p, DAHDI_SETPOLARITY, 0, "DAHDI_SETPOLARITY");
    p.reversed = false;
  }
  enter(p, Phase::kIdle);
  p.rings = 0;
  p.ignoring = false;
}

// Station: the call is over but the phone is off hook. Restoring the battery polarity and (on
// kewlstart) a loop drop tell a far-end device we cleared; a person hears busy tone.
void AnalogStack::lockout(Port& p) {
  go_idle(p);
  ioctl_or_log(p, DAHDI_HOOK, DAHDI_ONHOOK, "DAHDI_HOOK");
  enter(p, Phase::kLockout);
  play(p, ToneKind::kBusy);
}

void AnalogStack::line_on_hook(Port& p) {
  if (p.offhook) ioctl_or_log(p, DAHDI_HOOK, DAHDI_ONHOOK, "DAHDI_HOOK");
  p.offhook = false;
  go_idle(p);
}

const char* AnalogStack::channel_state(const Port& p) const {
  if (p.alarm) return "alarm";
  if (p.blocked && !p.call) return "blocked";
  switch (p.phase) {
    case Phase::kIdle: return "idle";
    case Phase::kRinging: return "ringing";
    case Phase::kCollecting:
    case Phase::kDialing:
    case Phase::kLockout: return "seized";
    case Phase::kTalking: return "talking";
  }
  return "idle";
}

void AnalogStack::channel_event(Port& p) {
  emit({{"event", "channel"},
        {"span", span_},
        {"channel", p.pos},
        {"state", channel_state(p)},
        {"by", "local"}});
}

// ---- commands ------------------------------------------------------------------------------

namespace {

std::string command_string(const json& cmd, const char* key, bool required) {
  if (!cmd.contains(key) || cmd[key].is_null()) {
    if (required) throw EngineError("E_COMMAND_FIELD", key, "is required");
    return "";
  }
  if (!cmd[key].is_string()) throw EngineError("E_COMMAND_FIELD", key, "must be a string");
  return cmd[key].get<std::string>();
}

int command_channel(const json& cmd) {
  if (!cmd.contains("channel") || cmd["channel"].is_null()) return 0;
  if (!cmd["channel"].is_number_integer() || cmd["channel"].get<int64_t>() < 1 ||
      cmd["channel"].get<int64_t>() > kMaxPorts)
    throw EngineError("E_COMMAND_FIELD", "channel", "must be a port number");
  return cmd["channel"].get<int>();
}

std::string dtmf_string(const json& cmd, const char* key, bool required) {
  std::string s = command_string(cmd, key, required);
  for (char& c : s) {
    if (c >= 'a' && c <= 'd') c = static_cast<char>(c - 'a' + 'A');
    if (!dtmf_digit(c))
      throw EngineError("E_COMMAND_FIELD", key,
                        std::string("'") + c + "' is not a DTMF digit (0-9 * # A-D)");
  }
  if (s.size() > 64) throw EngineError("E_COMMAND_FIELD", key, "is longer than 64 digits");
  return s;
}

}  // namespace

json AnalogStack::on_check(json& cmd) {
  const std::string op = cmd["op"].get<std::string>();
  auto known_channel = [&](int ch) {
    if (ch == 0) return;
    for (int pos : positions_)
      if (pos == ch) return;
    throw EngineError("E_CHANNEL_UNKNOWN", "channel",
                      "trunk " + name_ + " has no port " + std::to_string(ch));
  };
  if (op == "place") {
    known_channel(command_channel(cmd));
    if (station_) {
      command_string(cmd, "called", false);
      const std::string calling = command_string(cmd, "calling", false);
      if (calling.size() > 20) throw EngineError("E_COMMAND_FIELD", "calling", "is longer than 20");
      for (char c : calling)
        if (!std::isdigit(static_cast<unsigned char>(c)) &&
            (caller_id_ == CallerId::kDtmf || !std::isprint(static_cast<unsigned char>(c))))
          throw EngineError("E_COMMAND_FIELD", "calling",
                            "caller ID carries digits only, not '" + std::string(1, c) + "'");
      const std::string presentation = command_string(cmd, "callingPresentation", false);
      if (!presentation.empty() && presentation != "allowed" && presentation != "restricted")
        throw EngineError("E_COMMAND_FIELD", "callingPresentation",
                          "must be allowed or restricted, not \"" + presentation + "\"");
      const std::string name = command_string(cmd, "callingName", false);
      for (char c : name)
        if (!std::isprint(static_cast<unsigned char>(c)))
          throw EngineError("E_COMMAND_FIELD", "callingName", "caller ID names are printable ASCII");
    } else {
      cmd["called"] = dtmf_string(cmd, "called", false);
    }
    const uint64_t id = engine_.new_call_id();
    engine_.bind_call(id, this);
    cmd["call"] = id;
    return {{"call", id}};
  }
  if (op == "answer" || op == "accept" || op == "alert" || op == "progress") return json::object();
  if (op == "release") {
    cmd["cause"] = cause_field(cmd);
    return json::object();
  }
  if (op == "digits") {
    cmd["digits"] = dtmf_string(cmd, "digits", true);
    if (cmd["digits"].get<std::string>().empty())
      throw EngineError("E_COMMAND_FIELD", "digits", "must not be empty");
    return json::object();
  }
  if (op == "block" || op == "unblock" || op == "reset") {
    if (cmd.contains("cic")) throw EngineError("E_COMMAND_FIELD", "cic", "analog trunks have no CICs");
    known_channel(command_channel(cmd));
    return json::object();
  }
  throw EngineError("E_COMMAND_FIELD", "op", "\"" + op + "\" is not a command of an analog trunk");
}

void AnalogStack::on_command(const json& cmd) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string op = cmd["op"].get<std::string>();
  if (op == "place")
    place(cmd);
  else if (op == "block" || op == "unblock" || op == "reset")
    maintenance(op, cmd);
  else
    call_command(op, cmd);
}

void AnalogStack::place(const json& cmd) {
  const uint64_t id = cmd["call"].get<uint64_t>();
  const int want = command_channel(cmd);
  Port* p = nullptr;
  for (auto& c : ports_) {
    if (want && c->pos != want) continue;
    const bool free = c->phase == Phase::kIdle && !c->call && !c->blocked && !c->alarm &&
                      !c->failed && !(station_ && c->offhook);
    if (free) {
      p = c.get();
      break;
    }
  }
  if (!p) {
    // A named port that is busy; or no free port at all.
    Port* named = want ? port_at(want) : nullptr;
    const int cause = named ? (station_ && named->offhook ? 17 : 44) : 34;
    release_unplaced(id, cause);
    return;
  }
  Call c;
  c.id = id;
  c.outgoing = true;
  c.span = span_;
  c.timeslot = p->pos;
  c.channo = p->channo;
  c.called = command_string(cmd, "called", false);
  c.calling = command_string(cmd, "calling", false);
  c.started_ms = now_ms();
  if (station_) {
    p->calling_name = command_string(cmd, "callingName", false);
    p->calling_private = command_string(cmd, "callingPresentation", false) == "restricted";
    int ring = DAHDI_RING;
    if (ioctl(p->fd, DAHDI_HOOK, &ring) < 0 && errno != EINPROGRESS) {
      // EBUSY: the phone went off hook at the same moment (glare).
      release_unplaced(id, errno == EBUSY ? 17 : 41);
      return;
    }
    c.state = CallState::kAlerting;
    p->call = c;
    enter(*p, Phase::kRinging);
    p->rings = 0;
    emit(c.event("alerting"));
  } else {
    int hook = DAHDI_OFFHOOK;
    if (ioctl(p->fd, DAHDI_HOOK, &hook) < 0) {
      log("warn", "port " + std::to_string(p->pos) + ": " + sys("DAHDI_HOOK"),
          {{"span", span_}, {"channel", p->pos}});
      release_unplaced(id, 41);
      return;
    }
    p->offhook = true;
    c.state = CallState::kDialing;
    p->call = c;
    enter(*p, Phase::kDialing);
    set_timer(*p, kDialDelay);
    emit(c.event("dialing"));
  }
}

void AnalogStack::call_command(const std::string& op, const json& cmd) {
  const uint64_t id = call_field(cmd);
  Port* p = nullptr;
  for (auto& c : ports_)
    if (c->call && c->call->id == id) p = c.get();
  if (!p) throw EngineError("E_CALL_UNKNOWN", "call", "no call " + std::to_string(id));
  Call& call = *p->call;
  auto refuse = [&]() {
    throw EngineError("E_CALL_STATE", "call",
                      op + " does not apply to " + (call.outgoing ? "an outgoing" : "an incoming") +
                          " call in state " + call_state_name(call.state));
  };
  if (op == "release") {
    const int cause = cmd["cause"].get<int>();
    released(*p, cause, "local");
    if (station_) {
      if (p->phase == Phase::kRinging) {
        ioctl_or_log(*p, DAHDI_HOOK, DAHDI_RINGOFF, "DAHDI_HOOK");
        go_idle(*p);
      } else if (p->offhook) {
        lockout(*p);
      } else {
        go_idle(*p);
      }
    } else if (p->phase == Phase::kRinging) {
      // An analog line cannot refuse a call: the rest of these rings are not offered again.
      stop_reading(*p);
      p->ignoring = true;
    } else {
      line_on_hook(*p);
    }
    return;
  }
  if (op == "digits") {
    // What a phone does: DTMF on the line. Not to an on-hook phone or before we are off hook.
    const bool can = station_ ? p->offhook && p->phase != Phase::kRinging : p->offhook;
    if (!can) refuse();
    send_dtmf(*p, cmd["digits"].get<std::string>());
    return;
  }
  if (call.outgoing) refuse();
  if (op == "answer") {
    if (call.state == CallState::kAnswered) refuse();
    answered(*p);
    return;
  }
  // accept / alert / progress: the controller routed the call; no more digit timeouts.
  if (call.state == CallState::kAnswered) refuse();
  if (station_ && p->timer != kTimerCount) stop_timer(*p);
  if (op == "accept") {
    call.state = CallState::kProceeding;
    if (station_ && p->tone_kind == ToneKind::kDial) stop_tone(*p);
  } else if (op == "alert") {
    call.state = CallState::kAlerting;
    if (station_) play(*p, ToneKind::kRingback);
  } else {
    call.state = CallState::kProceeding;
    if (station_) stop_tone(*p);  // in-band information follows from whoever plays it
  }
}

void AnalogStack::maintenance(const std::string& op, const json& cmd) {
  const int want = command_channel(cmd);
  for (auto& pp : ports_) {
    Port& p = *pp;
    if (want && p.pos != want) continue;
    if (op == "block") {
      // A call in progress runs on; the port takes no new one.
      p.blocked = true;
      if (station_ && p.phase == Phase::kIdle && p.offhook) lockout(p);
    } else if (op == "unblock") {
      p.blocked = false;
    } else {
      // reset: whatever was going on ends; the port is on hook and idle.
      if (p.call) released(p, 41, "local");
      if (station_) {
        if (p.phase == Phase::kRinging) ioctl_or_log(p, DAHDI_HOOK, DAHDI_RINGOFF, "DAHDI_HOOK");
        ioctl_or_log(p, DAHDI_HOOK, DAHDI_ONHOOK, "DAHDI_HOOK");
        go_idle(p);
        // A phone still off hook stays locked out until it hangs up.
        if (p.offhook) lockout(p);
      } else {
        p.offhook = true;  // make sure the on-hook really goes out
        line_on_hook(p);
      }
    }
    channel_event(p);
  }
}

json AnalogStack::on_snapshot() {
  json channels = json::array();
  json calls = json::array();
  for (auto& pp : ports_) {
    const Port& p = *pp;
    json ch = {{"span", span_},
               {"channel", p.pos},
               {"dahdiChannel", p.channo},
               {"port", station_ ? "fxs" : "fxo"},
               {"state", channel_state(p)},
               {"phase", phase_name(p.phase)},
               {"hook", p.offhook ? "offhook" : "onhook"},
               {"blocked", p.blocked},
               {"law", p.law == DAHDI_LAW_ALAW ? "alaw" : "ulaw"}};
    if (p.call) {
      ch["call"] = p.call->id;
      json c = p.call->to_json();
      if (!p.calling_name.empty()) c["callingName"] = p.calling_name;
      calls.push_back(std::move(c));
    }
    if (p.rings) ch["rings"] = p.rings;
    if (p.failed) ch["failed"] = true;
    channels.push_back(std::move(ch));
  }
  json timers = json::object();
  for (int t = 0; t < kTimerCount; ++t) timers[kTimers[t].name] = timers_[t];
  return {{"links", json::array()},
          {"channels", std::move(channels)},
          {"calls", std::move(calls)},
          {"callerId", caller_id_name(caller_id_)},
          {"zone", zone_->zone},
          {"timers", std::move(timers)}};
}

}  // namespace

std::unique_ptr<Stack> make_analog(Engine& engine, json config, std::string field) {
  return std::make_unique<AnalogStack>(engine, std::move(config), std::move(field));
}

}  // namespace switchboard
