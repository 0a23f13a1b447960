// SPDX-License-Identifier: GPL-2.0-or-later
// MFC-R2 trunks (openr2): one E1 span in CAS framing, ABCD line signals and compelled MF register signals.
//
// openr2 owns the protocol: line signals in the ABCD bits, the compelled MF exchange (which it
// detects and generates in the bearer audio it reads and writes itself), and its timers. We own
// the DAHDI descriptors (opened by DAHDI channel number, checked to be `cas`, then handed to
// openr2 with openr2_chan_new_from_fd), poll them on the trunk thread and call
// openr2_chan_process_event when one is readable or has an event, as openr2's own r2test does.
// openr2 1.3.3 (Debian) runs its timers inside openr2_chan_process_event, so a channel whose
// timer is due is processed as well. Nothing here waits on JavaScript: a controller that is slow
// to answer an offered call leaves the far end waiting in the compelled cycle, where R2 allows it.
// openr2's known gap (it cannot send ANI as the calling side of the China variant) is described
// with R2_CHINA_ANI_GAP in src/trunks/r2.ts and in the README's Known gaps.

#include <fcntl.h>
#include <openr2.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "calls.h"
#include "dahdi.h"
#include "engine.h"

namespace switchboard {
namespace {

// ---- name tables -------------------------------------------------------------------------------

// Calling party categories (Group II signals) as openr2 1.3.3 knows them, in installer words.
struct CategoryName {
  openr2_calling_party_category_t value;
  const char* name;
};
constexpr CategoryName kCategories[] = {
    {OR2_CALLING_PARTY_CATEGORY_NATIONAL_SUBSCRIBER, "national_subscriber"},
    {OR2_CALLING_PARTY_CATEGORY_NATIONAL_PRIORITY_SUBSCRIBER, "national_priority_subscriber"},
    {OR2_CALLING_PARTY_CATEGORY_INTERNATIONAL_SUBSCRIBER, "international_subscriber"},
    {OR2_CALLING_PARTY_CATEGORY_INTERNATIONAL_PRIORITY_SUBSCRIBER,
     "international_priority_subscriber"},
    {OR2_CALLING_PARTY_CATEGORY_COLLECT_CALL, "collect_call"},
    {OR2_CALLING_PARTY_CATEGORY_TEST_EQUIPMENT, "test_equipment"},
};

const char* category_name(openr2_calling_party_category_t c) {
  for (const auto& k : kCategories)
    if (k.value == c) return k.name;
  return "unknown";
}

bool category_of(const std::string& name, openr2_calling_party_category_t& out) {
  for (const auto& k : kCategories)
    if (name == k.name) {
      out = k.value;
      return true;
    }
  return false;
}

std::string category_list() {
  std::string s;
  for (const auto& k : kCategories) s += (s.empty() ? "" : ", ") + std::string(k.name);
  return s;
}

// R2 disconnect causes (Group B signals and line signals) and the Q.850 cause each stands for.
struct R2Cause {
  openr2_call_disconnect_cause_t value;
  const char* name;
  int q850;
};
constexpr R2Cause kR2Causes[] = {
    {OR2_CAUSE_BUSY_NUMBER, "busy_number", 17},
    {OR2_CAUSE_NETWORK_CONGESTION, "network_congestion", 34},
    {OR2_CAUSE_UNALLOCATED_NUMBER, "unallocated_number", 1},
    {OR2_CAUSE_OUT_OF_ORDER, "line_out_of_order", 27},
    {OR2_CAUSE_UNSPECIFIED, "unspecified", 31},
    {OR2_CAUSE_NO_ANSWER, "no_answer", 19},
    {OR2_CAUSE_NORMAL_CLEARING, "normal_clearing", 16},
    {OR2_CAUSE_COLLECT_CALL_REJECTED, "collect_call_rejected", 21},
    // A forced release is the backward side's way to clear at once (Brazil, Argentina).
    {OR2_CAUSE_FORCED_RELEASE, "forced_release", 16},
    {OR2_CAUSE_NUMBER_CHANGED, "number_changed", 22},
};

const R2Cause& r2_cause(openr2_call_disconnect_cause_t c) {
  for (const auto& k : kR2Causes)
    if (k.value == c) return k;
  return kR2Causes[4];  // unspecified
}

// The Group B signal that refuses an offered call for a Q.850 cause. openr2 sends "line out of
// order" for causes without a signal of their own (normal clearing, unspecified, no answer).
openr2_call_disconnect_cause_t r2_cause_for(int q850) {
  switch (q850) {
    case 17:
      return OR2_CAUSE_BUSY_NUMBER;
    case 1:
    case 3:
      return OR2_CAUSE_UNALLOCATED_NUMBER;
    case 22:
      return OR2_CAUSE_NUMBER_CHANGED;
    case 27:
    case 38:
      return OR2_CAUSE_OUT_OF_ORDER;
    case 34:
    case 41:
    case 42:
    case 44:
    case 47:
      return OR2_CAUSE_NETWORK_CONGESTION;
    default:
      return OR2_CAUSE_NORMAL_CLEARING;
  }
}

// openr2's log levels as chan_dahdi's mfcr2_logging spells them.
struct LogLevelName {
  openr2_log_level_t value;
  const char* name;
};
constexpr LogLevelName kLogLevels[] = {
    {OR2_LOG_ERROR, "error"}, {OR2_LOG_WARNING, "warning"}, {OR2_LOG_NOTICE, "notice"},
    {OR2_LOG_DEBUG, "debug"}, {OR2_LOG_MF_TRACE, "mf"},     {OR2_LOG_CAS_TRACE, "cas"},
};

const char* log_event_level(openr2_log_level_t level) {
  if (level & OR2_LOG_ERROR) return "error";
  if (level & OR2_LOG_WARNING) return "warn";
  if (level & OR2_LOG_NOTICE) return "info";
  return "debug";
}

// Protocol timers openr2 lets us set, named as in its advanced protocol file (r2proto.conf) and
// ranged as src/trunks/r2.ts documents them (the TypeScript table is the reference; this one
// re-checks what reaches the addon).
struct TimerRange {
  const char* name;
  int min;
  int max;
};
constexpr TimerRange kTimers[] = {
    {"mf_back_cycle", 500, 30000},      {"mf_back_resume_cycle", 50, 1000},
    {"mf_fwd_safety", 1000, 120000},    {"r2_seize", 1000, 30000},
    {"r2_answer", 1000, 600000},        {"r2_metering_pulse", 0, 1000},
    {"r2_double_answer", 100, 2000},    {"r2_answer_delay", 0, 1000},
    {"cas_persistence_check", 0, 1000}, {"mf_threshold", 0, 100},
};

// ABCD line signals as openr2 codes them for every variant (A and B carry R2; C and D are fixed).
constexpr int kCasR2Bits = 0xC;
constexpr int kCasBlock = 0xC;

// Variants whose Group A has no "address complete, charge, set up speech" signal in openr2 1.3.3
// (r2proto.c sets it to an invalid tone): openr2's immediate accept would send silence there.
bool variant_lacks_group_a_accept(openr2_variant_t v) {
  return v == OR2_VAR_BRAZIL || v == OR2_VAR_CHINA || v == OR2_VAR_MEXICO;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// ---- command fields ----------------------------------------------------------------------------

class R2Stack;

// One timeslot of the trunk. The trunk thread writes it; fields the snapshot reads are written
// under the stack's mu_.
struct R2Channel {
  R2Stack* stack = nullptr;
  int timeslot = 0;
  int channo = 0;
  int fd = -1;
  openr2_chan_t* chan = nullptr;
  bool local_blocked = false;   // we sent BLOCK
  bool block_pending = false;   // block asked for while a call was up: applied at its end
  bool remote_blocked = false;  // the far end sends BLOCK
  bool alarm = false;
  bool seized = false;          // an incoming seizure not yet offered (MF in progress)
  bool dead = false;            // the descriptor failed: no longer polled
  bool reading = false;         // bearer audio read (MF detection, call audio): only while busy
  bool media = false;           // lent to the media layer: openr2 reads nothing until it returns
  uint64_t call = 0;
  // openr2's own state names, refreshed after each turn of the channel.
  std::string r2_state, mf_state, mf_group, call_state, rx_cas, tx_cas;
};

struct R2Call : Call {
  R2Channel* ch = nullptr;
  bool accept_sent = false;      // incoming: Group B accept (or immediate accept) under way
  bool mf_done = false;          // incoming: the MF exchange ended, answer allowed
  bool answer_pending = false;   // answer asked for before the MF exchange ended
  bool release_pending = false;  // release asked for while our accept signal was on the line
  bool answered = false;         // incoming: our answer signal went out
  bool restricted = false;       // incoming: the caller's ANI is restricted
  int cause = 16;
  const char* by = "remote";
  const char* r2cause = nullptr;
  bool local_release = false;
  int metering = 0;
};

// Contexts to stacks, for openr2's context log callback (which carries no user data).
std::mutex g_ctx_mu;
std::map<const void*, R2Stack*> g_ctx;

class R2Stack final : public Stack {
 public:
  R2Stack(Engine& engine, json config, std::string field);
  ~R2Stack() override;
  void open() override;

  // openr2 callbacks (trunk thread, inside openr2_chan_process_event or an openr2 call).
  void on_call_init(R2Channel& ch);
  void on_call_offered(R2Channel& ch, const char* ani, const char* dnis,
                       openr2_calling_party_category_t category);
  void on_call_accepted(R2Channel& ch, openr2_call_mode_t mode);
  void on_call_answered(R2Channel& ch);
  void on_call_disconnect(R2Channel& ch, openr2_call_disconnect_cause_t cause);
  void on_call_end(R2Channel& ch);
  void on_os_error(R2Channel& ch, int err);
  void on_hardware_alarm(R2Channel& ch, int alarm);
  void on_protocol_error(R2Channel& ch, openr2_protocol_error_t error);
  void on_line_blocked(R2Channel& ch);
  void on_line_idle(R2Channel& ch);
  void on_billing_pulse(R2Channel& ch);
  void openr2_log_line(R2Channel* ch, openr2_log_level_t level, const char* fmt, va_list ap);

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
  void read_config();
  // A command's optional `channel` must be one of this trunk's timeslots.
  void check_channel(const json& cmd) const;
  void apply_timers();
  void release_resources();
  void bring_up();
  void process(R2Channel& ch);
  void refresh(R2Channel& ch);
  void refresh_remote_block(R2Channel& ch);
  void set_reading(R2Channel& ch, bool on);
  void apply_reading(R2Channel& ch, bool on);
  R2Channel* channel_at(int timeslot);
  R2Call* call_on(R2Channel& ch);
  R2Call* call_by_id(uint64_t id);
  void emit_channel(R2Channel& ch, const char* by);
  void finish_call(R2Channel& ch, int cause, const char* by, const char* r2cause);
  void place(const json& cmd);
  void accept(R2Call& call);
  void answer(R2Call& call);
  void release(R2Call& call, int cause);
  void disconnect(R2Call& call);
  void block(R2Channel& ch);
  void unblock(R2Channel& ch);
  void reset(R2Channel& ch);
  void check_span_alarm();

  // Configuration (read on the JavaScript thread, constant afterwards).
  int span_ = 0;
  std::vector<int> timeslots_;
  openr2_variant_t variant_ = OR2_VAR_ITU;
  std::string variant_name_;
  int max_ani_ = 10;
  int max_dnis_ = 4;
  bool get_ani_first_ = false;
  bool skip_category_ = false;
  bool double_answer_ = false;
  bool immediate_accept_ = false;
  bool allow_collect_calls_ = false;
  bool charge_calls_ = true;
  bool forced_release_ = false;
  bool hunt_descending_ = false;
  openr2_calling_party_category_t category_ = OR2_CALLING_PARTY_CATEGORY_NATIONAL_SUBSCRIBER;
  std::map<std::string, int> timers_;
  int log_level_ = OR2_LOG_ERROR | OR2_LOG_WARNING;

  openr2_context_t* ctx_ = nullptr;
  std::vector<std::unique_ptr<R2Channel>> channels_;
  std::vector<R2Channel*> polled_;  // channels in the order their fds follow the wake-up fd
  size_t poll_base_ = 0;
  bool up_ = false;
  int span_alarm_bits_ = 0;
  std::map<uint64_t, R2Call> calls_;  // guarded by mu_
};

// ---- openr2 callbacks: find the channel and hand over to the stack -----------------------------

R2Channel& chan_of(openr2_chan_t* c) {
  return *static_cast<R2Channel*>(openr2_chan_get_client_data(c));
}

void cb_call_init(openr2_chan_t* c) { chan_of(c).stack->on_call_init(chan_of(c)); }
void cb_call_offered(openr2_chan_t* c, const char* ani, const char* dnis,
                     openr2_calling_party_category_t category) {
  chan_of(c).stack->on_call_offered(chan_of(c), ani, dnis, category);
}
void cb_call_accepted(openr2_chan_t* c, openr2_call_mode_t mode) {
  chan_of(c).stack->on_call_accepted(chan_of(c), mode);
}
void cb_call_answered(openr2_chan_t* c) { chan_of(c).stack->on_call_answered(chan_of(c)); }
void cb_call_disconnect(openr2_chan_t* c, openr2_call_disconnect_cause_t cause) {
  chan_of(c).stack->on_call_disconnect(chan_of(c), cause);
}
void cb_call_end(openr2_chan_t* c) { chan_of(c).stack->on_call_end(chan_of(c)); }
// Bearer audio of an answered call: no media path is attached to R2 calls yet, so it is read
// (keeping DAHDI's buffers drained) and dropped.
void cb_call_read(openr2_chan_t*, const unsigned char*, int) {}
void cb_hardware_alarm(openr2_chan_t* c, int alarm) {
  chan_of(c).stack->on_hardware_alarm(chan_of(c), alarm);
}
void cb_os_error(openr2_chan_t* c, int err) { chan_of(c).stack->on_os_error(chan_of(c), err); }
void cb_protocol_error(openr2_chan_t* c, openr2_protocol_error_t error) {
  chan_of(c).stack->on_protocol_error(chan_of(c), error);
}
void cb_line_blocked(openr2_chan_t* c) { chan_of(c).stack->on_line_blocked(chan_of(c)); }
void cb_line_idle(openr2_chan_t* c) { chan_of(c).stack->on_line_idle(chan_of(c)); }
void cb_billing_pulse(openr2_chan_t* c) { chan_of(c).stack->on_billing_pulse(chan_of(c)); }
// Every DNIS digit is welcome up to maxDnis: numbering plans are the controller's business.
int cb_dnis_digit(openr2_chan_t*, char) { return 1; }
void cb_ani_digit(openr2_chan_t*, char) {}

void cb_chan_log(openr2_chan_t* c, openr2_log_level_t level, const char* fmt, va_list ap) {
  chan_of(c).stack->openr2_log_line(&chan_of(c), level, fmt, ap);
}

void cb_context_log(openr2_context_t* ctx, openr2_log_level_t level, const char* fmt, va_list ap) {
  R2Stack* stack = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_ctx_mu);
    auto it = g_ctx.find(ctx);
    if (it != g_ctx.end()) stack = it->second;
  }
  if (stack) stack->openr2_log_line(nullptr, level, fmt, ap);
}

openr2_event_interface_t* event_interface() {
  // openr2 fills in defaults for missing members of the interface it is given; with every
  // member set it only reads it, so one copy serves every context.
  static openr2_event_interface_t iface = [] {
    openr2_event_interface_t e;
    std::memset(&e, 0, sizeof e);
    e.on_call_init = cb_call_init;
    e.on_call_offered = cb_call_offered;
    e.on_call_accepted = cb_call_accepted;
    e.on_call_answered = cb_call_answered;
    e.on_call_disconnect = cb_call_disconnect;
    e.on_call_end = cb_call_end;
    e.on_call_read = cb_call_read;
    e.on_hardware_alarm = cb_hardware_alarm;
    e.on_os_error = cb_os_error;
    e.on_protocol_error = cb_protocol_error;
    e.on_line_blocked = cb_line_blocked;
    e.on_line_idle = cb_line_idle;
    e.on_context_log = cb_context_log;
    e.on_dnis_digit_received = cb_dnis_digit;
    e.on_ani_digit_received = cb_ani_digit;
    e.on_billing_pulse_received = cb_billing_pulse;
    return e;
  }();
  return &iface;
}

// ---- configuration -----------------------------------------------------------------------------

R2Stack::R2Stack(Engine& engine, json config, std::string field)
    : Stack(engine, std::move(config), std::move(field)) {
  read_config();
}

R2Stack::~R2Stack() {
  // The trunk thread calls on_close(), a member of this class: it must end before we do.
  stop();
  release_resources();
}

void R2Stack::read_config() {
  static const std::set<std::string> kKnown = {
      "name",          "signalling",        "span",           "channels",
      "variant",       "maxAni",            "maxDnis",        "getAniFirst",
      "category",      "skipCategory",      "doubleAnswer",   "immediateAccept",
      "allowCollectCalls", "chargeCalls",   "forcedRelease",  "mfBackTimeout",
      "meteringPulseTimeout", "timers",     "logging",        "hunting",
  };
  for (auto it = config_.begin(); it != config_.end(); ++it)
    if (!kKnown.count(it.key()))
      throw EngineError("E_CONFIG_FIELD", field_ + "." + it.key(), "is not a known field");

  span_ = int_field(config_, "span", field_, 1, DAHDI_MAX_SPANS - 1);
  spans_ = {span_};
  if (config_.contains("channels")) {
    timeslots_ = list_field(config_, "channels", field_, 1, 31);
    if (timeslots_.empty())
      throw EngineError("E_CONFIG_FIELD", field_ + ".channels", "must name at least one timeslot");
  } else {
    for (int ts = 1; ts <= 31; ++ts)
      if (ts != 16) timeslots_.push_back(ts);
  }
  for (int ts : timeslots_)
    if (ts == 16)
      throw EngineError("E_CONFIG_FIELD", field_ + ".channels",
                        "timeslot 16 carries the E1 CAS multiframe (the ABCD bits of every "
                        "channel), not a call");

  variant_name_ = lower(string_field(config_, "variant", field_));
  int n = 0;
  const openr2_variant_entry_t* list = openr2_proto_get_variant_list(&n);
  std::string known;
  bool found = false;
  for (int i = 0; i < n; ++i) {
    known += (known.empty() ? "" : ", ") + lower(list[i].name);
    if (lower(list[i].name) == variant_name_) {
      variant_ = list[i].id;
      found = true;
    }
  }
  if (!found)
    throw EngineError("E_CONFIG_FIELD", field_ + ".variant",
                      "\"" + variant_name_ + "\" is not an MFC-R2 variant openr2 " +
                          openr2_get_version() + " knows (" + known + ")");

  max_ani_ = int_field(config_, "maxAni", field_, 0, OR2_MAX_ANI - 1, 10);
  max_dnis_ = int_field(config_, "maxDnis", field_, 1, OR2_MAX_DNIS - 1, 4);
  get_ani_first_ = bool_field(config_, "getAniFirst", field_, false);
  skip_category_ = bool_field(config_, "skipCategory", field_, false);
  double_answer_ = bool_field(config_, "doubleAnswer", field_, false);
  immediate_accept_ = bool_field(config_, "immediateAccept", field_, false);
  allow_collect_calls_ = bool_field(config_, "allowCollectCalls", field_, false);
  charge_calls_ = bool_field(config_, "chargeCalls", field_, true);
  forced_release_ = bool_field(config_, "forcedRelease", field_, false);
  const std::string hunting = string_field(config_, "hunting", field_, "ascending");
  if (hunting != "ascending" && hunting != "descending")
    throw EngineError("E_CONFIG_FIELD", field_ + ".hunting", "must be ascending or descending");
  hunt_descending_ = hunting == "descending";
  if (immediate_accept_ && variant_lacks_group_a_accept(variant_))
    throw EngineError("E_CONFIG_FIELD", field_ + ".immediateAccept",
                      "the " + variant_name_ +
                          " variant has no Group A accept signal (address complete, charge) "
                          "in openr2 " +
                          openr2_get_version() + "; accept through Group B instead");

  const std::string cat = string_field(config_, "category", field_, "national_subscriber");
  if (!category_of(cat, category_))
    throw EngineError("E_CONFIG_FIELD", field_ + ".category",
                      "\"" + cat + "\" is not one of " + category_list());
  if (category_ == OR2_CALLING_PARTY_CATEGORY_COLLECT_CALL && variant_ != OR2_VAR_BRAZIL)
    throw EngineError("E_CONFIG_FIELD", field_ + ".category",
                      "only the br variant has a collect-call category signal");

  if (config_.contains("timers") && !config_["timers"].is_null()) {
    const json& t = config_["timers"];
    if (!t.is_object())
      throw EngineError("E_CONFIG_FIELD", field_ + ".timers", "must be a mapping of timer names");
    for (auto it = t.begin(); it != t.end(); ++it) {
      const TimerRange* range = nullptr;
      for (const auto& k : kTimers)
        if (it.key() == k.name) range = &k;
      if (!range) {
        std::string names;
        for (const auto& k : kTimers) names += (names.empty() ? "" : ", ") + std::string(k.name);
        throw EngineError("E_CONFIG_FIELD", field_ + ".timers." + it.key(),
                          "is not a known timer (known: " + names + ")");
      }
      timers_[it.key()] = int_field(t, range->name, field_ + ".timers", range->min, range->max);
    }
  }
  // chan_dahdi's names for two of the timers; the same value may come both ways, not two values.
  const struct {
    const char* key;
    const char* timer;
  } kAliases[] = {{"mfBackTimeout", "mf_back_cycle"}, {"meteringPulseTimeout", "r2_metering_pulse"}};
  for (const auto& a : kAliases) {
    if (!config_.contains(a.key) || config_[a.key].is_null()) continue;
    const TimerRange* range = nullptr;
    for (const auto& k : kTimers)
      if (std::strcmp(k.name, a.timer) == 0) range = &k;
    const int v = int_field(config_, a.key, field_, range->min, range->max);
    auto it = timers_.find(a.timer);
    if (it != timers_.end() && it->second != v)
      throw EngineError("E_CONFIG_FIELD", field_ + "." + a.key,
                        std::to_string(v) + " contradicts timers." + a.timer + " (" +
                            std::to_string(it->second) + ")");
    timers_[a.timer] = v;
  }

  if (config_.contains("logging") && !config_["logging"].is_null()) {
    const json& l = config_["logging"];
    if (!l.is_array())
      throw EngineError("E_CONFIG_FIELD", field_ + ".logging", "must be a list of openr2 log levels");
    log_level_ = 0;
    for (const json& e : l) {
      bool ok = false;
      for (const auto& k : kLogLevels)
        if (e.is_string() && e.get<std::string>() == k.name) {
          log_level_ |= k.value;
          ok = true;
        }
      if (!ok)
        throw EngineError("E_CONFIG_FIELD", field_ + ".logging",
                          e.dump() + " is not one of error, warning, notice, debug, mf, cas");
    }
  }
}

// openr2 sets most timers only from its advanced protocol file; we give it one in memory, with
// just the timers the configuration overrides (the variant's own defaults stay otherwise).
void R2Stack::apply_timers() {
  if (timers_.empty()) return;
  std::string text;
  for (const auto& [name, v] : timers_) {
    if (name == "mf_threshold")
      text += "mf_threshold=" + std::to_string(v) + "\n";
    else
      text += "timers." + name + "=" + std::to_string(v) + "\n";
  }
  const int fd = memfd_create("switchboard-r2proto", MFD_CLOEXEC);
  if (fd < 0)
    throw EngineError("E_ENGINE", field_ + ".timers", std::string("memfd_create: ") + strerror(errno));
  const bool wrote = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const int r = wrote ? openr2_context_configure_from_advanced_file(ctx_, path.c_str()) : -1;
  close(fd);
  if (r != 0)
    throw EngineError("E_ENGINE", field_ + ".timers", "openr2 did not take the timer settings");
}

void R2Stack::open() {
  const int base = dahdi_basechan(span_, field_ + ".span");  // throws when the span is missing
  const int total = dahdi_span_channels(span_);
  if (total != 31)
    throw EngineError("E_CONFIG_FIELD", field_ + ".span",
                      "span " + std::to_string(span_) + " has " + std::to_string(total) +
                          " channels; MFC-R2 runs on E1 spans (31 timeslots)");

  ctx_ = openr2_context_new(nullptr, event_interface(), nullptr, variant_, max_ani_, max_dnis_);
  if (!ctx_) throw EngineError("E_ENGINE", field_ + ".variant", "openr2 refused the variant");
  {
    std::lock_guard<std::mutex> lock(g_ctx_mu);
    g_ctx[ctx_] = this;
  }
  openr2_context_set_log_level(ctx_, static_cast<openr2_log_level_t>(log_level_));
  openr2_context_set_ani_first(ctx_, get_ani_first_ ? 1 : 0);
  openr2_context_set_skip_category_request(ctx_, skip_category_ ? 1 : 0);
  openr2_context_set_immediate_accept(ctx_, immediate_accept_ ? 1 : 0);
  openr2_context_set_double_answer(ctx_, double_answer_ ? 1 : 0);
  apply_timers();

  for (int ts : timeslots_) {
    auto ch = std::make_unique<R2Channel>();
    ch->stack = this;
    ch->timeslot = ts;
    ch->channo = base + ts - 1;
    const std::string where = field_ + ".channels";
    ch->fd = dahdi_open(ch->channo, where);
    dahdi_channels_.push_back(ch->channo);
    channels_.push_back(std::move(ch));
    R2Channel& c = *channels_.back();
    dahdi_require_sig(c.fd, c.channo, DAHDI_SIG_CAS, "cas", where);
    c.chan = openr2_chan_new_from_fd(ctx_, c.fd, nullptr, nullptr);
    if (!c.chan)
      throw EngineError("E_DAHDI_OPEN", where,
                        "openr2 could not take DAHDI channel " + std::to_string(c.channo) + ": " +
                            openr2_context_error_string(openr2_context_get_last_error(ctx_)));
    openr2_chan_set_client_data(c.chan, &c);
    openr2_chan_set_logging_func(c.chan, cb_chan_log);
    openr2_chan_set_log_level(c.chan, static_cast<openr2_log_level_t>(log_level_));
  }
}

void R2Stack::release_resources() {
  if (ctx_) {
    {
      std::lock_guard<std::mutex> lock(g_ctx_mu);
      g_ctx.erase(ctx_);
    }
    // Deletes the openr2 channels too; the descriptors are ours and closed below.
    openr2_context_delete(ctx_);
    ctx_ = nullptr;
  }
  for (auto& ch : channels_) {
    if (ch->fd >= 0) close(ch->fd);
    ch->fd = -1;
    ch->chan = nullptr;
  }
}

// ---- the trunk thread --------------------------------------------------------------------------

// Lines go up on the trunk thread, so a trunk whose neighbour fails to open never touches its line.
void R2Stack::bring_up() {
  up_ = true;
  // DAHDI reports an alarm as an event on its channels when it starts; a span already in alarm
  // when we open it sends none, so its channels start out in alarm (cleared by NOALARM).
  const int alarms = dahdi_span_alarm_bits(span_);
  for (auto& ch : channels_) {
    if (alarms > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      ch->alarm = true;
    }
    set_reading(*ch, false);
    openr2_chan_set_idle(ch->chan);
    openr2_chan_handle_cas(ch->chan);
    refresh_remote_block(*ch);
    refresh(*ch);
  }
  check_span_alarm();
}

void R2Stack::on_poll_set(std::vector<pollfd>& fds) {
  if (!up_) bring_up();
  poll_base_ = fds.size();
  polled_.clear();
  for (auto& ch : channels_) {
    if (ch->dead) continue;
    const bool read = ch->reading && !ch->media;
    fds.push_back({ch->fd, static_cast<short>(read ? POLLIN | POLLPRI : POLLPRI), 0});
    polled_.push_back(ch.get());
  }
}

void R2Stack::on_poll(const std::vector<pollfd>& fds) {
  for (size_t i = 0; i < polled_.size(); ++i) {
    const short ev = fds[poll_base_ + i].revents;
    if (!ev) continue;
    R2Channel& ch = *polled_[i];
    if ((ev & (POLLHUP | POLLERR | POLLNVAL)) && !(ev & (POLLIN | POLLPRI))) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ch.dead = true;
      }
      log("error", "DAHDI channel " + std::to_string(ch.channo) +
                       " hung up (card removed or simulator gone); no longer polled",
          {{"span", span_}, {"channel", ch.timeslot}});
      // openr2 forgets the channel's call and timers (a due timer would otherwise keep the
      // loop spinning on a channel nobody polls).
      openr2_chan_set_idle(ch.chan);
      finish_call(ch, 38, "stack", nullptr);
      continue;
    }
    process(ch);
  }
}

