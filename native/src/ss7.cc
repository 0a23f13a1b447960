// SPDX-License-Identifier: GPL-2.0-or-later
// SS7 ISUP trunks on libss7: a linkset per trunk, MTP2 relayed and captured between DAHDI and it.
//
// libss7 runs MTP2 in software and does its own read()/write() on the descriptor it is given.
// To see (and capture) every frame, each signalling link hands libss7 one end of an AF_UNIX
// SOCK_SEQPACKET socketpair; this file relays between the other end and the DAHDI HDLC channel:
//
//   DAHDI read (frame + 2 FCS bytes) -> checks, capture -> socket -> ss7_read()
//   ss7_write() -> socket -> capture -> DAHDI write (frame + 2 bytes the hardware fills with FCS)
//
// DAHDI events on the link channel (POLLPRI, or ELAST from read/write) are handled here:
// ALARM/NOALARM become ss7_link_alarm()/ss7_link_noalarm() and an `alarm` event.
//
// libss7 keeps one `struct isup_call` per busy circuit (a call or a maintenance procedure); the
// application owns its lifetime and answers most maintenance messages itself (BLA, GRA, RLC...).
// Everything libss7 calls back (hangup, call_null, not-in-service) arrives inside a libss7 call
// this file made on the trunk thread with mu_ held; hangups are deferred until that call returns,
// as libss7 expects (it keeps using the record after the callback).

#include <dahdi/user.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "calls.h"
#include "dahdi.h"
#include "engine.h"
#include "pcap.h"

extern "C" {
#include <libss7.h>
}

namespace switchboard {
namespace {

// ---- name tables --------------------------------------------------------------------------------

struct Named {
  const char* name;
  int value;
};

// SIO network indicator (Q.704 §14.2.2).
constexpr Named kNetworkIndicators[] = {
    {"international", SS7_NI_INT},
    {"international_spare", SS7_NI_INT_SPARE},
    {"national", SS7_NI_NAT},
    {"national_spare", SS7_NI_NAT_SPARE},
};

// Nature of address indicator (Q.763 §3.9), in the call API's NumberType words.
constexpr Named kNumberTypes[] = {
    {"subscriber", SS7_NAI_SUBSCRIBER},       {"unknown", SS7_NAI_UNKNOWN},
    {"national", SS7_NAI_NATIONAL},           {"international", SS7_NAI_INTERNATIONAL},
    {"network_specific", SS7_NAI_NETWORKROUTED},
};

// Calling party's category (Q.763 §3.11).
constexpr Named kCategories[] = {
    {"unknown", 0x00},          {"operator_french", 0x01},  {"operator_english", 0x02},
    {"operator_german", 0x03},  {"operator_russian", 0x04}, {"operator_spanish", 0x05},
    {"national_operator", 0x09}, {"ordinary", 0x0a},        {"priority", 0x0b},
    {"data", 0x0c},             {"test", 0x0d},             {"payphone", 0x0f},
};

const char* name_of(const Named* table, size_t n, int value, const char* fallback) {
  for (size_t i = 0; i < n; ++i)
    if (table[i].value == value) return table[i].name;
  return fallback;
}

template <size_t N>
const char* name_of(const Named (&table)[N], int value, const char* fallback = "unknown") {
  return name_of(table, N, value, fallback);
}

template <size_t N>
bool value_of(const Named (&table)[N], const std::string& name, int& out) {
  for (const Named& e : table)
    if (name == e.name) {
      out = e.value;
      return true;
    }
  return false;
}

template <size_t N>
std::string names(const Named (&table)[N]) {
  std::string s;
  for (const Named& e : table) s += std::string(s.empty() ? "" : ", ") + e.name;
  return s;
}

// ISUP message types (Q.763 table 4) as logs name them.
const char* isup_name(int type) {
  switch (type) {
    case 0x01: return "IAM";
    case 0x02: return "SAM";
    case 0x03: return "INR";
    case 0x04: return "INF";
    case 0x05: return "COT";
    case 0x06: return "ACM";
    case 0x07: return "CON";
    case 0x09: return "ANM";
    case 0x0c: return "REL";
    case 0x0d: return "SUS";
    case 0x0e: return "RES";
    case 0x10: return "RLC";
    case 0x11: return "CCR";
    case 0x12: return "RSC";
    case 0x13: return "BLO";
    case 0x14: return "UBL";
    case 0x15: return "BLA";
    case 0x16: return "UBA";
    case 0x17: return "GRS";
    case 0x18: return "CGB";
    case 0x19: return "CGU";
    case 0x1a: return "CGBA";
    case 0x1b: return "CGUA";
    case 0x1f: return "FAR";
    case 0x20: return "FAA";
    case 0x21: return "FRJ";
    case 0x24: return "LPA";
    case 0x29: return "GRA";
    case 0x2a: return "CQM";
    case 0x2b: return "CQR";
    case 0x2c: return "CPG";
    case 0x2e: return "UCIC";
    case 0x2f: return "CFN";
    case 0xeb: return "CVR";
    case 0xec: return "CVT";
    default: return "unknown";
  }
}

// ---- call states --------------------------------------------------------------------------------

// Which call states each command and each backward ISUP message acts in (Q.764 set-up, release),
// and the state it leads to. A command outside its states is refused (E_CALL_STATE); a message
// outside its states is logged and ignored.
constexpr unsigned in(CallState s) { return 1u << static_cast<unsigned>(s); }
constexpr unsigned kBeforeAnswer = in(CallState::kOffered) | in(CallState::kProceeding);
constexpr unsigned kWaiting = in(CallState::kDialing) | in(CallState::kProceeding);

struct Transition {
  const char* on;  // a command, or an ISUP message ("CPG/alerting": CPG with event alerting)
  bool incoming;   // applies to incoming calls (else outgoing ones)
  unsigned from;
  CallState to;
  const char* event;  // emitted when a message causes it
};

constexpr Transition kTransitions[] = {
    {"accept", true, in(CallState::kOffered), CallState::kProceeding, nullptr},
    {"alert", true, kBeforeAnswer, CallState::kAlerting, nullptr},
    {"progress", true, kBeforeAnswer, CallState::kProceeding, nullptr},
    {"progress", true, in(CallState::kAlerting), CallState::kAlerting, nullptr},
    {"answer", true, kBeforeAnswer | in(CallState::kAlerting), CallState::kAnswered, nullptr},
    {"release", true, ~in(CallState::kReleasing), CallState::kReleasing, nullptr},
    {"release", false, ~in(CallState::kReleasing), CallState::kReleasing, nullptr},
    {"ACM", false, kWaiting, CallState::kAlerting, "alerting"},
    {"CPG/alerting", false, kWaiting, CallState::kAlerting, "alerting"},
    {"CPG", false, in(CallState::kDialing), CallState::kDialing, "progress"},
    {"CPG", false, in(CallState::kProceeding), CallState::kProceeding, "progress"},
    {"CPG", false, in(CallState::kAlerting), CallState::kAlerting, "progress"},
    {"ANM", false, kWaiting | in(CallState::kAlerting), CallState::kAnswered, "answered"},
    {"CON", false, kWaiting, CallState::kAnswered, "answered"},
};

const Transition* transition(const std::string& on, bool incoming, CallState state) {
  for (const Transition& t : kTransitions)
    if (on == t.on && t.incoming == incoming && (t.from & in(state))) return &t;
  return nullptr;
}

// ---- timers -------------------------------------------------------------------------------------

// Mirror of SS7_TIMERS in src/trunks/ss7.ts, which documents each one. The snapshot reports
// what was applied, and test/ss7.test.ts checks the two tables agree.
struct TimerDef {
  const char* name;  // spec name as configured
  const char* lib;   // libss7's name
  bool mtp3;         // ss7_set_mtp3_timer (else ss7_set_isup_timer)
  int def, min, max;
};
constexpr TimerDef kTimers[] = {
    {"ISUP.T1", "t1", false, 15000, 4000, 60000},
    {"ISUP.T2", "t2", false, 180000, 60000, 300000},
    {"ISUP.T5", "t5", false, 300000, 60000, 900000},
    {"ISUP.T6", "t6", false, 30000, 10000, 120000},
    {"ISUP.T7", "t7", false, 25000, 20000, 30000},
    {"ISUP.T8", "t8", false, 12000, 10000, 15000},
    {"ISUP.T12", "t12", false, 15000, 4000, 60000},
    {"ISUP.T13", "t13", false, 300000, 60000, 900000},
    {"ISUP.T14", "t14", false, 15000, 4000, 60000},
    {"ISUP.T15", "t15", false, 300000, 60000, 900000},
    {"ISUP.T16", "t16", false, 15000, 4000, 60000},
    {"ISUP.T17", "t17", false, 300000, 60000, 900000},
    {"ISUP.T18", "t18", false, 15000, 4000, 60000},
    {"ISUP.T19", "t19", false, 300000, 60000, 900000},
    {"ISUP.T20", "t20", false, 15000, 4000, 60000},
    {"ISUP.T21", "t21", false, 300000, 60000, 900000},
    {"ISUP.T22", "t22", false, 15000, 4000, 60000},
    {"ISUP.T23", "t23", false, 300000, 60000, 900000},
    {"ISUP.T27", "t27", false, 240000, 180000, 600000},
    {"ISUP.T35", "t35", false, 15000, 10000, 20000},
    {"MTP3.T1", "t1", true, 800, 500, 1200},
    {"MTP3.T2", "t2", true, 1400, 700, 2000},
    {"MTP3.T3", "t3", true, 800, 500, 1200},
    {"MTP3.T4", "t4", true, 800, 500, 1200},
    {"MTP3.T5", "t5", true, 800, 500, 1200},
    {"MTP3.T6", "t6", true, 800, 500, 1200},
    {"MTP3.T10", "t10", true, 30000, 30000, 60000},
    {"MTP3.T12", "t12", true, 1000, 800, 1500},
    {"MTP3.T13", "t13", true, 1000, 800, 1500},
    {"MTP3.T14", "t14", true, 2000, 2000, 3000},
    {"MTP3.T19", "t19", true, 68000, 67000, 69000},
    {"MTP3.T21", "t21", true, 64000, 63000, 65000},
    {"MTP3.T22", "t22", true, 180000, 180000, 360000},
    {"MTP3.T23", "t23", true, 180000, 180000, 360000},
    {"Q707.T1", "q707_t1", true, 8000, 4000, 12000},
    {"Q707.T2", "q707_t2", true, 60000, 30000, 90000},
};

// ---- constants ----------------------------------------------------------------------------------

constexpr int kItuMaxPointcode = 16383;     // 14 bits (Q.704 §2.2.2)
constexpr int kAnsiMaxPointcode = 16777215;  // 24 bits (T1.111)
constexpr int kItuMaxCic = 4095;            // 12 bits (Q.763 §1.2)
constexpr int kAnsiMaxCic = 16383;          // 14 bits (T1.113)
constexpr int kMaxLinks = 8;                // SS7_MAX_LINKS in libss7
constexpr int kGroupMax = 32;               // CICs one GRS/CGB/CGU can cover (range 0..31)
constexpr int kCauseTemporaryFailure = 41;  // what a reset, a lost record or a lost link clear with
constexpr int kCauseCongestion = 34;        // dual seizure lost: try another circuit
constexpr int kCauseUnavailable = 44;       // the far end has no such circuit (UCIC)

// HDLC buffers of the link channel: one frame per buffer (an SU is at most 279 octets + FCS).
constexpr int kHdlcBufs = 32;
constexpr int kHdlcBufSize = 512;

// An idle line repeats the last FISU or LSSU. A hardware MTP2 sends one back to back; libss7's
// software MTP2 has no error-rate monitor that needs that, so an unchanged FISU/LSSU is repeated
// every kIdleRepeatMs and HDLC flags fill the gaps (Q.703 lets flags repeat between signal units).
// A changed one (a new BSN, a NACK, an LSSU of alignment) goes out at once. This keeps two
// software links from exchanging ~1300 frames a second each for nothing.
constexpr int64_t kIdleRepeatMs = 10;
// Bounds on the work one poll wake-up does for a link, so commands and timers keep their turn.
constexpr int kMaxRxPerWake = 64;
constexpr int kMaxTxPerWake = 64;

// ---- SU and ISUP sanity -------------------------------------------------------------------------

// The signal unit checks of Q.703 (length indicator against length, at most 272 octets of SIF)
// that libss7 leaves out: like an SU with a bad FCS, an errored SU is discarded.
// Returns why the SU (without FCS) is not acceptable, nullptr when it is.
const char* su_defect(const uint8_t* su, size_t len) {
  if (len < 3) return "shorter than an MTP2 header";
  const size_t li = su[2] & 0x3f;
  const size_t sif = len - 3;  // SIO + SIF, or the LSSU status
  if (sif > 273) return "longer than 273 octets of SIO and SIF";
  if (li < 63 && sif != li) return "length indicator does not match the length";
  if (li == 63 && sif < 63) return "length indicator 63 on a short SU";
  return nullptr;
}

struct IsupShape {
  uint8_t type;
  uint8_t fixed;  // mandatory fixed part, octets
  uint8_t vars;   // mandatory variable parameters
  bool opt;       // has an optional part pointer
  uint8_t var_ids[2];
};

// The message layouts of Q.763 table 3 for the messages libss7 parses (its `messages[]` list).
constexpr IsupShape kIsupShapes[] = {
    {0x01, 5, 1, true, {0x04, 0}},   // IAM (ITU; ANSI: see isup_defect)
    {0x02, 0, 1, true, {0x05, 0}},   // SAM
    {0x03, 2, 0, false, {0, 0}},     // INR
    {0x04, 2, 0, true, {0, 0}},      // INF
    {0x05, 1, 0, false, {0, 0}},     // COT
    {0x06, 2, 0, true, {0, 0}},      // ACM
    {0x07, 2, 0, true, {0, 0}},      // CON
    {0x09, 0, 0, true, {0, 0}},      // ANM
    {0x0c, 0, 1, true, {0x12, 0}},   // REL
    {0x0d, 1, 0, true, {0, 0}},      // SUS
    {0x0e, 1, 0, true, {0, 0}},      // RES
    {0x10, 0, 0, true, {0, 0}},      // RLC (ANSI: no optional part)
    {0x11, 0, 0, false, {0, 0}},     // CCR
    {0x12, 0, 0, false, {0, 0}},     // RSC
    {0x13, 0, 0, false, {0, 0}},     // BLO
    {0x14, 0, 0, false, {0, 0}},     // UBL
    {0x15, 0, 0, false, {0, 0}},     // BLA
    {0x16, 0, 0, false, {0, 0}},     // UBA
    {0x17, 0, 1, false, {0x16, 0}},  // GRS (ANSI: optional part)
    {0x18, 1, 1, false, {0x16, 0}},  // CGB
    {0x19, 1, 1, false, {0x16, 0}},  // CGU
    {0x1a, 1, 1, false, {0x16, 0}},  // CGBA
    {0x1b, 1, 1, false, {0x16, 0}},  // CGUA
    {0x1f, 1, 0, true, {0, 0}},      // FAR
    {0x20, 1, 0, true, {0, 0}},      // FAA
    {0x21, 1, 0, true, {0, 0}},      // FRJ
    {0x24, 0, 0, false, {0, 0}},     // LPA
    {0x29, 0, 1, false, {0x16, 0}},  // GRA (ANSI: optional part)
    {0x2a, 0, 1, false, {0x16, 0}},  // CQM
    {0x2b, 0, 2, false, {0x16, 0x26}},  // CQR
    {0x2c, 1, 0, true, {0, 0}},      // CPG
    {0x2e, 0, 0, false, {0, 0}},     // UCIC
    {0x2f, 0, 1, true, {0x12, 0}},   // CFN
    {0xeb, 0, 0, false, {0, 0}},     // CVR
    {0xec, 0, 0, false, {0, 0}},     // CVT
};

// Length limits (octets) of the parameters libss7 copies into fixed buffers: numbers go to
// 64-character strings, the generic name to 16 octets, the range to a 255-entry status array.
bool param_defect(int id, int msgtype, const uint8_t* p, size_t len, std::string& why) {
  auto bad = [&](const char* what) {
    char b[96];
    std::snprintf(b, sizeof b, "parameter 0x%02x %s (%zu octets)", id, what, len);
    why = b;
    return true;
  };
  switch (id) {
    case 0x04: case 0x0a: case 0x0b: case 0x0c: case 0x21:  // called, calling, redirecting,
    case 0x28: case 0x3f: case 0xe4: case 0xeb:             // redirection, connected, original
      if (len < 2 || len > 31) return bad("has a bad length");  // called, location, LSPI, charge
      return false;
    case 0x05: case 0xc1: case 0xc4:  // subsequent number, generic digits, JIP
      if (len < 1 || len > 31) return bad("has a bad length");
      return false;
    case 0xc0:  // generic address
      if (len < 3 || len > 31) return bad("has a bad length");
      return false;
    case 0xc7:  // generic name
      if (len < 1 || len > 16) return bad("has a bad length");
      return false;
    case 0x12:  // cause
      if (len < 2) return bad("is too short");
      return false;
    case 0x16: {  // range and status
      if (len < 1) return bad("is empty");
      const int range = p[0];
      if (range > kGroupMax - 1) return bad("has a range over 31");
      const bool status = msgtype != 0x17 && msgtype != 0x2a && msgtype != 0x2b;
      if (status && len < 1 + static_cast<size_t>((range + 8) / 8)) return bad("lacks status bits");
      return false;
    }
    default:
      return false;
  }
}

// Why an ISUP message (CIC onwards) would make libss7 read or write out of bounds, or nullptr.
// Only the structure is checked (pointers, lengths, the parameters libss7 copies); meaning is
// left to libss7. Message types libss7 does not know it refuses by itself.
std::string isup_defect(const uint8_t* m, size_t len, bool ansi) {
  if (len < 3) return "shorter than a CIC and a message type";
  const int type = m[2];
  const IsupShape* shape = nullptr;
  for (const IsupShape& s : kIsupShapes)
    if (s.type == type) shape = &s;
  if (!shape) return {};
  int fixed = shape->fixed, vars = shape->vars;
  bool opt = shape->opt;
  uint8_t ids[2] = {shape->var_ids[0], shape->var_ids[1]};
  if (ansi && type == 0x01) {
    fixed = 4;
    vars = 2;
    ids[0] = 0x1d;  // user service information
    ids[1] = 0x04;  // called party number
  } else if (ansi && type == 0x10) {
    opt = false;
  } else if (ansi && (type == 0x17 || type == 0x29)) {
    opt = true;
  }
  std::string why;
  const std::string name = isup_name(type);
  size_t pos = 3 + static_cast<size_t>(fixed);
  if (len < pos) return name + ": mandatory fixed part cut short";
  const size_t ptrs = pos;
  if (len < ptrs + static_cast<size_t>(vars) + (opt ? 1 : 0))
    return name + ": parameter pointers cut short";
  for (int i = 0; i < vars; ++i) {
    const size_t at = ptrs + static_cast<size_t>(i);
    if (m[at] == 0) return name + ": mandatory variable parameter missing";
    const size_t p = at + m[at];
    if (p >= len || p + 1 + m[p] > len) return name + ": variable parameter runs past the end";
    if (param_defect(ids[i], type, m + p + 1, m[p], why)) return name + ": " + why;
  }
  if (!opt) return {};
  const size_t at = ptrs + static_cast<size_t>(vars);
  if (m[at] == 0) return {};
  size_t p = at + m[at];
  while (p < len && m[p] != 0) {
    if (p + 2 > len || p + 2 + m[p + 1] > len)
      return name + ": optional parameter runs past the end";
    if (param_defect(m[p], type, m + p + 2, m[p + 1], why)) return name + ": " + why;
    p += 2 + m[p + 1];
  }
  return {};
}

// ---- libss7 glue --------------------------------------------------------------------------------

class Ss7Stack;

std::mutex g_registry_mu;
std::map<const ::ss7*, Ss7Stack*>& registry() {
  static std::map<const ::ss7*, Ss7Stack*> m;
  return m;
}

Ss7Stack* stack_of(const ::ss7* s) {
  std::lock_guard<std::mutex> lock(g_registry_mu);
  auto it = registry().find(s);
  return it == registry().end() ? nullptr : it->second;
}

// ss7_show_linkset() prints through a callback; it is the only public view of per-link MTP2 and
// MTP3 state, so the linkset report is read back from it.
thread_local std::string* g_report = nullptr;

__attribute__((format(printf, 2, 3))) void report_printf(int, const char* fmt, ...) {
  if (!g_report) return;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  g_report->append(buf);
}

void install_callbacks();

// ---- the stack ----------------------------------------------------------------------------------

class Ss7Stack final : public Stack {
 public:
  Ss7Stack(Engine& engine, json config, std::string field);
  ~Ss7Stack() override;

