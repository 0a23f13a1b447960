// SPDX-License-Identifier: GPL-2.0-or-later
// G.711 A-law / mu-law tables, generated at compile time from the G.711 segment rules.
#include "law.h"

#include <array>

namespace switchboard::sim {

namespace {

// --- decoding: one 256-entry table per law ---------------------------------

constexpr int16_t alawDecode(uint8_t code) {
    const unsigned c = code ^ 0x55u;  // undo even-bit inversion
    const unsigned exp = (c >> 4) & 7u;
    const unsigned mant = c & 0xFu;
    // Reconstruction value at the middle of the interval (13-bit value << 3).
    int mag = (exp == 0) ? static_cast<int>((mant << 4) + 8)
                         : static_cast<int>(((mant << 4) + 0x108) << (exp - 1));
    return static_cast<int16_t>((c & 0x80u) ? mag : -mag);  // sign bit 1 = positive
}

constexpr int16_t ulawDecode(uint8_t code) {
    const unsigned c = ~code & 0xFFu;  // undo inversion
    const unsigned exp = (c >> 4) & 7u;
    const unsigned mant = c & 0xFu;
    // Biased segment value minus the bias (33 in 14-bit units = 132 << 0 here).
    const int mag = static_cast<int>(((mant << 3) + 0x84) << exp) - 0x84;
    return static_cast<int16_t>((c & 0x80u) ? -mag : mag);  // sign bit 1 = negative
}

// --- encoding: 16384-entry tables indexed by the top 14 bits ---------------
// The A-law result depends on the top 13 bits and the mu-law result on the
// top 14 bits of the sample, so one index (sample >> 2) serves both.

constexpr unsigned highestBit(unsigned v) {  // v > 0
    unsigned n = 0;
    while (v >>= 1) ++n;
    return n;
}

constexpr uint8_t alawEncode(int s13) {  // s13: -4096..4095
    unsigned sign = 0x80;                 // positive
    int v = s13;
    if (v < 0) {
        v = ~v;  // one's complement magnitude, 0..4095
        sign = 0;
    }
    const unsigned m = static_cast<unsigned>(v);
    unsigned seg = 0, mant = 0;
    if (m < 32) {
        seg = 0;
        mant = m >> 1;
    } else {
        seg = highestBit(m) - 4;  // 32..63 -> 1, ..., 2048..4095 -> 7
        mant = (m >> seg) & 0xFu;
    }
    return static_cast<uint8_t>((sign | (seg << 4) | mant) ^ 0x55u);
}

constexpr uint8_t ulawEncode(int s14) {  // s14: -8192..8191
    unsigned sign = 0;                    // 0 = positive before inversion
    int v = s14;
    if (v < 0) {
        v = ~v;  // one's complement magnitude, 0..8191
        sign = 0x80;
    }
    unsigned m = static_cast<unsigned>(v) + 33;  // bias
    if (m > 0x1FFF) m = 0x1FFF;                  // clip
    const unsigned seg = highestBit(m) - 5;      // 33..63 -> 0, ..., 4096..8191 -> 7
    const unsigned mant = (m >> (seg + 1)) & 0xFu;
    return static_cast<uint8_t>(~(sign | (seg << 4) | mant) & 0xFFu);
}

struct Tables {
    std::array<int16_t, 256> alawDec{};
    std::array<int16_t, 256> ulawDec{};
    std::array<uint8_t, 16384> alawEnc{};
    std::array<uint8_t, 16384> ulawEnc{};
};

constexpr Tables makeTables() {
    Tables t{};
    for (unsigned c = 0; c < 256; ++c) {
        t.alawDec[c] = alawDecode(static_cast<uint8_t>(c));
        t.ulawDec[c] = ulawDecode(static_cast<uint8_t>(c));
    }
    for (unsigned i = 0; i < 16384; ++i) {
        // Sign-extend the 14-bit and 13-bit (index >> 1) two's complement values.
        const int s14 = (i & 0x2000u) ? static_cast<int>(i) - 16384 : static_cast<int>(i);
        const unsigned i13 = i >> 1;
        const int s13 = (i13 & 0x1000u) ? static_cast<int>(i13) - 8192 : static_cast<int>(i13);
        t.alawEnc[i] = alawEncode(s13);
        t.ulawEnc[i] = ulawEncode(s14);
    }
    return t;
}

constexpr Tables kTables = makeTables();

// Index = bits 15..2 of the sample (two's complement, wraps to 0..16383).
inline unsigned encIndex(int16_t s) { return static_cast<uint16_t>(s) >> 2; }

}  // namespace

int16_t alaw2lin(uint8_t code) { return kTables.alawDec[code]; }
int16_t ulaw2lin(uint8_t code) { return kTables.ulawDec[code]; }
uint8_t lin2alaw(int16_t sample) { return kTables.alawEnc[encIndex(sample)]; }
uint8_t lin2ulaw(int16_t sample) { return kTables.ulawEnc[encIndex(sample)]; }

}  // namespace switchboard::sim
