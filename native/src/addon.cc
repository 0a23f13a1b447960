// SPDX-License-Identifier: GPL-2.0-or-later
// Addon entry point: registers the functions the controller calls.

#include <napi.h>

#include "dsp_napi.h"
#include "engine_napi.h"
#include "sdnotify.h"
#include "spans.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("spans", Napi::Function::New(env, switchboard::Spans, "spans"));
  exports.Set("sdNotify", Napi::Function::New(env, switchboard::SdNotify, "sdNotify"));
  switchboard::InitEngine(env, exports);
  switchboard::InitDsp(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(switchboard, Init)
