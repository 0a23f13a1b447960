// SPDX-License-Identifier: GPL-2.0-or-later
// DAHDI channel helpers: DAHDI_SPECIFY, GET_PARAMS, buffers, events and their names.

#include "dahdi.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "engine.h"

namespace switchboard {
namespace {

std::string sys(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

bool spanstat(int span, dahdi_spaninfo& info) {
  const int fd = open("/dev/dahdi/ctl", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  std::memset(&info, 0, sizeof info);
  info.spanno = span;
  const int r = ioctl(fd, DAHDI_SPANSTAT, &info);
  close(fd);
  return r == 0;
}

}  // namespace

int dahdi_span_channels(int span) {
  dahdi_spaninfo info;
  return spanstat(span, info) ? info.totalchans : 0;
}

int dahdi_basechan(int span, const std::string& field) {
  dahdi_spaninfo info;
  if (span < 1 || span >= DAHDI_MAX_SPANS || !spanstat(span, info))
    throw EngineError("E_CONFIG_FIELD", field,
                      "span " + std::to_string(span) + " does not exist on this board");
  char path[96];
  std::snprintf(path, sizeof path, "/sys/bus/dahdi_spans/devices/span-%d/basechan", span);
  if (FILE* f = std::fopen(path, "r")) {
    int base = -1;
    const int n = std::fscanf(f, "%d", &base);
    std::fclose(f);
    if (n == 1 && base > 0) return base;
  }
  int base = 1;
  for (int s = 1; s < span; ++s) {
    dahdi_spaninfo other;
    if (spanstat(s, other)) base += other.totalchans;
  }
  return base;
}

int dahdi_open(int channo, const std::string& field) {
  const int fd = open("/dev/dahdi/channel", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw EngineError("E_DAHDI_OPEN", field, sys("/dev/dahdi/channel"));
  int n = channo;
  if (ioctl(fd, DAHDI_SPECIFY, &n) < 0) {
    const std::string why = sys("DAHDI_SPECIFY");
    close(fd);
    throw EngineError("E_DAHDI_OPEN", field, "channel " + std::to_string(channo) + ": " + why);
  }
  return fd;
}

dahdi_params dahdi_get_params(int fd, const std::string& field) {
  dahdi_params p;
  std::memset(&p, 0, sizeof p);
  if (ioctl(fd, DAHDI_GET_PARAMS, &p) < 0)
    throw EngineError("E_DAHDI_IOCTL", field, sys("DAHDI_GET_PARAMS"));
  return p;
}

void dahdi_require_sig(int fd, int channo, int want, const char* what, const std::string& field) {
  const dahdi_params p = dahdi_get_params(fd, field);
  if ((p.sigtype & want) != want)
    throw EngineError("E_CONFIG_FIELD", field,
                      "DAHDI channel " + std::to_string(channo) + " (span " +
                          std::to_string(p.spanno) + " timeslot " + std::to_string(p.chanpos) +
                          ") is configured as " + dahdi_sig_name(p.sigtype) + ", not " + what +
                          " (check system.conf)");
}

void dahdi_require_hdlc(int fd, int channo, const std::string& field, const std::string& use) {
  const dahdi_params p = dahdi_get_params(fd, field);
  if ((p.sigtype & DAHDI_SIG_HARDHDLC) == DAHDI_SIG_HARDHDLC || p.sigtype == DAHDI_SIG_HDLCFCS)
    return;
  throw EngineError("E_CONFIG_FIELD", field,
                    "DAHDI channel " + std::to_string(channo) + " (span " +
                        std::to_string(p.spanno) + " timeslot " + std::to_string(p.chanpos) +
                        ") is configured as " + dahdi_sig_name(p.sigtype) +
                        ", not hardhdlc: " + use);
}

void dahdi_set_blocksize(int fd, int size, const std::string& field) {
  int n = size;
  if (ioctl(fd, DAHDI_SET_BLOCKSIZE, &n) < 0)
    throw EngineError("E_DAHDI_IOCTL", field, sys("DAHDI_SET_BLOCKSIZE"));
}

void dahdi_set_hdlc_bufs(int fd, int n, int size, const std::string& field) {
  dahdi_bufferinfo bi;
  std::memset(&bi, 0, sizeof bi);
  bi.txbufpolicy = DAHDI_POLICY_IMMEDIATE;
  bi.rxbufpolicy = DAHDI_POLICY_IMMEDIATE;
  bi.numbufs = n;
  bi.bufsize = size;
  if (ioctl(fd, DAHDI_SET_BUFINFO, &bi) < 0)
    throw EngineError("E_DAHDI_IOCTL", field, sys("DAHDI_SET_BUFINFO"));
}

int dahdi_get_event(int fd) {
  int e = 0;
  if (ioctl(fd, DAHDI_GETEVENT, &e) < 0) return 0;
  return e;
}

const char* dahdi_event_name(int event) {
  switch (event & ~DAHDI_EVENT_PULSEDIGIT & ~DAHDI_EVENT_DTMFDOWN & ~DAHDI_EVENT_DTMFUP) {
    case DAHDI_EVENT_NONE: return "NONE";
    case DAHDI_EVENT_ONHOOK: return "ONHOOK";
    case DAHDI_EVENT_RINGOFFHOOK: return "RINGOFFHOOK";
    case DAHDI_EVENT_WINKFLASH: return "WINKFLASH";
    case DAHDI_EVENT_ALARM: return "ALARM";
    case DAHDI_EVENT_NOALARM: return "NOALARM";
    case DAHDI_EVENT_ABORT: return "ABORT";
    case DAHDI_EVENT_OVERRUN: return "OVERRUN";
    case DAHDI_EVENT_BADFCS: return "BADFCS";
    case DAHDI_EVENT_DIALCOMPLETE: return "DIALCOMPLETE";
    case DAHDI_EVENT_RINGERON: return "RINGERON";
    case DAHDI_EVENT_RINGEROFF: return "RINGEROFF";
    case DAHDI_EVENT_HOOKCOMPLETE: return "HOOKCOMPLETE";
    case DAHDI_EVENT_BITSCHANGED: return "BITSCHANGED";
    case DAHDI_EVENT_PULSE_START: return "PULSE_START";
    case DAHDI_EVENT_TIMER_EXPIRED: return "TIMER_EXPIRED";
    case DAHDI_EVENT_TIMER_PING: return "TIMER_PING";
    case DAHDI_EVENT_POLARITY: return "POLARITY";
    case DAHDI_EVENT_RINGBEGIN: return "RINGBEGIN";
    case DAHDI_EVENT_EC_DISABLED: return "EC_DISABLED";
    case DAHDI_EVENT_REMOVED: return "REMOVED";
    default: return "UNKNOWN";
  }
}

const char* dahdi_sig_name(int sig) {
  switch (sig) {
    case 0: return "unconfigured";
    case DAHDI_SIG_FXSLS: return "fxsls";
    case DAHDI_SIG_FXSKS: return "fxsks";
    case DAHDI_SIG_FXSGS: return "fxsgs";
    case DAHDI_SIG_FXOLS: return "fxols";
    case DAHDI_SIG_FXOKS: return "fxoks";
    case DAHDI_SIG_FXOGS: return "fxogs";
    case DAHDI_SIG_EM: return "e&m";
    case DAHDI_SIG_CLEAR: return "bchan";
    case DAHDI_SIG_HDLCRAW: return "hdlc raw";
    case DAHDI_SIG_HDLCFCS: return "dchan (hdlcfcs)";
    case DAHDI_SIG_HDLCNET: return "hdlcnet";
    case DAHDI_SIG_HARDHDLC: return "hardhdlc";
    case DAHDI_SIG_MTP2: return "mtp2";
    case DAHDI_SIG_CAS: return "cas";
    case DAHDI_SIG_DACS: return "dacs";
    case DAHDI_SIG_DACS_RBS: return "dacsrbs";
    default: return "other";
  }
}

int dahdi_span_alarm_bits(int span) {
  dahdi_spaninfo info;
  return spanstat(span, info) ? info.alarms : -1;
}

std::vector<std::string> dahdi_alarm_names(int bits) {
  // DAHDI_ALARM_* bits and their names as dahdi_tool and Asterisk print them.
  static const struct {
    int bit;
    const char* name;
  } kAlarms[] = {
      {DAHDI_ALARM_RECOVER, "RECOVER"}, {DAHDI_ALARM_LOOPBACK, "LOOPBACK"},
      {DAHDI_ALARM_YELLOW, "YELLOW"},   {DAHDI_ALARM_RED, "RED"},
      {DAHDI_ALARM_BLUE, "BLUE"},       {DAHDI_ALARM_NOTOPEN, "NOTOPEN"},
      {DAHDI_ALARM_LOS, "LOS"},         {DAHDI_ALARM_LFA, "LFA"},
      {DAHDI_ALARM_LMFA, "LMFA"},
  };
  std::vector<std::string> out;
  int known = 0;
  for (const auto& a : kAlarms) {
    known |= a.bit;
    if (bits & a.bit) out.push_back(a.name);
  }
  for (int b = 0; b < 31; ++b)
    if ((bits & ~known) & (1 << b)) out.push_back("BIT" + std::to_string(b));
  return out;
}

}  // namespace switchboard