  void open() override;
  bool trace_params(int span, int& linktype, bool& network) const override;

  // libss7 callbacks.
  void lib_log(const char* level, const char* text);
  int lib_hangup(int cic, unsigned dpc, int cause, int action);
  void lib_call_null(isup_call* c);
  void lib_not_in_service(int cic, unsigned dpc);

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

 private:
  struct Link {
    int index = 0;
    int span = 0, timeslot = 0, slc = 0, channo = 0;
    int dahdi = -1;  // the HDLC channel
    int mine = -1;   // our end of the socketpair
    int lib = -1;    // libss7's end
    std::vector<uint8_t> held;     // an SU the channel had no room for yet
    std::vector<uint8_t> last_tx;  // the last SU written to the line
    std::vector<uint8_t> cap_last[2];  // the last frame captured per direction (0 rx, 1 tx)
    int64_t next_idle_ms = 0;
    int poll_slot = -1;
    // State reported in the snapshot (mu_).
    bool alarm = false;
    std::vector<std::string> alarms;
    std::string mtp2 = "IDLE";  // libss7's MTP2 state name
    bool slt = false;           // Q.707 signalling link test passed
    bool up = false;            // last reported by a `link` event
    uint64_t rx_frames = 0, tx_frames = 0, overruns = 0, bad_frames = 0;
  };

  struct Circuit {
    int cic = 0, span = 0, timeslot = 0, channo = 0, group = 0;
    isup_call* rec = nullptr;  // libss7's record for this CIC (call or maintenance)
    uint64_t call = 0;
    bool local_blocked = false, remote_blocked = false;
    bool resetting = false;  // RSC or GRS sent, waiting for RLC or GRA
    int grs_last = 0;        // our GRS from this CIC to grs_last is waiting for GRA
    std::string shown;       // last state reported by a `channel` event
    std::string shown_by;
  };

  struct Ss7Call {
    Call c;
    bool iam_sent = false, acm_sent = false;
    bool offered = false;   // incoming: `offered` was emitted (after COT when one was asked)
    bool cot_wait = false;  // incoming: IAM asked for a continuity check, COT not in yet
    bool released = false;  // REL sent by us
    int release_cause = 16;
    std::string release_by = "local";
    std::string called_type, calling_type, presentation;
  };

  struct Deferred {
    int cic, cause, action;
  };

  // Configuration.
  void parse_config();
  unsigned pointcode_field(const char* key);
  void apply_timers();
  void cleanup();

  // Lines.
  void rx(Link& l);
  void rx_frame(Link& l, uint8_t* f, size_t n);
  void pump_tx(Link& l);
  bool line_write(Link& l, const uint8_t* f, size_t n);
  void link_events(Link& l);
  void capture_frame(Link& l, bool sent, const uint8_t* f, size_t len);
  void bad_frame(Link& l, const std::string& what);
  void refresh_links();
  void pump_all();

  // libss7 events and our answers.
  void process();
  void handle(ss7_event* e);
  Circuit* circuit(int cic);
  bool in_our_grs(int cic);
  Circuit* circuit_from(const char* msg, int cic, unsigned opc, isup_call* rec);
  void settle(Circuit& c);
  void touch(Circuit& c);
  void touch_all();
  Ss7Call* call_of(Circuit& c);
  void finish_call(Circuit& c, int cause, const char* by);
  void run_deferred();
  void linkset_up();
  void linkset_down();
  void on_iam(ss7_event_iam& e);
  void on_rel(ss7_event_rel& e);
  void on_rlc(ss7_event_cic& e);

