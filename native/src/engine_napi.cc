// SPDX-License-Identifier: GPL-2.0-or-later
// The Engine class as JavaScript sees it: JSON commands in, batches of JSON events out.

#include "engine_napi.h"

#include <memory>
#include <mutex>
#include <set>

#include "engine.h"

namespace switchboard {
namespace {

// Every live engine, stopped by the environment's cleanup hook so no trunk thread outlives
// the process's JavaScript side and every DAHDI descriptor is closed.
std::mutex g_live_mu;
std::set<class EngineWrap*> g_live;

[[noreturn]] void Rethrow(Napi::Env env, const EngineError& e) {
  Napi::Error error = Napi::Error::New(env, e.what());
  error.Set("code", Napi::String::New(env, e.code));
  if (!e.field.empty()) error.Set("field", Napi::String::New(env, e.field));
  throw error;
}

json ParseArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a JSON string");
  try {
    return json::parse(info[i].As<Napi::String>().Utf8Value());
  } catch (const json::exception& e) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " is not JSON: " + e.what());
  }
}

int SpanArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber())
    throw Napi::TypeError::New(info.Env(), "span must be a number");
  return info[0].As<Napi::Number>().Int32Value();
}

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod<&EngineWrap::Start>("start"),
                           InstanceMethod<&EngineWrap::Stop>("stop"),
                           InstanceMethod<&EngineWrap::Reconfigure>("reconfigure"),
                           InstanceMethod<&EngineWrap::Command>("command"),
                           InstanceMethod<&EngineWrap::Snapshot>("snapshot"),
                           InstanceMethod<&EngineWrap::TraceStart>("traceStart"),
                           InstanceMethod<&EngineWrap::TraceStop>("traceStop"),
                           InstanceMethod<&EngineWrap::TraceRead>("traceRead"),
                       });
  }

  // new Engine(onEvents): onEvents(json) receives a JSON array of events, in order.
  explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction())
      throw Napi::TypeError::New(env, "new Engine(onEvents): onEvents must be a function");
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "switchboard-events",
                                          0, 1);
    tsfn_.Unref(env);
    engine_ = std::make_unique<Engine>([this] {
      // Called by a trunk thread when the queue was empty: one call delivers the whole batch.
      tsfn_.NonBlockingCall([this](Napi::Env env, Napi::Function callback) { Deliver(env, callback); });
    });
    std::lock_guard<std::mutex> lock(g_live_mu);
    g_live.insert(this);
  }

  ~EngineWrap() override {
    Shutdown();
    {
      std::lock_guard<std::mutex> lock(g_live_mu);
      g_live.erase(this);
    }
    tsfn_.Release();
  }

  // Stops the trunks (joins their threads); safe to call twice.
  void Shutdown() {
    if (engine_) engine_->stop();
  }

  static void StopAll() {
    std::lock_guard<std::mutex> lock(g_live_mu);
    for (EngineWrap* e : g_live) e->Shutdown();
  }

 private:
  void Deliver(Napi::Env env, Napi::Function callback) {
    std::vector<json> events = engine_->take_events();
    if (events.empty()) return;
    json batch = json::array();
    for (auto& e : events) batch.push_back(std::move(e));
    callback.Call({Napi::String::New(env, batch.dump(-1, ' ', false, json::error_handler_t::replace))});
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    json config = ParseArg(info, 0, "config");
    try {
      engine_->start(config);
    } catch (const EngineError& e) {
      Rethrow(info.Env(), e);
    }
    // A running engine keeps the process alive, as a listening server does.
    tsfn_.Ref(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    engine_->stop();
    tsfn_.Unref(info.Env());
    // Deliver what the trunks said on the way out.
    std::vector<json> rest = engine_->take_events();
    json batch = json::array();
    for (auto& e : rest) batch.push_back(std::move(e));
    return Napi::String::New(info.Env(), batch.dump(-1, ' ', false, json::error_handler_t::replace));
  }

  // reconfigure(configJson) -> '{"kept": [...], "stopped": [...], "started": [...]}'
  Napi::Value Reconfigure(const Napi::CallbackInfo& info) {
    json config = ParseArg(info, 0, "config");
    try {
      return Napi::String::New(info.Env(), engine_->reconfigure(config).dump());
    } catch (const EngineError& e) {
      Rethrow(info.Env(), e);
    }
  }

  Napi::Value Command(const Napi::CallbackInfo& info) {
    json cmd = ParseArg(info, 0, "command");
    try {
      return Napi::String::New(info.Env(), engine_->command(std::move(cmd)).dump());
    } catch (const EngineError& e) {
      Rethrow(info.Env(), e);
    }
  }

  Napi::Value Snapshot(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), engine_->snapshot().dump(-1, ' ', false, json::error_handler_t::replace));
  }

  Napi::Value TraceStart(const Napi::CallbackInfo& info) {
    const int span = SpanArg(info);
    size_t max = 64u << 20;
    if (info.Length() > 1 && info[1].IsNumber()) max = info[1].As<Napi::Number>().Int64Value();
    try {
      engine_->trace_start(span, max);
    } catch (const EngineError& e) {
      Rethrow(info.Env(), e);
    }
    return info.Env().Undefined();
  }

  Napi::Value TraceStop(const Napi::CallbackInfo& info) {
    try {
      engine_->trace_stop(SpanArg(info));
    } catch (const EngineError& e) {
      Rethrow(info.Env(), e);
    }
    return info.Env().Undefined();
  }

  Napi::Value TraceRead(const Napi::CallbackInfo& info) {
    try {
      const std::string bytes = engine_->trace_read(SpanArg(info));
      return Napi::Buffer<char>::Copy(info.Env(), bytes.data(), bytes.size());
    } catch (const EngineError& e) {
      Rethrow(info.Env(), e);
    }
  }

  Napi::ThreadSafeFunction tsfn_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace

void InitEngine(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", EngineWrap::Define(env));
  env.AddCleanupHook([] { EngineWrap::StopAll(); });
}

}  // namespace switchboard
