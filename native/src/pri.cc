// SPDX-License-Identifier: GPL-2.0-or-later
// ISDN PRI trunks with libpri: one D-channel and its B-channels, network or user side.

extern "C" {
#include <libpri.h>  // a C header without extern "C" of its own
}
#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "calls.h"
#include "dahdi.h"
#include "engine.h"
#include "pcap.h"

namespace switchboard {
namespace {

struct Switchtype {
  const char* name;
  int e1;  // libpri switchtype on an E1 span
  int t1;  // ... on a T1 span
};

// EuroISDN has a T1 flavour in libpri; the others are the same on both.
constexpr Switchtype kSwitchtypes[] = {
    {"euroisdn", PRI_SWITCH_EUROISDN_E1, PRI_SWITCH_EUROISDN_T1},
    {"ni2", PRI_SWITCH_NI2, PRI_SWITCH_NI2},
    {"dms100", PRI_SWITCH_DMS100, PRI_SWITCH_DMS100},
    {"5ess", PRI_SWITCH_LUCENT5E, PRI_SWITCH_LUCENT5E},
    {"4ess", PRI_SWITCH_ATT4ESS, PRI_SWITCH_ATT4ESS},
    {"qsig", PRI_SWITCH_QSIG, PRI_SWITCH_QSIG},
};

// Type of number (Q.931 §4.5.8, bits 7-5) with numbering plan ISDN/E.164 (bits 4-1 = 1).
struct NumberType {
  const char* name;
  int plan;
};
constexpr NumberType kNumberTypes[] = {
    {"unknown", PRI_UNKNOWN},        {"international", PRI_INTERNATIONAL_ISDN},
    {"national", PRI_NATIONAL_ISDN}, {"network_specific", 0x31},
    {"subscriber", PRI_LOCAL_ISDN},
};

const char* number_type_name(int plan) {
  switch ((plan >> 4) & 7) {
    case 1: return "international";
    case 2: return "national";
    case 3: return "network_specific";
    case 4: return "subscriber";
    default: return "unknown";
  }
}

int number_type_field(const json& cmd, const char* key) {
  if (!cmd.contains(key)) return PRI_UNKNOWN;
  if (cmd[key].is_string())
    for (const auto& t : kNumberTypes)
      if (cmd[key].get<std::string>() == t.name) return t.plan;
  throw EngineError("E_COMMAND_FIELD", key,
                    "must be unknown, international, national, network_specific or subscriber");
}

// Q.931 SERVICE change status (Q.931 Annex A / ANSI T1.607): in service, out of service.
constexpr int kServiceInService = 0;
constexpr int kServiceOutOfService = 2;

// Q.931 numbers carry IA5 digits, * and #; libpri holds 255 characters of a number.
constexpr const char* kDigits = "0123456789*#";
constexpr size_t kMaxNumber = 255;

// The timeslot in a libpri channel number (bits 0-7; the span/interface is in bits 8-15).
int channel_of(int channel) { return channel & 0xff; }

class PriTrunk;

// libpri reports messages and errors through process-wide hooks; they find the trunk by the
// controller's userdata.
void on_pri_message(struct pri* ctrl, char* text);
void on_pri_error(struct pri* ctrl, char* text);

struct BChannel {
  int timeslot = 0;
  int channo = 0;
  uint64_t call = 0;                 // 0 when idle
  bool blocked_local = false;
  bool blocked_remote = false;
  bool restarting = false;
};

// A call and, for an incoming one, its Q.931 call reference as libpri reported it (flag bit
// 0x8000 included, as the far end's messages carry it), -1 for an outgoing one.
struct PriCall : Call {
  int cref = -1;
};

class PriTrunk : public Stack {
 public:
  PriTrunk(Engine& engine, json config, std::string field)
      : Stack(engine, std::move(config), std::move(field)) {
    // What needs no DAHDI channel is checked when the trunk is built, so that a reconfiguration
    // refuses it before any trunk stops; open() reads it again with the span's size known.
    span_ = int_field(config_, "span", field_, 1, DAHDI_MAX_SPANS - 1);
    spans_ = {span_};
    const std::string st = string_field(config_, "switchtype", field_);
    bool known = false;
    for (const auto& s : kSwitchtypes) known = known || st == s.name;
    if (!known)
      throw EngineError("E_CONFIG_FIELD", field_ + ".switchtype",
                        "\"" + st + "\" is not one of euroisdn, ni2, dms100, 5ess, 4ess, qsig");
    int_field(config_, "dchannel", field_, 1, 31, 16);
    if (config_.contains("bchannels")) list_field(config_, "bchannels", field_, 1, 31);
    const std::string overlap = string_field(config_, "overlap", field_, "none");
    if (overlap != "none" && overlap != "incoming" && overlap != "outgoing" && overlap != "both")
      throw EngineError("E_CONFIG_FIELD", field_ + ".overlap",
                        "\"" + overlap + "\" is not one of none, incoming, outgoing, both");
    bool_field(config_, "serviceMessages", field_, false);
    bool_field(config_, "debug", field_, false);
    if (config_.contains("timers")) {
      const json& timers = config_["timers"];
      if (!timers.is_object())
        throw EngineError("E_CONFIG_FIELD", field_ + ".timers", "must map timer names to values");
      for (const auto& [name, value] : timers.items())
        if (pri_timer2idx(name.c_str()) < 0 || !value.is_number_integer())
          throw EngineError("E_CONFIG_FIELD", field_ + ".timers." + name,
                            "is not a libpri timer with an integer value");
    }
  }

  ~PriTrunk() override { close_all(); }