int R2Stack::on_timeout() { return ctx_ ? openr2_context_get_time_to_next_event(ctx_) : -1; }

void R2Stack::on_timers() {
  if (!ctx_ || openr2_context_get_time_to_next_event(ctx_) != 0) return;
  for (auto& ch : channels_)
    if (!ch->dead && openr2_chan_get_time_to_next_event(ch->chan) == 0) process(*ch);
}

void R2Stack::process(R2Channel& ch) {
  openr2_chan_process_event(ch.chan);
  refresh(ch);
}

// Copies openr2's state names for the snapshot (openr2 itself is not safe to ask from another thread).
void R2Stack::refresh(R2Channel& ch) {
  const char* r2 = openr2_chan_get_r2_state_string(ch.chan);
  const char* mf = openr2_chan_get_mf_state_string(ch.chan);
  const char* group = openr2_chan_get_mf_group_string(ch.chan);
  const char* call = openr2_chan_get_call_state_string(ch.chan);
  const char* rx = openr2_chan_get_rx_cas_string(ch.chan);
  const char* tx = openr2_chan_get_tx_cas_string(ch.chan);
  if (ch.r2_state == r2 && ch.mf_state == mf && ch.mf_group == group && ch.call_state == call &&
      ch.rx_cas == rx && ch.tx_cas == tx)
    return;
  std::lock_guard<std::mutex> lock(mu_);
  ch.r2_state = r2;
  ch.mf_state = mf;
  ch.mf_group = group;
  ch.call_state = call;
  ch.rx_cas = rx;
  ch.tx_cas = tx;
}

