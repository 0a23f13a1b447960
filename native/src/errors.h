// SPDX-License-Identifier: GPL-2.0-or-later
// JavaScript exceptions with a stable `code` (the controller's SwitchboardError codes).
#pragma once

#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace switchboard {

// An Error carrying `code` (E_DAHDI_OPEN ...) and, when a system call failed, `errno` and
// `syscall`, so JavaScript branches on the code and never on the message.
[[noreturn]] inline void ThrowSysError(Napi::Env env, const char* code, const std::string& what,
                                       const char* syscall, int err) {
  Napi::Error error = Napi::Error::New(env, what + ": " + std::strerror(err));
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, syscall));
  throw error;
}

}  // namespace switchboard