  void open() override {
    span_ = int_field(config_, "span", field_, 1, DAHDI_MAX_SPANS - 1);
    spans_ = {span_};
    network_ = signalling_ == "pri_net";
    const int base = dahdi_basechan(span_, field_ + ".span");
    size_ = dahdi_span_channels(span_);
    if (size_ != 24 && size_ != 31)
      throw EngineError("E_CONFIG_FIELD", field_ + ".span",
                        "span " + std::to_string(span_) + " has " + std::to_string(size_) +
                            " channels: a PRI needs an E1 (31) or T1 (24) span");
    const std::string st = string_field(config_, "switchtype", field_);
    int switchtype = -1;
    for (const auto& s : kSwitchtypes)
      if (st == s.name) switchtype = size_ == 24 ? s.t1 : s.e1;
    if (switchtype < 0)
      throw EngineError("E_CONFIG_FIELD", field_ + ".switchtype",
                        "\"" + st + "\" is not one of euroisdn, ni2, dms100, 5ess, 4ess, qsig");
    switchtype_ = st;
    dchannel_ = int_field(config_, "dchannel", field_, 1, size_, size_ == 24 ? 24 : 16);
    std::vector<int> bchans;
    if (config_.contains("bchannels")) {
      bchans = list_field(config_, "bchannels", field_, 1, size_);
    } else {
      for (int ts = 1; ts <= size_; ++ts)
        if (ts != dchannel_) bchans.push_back(ts);
    }
    for (int ts : bchans)
      if (ts == dchannel_)
        throw EngineError("E_CONFIG_FIELD", field_ + ".bchannels",
                          "timeslot " + std::to_string(ts) +
                              " is the D-channel and cannot also be a bearer (B) channel");
    const std::string overlap = string_field(config_, "overlap", field_, "none");
    if (overlap != "none" && overlap != "incoming" && overlap != "outgoing" && overlap != "both")
      throw EngineError("E_CONFIG_FIELD", field_ + ".overlap",
                        "\"" + overlap + "\" is not one of none, incoming, outgoing, both");
    overlap_in_ = overlap == "incoming" || overlap == "both";
    overlap_out_ = overlap == "outgoing" || overlap == "both";
    service_messages_ = bool_field(config_, "serviceMessages", field_, false);

    const std::string dfield = field_ + ".dchannel";
    dfd_ = dahdi_open(base + dchannel_ - 1, dfield);
    try {
      dahdi_require_hdlc(dfd_, base + dchannel_ - 1, dfield,
                         "a D-channel needs hardhdlc= (or dchan=) in system.conf");
    } catch (const EngineError&) {
      close_all();
      throw;
    }
    dahdi_set_hdlc_bufs(dfd_, 32, 1024, dfield);
    dahdi_channels_.push_back(base + dchannel_ - 1);
    for (int ts : bchans) {
      BChannel b;
      b.timeslot = ts;
      b.channo = base + ts - 1;
      bchans_[ts] = b;
      dahdi_channels_.push_back(b.channo);
    }
    // The B-channels must exist as bearers in system.conf (bchan=), or calls would go nowhere.
    for (auto& [ts, b] : bchans_) {
      const int fd = dahdi_open(b.channo, field_ + ".bchannels");
      const dahdi_params p = dahdi_get_params(fd, field_ + ".bchannels");
      ::close(fd);
      if (p.sigtype != DAHDI_SIG_CLEAR) {
        close_all();
        throw EngineError("E_CONFIG_FIELD", field_ + ".bchannels",
                          "timeslot " + std::to_string(ts) + " (DAHDI channel " +
                              std::to_string(b.channo) + ") is configured as " +
                              dahdi_sig_name(p.sigtype) + ", not bchan (check system.conf)");
      }
    }
    law_ = size_ == 24 ? PRI_LAYER_1_ULAW : PRI_LAYER_1_ALAW;

    static std::once_flag hooks;
    std::call_once(hooks, [] {
      pri_set_message(on_pri_message);
      pri_set_error(on_pri_error);
    });
    pri_ = pri_new_cb(dfd_, network_ ? PRI_NETWORK : PRI_CPE, switchtype, &PriTrunk::io_read,
                      &PriTrunk::io_write, this);
    if (!pri_) {
      close_all();
      throw EngineError("E_ENGINE", field_, "libpri could not create the D-channel controller");
    }
    debug_ = bool_field(config_, "debug", field_, false);
    pri_set_debug(pri_, debug_ ? (PRI_DEBUG_Q931_STATE | PRI_DEBUG_Q931_DUMP | PRI_DEBUG_Q921_STATE) : 0);
    pri_set_overlapdial(pri_, overlap_in_ || overlap_out_);
    pri_set_service_message_support(pri_, service_messages_ ? 1 : 0);
    if (config_.contains("timers")) {
      const json& timers = config_["timers"];
      if (!timers.is_object())
        throw EngineError("E_CONFIG_FIELD", field_ + ".timers", "must map timer names to values");
      for (const auto& [name, value] : timers.items()) {
        const int idx = pri_timer2idx(name.c_str());
        if (idx < 0 || !value.is_number_integer())
          throw EngineError("E_CONFIG_FIELD", field_ + ".timers." + name,
                            "is not a libpri timer with an integer value");
        pri_set_timer(pri_, idx, value.get<int>());
      }
    }
  }

  bool trace_params(int span, int& linktype, bool& network) const override {
    if (span != span_) return false;
    linktype = kLinktypeLinuxLapd;
    network = network_;
    return true;
  }

 protected:
  // ---- JavaScript thread ----

