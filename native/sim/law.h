// SPDX-License-Identifier: GPL-2.0-or-later
// G.711 A-law and mu-law companding (table driven) plus 16-bit saturation.
#pragma once

#include <cstdint>

namespace switchboard::sim {

// Idle (silence) codes as sent on an idle voice timeslot.
inline constexpr uint8_t kAlawSilence = 0xD5;  // decodes to +8
inline constexpr uint8_t kUlawSilence = 0xFF;  // decodes to 0 (positive zero)

// Linear samples are 16-bit two's complement. A-law codes carry 13 bits and
// mu-law codes 14 bits of that range (decoded values are left-justified, as
// in the ITU-T G.191 reference code: A-law peaks at +-32256, mu-law at
// +-32124). Codes are the on-line octets, i.e. with the G.711 even-bit
// inversion (A-law, XOR 0x55) or full inversion (mu-law) already applied.
//
// Encoding follows G.711 decision levels (ITU-T G.191 rounding: negative
// inputs use the one's complement magnitude). Every code re-encodes to itself,
// lin2x(x2lin(c)) == c, except mu-law 0x7F ("negative zero"), which decodes to
// 0 and therefore re-encodes to 0xFF. A-law has no zero code, so no exception.
//
// All tables are compile-time constants: no runtime initialisation, thread safe.
int16_t alaw2lin(uint8_t code);
uint8_t lin2alaw(int16_t sample);
int16_t ulaw2lin(uint8_t code);
uint8_t lin2ulaw(int16_t sample);

// Clamp to the int16_t range.
inline int16_t saturate16(int32_t v) {
    return static_cast<int16_t>(v > 32767 ? 32767 : (v < -32768 ? -32768 : v));
}

}  // namespace switchboard::sim
