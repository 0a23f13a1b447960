// SPDX-License-Identifier: GPL-2.0-or-later
// Software HDLC framer/deframer (flags, bit stuffing, CRC-16/X.25 FCS) for simulated D-channels and SS7 links.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

namespace switchboard::sim {

// ---------------------------------------------------------------------------
// Line format (shared by HdlcEncoder and HdlcDecoder):
//
//  * HDLC bit order: every payload/FCS octet goes onto the line least
//    significant bit first (as in ITU-T Q.921 / X.25).
//  * Line bytes are filled LSB first too: the first bit on the line is bit 0
//    of the line byte, the next one bit 1, and so on.
//  * 64 kbit/s mode (default, bitsPerByte = 8): all 8 bits carry data.
//  * 56 kbit/s mode (bitsPerByte = 7, DAHDI_HDLC_RATE 56): bits 0..6 carry
//    data (bit 0 first), bit 7 (the MSB, i.e. the last bit of each line byte)
//    is always transmitted as 1 and ignored by the receiver.
//    Note: real DAHDI fills line bytes MSB first and puts the filler in the
//    LSB (the robbed bit on T1); here the mirror image is used, which is
//    self-consistent inside the simulator.
//  * FCS: CRC-16/X.25 (poly x^16+x^12+x^5+1 reflected = 0x8408, init 0xFFFF),
//    transmitted complemented, low byte first.
//  * Idle fill: flags (0x7E). Back-to-back frames share one flag.
//  * Abort: the encoder sends 8 consecutive ones, then returns to flags.
// ---------------------------------------------------------------------------

inline constexpr uint16_t kFcsInit = 0xFFFF;  // running FCS initial value
inline constexpr uint16_t kFcsGood = 0xF0B8;  // running FCS residue over data+FCS of a good frame

// Raw running FCS: updates `fcs` with `len` octets (no final complement).
// fcs16Update(kFcsInit, frame_with_fcs, n) == kFcsGood for an intact frame.
uint16_t fcs16Update(uint16_t fcs, const uint8_t* data, size_t len);

// The FCS to transmit for `data` (CRC-16/X.25: init 0xFFFF, complemented).
// Send (fcs & 0xFF) first, then (fcs >> 8). fcs16("123456789", 9) == 0x906E.
// This is what the DAHDI_SIG_HDLCFCS read() emulation appends to a frame.
uint16_t fcs16(const uint8_t* data, size_t len);

class HdlcEncoder {
public:
    HdlcEncoder();

    // Queue one frame. `data` is the payload WITHOUT FCS; the FCS is appended
    // here (allocation per frame, not on the per-byte path). An empty payload
    // is allowed but will be treated as a runt by any sane receiver.
    void queue(const uint8_t* data, size_t len);
    void queue(std::vector<uint8_t> payload);

    // Produce the next n line bytes. Never allocates, never throws.
    void next(uint8_t* out, size_t n);

    // True when nothing is queued and no frame is being transmitted (a frame
    // is in progress from its first data bit until its closing flag is out).
    bool idle() const { return !inFrame_ && q_.empty(); }
    // Frames not yet completely transmitted (queued + the one in progress).
    size_t queued() const { return q_.size() + (inFrame_ ? 1 : 0); }

    // Abort the frame being transmitted: its remaining bits are discarded and
    // an abort sequence (8 ones) is sent, followed by flags and then the next
    // queued frame. No-op if no frame is in progress (queued frames that have
    // not started are kept).
    void abort();

    // Drop everything (queue and frame in progress) and restart with flags.
    void reset();

    // 8 (64 kbit/s, default) or 7 (56 kbit/s). Returns false (and changes
    // nothing) for any other value. Takes effect with the next line byte.
    bool setBitsPerByte(unsigned bits);
    unsigned bitsPerByte() const { return bitsPerByte_; }

private:
    enum class State : uint8_t { Pattern, Data };

    unsigned nextBit();
    void startPattern(uint8_t pattern, bool closing);

