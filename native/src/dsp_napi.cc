// SPDX-License-Identifier: GPL-2.0-or-later
// The DSP as JavaScript sees it: a Dsp per channel, tone zones, generators and the benchmark's reference loops.

#include "dsp_napi.h"

#include <spandsp.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "dsp.h"
#include "dsp_internal.h"

namespace switchboard {
namespace {

using dsp::DspError;

// The error JavaScript gets for a bad argument: E_COMMAND_FIELD naming the field, as the
// engine's EngineError arrives (src/native/dsp.ts turns it into a SwitchboardError).
[[noreturn]] void ThrowField(Napi::Env env, const std::string& field, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, field + ": " + message);
  error.Set("code", Napi::String::New(env, "E_COMMAND_FIELD"));
  error.Set("field", Napi::String::New(env, field));
  throw error;
}

int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

bool IsInt16Array(const Napi::Value& v) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int16_array;
}

Napi::Int16Array Int16Arg(const Napi::Value& v, const char* field) {
  if (!IsInt16Array(v)) ThrowField(v.Env(), field, "must be an Int16Array of linear samples");
  return v.As<Napi::Int16Array>();
}

int IntArg(const Napi::Value& v, const std::string& field, int min, int max) {
  if (!v.IsNumber()) ThrowField(v.Env(), field, "must be an integer");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d) ThrowField(v.Env(), field, "must be an integer");
  if (d < min || d > max)
    ThrowField(v.Env(), field,
               std::to_string(static_cast<long long>(d)) + " is out of range " + std::to_string(min) +
                   ".." + std::to_string(max));
  return static_cast<int>(d);
}

std::string StringArg(const Napi::Value& v, const std::string& field) {
  if (!v.IsString()) ThrowField(v.Env(), field, "must be a string");
  return v.As<Napi::String>().Utf8Value();
}

const dsp::ToneZone& ZoneArg(const Napi::Value& v, const std::string& field) {
  const std::string name = StringArg(v, field);
  const dsp::ToneZone* zone = dsp::ToneZone::find(name);
  if (!zone)
    ThrowField(v.Env(), field,
               "\"" + name + "\" is not a tone zone (known: " + Join(dsp::ToneZone::names()) + ")");
  return *zone;
}

bool IsPlainObject(const Napi::Value& v) { return v.IsObject() && !v.IsArray() && !v.IsFunction() && !v.IsTypedArray(); }

// AMD parameters: an object of the AmdParams names (camelCase), each an integer in range.
dsp::AmdParams AmdArg(const Napi::Value& v, const std::string& field) {
  dsp::AmdParams params;
  if (v.IsUndefined() || v.IsBoolean()) return params;
  if (!IsPlainObject(v)) ThrowField(v.Env(), field, "must be true, false or an object of AMD parameters");
  const Napi::Object obj = v.As<Napi::Object>();
  const Napi::Array keys = obj.GetPropertyNames();
  std::vector<std::string> known;
  for (const dsp::AmdParamSpec& spec : dsp::amd_param_specs()) known.push_back(spec.name);
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string key = keys.Get(i).ToString().Utf8Value();
    const auto it = std::find_if(dsp::amd_param_specs().begin(), dsp::amd_param_specs().end(),
                                 [&key](const dsp::AmdParamSpec& s) { return key == s.name; });
    if (it == dsp::amd_param_specs().end())
      ThrowField(v.Env(), field + "." + key, "is not an AMD parameter (known: " + Join(known) + ")");
    const Napi::Value value = obj.Get(key);
    if (value.IsUndefined()) continue;
    params.*(it->member) = IntArg(value, field + "." + key, it->min, it->max);
  }
  return params;
}

dsp::DetectOptions OptionsArg(const Napi::Value& v) {
  dsp::DetectOptions opt;
  if (v.IsUndefined()) return opt;
  if (!IsPlainObject(v)) ThrowField(v.Env(), "options", "must be an object");
  const Napi::Object obj = v.As<Napi::Object>();
  const Napi::Array keys = obj.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string key = keys.Get(i).ToString().Utf8Value();
    if (key != "dtmf" && key != "zone" && key != "fax" && key != "amd")
      ThrowField(v.Env(), key, "is not a Dsp option (known: dtmf, zone, fax, amd)");
  }
  const auto flag = [&obj](const char* name, bool def) {
    const Napi::Value value = obj.Get(name);
    if (value.IsUndefined()) return def;
    if (!value.IsBoolean()) ThrowField(obj.Env(), name, "must be true or false");
    return value.As<Napi::Boolean>().Value();
  };
  opt.dtmf = flag("dtmf", true);
  opt.fax = flag("fax", false);
  const Napi::Value zone = obj.Get("zone");
  if (!zone.IsUndefined()) opt.zone = &ZoneArg(zone, "zone");
  const Napi::Value amd = obj.Get("amd");
  if (amd.IsBoolean()) {
    opt.amd = amd.As<Napi::Boolean>().Value();
  } else if (!amd.IsUndefined()) {
    opt.amd = true;
    opt.amd_params = AmdArg(amd, "amd");
  }
  return opt;
}