// openr2 reports the far end's BLOCK and IDLE only on a change it sees in the IDLE state; after
// we unblock or reset, the bits are read here so the channel's state matches the line.
void R2Stack::refresh_remote_block(R2Channel& ch) {
  int bits = 0;
  if (ch.call || ch.local_blocked || ioctl(ch.fd, DAHDI_GETRXBITS, &bits) < 0) return;
  const bool blocked = (bits & kCasR2Bits) == kCasBlock;
  if (blocked == ch.remote_blocked) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ch.remote_blocked = blocked;
  }
  emit_channel(ch, "remote");
}

// An idle channel's audio is of no use to anyone: openr2 reads it only from seizure to clearing
// (MF signals, then the call's audio), so an idle trunk costs no wake-ups. Audio buffered while
// idle is stale and dropped.
void R2Stack::set_reading(R2Channel& ch, bool on) {
  if (on == ch.reading) return;
  ch.reading = on;
  if (ch.media) return;  // applied when the media layer gives the bearer back
  apply_reading(ch, on);
}

void R2Stack::apply_reading(R2Channel& ch, bool on) {
  if (on) {
    int what = DAHDI_FLUSH_READ;
    ioctl(ch.fd, DAHDI_FLUSH, &what);
    openr2_chan_enable_read(ch.chan);
  } else {
    openr2_chan_disable_read(ch.chan);
  }
}