  // Maintenance.
  isup_call* record(Circuit& c);
  isup_call* fresh_record(Circuit& c);
  void reset_circuit(Circuit& c, const char* by);
  void group_reset(int first, int last, const char* by);
  void block(Circuit& c, bool on);
  void group_block(int first, int last, bool on);
  std::vector<std::pair<int, int>> groups() const;
  void maintenance(const json& cmd);

  // Commands.
  void place(const json& cmd);
  void call_command(const json& cmd);
  [[noreturn]] void throw_state(const std::string& op, const Ss7Call& call);
  void check_place(json& cmd);
  void check_maintenance(json& cmd);

  int switchtype_ = SS7_ITU;
  std::string variant_ = "itu";
  unsigned pc_ = 0, adjpc_ = 0;
  int ni_ = SS7_NI_NAT;
  std::string ni_name_ = "national";
  bool reset_on_start_ = true;
  int max_cic_ = kItuMaxCic;
  std::vector<std::pair<std::string, int>> timers_;

  std::vector<Link> links_;
  std::vector<Circuit> circuits_;
  std::map<int, size_t> by_cic_;
  std::map<uint64_t, Ss7Call> calls_;
  std::vector<Deferred> deferred_;
  ::ss7* ss7_ = nullptr;
  bool linkset_up_ = false;
  bool links_dirty_ = true;
  bool tx_more_ = false;
  bool closing_ = false;
  bool quiet_ = false;  // timer set-up chatter from libss7 is not logged
  size_t next_pick_ = 0;
};

// ---- configuration ------------------------------------------------------------------------------

Ss7Stack::Ss7Stack(Engine& engine, json config, std::string field)
    : Stack(engine, std::move(config), std::move(field)) {
  parse_config();
}

Ss7Stack::~Ss7Stack() {
  stop();
  cleanup();
}

unsigned Ss7Stack::pointcode_field(const char* key) {
  const std::string field = field_ + "." + key;
  if (!config_.contains(key)) throw EngineError("E_CONFIG_FIELD", field, "is required");
  const json& v = config_[key];
  const int max = switchtype_ == SS7_ITU ? kItuMaxPointcode : kAnsiMaxPointcode;
  if (v.is_number_integer()) {
    const int64_t n = v.get<int64_t>();
    if (n < 0 || n > max)
      throw EngineError("E_CONFIG_FIELD", field,
                        std::to_string(n) + " is out of range for " + variant_ +
                            " point codes (0.." + std::to_string(max) + ")");
    return static_cast<unsigned>(n);
  }
  if (v.is_string() && switchtype_ == SS7_ANSI) {
    unsigned a, b, c;
    char tail;
    if (std::sscanf(v.get<std::string>().c_str(), "%u-%u-%u%c", &a, &b, &c, &tail) == 3 &&
        a < 256 && b < 256 && c < 256)
      return (a << 16) | (b << 8) | c;
    throw EngineError("E_CONFIG_FIELD", field,
                      "\"" + v.get<std::string>() +
                          "\" is not an ANSI point code (network-cluster-member, each 0..255)");
  }
  throw EngineError("E_CONFIG_FIELD", field,
                    variant_ == "itu" ? "an ITU point code is a number (0..16383)"
                                      : "must be a number or \"a-b-c\"");
}

void Ss7Stack::parse_config() {
  variant_ = string_field(config_, "variant", field_);
  if (variant_ == "china")
    throw EngineError("E_CONFIG_FIELD", field_ + ".variant",
                      "china (24-bit ITU point codes) is a known gap: libss7 2.0 codes ITU point "
                      "codes in 14 bits");
  if (variant_ == "itu") {
    switchtype_ = SS7_ITU;
    max_cic_ = kItuMaxCic;
  } else if (variant_ == "ansi") {
    switchtype_ = SS7_ANSI;
    max_cic_ = kAnsiMaxCic;
  } else {
    throw EngineError("E_CONFIG_FIELD", field_ + ".variant",
                      "\"" + variant_ + "\" is not itu or ansi");
  }
  pc_ = pointcode_field("pointcode");
  adjpc_ = pointcode_field("adjacentPointcode");
  if (pc_ == adjpc_)
    throw EngineError("E_CONFIG_FIELD", field_ + ".adjacentPointcode",
                      "is our own point code: the adjacent signalling point must be another one");
  ni_name_ = string_field(config_, "networkIndicator", field_, "national");
  if (!value_of(kNetworkIndicators, ni_name_, ni_))
    throw EngineError("E_CONFIG_FIELD", field_ + ".networkIndicator",
                      "\"" + ni_name_ + "\" is not one of " + names(kNetworkIndicators));
  reset_on_start_ = bool_field(config_, "resetOnStart", field_, true);
  const std::string continuity = string_field(config_, "continuity", field_, "none");
  if (continuity == "required")
    throw EngineError("E_CONFIG_FIELD", field_ + ".continuity",
                      "required is a known gap: libss7 2.0 cannot ask for a continuity check in "
                      "an IAM nor send COT");
  if (continuity != "none")
    throw EngineError("E_CONFIG_FIELD", field_ + ".continuity",
                      "\"" + continuity + "\" is not none or required");

  // Signalling links.
  if (!config_.contains("links") || !config_["links"].is_array() || config_["links"].empty())
    throw EngineError("E_CONFIG_FIELD", field_ + ".links", "must list at least one link");
  if (config_["links"].size() > kMaxLinks)
    throw EngineError("E_CONFIG_FIELD", field_ + ".links",
                      "libss7 takes at most " + std::to_string(kMaxLinks) + " links per linkset");
  std::set<int> slcs;
  for (size_t i = 0; i < config_["links"].size(); ++i) {
    const json& lc = config_["links"][i];
    const std::string path = field_ + ".links[" + std::to_string(i) + "]";
    Link l;
    l.index = static_cast<int>(i);
    l.span = int_field(lc, "span", path, 1, DAHDI_MAX_SPANS - 1);
    l.timeslot = int_field(lc, "timeslot", path, 1, 31, -1);
    l.slc = int_field(lc, "slc", path, 0, 15, static_cast<int>(i));
    if (!slcs.insert(l.slc).second)
      throw EngineError("E_CONFIG_FIELD", path + ".slc",
                        "SLC " + std::to_string(l.slc) + " is used by another link");
    links_.push_back(l);
  }

  // Bearer circuits: CICs follow the listed timeslots in order from firstCic.
  if (!config_.contains("cics") || !config_["cics"].is_array() || config_["cics"].empty())
    throw EngineError("E_CONFIG_FIELD", field_ + ".cics", "must list at least one CIC range");
  for (size_t g = 0; g < config_["cics"].size(); ++g) {
    const json& cc = config_["cics"][g];
    const std::string path = field_ + ".cics[" + std::to_string(g) + "]";
    const int span = int_field(cc, "span", path, 1, DAHDI_MAX_SPANS - 1);
    const int first = int_field(cc, "firstCic", path, 0, max_cic_);
    std::vector<int> slots;
    if (cc.contains("timeslots")) {
      slots = list_field(cc, "timeslots", path, 1, 31);
    } else {
      // Every timeslot but the link timeslots; open() trims the list to the span's size.
      for (int ts = 1; ts <= 31; ++ts) slots.push_back(ts);
    }
    for (int ts : slots) {
      Circuit c;
      c.cic = first;  // numbered in open(), once the default lists are trimmed to the span
      c.span = span;
      c.timeslot = ts;
      c.group = static_cast<int>(g);
      circuits_.push_back(c);
    }
  }
  for (const Link& l : links_)
    if (std::find(spans_.begin(), spans_.end(), l.span) == spans_.end()) spans_.push_back(l.span);
  for (const Circuit& c : circuits_)
    if (std::find(spans_.begin(), spans_.end(), c.span) == spans_.end()) spans_.push_back(c.span);

  // Timers: defaults, then the overrides, each within its range.
  std::map<std::string, int> chosen;
  for (const TimerDef& t : kTimers) chosen[t.name] = t.def;
  if (config_.contains("timers") && !config_["timers"].is_null()) {
    const json& tm = config_["timers"];
    if (!tm.is_object())
      throw EngineError("E_CONFIG_FIELD", field_ + ".timers", "must map timer names to ms");
    for (auto it = tm.begin(); it != tm.end(); ++it) {
      const TimerDef* def = nullptr;
      for (const TimerDef& t : kTimers)
        if (it.key() == t.name) def = &t;
      const std::string path = field_ + ".timers." + it.key();
      if (!def) throw EngineError("E_CONFIG_FIELD", path, "is not a known ISUP/MTP3/Q.707 timer");
      chosen[def->name] = int_field(tm, it.key().c_str(), field_ + ".timers", def->min, def->max);
    }
  }
  for (const TimerDef& t : kTimers) timers_.emplace_back(t.name, chosen[t.name]);
}

void Ss7Stack::open() {
  install_callbacks();
  // Links: the hardhdlc channel and the socketpair libss7 reads and writes.
  for (Link& l : links_) {
    const std::string path = field_ + ".links[" + std::to_string(l.index) + "]";
    const int base = dahdi_basechan(l.span, path + ".span");
    const int size = dahdi_span_channels(l.span);
    if (l.timeslot < 0) l.timeslot = size == 24 ? 24 : 16;
    if (l.timeslot > size)
      throw EngineError("E_CONFIG_FIELD", path + ".timeslot",
                        "timeslot " + std::to_string(l.timeslot) + " does not exist on a " +
                            std::to_string(size) + "-channel span");
    l.channo = base + l.timeslot - 1;
    l.dahdi = dahdi_open(l.channo, path + ".timeslot");
    // mtp2= is not taken: DAHDI then filters repeated FISUs itself, for libss7's other transport.
    dahdi_require_hdlc(l.dahdi, l.channo, path + ".timeslot",
                       "an MTP2 link needs hardhdlc= in system.conf");
    dahdi_set_hdlc_bufs(l.dahdi, kHdlcBufs, kHdlcBufSize, path + ".timeslot");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
      throw EngineError("E_ENGINE", path, std::string("socketpair: ") + std::strerror(errno));
    l.mine = sv[0];
    l.lib = sv[1];
  }
  // Circuits: trim the default "every timeslot" lists to the span, without link timeslots.
  std::vector<Circuit> kept;
  std::map<int, int> next_cic;
  for (size_t g = 0; g < config_["cics"].size(); ++g)
    next_cic[static_cast<int>(g)] = config_["cics"][g]["firstCic"].get<int>();
  std::map<int, std::pair<int, int>> spans;  // span -> first DAHDI channel, channels
  for (Circuit& c : circuits_) {
    const std::string path = field_ + ".cics[" + std::to_string(c.group) + "]";
    if (!spans.count(c.span))
      spans[c.span] = {dahdi_basechan(c.span, path + ".span"), dahdi_span_channels(c.span)};
    const auto [base, size] = spans[c.span];
    const bool listed = config_["cics"][c.group].contains("timeslots");
    bool is_link = false;
    for (const Link& l : links_)
      if (l.span == c.span && l.timeslot == c.timeslot) is_link = true;
    if (!listed && (c.timeslot > size || is_link)) continue;
    if (c.timeslot > size)
      throw EngineError("E_CONFIG_FIELD", path + ".timeslots",
                        "timeslot " + std::to_string(c.timeslot) + " does not exist on a " +
                            std::to_string(size) + "-channel span");
    if (is_link) {
      for (const Link& l : links_)
        if (l.span == c.span && l.timeslot == c.timeslot)
          throw EngineError("E_CONFIG_FIELD",
                            field_ + ".links[" + std::to_string(l.index) + "].timeslot",
                            "span " + std::to_string(c.span) + " timeslot " +
                                std::to_string(c.timeslot) +
                                " is also a bearer circuit (cics[" + std::to_string(c.group) +
                                "].timeslots)");
    }
    c.cic = next_cic[c.group]++;
    if (c.cic > max_cic_)
      throw EngineError("E_CONFIG_FIELD", path + ".firstCic",
                        "CIC " + std::to_string(c.cic) + " is past " + std::to_string(max_cic_) +
                            ", the highest " + variant_ + " CIC");
    c.channo = base + c.timeslot - 1;
    kept.push_back(c);
  }
  circuits_ = std::move(kept);
  std::map<std::pair<int, int>, int> slot_owner;
  for (size_t i = 0; i < circuits_.size(); ++i) {
    const Circuit& c = circuits_[i];
    const std::string path = field_ + ".cics[" + std::to_string(c.group) + "]";
    auto [it, fresh] = by_cic_.emplace(c.cic, i);
    if (!fresh)
      throw EngineError("E_CONFIG_FIELD", path + ".firstCic",
                        "CIC " + std::to_string(c.cic) + " overlaps cics[" +
                            std::to_string(circuits_[it->second].group) + "]");
    auto [st, sfresh] = slot_owner.emplace(std::make_pair(c.span, c.timeslot), c.group);
    if (!sfresh)
      throw EngineError("E_CONFIG_FIELD", path + ".timeslots",
                        "span " + std::to_string(c.span) + " timeslot " +
                            std::to_string(c.timeslot) + " is already a circuit of cics[" +
                            std::to_string(st->second) + "]");
  }
  std::sort(circuits_.begin(), circuits_.end(),
            [](const Circuit& a, const Circuit& b) { return a.cic < b.cic; });
  by_cic_.clear();
  for (size_t i = 0; i < circuits_.size(); ++i) by_cic_[circuits_[i].cic] = i;
  for (const Link& l : links_) dahdi_channels_.push_back(l.channo);
  for (const Circuit& c : circuits_) dahdi_channels_.push_back(c.channo);

  // The linkset.
  ss7_ = ss7_new(switchtype_);
  if (!ss7_) throw EngineError("E_ENGINE", field_, "ss7_new failed");
  {
    std::lock_guard<std::mutex> lock(g_registry_mu);
    registry()[ss7_] = this;
  }
  ss7_set_pc(ss7_, pc_);
  ss7_set_network_ind(ss7_, ni_);
  for (Link& l : links_)
    if (ss7_add_link(ss7_, SS7_TRANSPORT_DAHDIDCHAN, l.lib, l.slc, adjpc_) < 0)
      throw EngineError("E_ENGINE", field_ + ".links[" + std::to_string(l.index) + "]",
                        "ss7_add_link refused the link");
  apply_timers();
  ss7_start(ss7_);
  // A span already in alarm sends no ALARM event: tell libss7 now.
  for (Link& l : links_) {
    const int bits = dahdi_span_alarm_bits(l.span);
    if (bits > 0 && (bits & ~DAHDI_ALARM_NOTOPEN)) {
      l.alarm = true;
      l.alarms = dahdi_alarm_names(bits);
      ss7_link_alarm(ss7_, l.lib);
    }
  }
  touch_all();
}

// Every timer is set. libss7 leaves the ISUP timers at 0, which means "never started", and the
// MTP3 ones at 0 too, although it starts several of those (T1, T3, T6, T10, T22, T23) without
// checking: at 0 they would run out at once.
void Ss7Stack::apply_timers() {
  quiet_ = true;
  for (const auto& [name, ms] : timers_) {
    for (const TimerDef& t : kTimers) {
      if (name != t.name) continue;
      std::string lib = t.lib;  // libss7 takes a char*
      if (t.mtp3)
        ss7_set_mtp3_timer(ss7_, lib.data(), ms);
      else
        ss7_set_isup_timer(ss7_, lib.data(), ms);
    }
  }
  quiet_ = false;
}

// ss7_destroy() frees the calls and the linkset but, in libss7 2.0, not the links and adjacent
// points (its loops test `i > numlinks`): a few kilobytes per trunk are left at engine stop.
void Ss7Stack::cleanup() {
  if (ss7_) {
    closing_ = true;
    ss7_destroy(ss7_);
    std::lock_guard<std::mutex> lock(g_registry_mu);
    registry().erase(ss7_);
    ss7_ = nullptr;
  }
  for (Link& l : links_) {
    for (int* fd : {&l.dahdi, &l.mine, &l.lib}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
  }
}

bool Ss7Stack::trace_params(int span, int& linktype, bool& network) const {
  for (const Link& l : links_)
    if (l.span == span) {
      linktype = kLinktypeMtp2WithPhdr;
      network = false;
      return true;
    }
  return false;
}

// ---- the line -----------------------------------------------------------------------------------

void Ss7Stack::on_poll_set(std::vector<pollfd>& fds) {
  for (Link& l : links_) {
    l.poll_slot = static_cast<int>(fds.size());
    short ev = POLLIN | POLLPRI;
    if (!l.held.empty()) ev |= POLLOUT;
    fds.push_back({l.dahdi, ev, 0});
  }
}

int Ss7Stack::on_timeout() {
  if (tx_more_) return 0;
  const int64_t now = now_ms();
  int64_t wait = -1;
  for (const Link& l : links_) {
    const int64_t w = std::max<int64_t>(0, l.next_idle_ms - now);
    if (wait < 0 || w < wait) wait = w;
  }
  if (ss7_) {
    if (timeval* next = ss7_schedule_next(ss7_)) {
      timeval tv;
      gettimeofday(&tv, nullptr);
      const int64_t ms = (static_cast<int64_t>(next->tv_sec) - tv.tv_sec) * 1000 +
                         (static_cast<int64_t>(next->tv_usec) - tv.tv_usec + 999) / 1000;
      const int64_t w = std::max<int64_t>(0, ms);
      if (wait < 0 || w < wait) wait = w;
    }
  }
  return static_cast<int>(std::min<int64_t>(wait, 1000));
}

void Ss7Stack::on_poll(const std::vector<pollfd>& fds) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Link& l : links_) {
    if (l.poll_slot < 0 || static_cast<size_t>(l.poll_slot) >= fds.size()) continue;
    const short re = fds[static_cast<size_t>(l.poll_slot)].revents;
    if (re & POLLPRI) link_events(l);
    if (re & POLLIN) rx(l);
  }
  process();
  pump_all();
}

void Ss7Stack::on_timers() {
  if (!ss7_) return;
  bool due = false;
  if (timeval* next = ss7_schedule_next(ss7_)) {
    timeval tv;
    gettimeofday(&tv, nullptr);
    due = next->tv_sec < tv.tv_sec || (next->tv_sec == tv.tv_sec && next->tv_usec <= tv.tv_usec);
  }
  bool idle = tx_more_;
  const int64_t now = now_ms();
  for (const Link& l : links_) idle = idle || now >= l.next_idle_ms;
  if (!due && !idle) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (due) {
    ss7_schedule_run(ss7_);
    links_dirty_ = true;  // alignment, proving and SLT timers change link states silently
    process();
  }
  pump_all();
}

void Ss7Stack::pump_all() {
  tx_more_ = false;
  for (Link& l : links_) pump_tx(l);
}

void Ss7Stack::rx(Link& l) {
  uint8_t buf[1024];
  for (int i = 0; i < kMaxRxPerWake; ++i) {
    const ssize_t n = read(l.dahdi, buf, sizeof buf);
    if (n < 0) {
      if (errno == ELAST) {
        link_events(l);
        continue;
      }
      if (errno != EAGAIN && errno != EINTR)
        log("error", "span " + std::to_string(l.span) + " link read: " + std::strerror(errno));
      return;
    }
    if (n == 0) return;
    rx_frame(l, buf, static_cast<size_t>(n));
  }
}

void Ss7Stack::rx_frame(Link& l, uint8_t* f, size_t n) {
  ++l.rx_frames;
  if (n < 2) {
    bad_frame(l, "an MTP2 frame of " + std::to_string(n) + " octets");
    return;
  }
  const size_t len = n - 2;  // without the FCS
  capture_frame(l, false, f, len);
  if (const char* why = su_defect(f, len)) {
    bad_frame(l, std::string("MTP2 SU discarded: ") + why);
    return;
  }
  if ((f[2] & 0x3f) >= 3) {
    // An MSU: the SIO, the routing label, then the user part.
    const size_t rl = switchtype_ == SS7_ANSI ? 7 : 4;
    uint8_t* sio = f + 3;
    const size_t msu = len - 3;
    const int si = *sio & 0x0f;
    std::string why;
    if (msu < 1 + rl + 1) {
      why = "MSU shorter than a routing label";
    } else if (si == 5) {
      why = isup_defect(sio + 1 + rl, msu - 1 - rl, switchtype_ == SS7_ANSI);
    }
    if (!why.empty()) {
      // The SU itself is sound, so MTP2 must still acknowledge it (dropping it would stall the
      // sequence numbers). Relabelled as an SCCP message, libss7 accepts and discards it.
      *sio = static_cast<uint8_t>((*sio & 0xf0) | 0x03);
      bad_frame(l, "ISUP message discarded: " + why);
    }
  }
  if (send(l.mine, f, n, MSG_DONTWAIT) < 0) {
    log("error", std::string("link relay: ") + std::strerror(errno));
    return;
  }
  ss7_read(ss7_, l.lib);
  process();
}

void Ss7Stack::pump_tx(Link& l) {
  if (!ss7_) return;
  if (!l.held.empty()) {
    if (!line_write(l, l.held.data(), l.held.size())) return;
    l.held.clear();
  }
  const int64_t now = now_ms();
  uint8_t buf[1024];
  for (int i = 0; i < kMaxTxPerWake; ++i) {
    if (ss7_write(ss7_, l.lib) <= 0) return;
    const ssize_t n = recv(l.mine, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 3 + 2) return;
    const size_t len = static_cast<size_t>(n);
    const bool idle = (buf[2] & 0x3f) < 3;  // FISU or LSSU
    if (idle && now < l.next_idle_ms && l.last_tx.size() == len &&
        std::memcmp(l.last_tx.data(), buf, len) == 0)
      return;  // nothing new to say: flags fill the line until the next repeat is due
    l.next_idle_ms = now + kIdleRepeatMs;
    l.last_tx.assign(buf, buf + len);
    capture_frame(l, true, buf, len - 2);
    ++l.tx_frames;
    if (!line_write(l, buf, len)) {
      l.held.assign(buf, buf + len);
      return;
    }
    if (idle) return;  // libss7 makes a FISU or LSSU only when no MSU waits
  }
  tx_more_ = true;
}

bool Ss7Stack::line_write(Link& l, const uint8_t* f, size_t n) {
  for (int tries = 0; tries < 4; ++tries) {
    if (write(l.dahdi, f, n) >= 0) return true;
    if (errno == EAGAIN) return false;
    if (errno == ELAST) {
      link_events(l);
      continue;
    }
    if (errno == EINTR) continue;
    log("error", "span " + std::to_string(l.span) + " link write: " + std::strerror(errno));
    return true;  // dropped: MTP2 retransmission recovers an MSU
  }
  return false;
}

void Ss7Stack::link_events(Link& l) {
  for (int i = 0; i < 64; ++i) {
    const int ev = dahdi_get_event(l.dahdi);
    if (ev == DAHDI_EVENT_NONE) return;
    switch (ev) {
      case DAHDI_EVENT_ALARM: {
        const int bits = dahdi_span_alarm_bits(l.span);
        l.alarm = true;
        l.alarms = dahdi_alarm_names(bits > 0 ? bits : DAHDI_ALARM_RED);
        emit({{"event", "alarm"}, {"span", l.span}, {"alarms", l.alarms}});
        ss7_link_alarm(ss7_, l.lib);
        links_dirty_ = true;
        process();
        break;
      }
      case DAHDI_EVENT_NOALARM:
        l.alarm = false;
        l.alarms.clear();
        emit({{"event", "alarm"}, {"span", l.span}, {"alarms", json::array()}});
        ss7_link_noalarm(ss7_, l.lib);
        links_dirty_ = true;
        process();
        break;
      case DAHDI_EVENT_BADFCS:
        bad_frame(l, "MTP2 frame with a bad FCS (DAHDI BADFCS)");
        break;
      case DAHDI_EVENT_ABORT:
        bad_frame(l, "MTP2 frame aborted (DAHDI ABORT)");
        break;
      case DAHDI_EVENT_OVERRUN:
        ++l.overruns;
        log("warn", "span " + std::to_string(l.span) + " link: receive overrun (DAHDI OVERRUN)");
        break;
      default:
        log("debug", "span " + std::to_string(l.span) + " link: DAHDI event " +
                         dahdi_event_name(ev));
    }
  }
}

// Every frame is captured except a FISU or LSSU identical to the previous frame in the same
// direction: an idle link repeats them, and a trace of thousands of copies hides the MSUs.
void Ss7Stack::capture_frame(Link& l, bool sent, const uint8_t* f, size_t len) {
  std::vector<uint8_t>& last = l.cap_last[sent ? 1 : 0];
  const bool idle = len >= 3 && (f[2] & 0x3f) < 3;
  if (idle && last.size() == len && std::memcmp(last.data(), f, len) == 0) return;
  last.assign(f, f + len);
  engine_.capture(l.span, sent, f, len, l.slc);
}

void Ss7Stack::bad_frame(Link& l, const std::string& what) {
  ++l.bad_frames;
  ++protocol_errors_;  // mu_ is held (Stack::protocol_error would take it again)
  log("warn", "span " + std::to_string(l.span) + " link SLC " + std::to_string(l.slc) + ": " + what,
      {{"kind", "protocol_error"}});
}

// Reads libss7's linkset report for each link's MTP2 state and signalling link test result.
void Ss7Stack::refresh_links() {
  links_dirty_ = false;
  std::string text;
  g_report = &text;
  ss7_show_linkset(ss7_, report_printf, 0);
  g_report = nullptr;
  Link* cur = nullptr;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    const std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    size_t at;
    if ((at = line.find("Link ADJ_PC:SLC:")) != std::string::npos) {
      // "Link ADJ_PC:SLC: <pc>:<slc> NetMngSLS: <n>"
      cur = nullptr;
      const size_t pc = line.find_first_not_of(' ', at + 16);
      const size_t colon = pc == std::string::npos ? pc : line.find(':', pc);
      if (colon != std::string::npos) {
        const int slc = std::atoi(line.c_str() + colon + 1);
        for (Link& l : links_)
          if (l.slc == slc) cur = &l;
      }
    } else if (cur && (at = line.find("State:")) != std::string::npos) {
      const size_t b = line.find_first_not_of(' ', at + 6);
      const size_t e = line.find(',', b);
      if (b != std::string::npos) cur->mtp2 = line.substr(b, e == std::string::npos ? e : e - b);
    } else if (cur && line.find("STD Test:") != std::string::npos) {
      cur->slt = line.find("passed") != std::string::npos;
    }
  }
  for (Link& l : links_) {
    const bool up = !l.alarm && linkset_up_ && l.mtp2 == "INSERVICE" && l.slt;
    if (up == l.up) continue;
    l.up = up;
    emit({{"event", "link"},
          {"kind", "mtp2"},
          {"span", l.span},
          {"slc", l.slc},
          {"state", up ? "up" : "down"}});
  }
}

