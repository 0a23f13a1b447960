// SPDX-License-Identifier: GPL-2.0-or-later
// WAV files for prompts and recordings: 8 kHz A-law, µ-law or 16-bit PCM, read whole or written in pieces.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace switchboard {

enum class WavFormat { kAlaw, kUlaw, kPcm16 };
const char* wav_format_name(WavFormat f);
// "alaw", "ulaw", "pcm16"; false for anything else.
bool wav_format_from(const std::string& name, WavFormat& out);

// A prompt as the media thread plays it: the file's samples as stored (one byte per sample for
// A-law and µ-law, two little-endian bytes for PCM), 8 kHz mono.
struct WavData {
  WavFormat format = WavFormat::kAlaw;
  std::vector<uint8_t> bytes;
  size_t samples() const { return format == WavFormat::kPcm16 ? bytes.size() / 2 : bytes.size(); }
};

// Reads a whole prompt. Throws EngineError (E_PROMPT_MISSING / E_PROMPT_FORMAT, naming `field`
// and the file) for a missing file, a file that is not a WAV, a truncated or corrupt header,
// a rate other than 8000 Hz, more than one channel or another coding.
WavData wav_read(const std::string& path, const std::string& field);

// The 44-byte header of a WAV holding `data_bytes` of samples; written first with 0 and again
// with the real length when the recording ends.
std::vector<uint8_t> wav_header(WavFormat format, int channels, uint32_t data_bytes);

}  // namespace switchboard