bool R2Stack::holds_bearer(int channo) const {
  for (const auto& ch : channels_)
    if (ch->channo == channo) return true;
  return false;
}

// While a call's audio is lent, openr2 reads nothing (the call is past its MF phase; CAS
// still arrives by DAHDI events, which this thread keeps polling).
int R2Stack::on_bearer(int channo, bool lend) {
  for (auto& ch : channels_) {
    if (ch->channo != channo) continue;
    if (lend == ch->media) return ch->fd;
    if (ch->reading) apply_reading(*ch, !lend);
    ch->media = lend;
    return ch->fd;
  }
  return -1;
}

R2Channel* R2Stack::channel_at(int timeslot) {
  for (auto& ch : channels_)
    if (ch->timeslot == timeslot) return ch.get();
  return nullptr;
}

R2Call* R2Stack::call_on(R2Channel& ch) { return ch.call ? call_by_id(ch.call) : nullptr; }

R2Call* R2Stack::call_by_id(uint64_t id) {
  auto it = calls_.find(id);
  return it == calls_.end() ? nullptr : &it->second;
}

const char* channel_state(const R2Channel& ch, const R2Call* call) {
  if (ch.alarm || ch.dead) return "alarm";
  if (call) {
    switch (call->state) {
      case CallState::kAlerting:
        return "ringing";
      case CallState::kAnswered:
        return "talking";
      default:
        return "seized";
    }
  }
  if (ch.seized) return "seized";
  if (ch.local_blocked || ch.remote_blocked) return "blocked";
  return "idle";
}