// ---- libss7 events ------------------------------------------------------------------------------

// Drains libss7's events and the hangups it asked for. Its event queue holds 16 events and
// overflowing it loses calls, so this runs after every frame read and every timer run.
void Ss7Stack::process() {
  if (!ss7_) return;
  for (int guard = 0; guard < 1000; ++guard) {
    bool any = false;
    while (ss7_event* e = ss7_check_event(ss7_)) {
      any = true;
      handle(e);
    }
    if (!deferred_.empty()) {
      any = true;
      run_deferred();
    }
    if (!any) break;
  }
  if (links_dirty_) refresh_links();
}

Ss7Stack::Circuit* Ss7Stack::circuit(int cic) {
  auto it = by_cic_.find(cic);
  return it == by_cic_.end() ? nullptr : &circuits_[it->second];
}

// The circuit a message is for, adopting libss7's record; an unknown CIC is answered with UCIC
// (Q.764, unequipped circuit identification code) and its record freed.
Ss7Stack::Circuit* Ss7Stack::circuit_from(const char* msg, int cic, unsigned opc, isup_call* rec) {
  Circuit* c = opc == adjpc_ ? circuit(cic) : nullptr;
  if (!c) {
    log("warn", std::string(msg) + " for CIC " + std::to_string(cic) + " from point code " +
                    std::to_string(opc) + ", which is not a circuit of this linkset");
    if (rec) isup_free_call(ss7_, rec);
    if (std::strcmp(msg, "UCIC") != 0 && opc == adjpc_) isup_ucic(ss7_, cic, opc);
    return nullptr;
  }
  // libss7 hands the CIC's record with every message; it finds records by CIC, so one that
  // differs from ours means ours is gone (freed inside libss7) and this one is current.
  if (rec) c->rec = rec;
  return c;
}