  json on_check(json& cmd) override {
    const std::string op = cmd["op"].get<std::string>();
    if (op == "place") {
      const bool overlap = bool_field(cmd, "overlap", "", false);
      // Overlap sending may start with no digits at all; they follow in `digits`.
      digits_field(cmd, "called", !overlap, kMaxNumber, kDigits);
      if (overlap && !overlap_out_)
        throw EngineError("E_COMMAND_FIELD", "overlap",
                          "trunk " + name_ + " does not do overlap sending (set overlap)");
      digits_field(cmd, "calling", false, kMaxNumber, kDigits);
      number_type_field(cmd, "calledType");
      number_type_field(cmd, "callingType");
      check_channel(cmd);
      const uint64_t id = engine_.new_call_id();
      engine_.bind_call(id, this);
      cmd["call"] = id;
      return {{"call", id}};
    }
    if (op == "accept" || op == "alert" || op == "progress" || op == "answer" || op == "release")
      return json::object();
    if (op == "digits") {
      digits_field(cmd, "digits", true, kMaxNumber, kDigits);
      return json::object();
    }
    if (op == "block" || op == "unblock" || op == "reset") {
      check_channel(cmd);
      return json::object();
    }
    throw EngineError("E_COMMAND_FIELD", "op", "\"" + op + "\" is not a PRI command");
  }

  // A command's optional `channel` must be one of this trunk's B-channels.
  void check_channel(const json& cmd) const {
    if (!cmd.contains("channel")) return;
    const int ts = int_field(cmd, "channel", "", 1, 31);
    if (!bchans_.count(ts))
      throw EngineError("E_CHANNEL_UNKNOWN", "channel",
                        "timeslot " + std::to_string(ts) + " is not a B-channel of " + name_);
  }

  json on_snapshot() override {
    json channels = json::array();
    for (const auto& [ts, b] : bchans_) {
      json c = {{"span", span_},
                {"channel", ts},
                {"dahdiChannel", b.channo},
                {"state", channel_state(b)}};
      if (b.call) c["call"] = b.call;
      if (b.blocked_local || b.blocked_remote)
        c["blocked"] = b.blocked_local ? (b.blocked_remote ? "both" : "local") : "remote";
      channels.push_back(c);
    }
    json calls = json::array();
    for (const auto& [ptr, call] : calls_) calls.push_back(call.to_json());
    return {{"switchtype", switchtype_},
            {"side", network_ ? "network" : "user"},
            {"links",
             json::array({{{"span", span_},
                           {"kind", "dchannel"},
                           {"timeslot", dchannel_},
                           {"state", up_ ? "up" : "down"},
                           {"framesIn", frames_in_},
                           {"framesOut", frames_out_},
                           {"writeErrors", write_errors_}}})},
            {"channels", channels},
            {"calls", calls}};
  }

  // ---- trunk thread ----

  void on_poll_set(std::vector<pollfd>& fds) override {
    poll_index_ = fds.size();
    fds.push_back({dfd_, POLLIN | POLLPRI, 0});
  }

  void on_poll(const std::vector<pollfd>& fds) override {
    const short re = fds[poll_index_].revents;
    if (re & POLLPRI) handle_dahdi_event();
    if (re & POLLIN) {
      // Read every frame that is waiting: one poll wake-up may cover several.
      for (int i = 0; i < 64; ++i) {
        reading_ok_ = false;
        rx_release_complete_ = {};
        pri_event* e = pri_check_event(pri_);
        if (e) handle(e);
        // Before the next frame: it may be a SETUP that gets the freed call's address.
        end_forgotten_calls();
        if (!reading_ok_) break;
      }
    }
  }

  int on_timeout() override {
    struct timeval* next = pri_schedule_next(pri_);
    if (!next) return -1;
    struct timeval now;
    gettimeofday(&now, nullptr);
    const int64_t ms = (next->tv_sec - now.tv_sec) * 1000 + (next->tv_usec - now.tv_usec) / 1000;
    return ms < 0 ? 0 : static_cast<int>(ms) + 1;
  }

  void on_timers() override {
    // pri_schedule_run runs one expired timer per call and may return its event.
    for (int i = 0; i < 64; ++i) {
      struct timeval* next = pri_schedule_next(pri_);
      if (!next) break;
      struct timeval now;
      gettimeofday(&now, nullptr);
      if (timercmp(next, &now, >)) break;
      rx_release_complete_ = {};
      pri_event* e = pri_schedule_run(pri_);
      if (e) handle(e);
      end_forgotten_calls();
    }
    if (sweep_after_down_) {
      sweep_after_down_ = false;
      std::vector<q931_call*> left;
      for (auto& [c, call] : calls_)
        if (call.state != CallState::kAnswered) left.push_back(c);
      for (q931_call* c : left) finish(c, 38, "stack", /*destroy=*/true);
    }
  }