    std::deque<std::vector<uint8_t>> q_;  // payload + FCS, waiting
    std::vector<uint8_t> cur_;            // payload + FCS, being sent
    size_t pos_ = 0;                      // byte index into cur_
    unsigned bit_ = 0;                    // bit index within cur_[pos_]
    unsigned ones_ = 0;                   // consecutive data ones (stuffing)
    State state_ = State::Pattern;
    uint8_t pat_ = 0;                     // flag/abort bits left to send
    unsigned patLeft_ = 0;
    bool patIsFlag_ = true;               // current pattern is a flag (not an abort)
    bool closing_ = false;                // current pattern is a closing flag
    bool inFrame_ = false;
    unsigned bitsPerByte_ = 8;
};

struct HdlcEvent {
    enum class Type : uint8_t {
        Frame,    // a complete frame; see fcsOk
        Abort,    // 7+ consecutive ones inside a frame; partial frame dropped
        Overrun,  // frame exceeded the maximum payload length; dropped
    };
    Type type = Type::Frame;
    bool fcsOk = false;            // Frame: FCS correct and frame octet-aligned
    uint8_t fcs[2] = {0, 0};       // Frame: the two FCS octets as received
    std::vector<uint8_t> payload;  // Frame: payload without FCS
};

class HdlcDecoder {
public:
    using Handler = std::function<void(HdlcEvent&&)>;

    struct Stats {
        uint64_t frames = 0;    // Frame events with fcsOk
        uint64_t badFcs = 0;    // Frame events with !fcsOk (bad CRC or not octet-aligned)
        uint64_t aborts = 0;    // Abort events
        uint64_t overruns = 0;  // Overrun events
        uint64_t runts = 0;     // frames shorter than minPayload + 2 FCS octets, dropped silently
    };

    static constexpr size_t kDefaultMaxPayload = 8192;
    static constexpr size_t kDefaultMinPayload = 2;

    explicit HdlcDecoder(size_t maxPayload = kDefaultMaxPayload);

    // Events go to the handler if one is set, otherwise they are stored and
    // can be collected with takeEvents(). The handler must not call push().
    void setHandler(Handler h) { handler_ = std::move(h); }
    std::vector<HdlcEvent> takeEvents();

    // Consume n line bytes. No allocation except one per reported event.
    void push(const uint8_t* in, size_t n);

    // Maximum payload length (without FCS); longer frames -> Overrun.
    // Resets the receiver (allocates the buffer once, here).
    void setMaxPayload(size_t maxPayload);
    size_t maxPayload() const { return maxPayload_; }
    // Frames with fewer payload octets are runts (default 2). An empty frame
    // (two flags in a row) is never a runt, it is just inter-frame fill.
    void setMinPayload(size_t minPayload) { minPayload_ = minPayload; }
    size_t minPayload() const { return minPayload_; }

    // 8 (64 kbit/s, default) or 7 (56 kbit/s); false for other values.
    bool setBitsPerByte(unsigned bits);
    unsigned bitsPerByte() const { return bitsPerByte_; }

    const Stats& stats() const { return stats_; }
    // Back to flag hunting; counters are kept.
    void reset();

private:
    void bitZero();
    void appendBits(uint32_t bits, unsigned count);
    void endFrame();
    void emit(HdlcEvent&& ev);

    std::vector<uint8_t> buf_;  // maxPayload + 2 octets, allocated once
    size_t len_ = 0;            // octets in buf_
    uint32_t acc_ = 0;          // pending bits (LSB = oldest)
    unsigned accBits_ = 0;      // number of pending bits; one bit of lookahead kept
    unsigned ones_ = 0;         // consecutive ones seen (not yet appended)
    uint16_t fcs_ = kFcsInit;   // running FCS over buf_[0..len_)
    bool hunting_ = true;       // searching for a flag
    size_t maxPayload_;
    size_t minPayload_ = kDefaultMinPayload;
    unsigned bitsPerByte_ = 8;
    Stats stats_;
    Handler handler_;
    std::vector<HdlcEvent> pending_;
};

}  // namespace switchboard::sim