bool Ss7Stack::in_our_grs(int cic) {
  for (const Circuit& c : circuits_)
    if (c.grs_last && c.cic <= cic && cic <= c.grs_last) return true;
  return false;
}

Ss7Stack::Ss7Call* Ss7Stack::call_of(Circuit& c) {
  if (!c.call) return nullptr;
  auto it = calls_.find(c.call);
  return it == calls_.end() ? nullptr : &it->second;
}

// Frees libss7's record once nothing is pending on it (no call, no flags, no timers).
void Ss7Stack::settle(Circuit& c) {
  if (!c.call && c.rec) c.rec = isup_free_call_if_clear(ss7_, c.rec);
  touch(c);
}

void Ss7Stack::touch(Circuit& c) {
  std::string state = "idle", by;
  if (Ss7Call* call = call_of(c)) {
    state = call->c.state == CallState::kAlerting   ? "ringing"
            : call->c.state == CallState::kAnswered ? "talking"
                                                    : "seized";
  } else if (c.resetting) {
    state = "reset";
  } else if (c.local_blocked || c.remote_blocked) {
    state = "blocked";
    by = c.local_blocked ? "local" : "remote";
  } else if (!linkset_up_) {
    state = "alarm";
  }
  if (state == c.shown && by == c.shown_by) return;
  c.shown = state;
  c.shown_by = by;
  json ev = {{"event", "channel"},
             {"span", c.span},
             {"channel", c.timeslot},
             {"cic", c.cic},
             {"state", state}};
  if (!by.empty()) ev["by"] = by;
  emit(std::move(ev));
}

void Ss7Stack::touch_all() {
  for (Circuit& c : circuits_) touch(c);
}

void Ss7Stack::finish_call(Circuit& c, int cause, const char* by) {
  auto it = calls_.find(c.call);
  c.call = 0;
  if (it != calls_.end()) {
    Ss7Call& call = it->second;
    // An incoming call held for its continuity check was never offered: nobody knows it.
    if (call.offered || call.c.outgoing) {
      json ev = call.c.event("released");
      ev["cause"] = cause;
      ev["causeName"] = cause_name(cause);
      ev["by"] = by;
      emit(std::move(ev));
    }
    engine_.unbind_call(it->first);
    calls_.erase(it);
  }
  touch(c);
}