void R2Stack::emit_channel(R2Channel& ch, const char* by) {
  json ev = {{"event", "channel"},
             {"span", span_},
             {"channel", ch.timeslot},
             {"state", channel_state(ch, call_on(ch))}};
  if (by) ev["by"] = by;
  emit(std::move(ev));
}

// The call is over and its channel back to idle: tell the controller, forget the call, and
// apply a block that waited for it.
void R2Stack::finish_call(R2Channel& ch, int cause, const char* by, const char* r2cause) {
  R2Call* call = call_on(ch);
  if (call) {
    json ev = call->event("released");
    ev["cause"] = cause;
    ev["causeName"] = cause_name(cause);
    ev["by"] = by;
    if (r2cause) ev["r2Cause"] = r2cause;
    const uint64_t id = call->id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.erase(id);
      ch.call = 0;
      ch.seized = false;
    }
    engine_.unbind_call(id);
    emit(std::move(ev));
  } else {
    std::lock_guard<std::mutex> lock(mu_);
    ch.seized = false;
  }
  set_reading(ch, false);
  if (ch.block_pending) block(ch);
}

// ---- openr2 events -----------------------------------------------------------------------------

void R2Stack::on_call_init(R2Channel& ch) {
  // Seized: the first MF signal follows our seizing acknowledgement.
  set_reading(ch, true);
  std::lock_guard<std::mutex> lock(mu_);
  ch.seized = true;
}

