// SPDX-License-Identifier: GPL-2.0-or-later
// An in-memory pcap capture of one span's D-channel (LAPD) or MTP2 frames, with direction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace switchboard {

// pcap link types (tcpdump.org/linktypes.html).
constexpr int kLinktypeLinuxLapd = 177;     // LINKTYPE_LINUX_LAPD: 16-byte pseudo-header
constexpr int kLinktypeMtp2WithPhdr = 139;  // LINKTYPE_MTP2_WITH_PHDR: 4-byte pseudo-header

class Trace {
 public:
  // `network`: for LAPD, whether we are the network side (the pseudo-header says so, and
  // Wireshark reads the C/R bit with it).
  Trace(int linktype, bool network, size_t max_bytes);

  void add(bool sent, const uint8_t* frame, size_t len, int link);
  void stop() { running_ = false; }
  bool running() const { return running_; }
  // The whole capture file so far: global header and every record.
  const std::string& bytes() const { return buf_; }
  uint64_t frames() const { return frames_; }
  uint64_t dropped() const { return dropped_; }
  int linktype() const { return linktype_; }

 private:
  int linktype_;
  bool network_;
  size_t max_bytes_;
  bool running_ = true;
  std::string buf_;
  uint64_t frames_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace switchboard
