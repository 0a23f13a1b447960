// SPDX-License-Identifier: GPL-2.0-or-later
// What every signalling stack shares: the call record, call states and Q.850 cause names.
#pragma once

#include <cstdint>
#include <string>

#include "engine.h"

namespace switchboard {

// Call states as the uniform call API names them (events, snapshot).
enum class CallState {
  kDialing,     // outgoing: seizure/SETUP/IAM sent, nothing back yet
  kOffered,     // incoming: offered to the controller
  kProceeding,  // CALL PROCEEDING / accepted, routing
  kAlerting,    // the far end rings
  kAnswered,    // connected
  kReleasing,   // clearing in progress
};
const char* call_state_name(CallState s);

// A Q.850 cause value's name (NORMAL_CLEARING for 16), "CAUSE_<n>" for one without a name.
std::string cause_name(int cause);
// Reads an optional `cause` from a release command: a number 1..127 or a name; default 16.
int cause_field(const json& cmd);

struct Call {
  uint64_t id = 0;
  bool outgoing = false;
  CallState state = CallState::kDialing;
  int span = 0;
  int timeslot = 0;   // 0 until a channel is chosen
  int channo = 0;     // DAHDI channel number
  int cic = -1;       // SS7 only
  std::string called;
  std::string calling;
  std::string category;
  int64_t started_ms = 0;

  json to_json() const;
  // An event about this call: {"event": name, "call": id, ...}.
  json event(const char* name) const;
};

}  // namespace switchboard