  void on_command(const json& cmd) override {
    const std::string op = cmd["op"].get<std::string>();
    if (op == "block" || op == "unblock" || op == "reset") {
      maintenance(op, cmd);
      return;
    }
    const uint64_t id = cmd["call"].get<uint64_t>();
    if (op == "place") {
      place(id, cmd);
      return;
    }
    auto it = find_call(id);
    if (it == calls_.end())
      throw EngineError("E_CALL_UNKNOWN", "call", "call " + std::to_string(id) + " has ended");
    q931_call* c = it->first;
    Call& call = it->second;
    const int chan = call.timeslot;
    if (op == "release") {
      if (call.state == CallState::kReleasing) return;
      const int cause = cause_field(cmd);
      // libpri sends nothing for a hang-up of a SETUP it has not answered yet (the call is not
      // "alive"): CALL PROCEEDING first, so the DISCONNECT that follows carries our cause.
      if (call.state == CallState::kOffered) pri_proceeding(pri_, c, chan, 0);
      set_state(call, CallState::kReleasing);
      release_cause_[id] = cause;
      rx_release_complete_ = {};
      pri_hangup(pri_, c, cause);
      if (!up_) finish(c, cause, "local");
      // With cause 1, 34, 44, 81 or 82 libpri has sent RELEASE COMPLETE and freed the call.
      end_forgotten_calls();
      return;
    }
    if (op == "digits") {
      if (!call.outgoing)
        throw EngineError("E_CALL_STATE", "op", "digits are sent on an outgoing overlap call");
      const std::string digits = cmd["digits"].get<std::string>();
      for (char d : digits) pri_information(pri_, c, d);
      call.called += digits;
      return;
    }
    if (call.outgoing)
      throw EngineError("E_CALL_STATE", "op", op + " is for an incoming call");
    if (op == "accept") {
      if (call.state != CallState::kOffered) return;
      pri_proceeding(pri_, c, chan, 0);
      set_state(call, CallState::kProceeding);
    } else if (op == "alert") {
      if (call.state == CallState::kAlerting || call.state == CallState::kAnswered) return;
      pri_acknowledge(pri_, c, chan, 1);
      set_state(call, CallState::kAlerting);
    } else if (op == "progress") {
      pri_progress(pri_, c, chan, 1);
    } else if (op == "answer") {
      if (call.state == CallState::kAnswered) return;
      pri_answer(pri_, c, chan, 0);
      set_state(call, CallState::kAnswered);
      emit(call.event("answered"));
    }
  }

  void on_close() override {}

  void on_retire(int cause) override {
    std::vector<q931_call*> open_calls;
    for (const auto& [c, call] : calls_) open_calls.push_back(c);
    for (q931_call* c : open_calls) {
      // DISCONNECT (RELEASE COMPLETE for an unanswered SETUP) goes out now, so the far end
      // clears at once instead of keeping an answered call up on a D-channel that comes back.
      if (up_ && pri_) pri_hangup(pri_, c, cause);
      finish(c, cause, "stack");
    }
    if (up_ && !open_calls.empty()) drain_dchannel();
  }

  // Closing the D-channel drops what DAHDI has not sent yet: wait (a bounded time, polling, as
  // DAHDI_IOMUX itself would wait without limit) until its transmit buffers are empty.
  void drain_dchannel() {
    constexpr int64_t kDrainMs = 250;  // a few frames at 64 kbit/s, with a loaded machine's slack
    const int64_t until = now_ms() + kDrainMs;
    while (now_ms() < until) {
      int what = DAHDI_IOMUX_WRITEEMPTY | DAHDI_IOMUX_NOWAIT;
      if (ioctl(dfd_, DAHDI_IOMUX, &what) < 0 || (what & DAHDI_IOMUX_WRITEEMPTY)) return;
      usleep(2000);
    }
  }

 private:
  static int io_read(struct pri* ctrl, void* buf, int buflen) {
    auto* self = static_cast<PriTrunk*>(pri_get_userdata(ctrl));
    const int n = ::read(self->dfd_, buf, buflen);
    if (n < 0) {
      if (errno == ELAST) self->handle_dahdi_event();
      return 0;  // libpri: nothing received
    }
    self->reading_ok_ = true;
    // The smallest LAPD frame is address (2) + control (1), then the 2 FCS bytes DAHDI leaves.
    if (n < 5) {
      self->protocol_error("D-channel frame of " + std::to_string(n) + " bytes dropped (too short)");
      return 0;
    }
    // Q.921 §3.3: the address field is two octets, EA=0 then EA=1; SAPI 0 carries Q.931, 16
    // X.25 and 63 layer-2 management. Anything else is not LAPD from a PRI and is dropped here
    // (libpri would drop it silently).
    const auto* f = static_cast<const uint8_t*>(buf);
    const int sapi = f[0] >> 2;
    if ((f[0] & 1) != 0 || (f[1] & 1) != 1 || (sapi != 0 && sapi != 16 && sapi != 63)) {
      self->engine_.capture(self->span_, false, f, n - 2);
      self->protocol_error("D-channel frame with a bad LAPD address (" + std::to_string(f[0]) +
                           " " + std::to_string(f[1]) + ") dropped");
      return 0;
    }
    self->frames_in_++;
    self->engine_.capture(self->span_, false, static_cast<const uint8_t*>(buf), n - 2);
    self->note_release_complete(f, n - 2);
    return n;
  }

  static int io_write(struct pri* ctrl, void* buf, int buflen) {
    auto* self = static_cast<PriTrunk*>(pri_get_userdata(ctrl));
    // libpri hands the frame plus 2 bytes of room for the FCS, which the card computes.
    if (buflen > 2) self->engine_.capture(self->span_, true, static_cast<const uint8_t*>(buf), buflen - 2);
    const int n = ::write(self->dfd_, buf, buflen);
    if (n < 0) {
      if (errno == ELAST) {
        self->handle_dahdi_event();
      } else {
        // EAGAIN: every transmit buffer of the D-channel is full. libpri's Q.921 recovers the
        // frame by retransmission (T200), so it is counted, not fatal.
        self->write_errors_++;
      }
      return 0;
    }
    self->frames_out_++;
    return n;
  }


 public:
  // libpri's error text: counted as a protocol error (bad frames, unexpected messages).
  void libpri_error(const std::string& text) { protocol_error("libpri: " + text); }
  // libpri's decode of every message, when the trunk's `debug` is on.
  void libpri_message(const std::string& text) {
    if (debug_) log("debug", "libpri: " + text);
  }

 private:

  const char* channel_state(const BChannel& b) const {
    if (b.restarting) return "reset";
    if (b.blocked_local || b.blocked_remote) return "blocked";
    if (alarms_ != 0) return "alarm";
    if (!b.call) return "idle";
    for (const auto& [p, c] : calls_) {
      if (c.id != b.call) continue;
      switch (c.state) {
        case CallState::kAnswered:
          return "talking";
        case CallState::kAlerting:
          return "ringing";
        default:
          return "seized";
      }
    }
    return "seized";
  }

