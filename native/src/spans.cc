// SPDX-License-Identifier: GPL-2.0-or-later
// spans(): every DAHDI span's status (DAHDI_SPANSTAT) as plain JavaScript objects.

#include "spans.h"

#include <dahdi/user.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "dahdi.h"
#include "errors.h"

namespace switchboard {
namespace {

constexpr const char* kCtlPath = "/dev/dahdi/ctl";

// Closes the control device on every path out, exceptions included. The device is opened per
// call (once a second at most) so that no descriptor outlives a call or needs an exit hook.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// A fixed-size char field that may lack its terminating NUL.
template <size_t N>
Napi::String Text(Napi::Env env, const char (&field)[N]) {
  return Napi::String::New(env, field, strnlen(field, N));
}

Napi::Array Alarms(Napi::Env env, int alarms) {
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (const std::string& name : dahdi_alarm_names(alarms)) out.Set(n++, name);
  return out;
}

// Framing and coding from DAHDI_CONFIG_* bits; null where the span has none (not configured,
// or an analog span). E1 without CCS is CAS.
Napi::Object LineConfig(Napi::Env env, int lineconfig, const std::string& spantype) {
  Napi::Object out = Napi::Object::New(env);
  Napi::Value framing = env.Null();
  Napi::Value coding = env.Null();
  if (lineconfig & DAHDI_CONFIG_ESF) {
    framing = Napi::String::New(env, "esf");
  } else if (lineconfig & DAHDI_CONFIG_D4) {
    framing = Napi::String::New(env, "d4");
  } else if (lineconfig & DAHDI_CONFIG_CCS) {
    framing = Napi::String::New(env, "ccs");
  } else if (lineconfig != 0 && spantype == "E1") {
    framing = Napi::String::New(env, "cas");
  }
  if (lineconfig & DAHDI_CONFIG_B8ZS) {
    coding = Napi::String::New(env, "b8zs");
  } else if (lineconfig & DAHDI_CONFIG_HDB3) {
    coding = Napi::String::New(env, "hdb3");
  } else if (lineconfig & DAHDI_CONFIG_AMI) {
    coding = Napi::String::New(env, "ami");
  }
  out.Set("framing", framing);
  out.Set("coding", coding);
  out.Set("crc4", Napi::Boolean::New(env, (lineconfig & DAHDI_CONFIG_CRC4) != 0));
  return out;
}

Napi::Object SpanObject(Napi::Env env, const dahdi_spaninfo& s) {
  Napi::Object span = Napi::Object::New(env);
  const std::string spantype(s.spantype, strnlen(s.spantype, sizeof s.spantype));
  span.Set("span", s.spanno);
  span.Set("name", Text(env, s.name));
  span.Set("desc", Text(env, s.desc));
  span.Set("alarms", Alarms(env, s.alarms));
  // linecompat is 0 exactly for analog cards (that is how dahdi_scan tells them apart).
  span.Set("type", s.linecompat > 0 ? spantype : std::string("analog"));
  span.Set("spantype", spantype);
  span.Set("totalchans", s.totalchans);
  span.Set("numchans", s.numchans);
  span.Set("lineconfig", LineConfig(env, s.lineconfig, spantype));
  Napi::Object counters = Napi::Object::New(env);
  counters.Set("bpv", s.bpvcount);
  counters.Set("crc4", s.crc4count);
  counters.Set("ebit", s.ebitcount);
  counters.Set("fas", s.fascount);
  counters.Set("fe", s.fecount);
  counters.Set("cv", s.cvcount);
  counters.Set("be", s.becount);
  counters.Set("errsec", s.errsec);
  span.Set("counters", counters);
  span.Set("syncsrc", s.syncsrc);
  return span;
}

}  // namespace

Napi::Value Spans(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fd ctl(open(kCtlPath, O_RDWR | O_CLOEXEC));
  if (ctl.get() < 0) {
    ThrowSysError(env, "E_DAHDI_OPEN", std::string("cannot open ") + kCtlPath, "open", errno);
  }
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (int spanno = 1; spanno < DAHDI_MAX_SPANS; ++spanno) {
    dahdi_spaninfo s;
    std::memset(&s, 0, sizeof s);
    s.spanno = spanno;
    if (ioctl(ctl.get(), DAHDI_SPANSTAT, &s) == 0) {
      out.Set(n++, SpanObject(env, s));
      continue;
    }
    // The kernel answers EINVAL for a span number that is not registered; anything else is a
    // failure of the device itself.
    if (errno == EINVAL || errno == ENXIO || errno == ENODEV) continue;
    ThrowSysError(env, "E_DAHDI_IOCTL", "DAHDI_SPANSTAT span " + std::to_string(spanno),
                  "ioctl", errno);
  }
  return out;
}

}  // namespace switchboard
