// SPDX-License-Identifier: GPL-2.0-or-later
// DAHDI channel access for the signalling stacks: open by span/timeslot, parameters, events.
#pragma once

#include <dahdi/user.h>

#include <string>
#include <vector>

namespace switchboard {

// The DAHDI channel number of a span's first channel: from sysfs where the kernel publishes it,
// otherwise counted from DAHDI_SPANSTAT (DAHDI numbers channels on across spans in span order).
// Throws EngineError(E_DAHDI_OPEN) naming `field` when the span does not exist.
int dahdi_basechan(int span, const std::string& field);
// Total channels of a span, 0 when it does not exist.
int dahdi_span_channels(int span);

// Opens /dev/dahdi/channel for `channo` (DAHDI_SPECIFY), non-blocking, close-on-exec.
// Throws EngineError naming `field` on failure.
int dahdi_open(int channo, const std::string& field);
// DAHDI_GET_PARAMS; throws naming `field`.
dahdi_params dahdi_get_params(int fd, const std::string& field);
// Requires the channel's signalling (DAHDI_SIG_*) to include `want`; the error names what
// system.conf should say (`what`, e.g. "hardhdlc") and what it says now.
void dahdi_require_sig(int fd, int channo, int want, const char* what, const std::string& field);
// Requires a signalling link channel: hardhdlc= (a controller's HDLC) or dchan= (DAHDI's software
// HDLC with FCS), both of which hand over whole frames with two FCS octets. `use` ends the
// error message (what the link is for).
void dahdi_require_hdlc(int fd, int channo, const std::string& field, const std::string& use);
void dahdi_set_blocksize(int fd, int size, const std::string& field);
// Buffers for an HDLC channel: `n` buffers of `size` bytes, full-buffer policy on receive.
void dahdi_set_hdlc_bufs(int fd, int n, int size, const std::string& field);
// DAHDI_GETEVENT: the pending event, DAHDI_EVENT_NONE (0) when there is none.
int dahdi_get_event(int fd);
// DAHDI_EVENT_* name ("ALARM", "HOOKCOMPLETE" ...).
const char* dahdi_event_name(int event);
// DAHDI_SIG_* name as system.conf spells it ("hardhdlc", "cas", "fxoks" ...).
const char* dahdi_sig_name(int sig);
// The span's DAHDI_ALARM_* bits by DAHDI_SPANSTAT, -1 when the span does not answer.
int dahdi_span_alarm_bits(int span);
// DAHDI_ALARM_* bits as names (RED, YELLOW, BLUE, LOS ...; BIT<n> for one this build lacks).
std::vector<std::string> dahdi_alarm_names(int bits);

}  // namespace switchboard
