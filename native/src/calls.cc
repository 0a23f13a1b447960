// SPDX-License-Identifier: GPL-2.0-or-later
// Call records and the Q.850 cause name table shared by the signalling stacks.

#include "calls.h"

#include <map>

namespace switchboard {

const char* call_state_name(CallState s) {
  switch (s) {
    case CallState::kDialing:
      return "dialing";
    case CallState::kOffered:
      return "offered";
    case CallState::kProceeding:
      return "proceeding";
    case CallState::kAlerting:
      return "alerting";
    case CallState::kAnswered:
      return "answered";
    case CallState::kReleasing:
      return "releasing";
  }
  return "unknown";
}

namespace {

// ITU-T Q.850 cause values, with the names Asterisk and Wireshark print.
const std::map<int, const char*>& causes() {
  static const std::map<int, const char*> table = {
      {1, "UNALLOCATED"},
      {2, "NO_ROUTE_TRANSIT_NET"},
      {3, "NO_ROUTE_DESTINATION"},
      {6, "CHANNEL_UNACCEPTABLE"},
      {7, "CALL_AWARDED_DELIVERED"},
      {16, "NORMAL_CLEARING"},
      {17, "USER_BUSY"},
      {18, "NO_USER_RESPONSE"},
      {19, "NO_ANSWER"},
      {21, "CALL_REJECTED"},
      {22, "NUMBER_CHANGED"},
      {27, "DESTINATION_OUT_OF_ORDER"},
      {28, "INVALID_NUMBER_FORMAT"},
      {29, "FACILITY_REJECTED"},
      {30, "RESPONSE_TO_STATUS_ENQUIRY"},
      {31, "NORMAL_UNSPECIFIED"},
      {34, "NORMAL_CIRCUIT_CONGESTION"},
      {38, "NETWORK_OUT_OF_ORDER"},
      {41, "NORMAL_TEMPORARY_FAILURE"},
      {42, "SWITCH_CONGESTION"},
      {43, "ACCESS_INFO_DISCARDED"},
      {44, "REQUESTED_CHAN_UNAVAIL"},
      {47, "RESOURCE_UNAVAILABLE"},
      {50, "FACILITY_NOT_SUBSCRIBED"},
      {52, "OUTGOING_CALL_BARRED"},
      {54, "INCOMING_CALL_BARRED"},
      {57, "BEARERCAPABILITY_NOTAUTH"},
      {58, "BEARERCAPABILITY_NOTAVAIL"},
      {65, "BEARERCAPABILITY_NOTIMPL"},
      {66, "CHAN_NOT_IMPLEMENTED"},
      {69, "FACILITY_NOT_IMPLEMENTED"},
      {81, "INVALID_CALL_REFERENCE"},
      {88, "INCOMPATIBLE_DESTINATION"},
      {95, "INVALID_MSG_UNSPECIFIED"},
      {96, "MANDATORY_IE_MISSING"},
      {97, "MESSAGE_TYPE_NONEXIST"},
      {98, "WRONG_MESSAGE"},
      {99, "IE_NONEXIST"},
      {100, "INVALID_IE_CONTENTS"},
      {101, "WRONG_CALL_STATE"},
      {102, "RECOVERY_ON_TIMER_EXPIRE"},
      {103, "MANDATORY_IE_LENGTH_ERROR"},
      {111, "PROTOCOL_ERROR"},
      {127, "INTERWORKING"},
  };
  return table;
}

}  // namespace

std::string cause_name(int cause) {
  auto it = causes().find(cause);
  return it == causes().end() ? "CAUSE_" + std::to_string(cause) : it->second;
}

int cause_field(const json& cmd) {
  if (!cmd.contains("cause") || cmd["cause"].is_null()) return 16;
  const json& v = cmd["cause"];
  if (v.is_number_integer()) {
    const int64_t n = v.get<int64_t>();
    if (n < 1 || n > 127)
      throw EngineError("E_COMMAND_FIELD", "cause",
                        std::to_string(n) + " is not a Q.850 cause (1..127)");
    return static_cast<int>(n);
  }
  if (v.is_string()) {
    for (const auto& [n, name] : causes())
      if (v.get<std::string>() == name) return n;
    throw EngineError("E_COMMAND_FIELD", "cause",
                      "\"" + v.get<std::string>() + "\" is not a Q.850 cause name");
  }
  throw EngineError("E_COMMAND_FIELD", "cause", "must be a Q.850 cause number or name");
}

json Call::to_json() const {
  json j = {{"call", id},
            {"direction", outgoing ? "outgoing" : "incoming"},
            {"state", call_state_name(state)},
            {"span", span},
            {"channel", timeslot},
            {"dahdiChannel", channo},
            {"called", called},
            {"calling", calling}};
  if (cic >= 0) j["cic"] = cic;
  if (!category.empty()) j["category"] = category;
  return j;
}

json Call::event(const char* name) const {
  json j = {{"event", name}, {"call", id}};
  if (span) j["span"] = span;
  if (timeslot) j["channel"] = timeslot;
  if (channo) j["dahdiChannel"] = channo;
  if (cic >= 0) j["cic"] = cic;
  return j;
}

}  // namespace switchboard