Napi::Object EventObject(Napi::Env env, const dsp::Event& e) {
  Napi::Object o = Napi::Object::New(env);
  const auto digit = [&] { return Napi::String::New(env, std::string(1, e.digit)); };
  switch (e.kind) {
    case dsp::Event::Kind::kDtmf:
      o.Set("event", "dtmf");
      o.Set("digit", digit());
      o.Set("start", static_cast<double>(e.start));
      o.Set("ms", e.ms);
      o.Set("level", e.level);
      break;
    case dsp::Event::Kind::kDtmfStart:
      o.Set("event", "dtmfStart");
      o.Set("digit", digit());
      o.Set("start", static_cast<double>(e.start));
      break;
    case dsp::Event::Kind::kTone:
      o.Set("event", "tone");
      o.Set("name", e.name);
      o.Set("start", static_cast<double>(e.start));
      break;
    case dsp::Event::Kind::kToneEnd:
      o.Set("event", "toneEnd");
      o.Set("name", e.name);
      o.Set("start", static_cast<double>(e.start));
      o.Set("ms", e.ms);
      break;
    case dsp::Event::Kind::kFax:
      o.Set("event", "fax");
      o.Set("name", e.name);
      o.Set("start", static_cast<double>(e.start));
      break;
    case dsp::Event::Kind::kAmd:
      o.Set("event", "amd");
      o.Set("result", e.name);
      o.Set("cause", e.cause);
      o.Set("start", static_cast<double>(e.start));
      break;
  }
  return o;
}

class DspWrap : public Napi::ObjectWrap<DspWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Dsp",
                       {
                           InstanceMethod<&DspWrap::Process>("process"),
                           InstanceMethod<&DspWrap::RestartAmd>("restartAmd"),
                           InstanceAccessor<&DspWrap::CpuNs>("cpuNs"),
                           InstanceAccessor<&DspWrap::Position>("position"),
                       });
  }

  // new Dsp(options?)
  explicit DspWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DspWrap>(info) {
    const dsp::DetectOptions opt = OptionsArg(info.Length() > 0 ? info[0] : info.Env().Undefined());
    try {
      detector_ = std::make_unique<dsp::Detector>(opt);
    } catch (const DspError& e) {
      ThrowField(info.Env(), e.field, e.detail);
    }
  }

 private:
  // process(samples: Int16Array): events, in the order they were recognised.
  Napi::Value Process(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Napi::Int16Array samples = Int16Arg(info.Length() > 0 ? info[0] : env.Undefined(), "samples");
    events_.clear();
    const int64_t t0 = ThreadCpuNs();
    // The media thread passes 20 ms blocks; so do we, whatever the caller hands over.
    const int16_t* data = samples.Data();
    const size_t n = samples.ElementLength();
    for (size_t i = 0; i < n; i += dsp::kBlock) {
      const int len = static_cast<int>(std::min<size_t>(dsp::kBlock, n - i));
      detector_->process(data + i, len, events_);
    }
    cpu_ns_ += ThreadCpuNs() - t0;
    Napi::Array out = Napi::Array::New(env, events_.size());
    for (size_t i = 0; i < events_.size(); ++i) out.Set(static_cast<uint32_t>(i), EventObject(env, events_[i]));
    return out;
  }

  // restartAmd(params?): a new answering-machine verdict from now on.
  Napi::Value RestartAmd(const Napi::CallbackInfo& info) {
    const dsp::AmdParams params = AmdArg(info.Length() > 0 ? info[0] : info.Env().Undefined(), "amd");
    try {
      detector_->restart_amd(params);
    } catch (const DspError& e) {
      ThrowField(info.Env(), e.field, e.detail);
    }
    return info.Env().Undefined();
  }

  // Thread CPU time spent in process(), in ns (for the media benchmark).
  Napi::Value CpuNs(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(cpu_ns_));
  }

  // Samples processed so far: the clock of every event's `start`.
  Napi::Value Position(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(detector_->position()));
  }

  std::unique_ptr<dsp::Detector> detector_;
  std::vector<dsp::Event> events_;
  int64_t cpu_ns_ = 0;
};

