// SPDX-License-Identifier: GPL-2.0-or-later
// Sending one message, optionally with a file descriptor (SCM_RIGHTS), over the simulator's sockets.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace simproto {

// One whole datagram; passFd < 0 sends none. Retries on EINTR; returns sendmsg's result.
inline ssize_t sendWithFd(int sock, const void* buf, size_t len, int passFd) {
  iovec iov{const_cast<void*>(buf), len};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  if (passFd >= 0) {
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    cmsghdr* cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cm), &passFd, sizeof(int));
  }
  ssize_t n;
  while ((n = sendmsg(sock, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  return n;
}

// The descriptor a received message carried, or -1.
inline int takeFd(msghdr& mh) {
  int fd = -1;
  for (cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) std::memcpy(&fd, CMSG_DATA(cm), sizeof(int));
  return fd;
}

}  // namespace simproto