  std::map<q931_call*, PriCall>::iterator find_call(uint64_t id) {
    for (auto it = calls_.begin(); it != calls_.end(); ++it)
      if (it->second.id == id) return it;
    return calls_.end();
  }

  void set_state(Call& call, CallState s) {
    std::lock_guard<std::mutex> lock(mu_);
    call.state = s;
  }

  void channel_event(const BChannel& b, const char* by = nullptr) {
    json ev = {{"event", "channel"},
               {"span", span_},
               {"channel", b.timeslot},
               {"state", channel_state(b)}};
    if (by) ev["by"] = by;
    emit(std::move(ev));
  }

  // A free B-channel: the network side hunts from the top, the user side from the bottom, so
  // the two ends rarely pick the same channel at once (glare).
  int free_channel() const {
    auto usable = [&](const BChannel& b) {
      return !b.call && !b.blocked_local && !b.blocked_remote && !b.restarting;
    };
    if (network_) {
      for (auto it = bchans_.rbegin(); it != bchans_.rend(); ++it)
        if (usable(it->second)) return it->first;
    } else {
      for (const auto& [ts, b] : bchans_)
        if (usable(b)) return ts;
    }
    return 0;
  }

  void refuse(uint64_t id, int cause, const std::string& why) {
    engine_.unbind_call(id);
    log("info", "call " + std::to_string(id) + " not placed: " + why);
    emit({{"event", "released"},
          {"call", id},
          {"cause", cause},
          {"causeName", cause_name(cause)},
          {"by", "stack"}});
  }

  void place(uint64_t id, const json& cmd) {
    if (!up_) return refuse(id, 38, "the D-channel is down");
    int ts = cmd.contains("channel") ? cmd["channel"].get<int>() : free_channel();
    if (ts == 0) return refuse(id, 34, "no free B-channel");
    BChannel& b = bchans_[ts];
    if (b.call || b.blocked_local || b.blocked_remote || b.restarting)
      return refuse(id, 44, "timeslot " + std::to_string(ts) + " is not free");
    q931_call* c = pri_new_call(pri_);
    if (!c) return refuse(id, 47, "libpri has no call reference free");
    std::string called = cmd.value("called", std::string());
    std::string calling = cmd.value("calling", std::string());
    std::string name = cmd.value("callingName", std::string());
    const bool overlap = cmd.value("overlap", false);
    pri_sr* sr = pri_sr_new();
    pri_sr_set_channel(sr, ts, 1, 0);
    pri_sr_set_bearer(sr, PRI_TRANS_CAP_SPEECH, law_);
    pri_sr_set_called(sr, called.data(), number_type_field(cmd, "calledType"), overlap ? 0 : 1);
    const bool restricted = cmd.value("callingPresentation", std::string("allowed")) == "restricted";
    pri_sr_set_caller(sr, calling.data(), name.empty() ? nullptr : name.data(),
                      number_type_field(cmd, "callingType"),
                      restricted ? PRES_PROHIB_USER_NUMBER_NOT_SCREENED
                                 : PRES_ALLOWED_USER_NUMBER_NOT_SCREENED);
    const int res = pri_setup(pri_, c, sr);
    pri_sr_free(sr);
    if (res != 0) {
      pri_destroycall(pri_, c);
      return refuse(id, 41, "libpri refused the SETUP");
    }
    PriCall call;
    call.id = id;
    call.outgoing = true;
    call.state = CallState::kDialing;
    call.span = span_;
    call.timeslot = ts;
    call.channo = b.channo;
    call.called = called;
    call.calling = calling;
    call.started_ms = now_ms();
    {
      std::lock_guard<std::mutex> lock(mu_);
      b.call = id;
      calls_[c] = call;
    }
    json ev = call.event("dialing");
    ev["dahdiChannel"] = b.channo;
    emit(std::move(ev));
  }

  void maintenance(const std::string& op, const json& cmd) {
    std::vector<int> targets;
    if (cmd.contains("channel")) {
      targets.push_back(cmd["channel"].get<int>());
    } else {
      for (const auto& [ts, b] : bchans_) targets.push_back(ts);
    }
    if (op == "reset") {
      if (!up_) throw EngineError("E_CHANNEL_BUSY", "trunk", "the D-channel of " + name_ + " is down");
      // libpri restarts one B-channel at a time (pri_restart is a no-op since its Q.921
      // rewrite), so a whole-trunk reset RESTARTs each channel in turn, the next one when the
      // previous RESTART ACKNOWLEDGE arrives, as Asterisk does.
      for (int ts : targets) clear_channel(ts, 41, "stack");
      for (int ts : targets) {
        mark_restarting(ts, true);
        restart_queue_.push_back(ts);
      }
      if (!restart_pending_) next_restart();
      return;
    }
    const bool block = op == "block";
    for (int ts : targets) {
      BChannel& b = bchans_[ts];
      {
        std::lock_guard<std::mutex> lock(mu_);
        b.blocked_local = block;
      }
      if (service_messages_ && up_)
        pri_maintenance_service(pri_, 0, ts, block ? kServiceOutOfService : kServiceInService);
      channel_event(b, "local");
    }
  }

  void next_restart() {
    while (!restart_queue_.empty()) {
      const int ts = restart_queue_.front();
      restart_queue_.pop_front();
      if (!bchans_[ts].restarting) continue;
      restart_pending_ = ts;
      pri_reset(pri_, ts);
      return;
    }
  }

