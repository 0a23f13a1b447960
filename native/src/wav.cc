// SPDX-License-Identifier: GPL-2.0-or-later
// WAV files for prompts and recordings: RIFF chunks in any order, format 1, 6, 7 or EXTENSIBLE.

#include "wav.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "engine.h"

namespace switchboard {

namespace {

constexpr uint16_t kFormatPcm = 1;
constexpr uint16_t kFormatAlaw = 6;
constexpr uint16_t kFormatUlaw = 7;
constexpr uint16_t kFormatExtensible = 0xFFFE;
// Prompts beyond this are refused: a 30-minute A-law prompt is 14 MB, PCM twice that.
constexpr size_t kMaxDataBytes = 64u << 20;

uint16_t u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(x & 0xff);
  v.push_back(x >> 8);
}
void put32(std::vector<uint8_t>& v, uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back((x >> (8 * i)) & 0xff);
}

}  // namespace

const char* wav_format_name(WavFormat f) {
  switch (f) {
    case WavFormat::kAlaw: return "alaw";
    case WavFormat::kUlaw: return "ulaw";
    case WavFormat::kPcm16: return "pcm16";
  }
  return "alaw";
}

bool wav_format_from(const std::string& name, WavFormat& out) {
  if (name == "alaw") out = WavFormat::kAlaw;
  else if (name == "ulaw") out = WavFormat::kUlaw;
  else if (name == "pcm16") out = WavFormat::kPcm16;
  else return false;
  return true;
}

WavData wav_read(const std::string& path, const std::string& field) {
  auto bad = [&](const std::string& why) {
    return EngineError("E_PROMPT_FORMAT", field, path + ": " + why);
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw EngineError("E_PROMPT_MISSING", field, path + ": " + std::strerror(errno));
  }
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0);
  if (size < 12) throw bad("is not a WAV file (too short)");
  if (static_cast<size_t>(size) > kMaxDataBytes + 4096)
    throw bad("is too long to play (more than 64 MB)");
  std::vector<uint8_t> file(static_cast<size_t>(size));
  in.read(reinterpret_cast<char*>(file.data()), size);
  if (!in) throw bad("could not be read");
  if (std::memcmp(file.data(), "RIFF", 4) != 0 || std::memcmp(file.data() + 8, "WAVE", 4) != 0)
    throw bad("is not a WAV file (no RIFF/WAVE header)");

  bool have_fmt = false;
  uint16_t format = 0, channels = 0, bits = 0;
  uint32_t rate = 0;
  size_t pos = 12;
  while (pos + 8 <= file.size()) {
    const uint8_t* chunk = file.data() + pos;
    const uint32_t len = u32(chunk + 4);
    const size_t body = pos + 8;
    if (std::memcmp(chunk, "fmt ", 4) == 0) {
      if (len < 16 || body + len > file.size()) throw bad("has a truncated fmt chunk");
      format = u16(chunk + 8);
      channels = u16(chunk + 10);
      rate = u32(chunk + 12);
      bits = u16(chunk + 22);
      if (format == kFormatExtensible) {
        if (len < 40) throw bad("has a truncated WAVE_FORMAT_EXTENSIBLE chunk");
        format = u16(chunk + 8 + 24);  // the first two bytes of the sub-format GUID
      }
      have_fmt = true;
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      if (!have_fmt) throw bad("has its data before the fmt chunk");
      if (channels != 1)
        throw bad(std::to_string(channels) + " channels; prompts are mono (convert on upload)");
      if (rate != 8000)
        throw bad("sample rate " + std::to_string(rate) +
                  " Hz is not 8000 Hz (convert it on upload)");
      WavData out;
      if (format == kFormatAlaw && bits == 8) out.format = WavFormat::kAlaw;
      else if (format == kFormatUlaw && bits == 8) out.format = WavFormat::kUlaw;
      else if (format == kFormatPcm && bits == 16) out.format = WavFormat::kPcm16;
      else
        throw bad("coding " + std::to_string(format) + " with " + std::to_string(bits) +
                  " bits is not A-law, µ-law or 16-bit PCM");
      if (body + len > file.size()) throw bad("is truncated (the data chunk runs past the end)");
      if (len == 0) throw bad("holds no audio");
      out.bytes.assign(file.begin() + static_cast<std::ptrdiff_t>(body),
                       file.begin() + static_cast<std::ptrdiff_t>(body + len));
      if (out.format == WavFormat::kPcm16 && (len & 1)) out.bytes.pop_back();
      return out;
    }
    pos = body + len + (len & 1);
  }
  throw bad(have_fmt ? "has no data chunk" : "has no fmt chunk");
}

std::vector<uint8_t> wav_header(WavFormat format, int channels, uint32_t data_bytes) {
  const uint16_t bits = format == WavFormat::kPcm16 ? 16 : 8;
  const uint16_t align = static_cast<uint16_t>(channels * bits / 8);
  std::vector<uint8_t> h;
  h.reserve(44);
  h.insert(h.end(), {'R', 'I', 'F', 'F'});
  put32(h, 36 + data_bytes);
  h.insert(h.end(), {'W', 'A', 'V', 'E', 'f', 'm', 't', ' '});
  put32(h, 16);
  put16(h, format == WavFormat::kAlaw   ? kFormatAlaw
           : format == WavFormat::kUlaw ? kFormatUlaw
                                        : kFormatPcm);
  put16(h, static_cast<uint16_t>(channels));
  put32(h, 8000);
  put32(h, 8000u * align);
  put16(h, align);
  put16(h, bits);
  h.insert(h.end(), {'d', 'a', 't', 'a'});
  put32(h, data_bytes);
  return h;
}

}  // namespace switchboard