void R2Stack::on_call_offered(R2Channel& ch, const char* ani, const char* dnis,
                              openr2_calling_party_category_t category) {
  if (category == OR2_CALLING_PARTY_CATEGORY_COLLECT_CALL && !allow_collect_calls_) {
    // Refused without troubling the controller, as allowCollectCalls says; openr2 sends the
    // collect-call rejection where the variant has one (Brazil) and "line out of order" elsewhere.
    log("info", "collect call refused (allowCollectCalls is false)",
        {{"span", span_}, {"channel", ch.timeslot}});
    openr2_chan_disconnect_call(ch.chan, variant_ == OR2_VAR_BRAZIL
                                             ? OR2_CAUSE_COLLECT_CALL_REJECTED
                                             : OR2_CAUSE_OUT_OF_ORDER);
    return;
  }
  R2Call call;
  call.id = engine_.new_call_id();
  call.outgoing = false;
  call.state = immediate_accept_ ? CallState::kProceeding : CallState::kOffered;
  call.span = span_;
  call.timeslot = ch.timeslot;
  call.channo = ch.channo;
  call.called = dnis ? dnis : "";
  call.calling = ani ? ani : "";
  call.restricted = ani == nullptr;
  call.category = category_name(category);
  call.started_ms = now_ms();
  call.ch = &ch;
  // openr2's immediate accept has already sent the Group A accept signal.
  call.accept_sent = immediate_accept_;
  json ev = call.event("offered");
  ev["called"] = call.called;
  ev["calling"] = call.calling;
  ev["category"] = call.category;
  ev["complete"] = true;
  if (call.restricted) ev["callingPresentation"] = "restricted";
  const uint64_t id = call.id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.emplace(id, std::move(call));
    ch.call = id;
    ch.seized = false;
  }
  engine_.bind_call(id, this);
  emit(std::move(ev));
}

void R2Stack::on_call_accepted(R2Channel& ch, openr2_call_mode_t) {
  R2Call* call = call_on(ch);
  if (!call) return;
  if (call->outgoing) {
    // The far end accepted with a Group B (or Group A) signal: its subscriber is being rung.
    {
      std::lock_guard<std::mutex> lock(mu_);
      call->state = CallState::kAlerting;
    }
    emit(call->event("alerting"));
    return;
  }
  call->mf_done = true;
  // Inside openr2: a refusal becomes an error event, never an exception through C code.
  try {
    if (call->release_pending) {
      disconnect(*call);
    } else if (call->answer_pending) {
      answer(*call);
    }
  } catch (const EngineError& e) {
    emit({{"event", "error"}, {"code", e.code}, {"message", e.what()}, {"call", call->id}});
  }
}

void R2Stack::on_call_answered(R2Channel& ch) {
  R2Call* call = call_on(ch);
  if (!call) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    call->state = CallState::kAnswered;
  }
  emit(call->event("answered"));
}

void R2Stack::on_call_disconnect(R2Channel& ch, openr2_call_disconnect_cause_t cause) {
  R2Call* call = call_on(ch);
  if (call && !call->local_release) {
    const R2Cause& c = r2_cause(cause);
    std::lock_guard<std::mutex> lock(mu_);
    call->cause = c.q850;
    call->r2cause = c.name;
    // No answer within r2_answer is our own timer running out, not the far end's doing.
    call->by = cause == OR2_CAUSE_NO_ANSWER ? "stack" : "remote";
    call->state = CallState::kReleasing;
  }
  // openr2 expects the user to confirm the far end's disconnection; the call ends (and is
  // reported) when the line is idle again.
  openr2_chan_disconnect_call(ch.chan, OR2_CAUSE_NORMAL_CLEARING);
}

void R2Stack::on_call_end(R2Channel& ch) {
  R2Call* call = call_on(ch);
  if (call)
    finish_call(ch, call->cause, call->by, call->r2cause);
  else
    finish_call(ch, 16, "remote", nullptr);
}

void R2Stack::on_os_error(R2Channel& ch, int err) {
  log("error", "DAHDI channel " + std::to_string(ch.channo) + ": " + strerror(err),
      {{"span", span_}, {"channel", ch.timeslot}, {"kind", "os_error"}});
}

void R2Stack::on_hardware_alarm(R2Channel& ch, int alarm) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ch.alarm = alarm != 0;
  }
  if (alarm) {
    // openr2 ignores the ABCD bits while the span is in alarm: a call on it cannot go on.
    if (call_on(ch) || ch.seized) {
      openr2_chan_set_idle(ch.chan);
      finish_call(ch, 38, "stack", nullptr);
    }
  } else if (!ch.call) {
    // The line is back: say again what we are (idle or blocked) and read what the far end says.
    if (ch.local_blocked)
      openr2_chan_set_blocked(ch.chan);
    else
      openr2_chan_set_idle(ch.chan);
    openr2_chan_handle_cas(ch.chan);
    refresh_remote_block(ch);
  }
  check_span_alarm();
}

void R2Stack::check_span_alarm() {
  const int bits = dahdi_span_alarm_bits(span_);
  if (bits < 0 || bits == span_alarm_bits_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    span_alarm_bits_ = bits;
  }
  json names = json::array();
  for (const auto& n : dahdi_alarm_names(bits)) names.push_back(n);
  emit({{"event", "alarm"}, {"span", span_}, {"alarms", names}});
}

void R2Stack::on_protocol_error(R2Channel& ch, openr2_protocol_error_t error) {
  protocol_error("span " + std::to_string(span_) + " timeslot " + std::to_string(ch.timeslot) +
                 ": " + openr2_proto_get_error(error) + " (R2 state " +
                 openr2_chan_get_r2_state_string(ch.chan) + ", MF state " +
                 openr2_chan_get_mf_state_string(ch.chan) + ")");
  // openr2 has put the channel back to idle; a call on it is lost.
  const bool timeout = error == OR2_BACK_MF_TIMEOUT || error == OR2_SEIZE_TIMEOUT ||
                       error == OR2_FWD_SAFETY_TIMEOUT || error == OR2_ANSWER_TIMEOUT;
  finish_call(ch, timeout ? 102 : 111, "stack", nullptr);
}

void R2Stack::on_line_blocked(R2Channel& ch) {
  if (ch.remote_blocked) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ch.remote_blocked = true;
  }
  emit_channel(ch, "remote");
}

void R2Stack::on_line_idle(R2Channel& ch) {
  if (!ch.remote_blocked) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ch.remote_blocked = false;
  }
  emit_channel(ch, "remote");
}

void R2Stack::on_billing_pulse(R2Channel& ch) {
  R2Call* call = call_on(ch);
  if (!call) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++call->metering;
  }
  json ev = call->event("metering");
  ev["pulses"] = call->metering;
  emit(std::move(ev));
}

void R2Stack::openr2_log_line(R2Channel* ch, openr2_log_level_t level, const char* fmt, va_list ap) {
  char text[512];
  std::vsnprintf(text, sizeof text, fmt, ap);
  size_t len = std::strlen(text);
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) text[--len] = '\0';
  json extra = {{"kind", "openr2"}};
  if (ch) {
    extra["span"] = span_;
    extra["channel"] = ch->timeslot;
  }
  log(log_event_level(level), text, std::move(extra));
}

// ---- commands ----------------------------------------------------------------------------------