  void mark_restarting(int ts, bool on) {
    auto it = bchans_.find(ts);
    if (it == bchans_.end()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      it->second.restarting = on;
    }
    channel_event(it->second);
  }

  // Ends whatever call is on a timeslot (RESTART, or one side lost the channel).
  void clear_channel(int ts, int cause, const char* by) {
    auto it = bchans_.find(ts);
    if (it == bchans_.end() || !it->second.call) return;
    auto c = find_call(it->second.call);
    if (c != calls_.end()) finish(c->first, cause, by, /*destroy=*/true);
  }

  // The call is over: event out, channel free, libpri's call record destroyed when asked.
  void finish(q931_call* c, int cause, const char* by, bool destroy = false) {
    auto it = calls_.find(c);
    if (it == calls_.end()) return;
    Call call = it->second;
    auto rc = release_cause_.find(call.id);
    if (rc != release_cause_.end()) {
      if (std::string(by) == "local") cause = rc->second;
      release_cause_.erase(rc);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.erase(it);
      auto b = bchans_.find(call.timeslot);
      if (b != bchans_.end() && b->second.call == call.id) b->second.call = 0;
    }
    if (destroy) pri_destroycall(pri_, c);
    engine_.unbind_call(call.id);
    json ev = call.event("released");
    ev["cause"] = cause;
    ev["causeName"] = cause_name(cause);
    ev["by"] = by;
    emit(std::move(ev));
  }

  // libpri frees some calls without an event, so nothing else would end them here:
  //  - our hang-up with UNALLOCATED (1), NORMAL_CIRCUIT_CONGESTION (34), REQUESTED_CHAN_UNAVAIL
  //    (44), INVALID_CALL_REFERENCE (81) or IDENTIFIED_CHANNEL_NOTEXIST (82) before the call is
  //    active: __q931_hangup sends RELEASE COMPLETE and q931_release_complete frees the call at
  //    once (pri_hangup_fix_enable, which we leave off, would send DISCONNECT for most of them);
  //  - our hang-up with CHANNEL_UNACCEPTABLE (6), CALL_AWARDED_DELIVERED (7) or
  //    NONSELECTED_USER_CLEARING (26): RELEASE, and the far end's RELEASE COMPLETE then frees the
  //    call (it is neither "alive" nor waiting for a hang-up acknowledgement any more);
  //  - RELEASE COMPLETE (or a STATUS saying "null") from the far end for an incoming call we have
  //    sent nothing for yet: libpri does not count it as alive, so it frees it silently too.
  // After every call into libpri, the calls whose record has gone are ended: ours (releasing) by
  // "local" with the cause we sent, the others by "remote" with the cause of the RELEASE COMPLETE
  // that ended them. pri_get_crv is libpri's public check that a call pointer is still one of
  // its calls (it compares pointers, it reads nothing through them).
  void end_forgotten_calls() {
    if (!pri_ || calls_.empty()) return;
    std::vector<q931_call*> gone;
    for (const auto& [c, call] : calls_)
      if (pri_get_crv(pri_, c, nullptr) < 0) gone.push_back(c);
    for (q931_call* c : gone) {
      const PriCall& call = calls_[c];
      if (call.state == CallState::kReleasing) {
        finish(c, 16, "local");  // finish() reports the cause of our release command
      } else if (!call.outgoing && rx_release_complete_.cref >= 0 &&
                 rx_release_complete_.cref == call.cref) {
        finish(c, rx_release_complete_.cause, "remote");
      } else {
        log("warn", "libpri dropped call " + std::to_string(call.id) + " without an event",
            {{"call", call.id}});
        finish(c, up_ ? 41 : 38, "stack");
      }
    }
  }

  // Notes the call reference and cause of a RELEASE COMPLETE received (Q.931 §4: protocol
  // discriminator 08, call reference length 2 on a PRI, message type 5a; cause IE 08: octet 3,
  // octet 3a when octet 3 has no extension bit, then the cause value) for end_forgotten_calls.
  void note_release_complete(const uint8_t* f, int len) {
    // LAPD: address (2), control (2 for an I frame, 1 for UI), then the Q.931 message.
    if (len < 3) return;
    int q = (f[2] & 1) == 0 ? 4 : (f[2] & 0xef) == 0x03 ? 3 : -1;
    if (q < 0 || len < q + 5 || f[q] != 0x08 || f[q + 1] != 2 || f[q + 4] != 0x5a) return;
    const int cref = (f[q + 2] << 8) | f[q + 3];
    int cause = 16;  // RELEASE COMPLETE without a cause (it is optional there)
    for (int i = q + 5; i < len;) {
      const uint8_t id = f[i];
      if (id & 0x80) {  // single-octet information element
        ++i;
        continue;
      }
      if (i + 1 >= len) break;
      const int ielen = f[i + 1];
      if (id == 0x08 && ielen >= 2 && i + 2 + ielen <= len) {
        int v = i + 2 + ((f[i + 2] & 0x80) ? 1 : 2);
        if (v < i + 2 + ielen && (f[v] & 0x7f) != 0) cause = f[v] & 0x7f;
        break;
      }
      i += 2 + ielen;
    }
    rx_release_complete_ = {cref, cause};
  }

  void handle_dahdi_event() {
    const int e = dahdi_get_event(dfd_);
    if (e == DAHDI_EVENT_ALARM || e == DAHDI_EVENT_NOALARM) {
      const int bits = e == DAHDI_EVENT_NOALARM ? 0 : dahdi_span_alarm_bits(span_);
      {
        std::lock_guard<std::mutex> lock(mu_);
        alarms_ = bits < 0 ? 0 : bits;
      }
      emit({{"event", "alarm"}, {"span", span_}, {"alarms", dahdi_alarm_names(alarms_)}});
    } else if (e == DAHDI_EVENT_BADFCS || e == DAHDI_EVENT_ABORT || e == DAHDI_EVENT_OVERRUN) {
      protocol_error(std::string("D-channel ") + dahdi_event_name(e) + " on span " +
                     std::to_string(span_));
    }
  }