void Ss7Stack::handle(ss7_event* e) {
  switch (e->e) {
    case SS7_EVENT_UP:
      linkset_up();
      break;
    case SS7_EVENT_DOWN:
      linkset_down();
      break;
    case MTP2_LINK_UP:
    case MTP2_LINK_DOWN:
      links_dirty_ = true;
      break;
    case ISUP_EVENT_IAM:
      on_iam(e->iam);
      break;
    case ISUP_EVENT_SAM: {
      Circuit* c = circuit_from("SAM", e->sam.cic, e->sam.opc, e->sam.call);
      Ss7Call* call = c ? call_of(*c) : nullptr;
      if (!call) break;
      std::string digits = e->sam.called_party_num;
      digits.erase(std::remove(digits.begin(), digits.end(), '#'), digits.end());
      call->c.called += digits;
      json ev = call->c.event("digits");
      ev["digits"] = digits;
      if (call->offered) emit(std::move(ev));
      break;
    }
    case ISUP_EVENT_ACM:
    case ISUP_EVENT_CPG:
    case ISUP_EVENT_ANM:
    case ISUP_EVENT_CON: {
      const int cic = e->e == ISUP_EVENT_ACM   ? e->acm.cic
                      : e->e == ISUP_EVENT_CPG ? e->cpg.cic
                      : e->e == ISUP_EVENT_ANM ? e->anm.cic
                                               : e->con.cic;
      const unsigned opc = e->e == ISUP_EVENT_ACM   ? e->acm.opc
                           : e->e == ISUP_EVENT_CPG ? e->cpg.opc
                           : e->e == ISUP_EVENT_ANM ? e->anm.opc
                                                    : e->con.opc;
      isup_call* rec = e->e == ISUP_EVENT_ACM   ? e->acm.call
                       : e->e == ISUP_EVENT_CPG ? e->cpg.call
                       : e->e == ISUP_EVENT_ANM ? e->anm.call
                                                : e->con.call;
      const char* msg = e->e == ISUP_EVENT_ACM   ? "ACM"
                        : e->e == ISUP_EVENT_ANM ? "ANM"
                        : e->e == ISUP_EVENT_CON ? "CON"
                        : e->cpg.event == CPG_EVENT_ALERTING ? "CPG/alerting"
                                                             : "CPG";
      Circuit* c = circuit_from(msg, cic, opc, rec);
      Ss7Call* call = c ? call_of(*c) : nullptr;
      if (!call) break;
      const Transition* t = transition(msg, !call->c.outgoing, call->c.state);
      if (!t) {
        log("info", std::string(msg) + " on CIC " + std::to_string(cic) + " in call state " +
                        call_state_name(call->c.state) + ": ignored");
        break;
      }
      call->c.state = t->to;
      emit(call->c.event(t->event));
      touch(*c);
      break;
    }
    case ISUP_EVENT_REL:
      on_rel(e->rel);
      break;
    case ISUP_EVENT_RLC:
      on_rlc(e->rlc);
      break;
    case ISUP_EVENT_RSC: {
      Circuit* c = circuit_from("RSC", e->rsc.cic, e->rsc.opc, e->rsc.call);
      if (!c) break;
      if (c->call) finish_call(*c, kCauseTemporaryFailure, "remote");
      c->remote_blocked = false;  // a reset removes the remote blocking (Q.764, RSC)
      // A locally blocked circuit answers the reset with BLO before RLC (Q.764, RSC).
      if (c->local_blocked) isup_blo(ss7_, c->rec);
      if (c->rec) isup_rlc(ss7_, c->rec);
      settle(*c);
      break;
    }
    case ISUP_EVENT_GRS: {
      const int first = e->grs.startcic, last = e->grs.endcic;
      Circuit* start = circuit_from("GRS", first, e->grs.opc, e->grs.call);
      if (!start) break;
      unsigned char status[kGroupMax] = {};
      for (int cic = first; cic <= last && cic - first < kGroupMax; ++cic) {
        Circuit* c = circuit(cic);
        if (!c) continue;
        if (c->call) finish_call(*c, kCauseTemporaryFailure, "remote");
        c->remote_blocked = false;
        // Circuits our own GRS covers stay in reset until its GRA.
        if (!in_our_grs(cic)) c->resetting = false;
        status[cic - first] = c->local_blocked ? 1 : 0;  // GRA: blocked for maintenance
        if (c != start && c->rec && !c->grs_last) {
          isup_free_call(ss7_, c->rec);
          c->rec = nullptr;
        }
      }
      // Our own GRS from this CIC keeps its record (its GRA is still to come).
      isup_call* rec = start->grs_last ? start->rec : fresh_record(*start);
      if (rec) isup_gra(ss7_, rec, last, status);
      for (int cic = first; cic <= last; ++cic)
        if (Circuit* c = circuit(cic)) settle(*c);
      break;
    }
    case ISUP_EVENT_GRA: {
      const int first = e->gra.startcic, last = e->gra.endcic;
      Circuit* start = circuit_from("GRA", first, e->gra.opc, e->gra.call);
      if (!start) break;
      start->grs_last = 0;
      std::vector<unsigned char> reblock(kGroupMax, 0);
      bool any_reblock = false;
      for (int cic = first; cic <= last && cic - first < kGroupMax; ++cic) {
        Circuit* c = circuit(cic);
        if (!c) continue;
        c->resetting = false;
        c->remote_blocked = e->gra.status[cic - first] != 0;
        // A reset cleared the far end's view of our blocking: block again (Q.764, GRS).
        if (c->local_blocked) {
          reblock[static_cast<size_t>(cic - first)] = 1;
          any_reblock = true;
        }
      }
      if (any_reblock) {
        if (isup_call* rec = record(*start))
          isup_cgb(ss7_, rec, last, reblock.data(), 0);
      }
      for (int cic = first; cic <= last; ++cic)
        if (Circuit* c = circuit(cic)) settle(*c);
      break;
    }
    case ISUP_EVENT_BLO: {
      Circuit* c = circuit_from("BLO", e->blo.cic, e->blo.opc, e->blo.call);
      if (!c) break;
      c->remote_blocked = true;
      if (c->rec) isup_bla(ss7_, c->rec);
      settle(*c);
      break;
    }
    case ISUP_EVENT_UBL: {
      Circuit* c = circuit_from("UBL", e->ubl.cic, e->ubl.opc, e->ubl.call);
      if (!c) break;
      c->remote_blocked = false;
      if (c->rec) isup_uba(ss7_, c->rec);
      settle(*c);
      break;
    }
    case ISUP_EVENT_BLA:
    case ISUP_EVENT_UBA: {
      const bool bla = e->e == ISUP_EVENT_BLA;
      Circuit* c = circuit_from(bla ? "BLA" : "UBA", bla ? e->bla.cic : e->uba.cic,
                                bla ? e->bla.opc : e->uba.opc, bla ? e->bla.call : e->uba.call);
      if (c) settle(*c);
      break;
    }
    case ISUP_EVENT_CGB:
    case ISUP_EVENT_CGU: {
      const bool cgb = e->e == ISUP_EVENT_CGB;
      ss7_event_cicrange& g = cgb ? e->cgb : e->cgu;
      Circuit* start = circuit_from(cgb ? "CGB" : "CGU", g.startcic, g.opc, g.call);
      if (!start) break;
      for (int cic = g.startcic; cic <= g.endcic && cic - g.startcic < kGroupMax; ++cic) {
        Circuit* c = circuit(cic);
        if (!c || !g.status[cic - g.startcic]) continue;
        c->remote_blocked = cgb;
        // Hardware failure oriented blocking takes the circuits out at once (Q.764, CGB).
        if (cgb && g.type == 1 && c->call) finish_call(*c, kCauseTemporaryFailure, "remote");
        touch(*c);
      }
      if (start->rec) {
        if (cgb)
          isup_cgba(ss7_, start->rec, g.endcic, g.status);
        else
          isup_cgua(ss7_, start->rec, g.endcic, g.status);
      }
      settle(*start);
      break;
    }
    case ISUP_EVENT_CGBA:
    case ISUP_EVENT_CGUA: {
      const bool cgba = e->e == ISUP_EVENT_CGBA;
      ss7_event_cicrange& g = cgba ? e->cgba : e->cgua;
      if (Circuit* c = circuit_from(cgba ? "CGBA" : "CGUA", g.startcic, g.opc, g.call)) settle(*c);
      break;
    }
    case ISUP_EVENT_COT: {
      Circuit* c = circuit_from("COT", e->cot.cic, e->cot.opc, e->cot.call);
      Ss7Call* call = c ? call_of(*c) : nullptr;
      if (!call) {
        if (c) settle(*c);
        break;
      }
      if (e->cot.passed && call->cot_wait) {
        call->cot_wait = false;
        call->offered = true;
        engine_.bind_call(call->c.id, this);
        json ev = call->c.event("offered");
        ev["called"] = call->c.called;
        ev["calling"] = call->c.calling;
        ev["category"] = call->c.category;
        ev["calledType"] = call->called_type;
        ev["callingType"] = call->calling_type;
        ev["callingPresentation"] = call->presentation;
        ev["complete"] = true;
        emit(std::move(ev));
      } else if (!e->cot.passed) {
        // libss7 waits (T27) for the far end to recheck and send a new IAM.
        log("info", "COT on CIC " + std::to_string(c->cic) + ": continuity check failed");
        finish_call(*c, kCauseTemporaryFailure, "remote");
      }
      break;
    }
    case ISUP_EVENT_CCR: {
      Circuit* c = circuit_from("CCR", e->ccr.cic, e->ccr.opc, e->ccr.call);
      if (!c) break;
      // A continuity loop needs a loopback or a transponder on the bearer; none is built here.
      log("warn", "CCR on CIC " + std::to_string(c->cic) +
                      ": continuity check loopback is not supported (known gap)");
      if (c->rec) isup_clear_callflags(ss7_, c->rec, ISUP_GOT_CCR);
      settle(*c);
      break;
    }
    case ISUP_EVENT_CQM: {
      const int first = e->cqm.startcic, last = e->cqm.endcic;
      Circuit* start = circuit_from("CQM", first, e->cqm.opc, e->cqm.call);
      if (!start) break;
      // Circuit state indicator (Q.763 §3.14): BA maintenance blocking, DC call processing.
      unsigned char status[kGroupMax] = {};
      for (int cic = first; cic <= last && cic - first < kGroupMax; ++cic) {
        Circuit* c = circuit(cic);
        if (!c) {
          status[cic - first] = 0x03;  // unequipped
          continue;
        }
        const int ba = (c->local_blocked ? 1 : 0) | (c->remote_blocked ? 2 : 0);
        Ss7Call* call = call_of(*c);
        const int dc = call ? (call->c.outgoing ? 2 : 1) : 3;
        status[cic - first] = static_cast<unsigned char>(ba | (dc << 2));
      }
      isup_cqr(ss7_, first, last, adjpc_, status);
      settle(*start);
      break;
    }
    case ISUP_EVENT_UCIC: {
      Circuit* c = circuit_from("UCIC", e->ucic.cic, e->ucic.opc, e->ucic.call);
      if (!c) break;
      log("warn", "UCIC: the far end has no CIC " + std::to_string(c->cic) +
                      "; the circuit is taken out of service");
      c->remote_blocked = true;
      if (c->call) finish_call(*c, kCauseUnavailable, "remote");
      if (c->rec) isup_clear_callflags(ss7_, c->rec, ~0UL);
      settle(*c);
      break;
    }
    case ISUP_EVENT_CVT: {
      if (Circuit* c = circuit_from("CVT", e->cvt.cic, adjpc_, e->cvt.call)) {
        isup_cvr(ss7_, c->cic, adjpc_);
        settle(*c);
      }
      break;
    }
    case ISUP_EVENT_LPA:
    case ISUP_EVENT_SUS:
    case ISUP_EVENT_RES:
    case ISUP_EVENT_FAR:
    case ISUP_EVENT_FAA:
    case ISUP_EVENT_FRJ:
    case ISUP_EVENT_DIGITTIMEOUT: {
      int cic = 0;
      isup_call* rec = nullptr;
      const char* what = "LPA";
      switch (e->e) {
        case ISUP_EVENT_LPA: cic = e->lpa.cic; rec = e->lpa.call; break;
        case ISUP_EVENT_SUS: cic = e->sus.cic; rec = e->sus.call; what = "SUS"; break;
        case ISUP_EVENT_RES: cic = e->res.cic; rec = e->res.call; what = "RES"; break;
        case ISUP_EVENT_FAR: cic = e->far.cic; rec = e->far.call; what = "FAR"; break;
        case ISUP_EVENT_FAA: cic = e->faa.cic; rec = e->faa.call; what = "FAA"; break;
        case ISUP_EVENT_FRJ: cic = e->frj.cic; rec = e->frj.call; what = "FRJ"; break;
        default: cic = e->digittimeout.cic; rec = e->digittimeout.call; what = "T10";
      }
      if (Circuit* c = circuit_from(what, cic, adjpc_, rec)) {
        log("info", std::string(what) + " on CIC " + std::to_string(cic) + " (no action)");
        settle(*c);
      }
      break;
    }
    default:
      log("debug", std::string("libss7 event ") + ss7_event2str(e->e));
  }
}

void Ss7Stack::on_iam(ss7_event_iam& e) {
  Circuit* c = circuit_from("IAM", e.cic, e.opc, e.call);
  if (!c) return;
  if (c->rec != e.call) c->rec = e.call;
  if (Ss7Call* old = call_of(*c)) {
    if (old->c.outgoing && !old->iam_sent) {
      // Our call was about to seize this circuit: the far end was first.
      finish_call(*c, kCauseCongestion, "stack");
    } else {
      log("warn", "IAM on CIC " + std::to_string(c->cic) + ", which has a call: circuit reset");
      reset_circuit(*c, "stack");
      return;
    }
  }
  if (c->local_blocked || c->resetting) {
    // An exchange that sent BLO accepts no calls on the circuit (Q.764, BLO): refuse the
    // call and repeat the blocking the far end has evidently missed.
    log("warn", "IAM on CIC " + std::to_string(c->cic) +
                    (c->resetting ? ", which is being reset" : ", which we blocked") +
                    ": refused");
    isup_rel(ss7_, c->rec, kCauseTemporaryFailure);
    if (c->local_blocked && c->rec) isup_blo(ss7_, c->rec);
    return;
  }
  if (c->remote_blocked) {
    c->remote_blocked = false;  // an IAM removes the remote blocking (Q.764, BLO)
    log("info", "IAM on remotely blocked CIC " + std::to_string(c->cic) + ": blocking removed");
  }
  Ss7Call call;
  call.c.id = engine_.new_call_id();
  call.c.outgoing = false;
  call.c.state = CallState::kOffered;
  call.c.span = c->span;
  call.c.timeslot = c->timeslot;
  call.c.channo = c->channo;
  call.c.cic = c->cic;
  call.c.started_ms = now_ms();
  std::string called = e.called_party_num;
  const bool complete = switchtype_ == SS7_ANSI || called.find('#') != std::string::npos;
  called.erase(std::remove(called.begin(), called.end(), '#'), called.end());
  call.c.called = called;
  call.c.calling = e.calling_party_num;
  call.c.category = name_of(kCategories, e.calling_party_cat, "spare");
  call.called_type = name_of(kNumberTypes, e.called_nai);
  call.calling_type = name_of(kNumberTypes, e.calling_nai);
  call.presentation = e.presentation_ind == SS7_PRESENTATION_RESTRICTED ? "restricted" : "allowed";
  call.cot_wait = e.cot_check_required || e.cot_performed_on_previous_cic;
  const uint64_t id = call.c.id;
  c->call = id;
  auto& stored = calls_.emplace(id, std::move(call)).first->second;
  if (!stored.cot_wait) {
    stored.offered = true;
    engine_.bind_call(id, this);
    json ev = stored.c.event("offered");
    ev["called"] = stored.c.called;
    ev["calling"] = stored.c.calling;
    ev["category"] = stored.c.category;
    ev["calledType"] = stored.called_type;
    ev["callingType"] = stored.calling_type;
    ev["callingPresentation"] = stored.presentation;
    ev["complete"] = complete;
    emit(std::move(ev));
  }
  touch(*c);
}

void Ss7Stack::on_rel(ss7_event_rel& e) {
  Circuit* c = circuit_from("REL", e.cic, e.opc, e.call);
  if (!c) return;
  if (Ss7Call* call = call_of(*c)) {
    // Both ends released at once: ours stands, and the far end's REL is answered with RLC.
    const int cause = call->released ? call->release_cause : e.cause;
    const std::string by = call->released ? call->release_by : "remote";
    if (c->rec) isup_rlc(ss7_, c->rec);
    finish_call(*c, cause, by.c_str());
  } else if (c->rec) {
    isup_rlc(ss7_, c->rec);  // REL on an idle circuit is answered all the same
  }
  settle(*c);
}

void Ss7Stack::on_rlc(ss7_event_cic& e) {
  Circuit* c = circuit_from("RLC", e.cic, e.opc, e.call);
  if (!c) return;
  if (e.got_sent_msg & ISUP_SENT_RSC) c->resetting = false;
  if (Ss7Call* call = call_of(*c)) {
    if (call->released) {
      finish_call(*c, call->release_cause, call->release_by.c_str());
    } else {
      // libss7 sent REL by itself: T8 (no COT, cause 41) or T35 (digits incomplete, cause 28).
      const int cause = call->cot_wait                           ? kCauseTemporaryFailure
                        : !call->c.outgoing && !call->acm_sent ? 28
                                                                 : 102;
      finish_call(*c, cause, "stack");
    }
  }
  settle(*c);
}