void R2Stack::check_channel(const json& cmd) const {
  if (!cmd.contains("channel") || cmd["channel"].is_null()) return;
  if (!cmd["channel"].is_number_integer())
    throw EngineError("E_COMMAND_FIELD", "channel", "must be a timeslot number");
  const int ts = cmd["channel"].get<int>();
  if (std::find(timeslots_.begin(), timeslots_.end(), ts) == timeslots_.end())
    throw EngineError("E_CHANNEL_UNKNOWN", "channel",
                      "timeslot " + std::to_string(ts) + " is not a channel of trunk " + name_);
}

json R2Stack::on_check(json& cmd) {
  const std::string op = cmd["op"].get<std::string>();
  if (op == "place") {
    digits_field(cmd, "called", true, OR2_MAX_DNIS - 1);
    digits_field(cmd, "calling", false, OR2_MAX_ANI - 1);
    if (cmd.contains("category") && !cmd["category"].is_null()) {
      openr2_calling_party_category_t c;
      if (!cmd["category"].is_string() || !category_of(cmd["category"].get<std::string>(), c))
        throw EngineError("E_COMMAND_FIELD", "category", "must be one of " + category_list());
      if (c == OR2_CALLING_PARTY_CATEGORY_COLLECT_CALL && variant_ != OR2_VAR_BRAZIL)
        throw EngineError("E_COMMAND_FIELD", "category",
                          "the " + variant_name_ + " variant has no collect-call category signal");
    }
    if (cmd.contains("callingPresentation") && !cmd["callingPresentation"].is_null() &&
        cmd["callingPresentation"] != "allowed" && cmd["callingPresentation"] != "restricted")
      throw EngineError("E_COMMAND_FIELD", "callingPresentation", "must be allowed or restricted");
    if (cmd.contains("cic")) throw EngineError("E_COMMAND_FIELD", "cic", "MFC-R2 has no CIC");
    if (cmd.contains("overlap") && cmd["overlap"] == true)
      throw EngineError("E_COMMAND_FIELD", "overlap",
                        "MFC-R2 sends the whole number in the MF exchange (no overlap sending)");
    check_channel(cmd);
    // calledType, callingType and callingName describe the number; the MF exchange carries
    // digits and a category only, so they have nothing to go into.
    const uint64_t id = engine_.new_call_id();
    cmd["call"] = id;
    engine_.bind_call(id, this);
    return {{"call", id}};
  }
  if (op == "accept" || op == "alert" || op == "progress" || op == "answer") return json::object();
  if (op == "release") {
    cause_field(cmd);
    return json::object();
  }
  if (op == "digits")
    throw EngineError("E_COMMAND_FIELD", "op",
                      "MFC-R2 sends the whole number in the MF exchange; there are no digits "
                      "to send after it");
  if (op == "block" || op == "unblock" || op == "reset") {
    if (cmd.contains("cic") || cmd.contains("lastCic"))
      throw EngineError("E_COMMAND_FIELD", "cic", "MFC-R2 has no CIC");
    check_channel(cmd);
    return json::object();
  }
  throw EngineError("E_COMMAND_FIELD", "op", "\"" + op + "\" is not an MFC-R2 trunk command");
}

void R2Stack::on_command(const json& cmd) {
  const std::string op = cmd["op"].get<std::string>();
  if (op == "place") {
    place(cmd);
    return;
  }
  if (op == "block" || op == "unblock" || op == "reset") {
    const bool one = cmd.contains("channel") && !cmd["channel"].is_null();
    for (auto& ch : channels_) {
      if (one && ch->timeslot != cmd["channel"].get<int>()) continue;
      if (op == "block")
        block(*ch);
      else if (op == "unblock")
        unblock(*ch);
      else
        reset(*ch);
    }
    return;
  }
  const uint64_t id = call_field(cmd);
  R2Call* call = call_by_id(id);
  if (!call) throw EngineError("E_CALL_UNKNOWN", "call", "no call " + std::to_string(id));
  if (op == "release") {
    release(*call, cause_field(cmd));
    return;
  }
  if (call->outgoing)
    throw EngineError("E_CALL_STATE", "op",
                      "\"" + op + "\" is for incoming calls; call " + std::to_string(id) +
                          " is outgoing");
  if (call->state == CallState::kReleasing)
    throw EngineError("E_CALL_STATE", "op", "call " + std::to_string(id) + " is being released");
  if (op == "answer") {
    answer(*call);
  } else {
    // R2 has no separate alerting or progress: accepting the call is what tells the caller
    // that the called party is free (and is being rung).
    accept(*call);
  }
}

void R2Stack::place(const json& cmd) {
  const uint64_t id = cmd["call"].get<uint64_t>();
  R2Call call;
  call.id = id;
  call.outgoing = true;
  call.state = CallState::kDialing;
  call.span = span_;
  call.called = cmd["called"].get<std::string>();
  call.calling = cmd.contains("calling") && cmd["calling"].is_string()
                     ? cmd["calling"].get<std::string>()
                     : "";
  openr2_calling_party_category_t category = category_;
  if (cmd.contains("category") && cmd["category"].is_string())
    category_of(cmd["category"].get<std::string>(), category);
  call.category = category_name(category);
  call.started_ms = now_ms();
  const bool restricted =
      cmd.contains("callingPresentation") && cmd["callingPresentation"] == "restricted";

  const bool chosen = cmd.contains("channel") && cmd["channel"].is_number_integer();
  // openr2 must be idle too: a call it is still clearing has no record of ours.
  auto usable = [](const R2Channel& ch) {
    return !ch.call && !ch.seized && !ch.local_blocked && !ch.remote_blocked && !ch.alarm &&
           !ch.dead && ch.call_state == "Idle";
  };
  // The channels to try, in order: the one asked for, or every channel in hunting order. The
  // two ends of a trunk hunt from opposite ends so they seldom seize the same channel at once.
  std::vector<R2Channel*> order;
  if (chosen) {
    if (R2Channel* c = channel_at(cmd["channel"].get<int>())) order.push_back(c);
  } else {
    const size_t n = channels_.size();
    for (size_t i = 0; i < n; ++i) order.push_back(channels_[hunt_descending_ ? n - 1 - i : i].get());
  }
  for (R2Channel* ch : order) {
    if (!usable(*ch)) continue;
    call.timeslot = ch->timeslot;
    call.channo = ch->channo;
    call.ch = ch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.emplace(id, call);
      ch->call = id;
    }
    set_reading(*ch, true);
    const int r = openr2_chan_make_call(ch->chan, restricted ? nullptr : call.calling.c_str(),
                                        call.called.c_str(), category);
    refresh(*ch);
    if (r == 0) {
      emit(call_by_id(id)->event("dialing"));
      return;
    }
    // openr2 found the line not idle: the far end seized it since we last looked (glare, and
    // openr2 has taken that call, which needs the audio) or blocked it. Try the next one.
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.erase(id);
      ch->call = 0;
    }
    if (!ch->seized) set_reading(*ch, false);
  }
  const int cause = chosen ? 44 : 34;
  engine_.unbind_call(id);
  log("info",
      chosen ? "timeslot " + std::to_string(cmd["channel"].get<int>()) +
                   " is busy, blocked or in alarm"
             : "no free channel on trunk " + name_,
      {{"call", id}});
  json ev = {{"event", "released"}, {"call", id},       {"span", span_},
             {"cause", cause},      {"causeName", cause_name(cause)}, {"by", "stack"}};
  if (chosen) ev["channel"] = cmd["channel"];
  emit(std::move(ev));
}

