// SPDX-License-Identifier: GPL-2.0-or-later
// spans(): every DAHDI span's status (DAHDI_SPANSTAT) as plain JavaScript objects.
#pragma once

#include <napi.h>

namespace switchboard {

Napi::Value Spans(const Napi::CallbackInfo& info);

}  // namespace switchboard