Napi::Value ToneZones(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<std::string> names = dsp::ToneZone::names();
  Napi::Array zones = Napi::Array::New(env, names.size());
  for (size_t z = 0; z < names.size(); ++z) {
    const dsp::ToneZone& zone = *dsp::ToneZone::find(names[z]);
    Napi::Object zo = Napi::Object::New(env);
    zo.Set("name", zone.name());
    zo.Set("description", zone.description());
    Napi::Array tones = Napi::Array::New(env, zone.tones().size());
    const std::vector<std::string> heard = dsp::ProgressDetector::reported_names(zone);
    for (size_t t = 0; t < zone.tones().size(); ++t) {
      const dsp::Tone& tone = zone.tones()[t];
      Napi::Object to = Napi::Object::New(env);
      to.Set("name", tone.name);
      to.Set("detectedAs", heard[t]);
      to.Set("repeat", tone.repeat);
      to.Set("firstRepeated", static_cast<double>(tone.first_repeated));
      Napi::Array segs = Napi::Array::New(env, tone.segments.size());
      for (size_t s = 0; s < tone.segments.size(); ++s) {
        const dsp::ToneSegment& seg = tone.segments[s];
        Napi::Object so = Napi::Object::New(env);
        so.Set("f1", seg.f1);
        so.Set("f2", seg.f2);
        so.Set("level1", seg.level1);
        so.Set("level2", seg.level2);
        so.Set("ms", seg.ms);
        if (seg.am) so.Set("am", true);
        segs.Set(static_cast<uint32_t>(s), so);
      }
      to.Set("segments", segs);
      tones.Set(static_cast<uint32_t>(t), to);
    }
    zo.Set("tones", tones);
    zones.Set(static_cast<uint32_t>(z), zo);
  }
  return zones;
}

Napi::Int16Array Generate(Napi::Env env, dsp::Generator& gen, size_t samples) {
  Napi::Int16Array out = Napi::Int16Array::New(env, samples);
  int16_t* data = out.Data();
  size_t done = 0;
  while (done < samples && !gen.done()) {
    const int want = static_cast<int>(std::min<size_t>(dsp::kBlock, samples - done));
    const int got = gen.generate(data + done, want);
    done += static_cast<size_t>(got);
    if (got < want) break;
  }
  // A tone that stops leaves silence (Int16Array.New is zeroed).
  return out;
}

// generateTone(zone, tone, ms): the tone as the zone defines it, `ms` long.
Napi::Value GenerateTone(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const dsp::ToneZone& zone = ZoneArg(info.Length() > 0 ? info[0] : env.Undefined(), "zone");
  const std::string name = StringArg(info.Length() > 1 ? info[1] : env.Undefined(), "tone");
  const dsp::Tone* tone = zone.tone(name);
  if (!tone) {
    std::vector<std::string> known;
    for (const dsp::Tone& t : zone.tones()) known.push_back(t.name);
    ThrowField(env, "tone",
               "\"" + name + "\" is not a tone of zone " + zone.name() + " (known: " + Join(known) + ")");
  }
  const int ms = IntArg(info.Length() > 2 ? info[2] : env.Undefined(), "ms", 1, 600000);
  std::unique_ptr<dsp::Generator> gen = dsp::Generator::tone(*tone);
  return Generate(env, *gen, static_cast<size_t>(ms) * dsp::kRate / 1000);
}

// generateDtmf(digits, onMs, offMs, level?): each digit onMs of tone then offMs of silence.
Napi::Value GenerateDtmf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string digits = StringArg(info.Length() > 0 ? info[0] : env.Undefined(), "digits");
  const int on = IntArg(info.Length() > 1 ? info[1] : env.Undefined(), "onMs", 40, 10000);
  const int off = IntArg(info.Length() > 2 ? info[2] : env.Undefined(), "offMs", 40, 10000);
  int level = -10;
  if (info.Length() > 3 && !info[3].IsUndefined()) level = IntArg(info[3], "level", -50, -4);
  try {
    std::unique_ptr<dsp::Generator> gen = dsp::Generator::dtmf(digits, on, off, level);
    return Generate(env, *gen, digits.size() * static_cast<size_t>(on + off) * dsp::kRate / 1000);
  } catch (const DspError& e) {
    ThrowField(env, e.field, e.detail);
  }
}