  void handle(pri_event* e) {
    switch (e->e) {
      case PRI_EVENT_DCHAN_UP:
        {
          std::lock_guard<std::mutex> lock(mu_);
          up_ = true;
        }
        emit({{"event", "link"}, {"span", span_}, {"kind", "dchannel"}, {"state", "up"}});
        // RESTARTs interrupted by the outage are sent again.
        if (!restart_pending_) {
          for (auto& [t, b] : bchans_)
            if (b.restarting) restart_queue_.push_back(t);
          next_restart();
        }
        break;
      case PRI_EVENT_DCHAN_DOWN: {
        {
          std::lock_guard<std::mutex> lock(mu_);
          up_ = false;
        }
        emit({{"event", "link"}, {"span", span_}, {"kind", "dchannel"}, {"state", "down"}});
        // libpri itself ends the calls: unanswered ones at once, answered ones when T309 runs
        // out; each arrives as PRI_EVENT_HANGUP. An incoming call still waiting for our first
        // answer is not always among them (seen on the user side), so once libpri's own
        // clearing has run, on_timers() ends what is left unanswered.
        restart_pending_ = 0;
        restart_queue_.clear();
        sweep_after_down_ = true;
        break;
      }
      case PRI_EVENT_RING:
        ring(e->ring);
        break;
      case PRI_EVENT_INFO_RECEIVED: {
        auto it = calls_.find(e->ring.call);
        if (it == calls_.end()) break;
        const std::string digits = e->ring.callednum;
        if (digits.empty()) break;
        {
          std::lock_guard<std::mutex> lock(mu_);
          it->second.called += digits;
        }
        json ev = it->second.event("digits");
        ev["digits"] = digits;
        emit(std::move(ev));
        break;
      }
      case PRI_EVENT_KEYPAD_DIGIT: {
        auto it = calls_.find(e->digit.call);
        if (it == calls_.end()) break;
        json ev = it->second.event("digits");
        ev["digits"] = std::string(e->digit.digits);
        emit(std::move(ev));
        break;
      }
      case PRI_EVENT_SETUP_ACK:
      case PRI_EVENT_PROCEEDING: {
        q931_call* c = e->e == PRI_EVENT_SETUP_ACK ? e->setup_ack.call : e->proceeding.call;
        auto it = calls_.find(c);
        if (it == calls_.end() || it->second.state != CallState::kDialing) break;
        set_state(it->second, CallState::kProceeding);
        emit(it->second.event("proceeding"));
        break;
      }
      case PRI_EVENT_RINGING: {
        auto it = calls_.find(e->ringing.call);
        if (it == calls_.end()) break;
        set_state(it->second, CallState::kAlerting);
        emit(it->second.event("alerting"));
        break;
      }
      case PRI_EVENT_PROGRESS: {
        auto it = calls_.find(e->proceeding.call);
        if (it == calls_.end()) break;
        emit(it->second.event("progress"));
        break;
      }
      case PRI_EVENT_ANSWER: {
        auto it = calls_.find(e->answer.call);
        if (it == calls_.end()) break;
        set_state(it->second, CallState::kAnswered);
        emit(it->second.event("answered"));
        break;
      }
      case PRI_EVENT_HANGUP_REQ: {
        // DISCONNECT from the far end: answer it with RELEASE; the call ends here for the API.
        auto it = calls_.find(e->hangup.call);
        if (it == calls_.end()) {
          pri_hangup(pri_, e->hangup.call, e->hangup.cause);
          break;
        }
        const int cause = e->hangup.cause > 0 ? e->hangup.cause : 16;
        pri_hangup(pri_, e->hangup.call, cause);
        finish(e->hangup.call, cause, it->second.state == CallState::kReleasing ? "local" : "remote");
        break;
      }
      case PRI_EVENT_HANGUP: {
        // RELEASE from the far end (also in answer to our DISCONNECT), or libpri ending a call
        // (link down, T309).
        auto it = calls_.find(e->hangup.call);
        const int cause = e->hangup.cause > 0 ? e->hangup.cause : 16;
        if (it == calls_.end()) break;
        const bool ours = it->second.state == CallState::kReleasing;
        finish(e->hangup.call, cause, ours ? "local" : up_ ? "remote" : "stack");
        // Always: this is what makes libpri send RELEASE COMPLETE and free the call.
        pri_hangup(pri_, e->hangup.call, cause);
        break;
      }
      case PRI_EVENT_HANGUP_ACK: {
        auto it = calls_.find(e->hangup.call);
        if (it != calls_.end()) finish(e->hangup.call, e->hangup.cause > 0 ? e->hangup.cause : 16, "local");
        break;
      }
      case PRI_EVENT_RESTART: {
        // The far end restarts a B-channel (or all of them, channel -1): calls on it are gone.
        // channel -1 (or 0): the whole interface.
        const int ch = e->restart.channel;
        const int ts = ch <= 0 ? -1 : channel_of(ch);
        for (auto& [t, b] : bchans_)
          if (ts < 0 || t == ts) {
            clear_channel(t, 41, "remote");
            channel_event(b, "remote");
          }
        break;
      }
      case PRI_EVENT_RESTART_ACK: {
        const int ch = e->restartack.channel;
        const int ts = ch <= 0 ? -1 : channel_of(ch);
        for (auto& [t, b] : bchans_)
          if ((ts < 0 || t == ts) && b.restarting) mark_restarting(t, false);
        if (restart_pending_ == ts || ts < 0) {
          restart_pending_ = 0;
          next_restart();
        }
        break;
      }
      case PRI_EVENT_SERVICE: {
        const int ch = e->service.channel;
        const int ts = ch < 0 ? -1 : channel_of(ch);
        const bool out = e->service.changestatus == kServiceOutOfService;
        for (auto& [t, b] : bchans_) {
          if (ts >= 0 && t != ts) continue;
          {
            std::lock_guard<std::mutex> lock(mu_);
            b.blocked_remote = out;
          }
          channel_event(b, "remote");
        }
        break;
      }
      case PRI_EVENT_SERVICE_ACK:
      case PRI_EVENT_CONNECT_ACK:
      case PRI_EVENT_NOTIFY:
      case PRI_EVENT_FACILITY:
        break;
      case PRI_EVENT_CONFIG_ERR:
        protocol_error(std::string("libpri configuration error: ") + e->err.err);
        break;
      default:
        log("debug", std::string("unhandled libpri event ") + pri_event2str(e->e));
        break;
    }
  }