void Ss7Stack::linkset_up() {
  if (linkset_up_) return;
  linkset_up_ = true;
  links_dirty_ = true;
  log("info", "linkset to point code " + std::to_string(adjpc_) + " is up");
  if (reset_on_start_) {
    for (const auto& [first, last] : groups()) group_reset(first, last, "stack");
  }
  touch_all();
}

void Ss7Stack::linkset_down() {
  linkset_up_ = false;
  links_dirty_ = true;
  log("warn", "linkset to point code " + std::to_string(adjpc_) + " is down");
  // libss7 has freed every record (calls first went through lib_call_null).
  for (Circuit& c : circuits_) {
    c.rec = nullptr;
    c.resetting = false;
    c.grs_last = 0;
    if (c.call) finish_call(c, kCauseTemporaryFailure, "stack");
  }
  touch_all();
}

// ---- libss7 callbacks ---------------------------------------------------------------------------

void Ss7Stack::lib_log(const char* level, const char* text) {
  if (closing_) return;
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.empty()) return;
  if (quiet_ && (s.rfind("ISUP timer", 0) == 0 || s.rfind("MTP3 timer", 0) == 0)) return;
  log(level, "libss7: " + s, {{"kind", "libss7"}});
}

int Ss7Stack::lib_hangup(int cic, unsigned dpc, int cause, int action) {
  Circuit* c = dpc == adjpc_ ? circuit(cic) : nullptr;
  if (!c) return SS7_CIC_NOT_EXISTS;
  if (!c->call) {
    // Unexpected message on an idle circuit: libss7 resets it itself.
    if (action == SS7_HANGUP_SEND_RSC) {
      c->resetting = true;
      touch(*c);
    }
    return SS7_CIC_IDLE;
  }
  deferred_.push_back({cic, cause, action});
  return SS7_CIC_USED;
}

void Ss7Stack::run_deferred() {
  std::vector<Deferred> todo;
  todo.swap(deferred_);
  for (const Deferred& d : todo) {
    Circuit* c = circuit(d.cic);
    if (!c) continue;
    Ss7Call* call = call_of(*c);
    const int cause = d.cause > 127 ? kCauseCongestion : d.cause;  // SS7_CAUSE_TRY_AGAIN
    switch (d.action) {
      case SS7_HANGUP_SEND_REL:
        if (call && c->rec && !call->released) {
          call->released = true;
          call->release_cause = cause;
          call->release_by = "stack";
          call->c.state = CallState::kReleasing;
          isup_rel(ss7_, c->rec, cause);
        }
        break;
      case SS7_HANGUP_SEND_RSC:
        if (call) finish_call(*c, cause, "stack");
        if (c->rec) {
          c->resetting = true;
          isup_rsc(ss7_, c->rec);
        }
        touch(*c);
        break;
      case SS7_HANGUP_SEND_RLC:
        if (c->rec) isup_rlc(ss7_, c->rec);
        if (call) finish_call(*c, cause, "remote");
        settle(*c);
        break;
      case SS7_HANGUP_FREE_CALL:
        if (call) finish_call(*c, cause, "stack");
        if (c->rec) isup_free_call(ss7_, c->rec);
        c->rec = nullptr;
        touch(*c);
        break;
      case SS7_HANGUP_REEVENT_IAM:
        // Dual seizure (Q.764) and the far end controls this circuit: our call yields
        // and its IAM is offered as if it had come in on an idle circuit.
        if (call) finish_call(*c, kCauseCongestion, "stack");
        if (c->rec) {
          isup_clear_callflags(ss7_, c->rec, ISUP_SENT_IAM | ISUP_PENDING_IAM);
          isup_event_iam(ss7_, c->rec, static_cast<int>(adjpc_));
        }
        break;
      default:
        break;
    }
  }
}

void Ss7Stack::lib_call_null(isup_call* rec) {
  for (Circuit& c : circuits_) {
    if (c.rec != rec) continue;
    c.rec = nullptr;
    c.grs_last = 0;
    c.resetting = false;  // nothing is pending on a record that is gone
    if (closing_) {
      c.call = 0;
      continue;
    }
    if (c.call) finish_call(c, kCauseTemporaryFailure, "stack");
    touch(c);
  }
}

void Ss7Stack::lib_not_in_service(int cic, unsigned dpc) {
  Circuit* c = dpc == adjpc_ ? circuit(cic) : nullptr;
  if (!c) return;
  log("warn", "CIC " + std::to_string(cic) + ": no RLC within T5, the circuit is reset");
  if (Ss7Call* call = call_of(*c)) finish_call(*c, call->release_cause, call->release_by.c_str());
  c->resetting = true;  // libss7 sends RSC now
  touch(*c);
}

// ---- maintenance --------------------------------------------------------------------------------

isup_call* Ss7Stack::record(Circuit& c) {
  if (!c.rec) c.rec = isup_new_call(ss7_, c.cic, adjpc_, 0);
  return c.rec;
}

// A new record for a circuit being reset: whatever the old one was waiting for is void.
isup_call* Ss7Stack::fresh_record(Circuit& c) {
  if (c.rec) isup_free_call(ss7_, c.rec);
  c.rec = isup_new_call(ss7_, c.cic, adjpc_, 0);
  c.grs_last = 0;
  return c.rec;
}

void Ss7Stack::reset_circuit(Circuit& c, const char* by) {
  if (c.call) finish_call(c, kCauseTemporaryFailure, by);
  c.remote_blocked = false;
  if (isup_call* rec = fresh_record(c)) {
    c.resetting = true;
    isup_rsc(ss7_, rec);
  }
  touch(c);
}

void Ss7Stack::group_reset(int first, int last, const char* by) {
  if (first == last) {
    if (Circuit* c = circuit(first)) reset_circuit(*c, by);
    return;
  }
  Circuit* start = circuit(first);
  if (!start) return;
  for (int cic = first; cic <= last; ++cic) {
    Circuit* c = circuit(cic);
    if (!c) continue;
    if (c->call) finish_call(*c, kCauseTemporaryFailure, by);
    c->remote_blocked = false;
    c->resetting = true;
    if (c != start && c->rec) {
      isup_free_call(ss7_, c->rec);
      c->rec = nullptr;
    }
  }
  if (isup_call* rec = fresh_record(*start)) {
    start->grs_last = last;
    isup_grs(ss7_, rec, last);
  }
  for (int cic = first; cic <= last; ++cic)
    if (Circuit* c = circuit(cic)) touch(*c);
}

void Ss7Stack::block(Circuit& c, bool on) {
  c.local_blocked = on;
  if (isup_call* rec = record(c)) {
    if (on)
      isup_blo(ss7_, rec);
    else
      isup_ubl(ss7_, rec);
  }
  touch(c);
}

void Ss7Stack::group_block(int first, int last, bool on) {
  if (first == last) {
    if (Circuit* c = circuit(first)) block(*c, on);
    return;
  }
  Circuit* start = circuit(first);
  if (!start) return;
  unsigned char status[kGroupMax] = {};
  for (int cic = first; cic <= last; ++cic) {
    Circuit* c = circuit(cic);
    if (!c) continue;
    c->local_blocked = on;
    status[cic - first] = 1;
  }
  if (isup_call* rec = record(*start)) {
    if (on)
      isup_cgb(ss7_, rec, last, status, 0);  // maintenance oriented
    else
      isup_cgu(ss7_, rec, last, status, 0);
  }
  for (int cic = first; cic <= last; ++cic)
    if (Circuit* c = circuit(cic)) touch(*c);
}

// Runs of consecutive CICs, at most 32 each: what one group message can cover.
std::vector<std::pair<int, int>> Ss7Stack::groups() const {
  std::vector<std::pair<int, int>> out;
  for (const Circuit& c : circuits_) {
    if (!out.empty() && out.back().second + 1 == c.cic &&
        c.cic - out.back().first < kGroupMax &&
        circuits_[by_cic_.at(out.back().first)].group == c.group) {
      out.back().second = c.cic;
    } else {
      out.emplace_back(c.cic, c.cic);
    }
  }
  return out;
}

// With the linkset down nothing is sent: libss7 frees a record whose message cannot be sent,
// and its GRS/CGB/CGU error paths read the record after freeing it.
void Ss7Stack::maintenance(const json& cmd) {
  const std::string op = cmd["op"].get<std::string>();
  if (!linkset_up_)
    throw EngineError("E_CHANNEL_BUSY", "trunk", "the linkset is down: no " + op + " possible");
  std::vector<std::pair<int, int>> ranges;
  if (cmd.contains("cic")) {
    const int first = cmd["cic"].get<int>();
    const int last = cmd.contains("lastCic") ? cmd["lastCic"].get<int>() : first;
    ranges.emplace_back(first, last);
  } else {
    ranges = groups();
  }
  for (const auto& [first, last] : ranges) {
    if (op == "reset")
      group_reset(first, last, "local");
    else
      group_block(first, last, op == "block");
  }
}

// ---- commands -----------------------------------------------------------------------------------

json Ss7Stack::on_check(json& cmd) {
  const std::string op = cmd["op"].get<std::string>();
  std::lock_guard<std::mutex> lock(mu_);
  if (op == "place") {
    check_place(cmd);
    return {{"call", cmd["call"]}};
  }
  if (op == "block" || op == "unblock" || op == "reset") {
    check_maintenance(cmd);
    return json::object();
  }
  if (op == "accept" || op == "alert" || op == "progress" || op == "answer" || op == "release") {
    const uint64_t id = call_field(cmd);
    auto it = calls_.find(id);
    if (it == calls_.end())
      throw EngineError("E_CALL_UNKNOWN", "call", "no call " + std::to_string(id));
    if (!transition(op, !it->second.c.outgoing, it->second.c.state)) throw_state(op, it->second);
    if (op == "release") cmd["cause"] = cause_field(cmd);
    return json::object();
  }
  if (op == "digits")
    throw EngineError("E_COMMAND_FIELD", "op",
                      "overlap sending (SAM) is not supported on ss7 trunks: place with the "
                      "whole number");
  throw EngineError("E_COMMAND_FIELD", "op", "\"" + op + "\" is not an ss7 trunk command");
}