void R2Stack::accept(R2Call& call) {
  if (call.accept_sent) return;
  if (openr2_chan_accept_call(call.ch->chan,
                              charge_calls_ ? OR2_CALL_WITH_CHARGE : OR2_CALL_NO_CHARGE) != 0)
    throw EngineError("E_CALL_STATE", "op",
                      "openr2 cannot accept call " + std::to_string(call.id) + " now");
  refresh(*call.ch);
  std::lock_guard<std::mutex> lock(mu_);
  call.accept_sent = true;
  call.state = CallState::kProceeding;
}

void R2Stack::answer(R2Call& call) {
  if (call.state == CallState::kAnswered) return;
  accept(call);
  if (!call.mf_done) {
    // openr2 answers only once the far end has heard our accept signal end (the MF exchange is
    // over); on_call_accepted answers then.
    call.answer_pending = true;
    return;
  }
  if (openr2_chan_answer_call(call.ch->chan) != 0)
    throw EngineError("E_CALL_STATE", "op",
                      "openr2 cannot answer call " + std::to_string(call.id) + " now");
  refresh(*call.ch);
  {
    std::lock_guard<std::mutex> lock(mu_);
    call.state = CallState::kAnswered;
    call.answered = true;
  }
  emit(call.event("answered"));
}

void R2Stack::release(R2Call& call, int cause) {
  // Already clearing (ours or the far end's, which openr2 is confirming): nothing more to do.
  if (call.local_release || call.state == CallState::kReleasing) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    call.local_release = true;
    call.cause = cause;
    call.by = "local";
    call.r2cause = nullptr;
    call.state = CallState::kReleasing;
  }
  if (!call.outgoing && call.accept_sent && !call.mf_done) {
    // Our accept signal is still in the compelled cycle; clear once it has ended.
    call.release_pending = true;
    return;
  }
  disconnect(call);
}

void R2Stack::disconnect(R2Call& call) {
  openr2_call_disconnect_cause_t why = OR2_CAUSE_NORMAL_CLEARING;
  if (!call.outgoing && !call.accept_sent) {
    // Refusing an offered call: the cause goes to the caller as a Group B signal.
    why = r2_cause_for(call.cause);
    call.r2cause = r2_cause(why).name;
  } else if (!call.outgoing && (forced_release_ || !call.answered)) {
    // Accepted but not answered: the clear-back line signal (A B = 1 1) is the seizing
    // acknowledgement already on the line, so the caller would see no change and keep waiting
    // for the answer (until its own r2_answer timer), and we for its clear forward. The
    // forced-release signal (A B = 0 0) does clear before the answer: an openr2 caller takes it
    // in every variant while it waits for the answer, and sends clear forward.
    why = OR2_CAUSE_FORCED_RELEASE;
    call.r2cause = r2_cause(why).name;
  }
  R2Channel& ch = *call.ch;
  const uint64_t id = call.id;
  if (openr2_chan_disconnect_call(ch.chan, why) != 0 && call_by_id(id)) {
    // openr2 has no call on the channel any more: nothing to clear on the line.
    finish_call(ch, call.cause, call.by, call.r2cause);
  }
  refresh(ch);
}

void R2Stack::block(R2Channel& ch) {
  if (ch.local_blocked) return;
  if (ch.call || ch.seized) {
    std::lock_guard<std::mutex> lock(mu_);
    ch.block_pending = true;
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ch.block_pending = false;
    ch.local_blocked = true;
  }
  openr2_chan_set_blocked(ch.chan);
  refresh(ch);
  emit_channel(ch, "local");
}

void R2Stack::unblock(R2Channel& ch) {
  if (!ch.local_blocked) {
    std::lock_guard<std::mutex> lock(mu_);
    ch.block_pending = false;
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ch.local_blocked = false;
  }
  openr2_chan_set_idle(ch.chan);
  openr2_chan_handle_cas(ch.chan);
  refresh(ch);
  emit_channel(ch, "local");
  refresh_remote_block(ch);
}

void R2Stack::reset(R2Channel& ch) {
  // Back to idle whatever openr2 thought: a call on the channel is dropped without clearing it
  // on the line (the far end sees IDLE, which is clear forward / clear back enough for R2).
  {
    std::lock_guard<std::mutex> lock(mu_);
    ch.block_pending = false;
    ch.local_blocked = false;
  }
  openr2_chan_set_idle(ch.chan);
  finish_call(ch, 16, "local", nullptr);
  openr2_chan_handle_cas(ch.chan);
  refresh(ch);
  emit_channel(ch, "local");
  refresh_remote_block(ch);
}

// The calls end here; on_close then blocks their channels with the idle ones, which the far end
// sees as the line going away (a clear-back or blocking on its side).
void R2Stack::on_retire(int cause) {
  for (auto& ch : channels_)
    if (ch->call) finish_call(*ch, cause, "stack", nullptr);
}

void R2Stack::on_close() {
  // Idle channels are blocked so the far end stops seizing a trunk nobody serves; channels with
  // a call are left as they are (the engine stops without clearing calls).
  for (auto& ch : channels_)
    if (!ch->call && !ch->seized && !ch->dead) openr2_chan_set_blocked(ch->chan);
  release_resources();
}

json R2Stack::on_snapshot() {
  json channels = json::array();
  for (auto& ch : channels_) {
    auto it = ch->call ? calls_.find(ch->call) : calls_.end();
    const R2Call* call = it == calls_.end() ? nullptr : &it->second;
    json c = {{"span", span_},
              {"channel", ch->timeslot},
              {"dahdiChannel", ch->channo},
              {"state", channel_state(*ch, call)},
              {"r2State", ch->r2_state},
              {"mfState", ch->mf_state},
              {"mfGroup", ch->mf_group},
              {"callState", ch->call_state},
              {"rxCas", ch->rx_cas},
              {"txCas", ch->tx_cas}};
    if (call) c["call"] = call->id;
    if (ch->local_blocked) c["blockedBy"] = "local";
    if (ch->remote_blocked) c["remoteBlocked"] = true;
    if (ch->block_pending) c["blockPending"] = true;
    if (ch->dead) c["dead"] = true;
    channels.push_back(std::move(c));
  }
  json calls = json::array();
  for (const auto& [id, call] : calls_) {
    json c = call.to_json();
    if (call.metering) c["meteringPulses"] = call.metering;
    calls.push_back(std::move(c));
  }
  return {{"links", json::array()},
          {"variant", variant_name_},
          {"alarms", dahdi_alarm_names(span_alarm_bits_)},
          {"channels", channels},
          {"calls", calls}};
}

}  // namespace

std::unique_ptr<Stack> make_r2(Engine& engine, json config, std::string field) {
  return std::make_unique<R2Stack>(engine, std::move(config), std::move(field));
}

}  // namespace switchboard