  void ring(const pri_event_ring& r) {
    // The channel the far end asked for; 0 or -1 means "any" (we choose).
    int ts = r.channel > 0 ? channel_of(r.channel) : 0;
    if (ts == 0) ts = free_channel();
    auto b = bchans_.find(ts);
    if (ts == 0 || b == bchans_.end()) {
      pri_hangup(pri_, r.call, ts == 0 ? 34 : 82 /* identified channel does not exist */);
      protocol_error("SETUP for timeslot " + std::to_string(ts) + ", which is not a B-channel of " + name_);
      return;
    }
    if (b->second.blocked_local || b->second.restarting) {
      pri_hangup(pri_, r.call, 44);
      return;
    }
    if (b->second.call) {
      // Glare: both ends seized this channel at once. The network side keeps its own call
      // (Q.931 §5.2.3.1); the user side gives its SETUP up and takes the network's.
      if (network_) {
        pri_hangup(pri_, r.call, 44);
        return;
      }
      clear_channel(ts, 44, "stack");
    }
    PriCall call;
    call.id = engine_.new_call_id();
    call.outgoing = false;
    call.state = CallState::kOffered;
    call.span = span_;
    call.timeslot = ts;
    call.channo = b->second.channo;
    call.called = r.callednum;
    call.calling = r.callingnum;
    call.started_ms = now_ms();
    call.cref = r.cref;
    engine_.bind_call(call.id, this);
    {
      std::lock_guard<std::mutex> lock(mu_);
      b->second.call = call.id;
      calls_[r.call] = call;
    }
    const bool complete = r.complete != 0 || !overlap_in_;
    if (!complete) pri_need_more_info(pri_, r.call, ts, 0);
    json ev = call.event("offered");
    ev["dahdiChannel"] = call.channo;
    ev["called"] = call.called;
    ev["calling"] = call.calling;
    if (r.callingname[0]) ev["callingName"] = std::string(r.callingname);
    ev["calledType"] = number_type_name(r.calledplan);
    ev["callingType"] = number_type_name(r.callingplan);
    ev["callingPresentation"] = (r.callingpres & 0x60) == 0x20 ? "restricted" : "allowed";
    ev["complete"] = complete;
    emit(std::move(ev));
  }

  void close_all() {
    if (pri_) {
      // libpri has no destructor for a controller in 1.6; the descriptor is ours to close.
      pri_ = nullptr;
    }
    if (dfd_ >= 0) {
      ::close(dfd_);
      dfd_ = -1;
    }
  }

  int span_ = 0;
  int size_ = 0;
  bool network_ = false;
  std::string switchtype_;
  int dchannel_ = 16;
  bool overlap_in_ = false;
  bool overlap_out_ = false;
  bool service_messages_ = false;
  bool debug_ = false;
  int law_ = PRI_LAYER_1_ALAW;
  int dfd_ = -1;
  struct pri* pri_ = nullptr;
  size_t poll_index_ = 0;
  bool reading_ok_ = false;
  bool up_ = false;
  int alarms_ = 0;
  uint64_t frames_in_ = 0;
  uint64_t frames_out_ = 0;
  uint64_t write_errors_ = 0;
  std::map<int, BChannel> bchans_;
  std::map<q931_call*, PriCall> calls_;
  std::map<uint64_t, int> release_cause_;
  std::deque<int> restart_queue_;  // B-channels waiting for their RESTART
  int restart_pending_ = 0;        // the B-channel whose RESTART ACKNOWLEDGE we wait for
  bool sweep_after_down_ = false;
  // The RELEASE COMPLETE in the frame libpri is handling now (cref -1: none).
  struct {
    int cref = -1;
    int cause = 16;
  } rx_release_complete_;
};

// libpri's messages are its debug output (off: pri_set_debug 0); its errors are worth counting.
std::string trimmed(char* text) {
  std::string msg(text);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
  return msg;
}

void on_pri_message(struct pri* ctrl, char* text) {
  auto* self = ctrl ? static_cast<PriTrunk*>(pri_get_userdata(ctrl)) : nullptr;
  const std::string msg = trimmed(text);
  if (self && !msg.empty()) self->libpri_message(msg);
}

void on_pri_error(struct pri* ctrl, char* text) {
  auto* self = ctrl ? static_cast<PriTrunk*>(pri_get_userdata(ctrl)) : nullptr;
  const std::string msg = trimmed(text);
  if (self && !msg.empty()) self->libpri_error(msg);
}

}  // namespace

std::unique_ptr<Stack> make_pri(Engine& engine, json config, std::string field) {
  return std::make_unique<PriTrunk>(engine, std::move(config), std::move(field));
}

}  // namespace switchboard