void Ss7Stack::check_place(json& cmd) {
  digits_field(cmd, "called", true, 30);
  digits_field(cmd, "calling", false, 30);
  int v;
  for (const char* key : {"calledType", "callingType"}) {
    if (cmd.contains(key) &&
        !(cmd[key].is_string() && value_of(kNumberTypes, cmd[key].get<std::string>(), v)))
      throw EngineError("E_COMMAND_FIELD", key, "must be one of " + names(kNumberTypes));
  }
  if (cmd.contains("category") &&
      !(cmd["category"].is_string() &&
        value_of(kCategories, cmd["category"].get<std::string>(), v)))
    throw EngineError("E_COMMAND_FIELD", "category", "must be one of " + names(kCategories));
  if (cmd.contains("callingPresentation") && cmd["callingPresentation"] != "allowed" &&
      cmd["callingPresentation"] != "restricted")
    throw EngineError("E_COMMAND_FIELD", "callingPresentation", "must be allowed or restricted");
  if (cmd.contains("overlap") && cmd["overlap"] == true)
    throw EngineError("E_COMMAND_FIELD", "overlap",
                      "overlap sending is not supported on ss7 trunks");
  if (cmd.contains("channel"))
    throw EngineError("E_COMMAND_FIELD", "channel", "ss7 trunks choose circuits by cic");
  if (!linkset_up_)
    throw EngineError("E_CHANNEL_BUSY", "trunk",
                      "the linkset to point code " + std::to_string(adjpc_) + " is down");
  Circuit* chosen = nullptr;
  auto free = [](const Circuit& c) {
    return !c.call && !c.rec && !c.resetting && !c.local_blocked && !c.remote_blocked;
  };
  if (cmd.contains("cic")) {
    if (!cmd["cic"].is_number_integer())
      throw EngineError("E_COMMAND_FIELD", "cic", "must be a CIC");
    const int cic = cmd["cic"].get<int>();
    chosen = circuit(cic);
    if (!chosen)
      throw EngineError("E_CHANNEL_UNKNOWN", "cic",
                        "no CIC " + std::to_string(cic) + " on this trunk");
    if (chosen->local_blocked || chosen->remote_blocked)
      throw EngineError("E_CHANNEL_BUSY", "cic",
                        "CIC " + std::to_string(cic) + " is blocked" +
                            (chosen->local_blocked ? " (by us)" : " (by the far end)"));
    if (!free(*chosen))
      throw EngineError("E_CHANNEL_BUSY", "cic", "CIC " + std::to_string(cic) + " is busy");
  } else {
    // Round robin from the last pick, so a just-released circuit rests a while.
    for (size_t k = 0; k < circuits_.size() && !chosen; ++k) {
      Circuit& c = circuits_[(next_pick_ + k) % circuits_.size()];
      if (free(c)) {
        chosen = &c;
        next_pick_ = (next_pick_ + k + 1) % circuits_.size();
      }
    }
    if (!chosen) throw EngineError("E_CHANNEL_BUSY", "trunk", "no free CIC on this trunk");
  }
  Ss7Call call;
  call.c.id = engine_.new_call_id();
  call.c.outgoing = true;
  call.c.state = CallState::kDialing;
  call.c.span = chosen->span;
  call.c.timeslot = chosen->timeslot;
  call.c.channo = chosen->channo;
  call.c.cic = chosen->cic;
  call.c.called = cmd["called"].get<std::string>();
  call.c.calling = cmd.value("calling", "");
  call.c.category = cmd.value("category", "ordinary");
  call.c.started_ms = now_ms();
  call.called_type = cmd.value("calledType", "national");
  call.calling_type = cmd.value("callingType", "national");
  call.presentation = cmd.value("callingPresentation", "allowed");
  chosen->call = call.c.id;
  cmd["call"] = call.c.id;
  cmd["cic"] = chosen->cic;
  engine_.bind_call(call.c.id, this);
  calls_.emplace(call.c.id, std::move(call));
}

void Ss7Stack::check_maintenance(json& cmd) {
  if (cmd.contains("channel"))
    throw EngineError("E_COMMAND_FIELD", "channel", "ss7 trunks address circuits by cic");
  if (!linkset_up_)
    throw EngineError("E_CHANNEL_BUSY", "trunk",
                      "the linkset to point code " + std::to_string(adjpc_) + " is down");
  if (!cmd.contains("cic")) {
    if (cmd.contains("lastCic")) throw EngineError("E_COMMAND_FIELD", "lastCic", "needs cic");
    return;
  }
  if (!cmd["cic"].is_number_integer()) throw EngineError("E_COMMAND_FIELD", "cic", "must be a CIC");
  const int first = cmd["cic"].get<int>();
  if (!circuit(first))
    throw EngineError("E_CHANNEL_UNKNOWN", "cic",
                      "no CIC " + std::to_string(first) + " on this trunk");
  if (!cmd.contains("lastCic")) return;
  if (!cmd["lastCic"].is_number_integer())
    throw EngineError("E_COMMAND_FIELD", "lastCic", "must be a CIC");
  const int last = cmd["lastCic"].get<int>();
  if (last < first || last - first >= kGroupMax)
    throw EngineError("E_COMMAND_FIELD", "lastCic",
                      "a group covers " + std::to_string(first) + " to at most " +
                          std::to_string(first + kGroupMax - 1));
  for (int cic = first; cic <= last; ++cic)
    if (!circuit(cic))
      throw EngineError("E_CHANNEL_UNKNOWN", "lastCic",
                        "CIC " + std::to_string(cic) + " in the range is not on this trunk");
}

void Ss7Stack::on_command(const json& cmd) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string op = cmd["op"].get<std::string>();
  if (op == "place")
    place(cmd);
  else if (op == "block" || op == "unblock" || op == "reset")
    maintenance(cmd);
  else
    call_command(cmd);
  process();
  pump_all();
}

void Ss7Stack::place(const json& cmd) {
  const uint64_t id = cmd["call"].get<uint64_t>();
  auto it = calls_.find(id);
  if (it == calls_.end()) return;  // cleared meanwhile (a reset); `released` was emitted
  Ss7Call& call = it->second;
  Circuit* c = circuit(call.c.cic);
  if (!c || c->call != id) return;
  if (c->rec) {
    // Something arrived for the circuit since it was chosen (a BLO, a GRS...): leave it to that.
    finish_call(*c, kCauseCongestion, "stack");
    settle(*c);
    return;
  }
  int nai = SS7_NAI_NATIONAL, cat = 0x0a;
  value_of(kNumberTypes, call.called_type, nai);
  value_of(kCategories, call.c.category, cat);
  isup_call* rec = isup_new_call(ss7_, c->cic, adjpc_, 1);
  if (!rec) {
    finish_call(*c, kCauseTemporaryFailure, "stack");
    return;
  }
  c->rec = rec;
  isup_set_called(rec, call.c.called.c_str(), static_cast<unsigned char>(nai), ss7_);
  const bool restricted = call.presentation == "restricted";
  if (!call.c.calling.empty() || restricted) {
    int cnai = SS7_NAI_NATIONAL;
    value_of(kNumberTypes, call.calling_type, cnai);
    isup_set_calling(rec, call.c.calling.c_str(), static_cast<unsigned char>(cnai),
                     call.c.calling.empty() ? SS7_PRESENTATION_ADDR_NOT_AVAILABLE
                     : restricted           ? SS7_PRESENTATION_RESTRICTED
                                            : SS7_PRESENTATION_ALLOWED,
                     SS7_SCREENING_NETWORK_PROVIDED);
  }
  isup_set_calling_party_category(rec, static_cast<unsigned>(cat));
  if (isup_iam(ss7_, rec) < 0) return;  // libss7 freed the record: lib_call_null released it
  call.iam_sent = true;
  emit(call.c.event("dialing"));
  touch(*c);
}

void Ss7Stack::call_command(const json& cmd) {
  const std::string op = cmd["op"].get<std::string>();
  const uint64_t id = cmd["call"].get<uint64_t>();
  auto it = calls_.find(id);
  if (it == calls_.end()) throw EngineError("E_CALL_UNKNOWN", "call", "the call has ended");
  Ss7Call& call = it->second;
  Circuit* c = circuit(call.c.cic);
  if (!c || !c->rec) throw EngineError("E_CALL_STATE", "call", "the call has no circuit any more");
  const Transition* t = transition(op, !call.c.outgoing, call.c.state);
  if (!t) throw_state(op, call);
  // A libss7 send that fails frees the record, and lib_call_null ends the call: `call` is then
  // gone, hence the early returns.
  if ((op == "alert" || op == "progress") && !call.acm_sent) {
    if (isup_acm(ss7_, c->rec) < 0) return;
    call.acm_sent = true;
  } else if (op == "alert") {
    // After ACM (sent by `progress`) alerting travels in a CPG (Q.764).
    if (isup_cpg(ss7_, c->rec, CPG_EVENT_ALERTING) < 0) return;
  }
  // CPG may only follow ACM, which `progress` sent above when it had to.
  if (op == "progress" && isup_cpg(ss7_, c->rec, CPG_EVENT_INBANDINFO) < 0) return;
  if (op == "answer") {
    // Answer without ACM is CON (Q.764).
    if ((call.acm_sent ? isup_anm(ss7_, c->rec) : isup_con(ss7_, c->rec)) < 0) return;
  }
  if (op == "release") {
    call.released = true;
    call.release_cause = cmd.value("cause", 16);
    call.release_by = "local";
    call.c.state = t->to;
    isup_rel(ss7_, c->rec, call.release_cause);
    touch(*c);
    return;
  }
  call.c.state = t->to;
  touch(*c);
}

void Ss7Stack::throw_state(const std::string& op, const Ss7Call& call) {
  throw EngineError("E_CALL_STATE", "call",
                    op + " does not apply to an " + (call.c.outgoing ? "outgoing" : "incoming") +
                        " call in state " + call_state_name(call.c.state));
}

json Ss7Stack::on_snapshot() {
  json links = json::array();
  for (const Link& l : links_) {
    const std::string state = l.alarm ? "alarm"
                              : l.up  ? "up"
                              : (l.mtp2 == "IDLE" || l.mtp2 == "ALARM") ? "down"
                                                                       : "aligning";
    links.push_back({{"span", l.span},
                     {"kind", "mtp2"},
                     {"slc", l.slc},
                     {"timeslot", l.timeslot},
                     {"dahdiChannel", l.channo},
                     {"state", state},
                     {"mtp2", l.mtp2},
                     {"sltPassed", l.slt},
                     {"alarms", l.alarms},
                     {"rxFrames", l.rx_frames},
                     {"txFrames", l.tx_frames},
                     {"badFrames", l.bad_frames},
                     {"overruns", l.overruns}});
  }
  json channels = json::array();
  for (const Circuit& c : circuits_) {
    json ch = {{"span", c.span},
               {"channel", c.timeslot},
               {"dahdiChannel", c.channo},
               {"cic", c.cic},
               {"state", c.shown.empty() ? "idle" : c.shown},
               {"blockedLocally", c.local_blocked},
               {"blockedRemotely", c.remote_blocked}};
    if (c.call) ch["call"] = c.call;
    channels.push_back(std::move(ch));
  }
  json calls = json::array();
  for (const auto& [id, call] : calls_) {
    if (!call.offered && !call.c.outgoing) continue;
    json j = call.c.to_json();
    j["calledType"] = call.called_type;
    j["callingType"] = call.calling_type;
    j["callingPresentation"] = call.presentation;
    calls.push_back(std::move(j));
  }
  json timers = json::object();
  for (const auto& [name, ms] : timers_) timers[name] = ms;
  return {{"variant", variant_},
          {"pointcode", pc_},
          {"adjacentPointcode", adjpc_},
          {"networkIndicator", ni_name_},
          {"linkset", linkset_up_ ? "up" : "down"},
          {"links", links},
          {"channels", channels},
          {"calls", calls},
          {"timers", timers}};
}

// The linkset stops with the trunk, so a REL queued now would not leave in time: the calls end
// here, and the far end clears its side when it finds the linkset gone.
void Ss7Stack::on_retire(int cause) {
  for (Circuit& c : circuits_)
    if (c.call) finish_call(c, cause, "stack");
}

void Ss7Stack::on_close() {
  std::lock_guard<std::mutex> lock(mu_);
  cleanup();
}

// ---- callbacks into the right stack -------------------------------------------------------------

void cb_message(::ss7* s, char* m) {
  if (Ss7Stack* st = stack_of(s)) st->lib_log("debug", m);
}

void cb_error(::ss7* s, char* m) {
  if (Ss7Stack* st = stack_of(s)) st->lib_log("warn", m);
}

int cb_hangup(::ss7* s, int cic, unsigned int dpc, int cause, int action) {
  Ss7Stack* st = stack_of(s);
  return st ? st->lib_hangup(cic, dpc, cause, action) : SS7_CIC_NOT_EXISTS;
}

void cb_call_null(::ss7* s, isup_call* c, int) {
  if (Ss7Stack* st = stack_of(s)) st->lib_call_null(c);
}

void cb_not_in_service(::ss7* s, int cic, unsigned int dpc) {
  if (Ss7Stack* st = stack_of(s)) st->lib_not_in_service(cic, dpc);
}

// libss7's callbacks are process-wide and called without a NULL check (call_null, hangup), so
// they are installed before the first linkset exists; each finds its stack by the ss7 pointer.
void install_callbacks() {
  static std::once_flag once;
  std::call_once(once, [] {
    ss7_set_message(cb_message);
    ss7_set_error(cb_error);
    ss7_set_hangup(cb_hangup);
    ss7_set_call_null(cb_call_null);
    ss7_set_notinservice(cb_not_in_service);
  });
}

}  // namespace

std::unique_ptr<Stack> make_ss7(Engine& engine, json config, std::string field) {
  return std::make_unique<Ss7Stack>(engine, std::move(config), std::move(field));
}

}  // namespace switchboard
