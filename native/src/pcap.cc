// SPDX-License-Identifier: GPL-2.0-or-later
// pcap records for LAPD (Linux cooked pseudo-header) and MTP2 (sent/annex A/link pseudo-header).

#include "pcap.h"

#include <sys/time.h>

namespace switchboard {
namespace {

void put16be(std::string& b, unsigned v) {
  b.push_back(static_cast<char>((v >> 8) & 0xff));
  b.push_back(static_cast<char>(v & 0xff));
}

// pcap files are written in host order; readers detect it from the magic number.
template <typename T>
void put_host(std::string& b, T v) {
  b.append(reinterpret_cast<const char*>(&v), sizeof v);
}

constexpr unsigned kSllHost = 0;        // LINUX_SLL_HOST: addressed to us
constexpr unsigned kSllOutgoing = 4;    // LINUX_SLL_OUTGOING: sent by us
constexpr unsigned kArphrdLapd = 8445;  // ARPHRD_LAPD
constexpr unsigned kEthPLapd = 0x0030;  // ETH_P_LAPD
constexpr size_t kSnapLen = 65535;

}  // namespace

Trace::Trace(int linktype, bool network, size_t max_bytes)
    : linktype_(linktype), network_(network), max_bytes_(max_bytes) {
  put_host<uint32_t>(buf_, 0xa1b2c3d4);  // microsecond timestamps
  put_host<uint16_t>(buf_, 2);
  put_host<uint16_t>(buf_, 4);
  put_host<int32_t>(buf_, 0);
  put_host<uint32_t>(buf_, 0);
  put_host<uint32_t>(buf_, kSnapLen);
  put_host<uint32_t>(buf_, static_cast<uint32_t>(linktype));
}

void Trace::add(bool sent, const uint8_t* frame, size_t len, int link) {
  if (!running_) return;
  const size_t phdr = linktype_ == kLinktypeLinuxLapd ? 16 : 4;
  const size_t caplen = len + phdr;
  if (buf_.size() + 16 + caplen > max_bytes_ || caplen > kSnapLen) {
    ++dropped_;
    return;
  }
  timeval tv;
  gettimeofday(&tv, nullptr);
  put_host<uint32_t>(buf_, static_cast<uint32_t>(tv.tv_sec));
  put_host<uint32_t>(buf_, static_cast<uint32_t>(tv.tv_usec));
  put_host<uint32_t>(buf_, static_cast<uint32_t>(caplen));
  put_host<uint32_t>(buf_, static_cast<uint32_t>(caplen));
  if (linktype_ == kLinktypeLinuxLapd) {
    put16be(buf_, sent ? kSllOutgoing : kSllHost);
    put16be(buf_, kArphrdLapd);
    put16be(buf_, 1);  // address length: one byte, "we are the network side"
    buf_.push_back(network_ ? 1 : 0);
    buf_.append(7, '\0');
    put16be(buf_, kEthPLapd);
  } else {
    buf_.push_back(sent ? 1 : 0);
    buf_.push_back(0);  // annex A (extended sequence numbers) not used
    put16be(buf_, static_cast<unsigned>(link));
  }
  buf_.append(reinterpret_cast<const char*>(frame), len);
  ++frames_;
}

}  // namespace switchboard