// amdParams(): the native table of AMD parameters (src/media/amd.ts must agree with it).
Napi::Value AmdParams(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const dsp::AmdParams defaults;
  const auto& specs = dsp::amd_param_specs();
  Napi::Array out = Napi::Array::New(env, specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", specs[i].name);
    o.Set("default", defaults.*specs[i].member);
    o.Set("min", specs[i].min);
    o.Set("max", specs[i].max);
    o.Set("unit", specs[i].unit);
    o.Set("meaning", specs[i].meaning);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

// ---- reference loops for the media benchmark -----------------------------------------------------

void CollectDigits(void* user, const char* digits, int len) {
  static_cast<std::string*>(user)->append(digits, static_cast<size_t>(len));
}

// dspReference.dtmf(samples): spandsp's bare dtmf_rx over 20 ms blocks, and its thread CPU time.
Napi::Value ReferenceDtmf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Int16Array samples = Int16Arg(info.Length() > 0 ? info[0] : env.Undefined(), "samples");
  std::string digits;
  dtmf_rx_state_t* rx = dtmf_rx_init(nullptr, CollectDigits, &digits);
  if (!rx) throw Napi::Error::New(env, "spandsp: out of memory");
  const int16_t* data = samples.Data();
  const size_t n = samples.ElementLength();
  const int64_t t0 = ThreadCpuNs();
  for (size_t i = 0; i < n; i += dsp::kBlock)
    dtmf_rx(rx, data + i, static_cast<int>(std::min<size_t>(dsp::kBlock, n - i)));
  const int64_t cpu = ThreadCpuNs() - t0;
  dtmf_rx_free(rx);
  Napi::Object out = Napi::Object::New(env);
  out.Set("digits", digits);
  out.Set("cpuNs", static_cast<double>(cpu));
  return out;
}

// dspReference.mix(parties, blocks): the plainest conference mixer, each party hearing the sum
// of the others (sum minus self, saturated), over `blocks` 20 ms frames.
Napi::Value ReferenceMix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int parties = IntArg(info.Length() > 0 ? info[0] : env.Undefined(), "parties", 1, 1024);
  const int blocks = IntArg(info.Length() > 1 ? info[1] : env.Undefined(), "blocks", 1, 10000000);
  const size_t len = static_cast<size_t>(parties) * dsp::kBlock;
  std::vector<int16_t> in(len), out(len);
  // Speech-level noise from a fixed LCG: the same work on every run.
  uint32_t seed = 12345;
  for (int16_t& s : in) {
    seed = seed * 1664525u + 1013904223u;
    s = static_cast<int16_t>(static_cast<int32_t>(seed >> 16) % 4096 - 2048);
  }
  std::vector<int32_t> sum(dsp::kBlock);
  int64_t check = 0;
  const int64_t t0 = ThreadCpuNs();
  for (int b = 0; b < blocks; ++b) {
    std::fill(sum.begin(), sum.end(), 0);
    for (int p = 0; p < parties; ++p) {
      const int16_t* x = in.data() + static_cast<size_t>(p) * dsp::kBlock;
      for (int i = 0; i < dsp::kBlock; ++i) sum[i] += x[i];
    }
    for (int p = 0; p < parties; ++p) {
      const int16_t* x = in.data() + static_cast<size_t>(p) * dsp::kBlock;
      int16_t* y = out.data() + static_cast<size_t>(p) * dsp::kBlock;
      for (int i = 0; i < dsp::kBlock; ++i)
        y[i] = static_cast<int16_t>(std::clamp(sum[i] - x[i], -32768, 32767));
    }
    // One sample per frame changes, so no frame's work can be folded into another's.
    in[static_cast<size_t>(b) % len] ^= 1;
    check += out[static_cast<size_t>(b) % len];
  }
  const int64_t cpu = ThreadCpuNs() - t0;
  Napi::Object result = Napi::Object::New(env);
  result.Set("cpuNs", static_cast<double>(cpu));
  result.Set("check", static_cast<double>(check));
  return result;
}

}  // namespace

void InitDsp(Napi::Env env, Napi::Object exports) {
  exports.Set("Dsp", DspWrap::Define(env));
  exports.Set("toneZones", Napi::Function::New(env, ToneZones, "toneZones"));
  exports.Set("generateTone", Napi::Function::New(env, GenerateTone, "generateTone"));
  exports.Set("generateDtmf", Napi::Function::New(env, GenerateDtmf, "generateDtmf"));
  exports.Set("amdParams", Napi::Function::New(env, AmdParams, "amdParams"));
  Napi::Object reference = Napi::Object::New(env);
  reference.Set("dtmf", Napi::Function::New(env, ReferenceDtmf, "dtmf"));
  reference.Set("mix", Napi::Function::New(env, ReferenceMix, "mix"));
  exports.Set("dspReference", reference);
}

}  // namespace switchboard
