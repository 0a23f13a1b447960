// SPDX-License-Identifier: GPL-2.0-or-later
// Registers the Engine class on the addon's exports.
#pragma once

#include <napi.h>

namespace switchboard {

void InitEngine(Napi::Env env, Napi::Object exports);

}  // namespace switchboard
