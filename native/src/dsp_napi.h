// SPDX-License-Identifier: GPL-2.0-or-later
// Registers the DSP on the addon's exports: the Dsp class, tone zones, generators, reference loops.
#pragma once

#include <napi.h>

namespace switchboard {

void InitDsp(Napi::Env env, Napi::Object exports);

}  // namespace switchboard
