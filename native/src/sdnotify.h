// SPDX-License-Identifier: GPL-2.0-or-later
// sdNotify(state, socket): one datagram to systemd's notification socket (Node has no unix datagrams).
#pragma once

#include <napi.h>

namespace switchboard {

Napi::Value SdNotify(const Napi::CallbackInfo& info);

}  // namespace switchboard
