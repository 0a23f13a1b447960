// SPDX-License-Identifier: GPL-2.0-or-later
// sdNotify(state, socket): one datagram to systemd's notification socket (Node has no unix datagrams).
//
// The protocol is sd_notify(3)'s: newline-separated VAR=value assignments in one datagram to the
// AF_UNIX socket named by $NOTIFY_SOCKET, a path or, starting with '@', a name in the abstract
// namespace. Written here rather than linked from libsystemd so the addon needs no libsystemd-dev
// and a development machine without systemd behaves the same.

#include "sdnotify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "errors.h"

namespace switchboard {

namespace {

// Closes the socket however the function leaves.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

// sdNotify(state: string, socket: string): sends `state` to `socket` and returns the bytes sent.
// Throws E_USAGE for a wrong argument (an empty or too long socket name), and E_SD_NOTIFY with
// errno and syscall when the socket cannot be made or the datagram is not taken.
Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    Napi::Error error = Napi::TypeError::New(env, "sdNotify(state, socket): two strings expected");
    error.Set("code", Napi::String::New(env, "E_USAGE"));
    throw error;
  }
  const std::string state = info[0].As<Napi::String>().Utf8Value();
  const std::string socket = info[1].As<Napi::String>().Utf8Value();

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket.empty() || socket.size() >= sizeof(addr.sun_path) ||
      (socket[0] != '/' && socket[0] != '@')) {
    Napi::Error error = Napi::Error::New(
        env, "NOTIFY_SOCKET must be an absolute path or an abstract name starting with '@', " +
                 std::to_string(sizeof(addr.sun_path) - 1) + " bytes at most, not \"" + socket +
                 "\"");
    error.Set("code", Napi::String::New(env, "E_USAGE"));
    throw error;
  }
  std::memcpy(addr.sun_path, socket.data(), socket.size());
  // An abstract name: a leading NUL instead of '@', and the length counts only the name's bytes.
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket.size() +
                                          (socket[0] == '@' ? 0 : 1));

  Fd fd{::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  if (fd.fd < 0) ThrowSysError(env, "E_SD_NOTIFY", "cannot make a datagram socket", "socket", errno);
  ssize_t sent;
  do {
    sent = ::sendto(fd.fd, state.data(), state.size(), MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&addr), len);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0)
    ThrowSysError(env, "E_SD_NOTIFY", "cannot notify systemd on " + socket, "sendto", errno);
  return Napi::Number::New(env, static_cast<double>(sent));
}

}  // namespace switchboard
