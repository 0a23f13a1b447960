// SPDX-License-Identifier: GPL-2.0-or-later
// Software HDLC framer/deframer: bit-level encoder and decoder with CRC-16/X.25 FCS.
#include "hdlc.h"

#include <array>
#include <utility>

namespace switchboard::sim {

namespace {

constexpr std::array<uint16_t, 256> makeFcsTable() {
    std::array<uint16_t, 256> t{};
    for (unsigned i = 0; i < 256; ++i) {
        uint16_t v = static_cast<uint16_t>(i);
        for (int k = 0; k < 8; ++k)
            v = (v & 1) ? static_cast<uint16_t>((v >> 1) ^ 0x8408) : static_cast<uint16_t>(v >> 1);
        t[i] = v;
    }
    return t;
}

constexpr std::array<uint16_t, 256> kFcsTable = makeFcsTable();

inline uint16_t fcsByte(uint16_t fcs, uint8_t b) {
    return static_cast<uint16_t>((fcs >> 8) ^ kFcsTable[(fcs ^ b) & 0xFF]);
}

constexpr uint8_t kFlag = 0x7E;
constexpr uint8_t kAbort = 0xFF;  // 8 ones; the decoder needs 7

}  // namespace

uint16_t fcs16Update(uint16_t fcs, const uint8_t* data, size_t len) {
    for (size_t i = 0; i < len; ++i) fcs = fcsByte(fcs, data[i]);
    return fcs;
}

uint16_t fcs16(const uint8_t* data, size_t len) {
    return static_cast<uint16_t>(~fcs16Update(kFcsInit, data, len));
}

// ---------------------------------------------------------------- encoder --

HdlcEncoder::HdlcEncoder() { reset(); }

void HdlcEncoder::queue(const uint8_t* data, size_t len) {
    queue(std::vector<uint8_t>(data, data + len));
}

void HdlcEncoder::queue(std::vector<uint8_t> payload) {
    const uint16_t fcs = fcs16(payload.data(), payload.size());
    payload.push_back(static_cast<uint8_t>(fcs & 0xFF));
    payload.push_back(static_cast<uint8_t>(fcs >> 8));
    q_.push_back(std::move(payload));
}

void HdlcEncoder::reset() {
    q_.clear();
    cur_.clear();
    pos_ = 0;
    bit_ = 0;
    ones_ = 0;
    inFrame_ = false;
    startPattern(kFlag, false);
}

bool HdlcEncoder::setBitsPerByte(unsigned bits) {
    if (bits != 7 && bits != 8) return false;
    bitsPerByte_ = bits;
    return true;
}

void HdlcEncoder::startPattern(uint8_t pattern, bool closing) {
    state_ = State::Pattern;
    pat_ = pattern;
    patLeft_ = 8;
    patIsFlag_ = (pattern == kFlag);
    closing_ = closing;
}

void HdlcEncoder::abort() {
    if (!inFrame_ || state_ != State::Data) return;  // nothing (or only the closing flag) left
    cur_.clear();
    inFrame_ = false;
    ones_ = 0;
    startPattern(kAbort, false);  // followed by flags, see nextBit()
}

// Next bit on the line (data bits only, the 56k filler is added by next()).
unsigned HdlcEncoder::nextBit() {
    for (;;) {
        if (state_ == State::Data) {
            if (ones_ == 5) {  // zero-bit insertion (also before the closing flag)
                ones_ = 0;
                return 0;
            }
            if (pos_ == cur_.size()) {
                startPattern(kFlag, true);
                continue;
            }
            const unsigned b = (cur_[pos_] >> bit_) & 1u;
            if (++bit_ == 8) {
                bit_ = 0;
                ++pos_;
            }
            ones_ = b ? ones_ + 1 : 0;
            return b;
        }

        // Pattern (flag or abort): sent as is, no stuffing.
        const unsigned b = pat_ & 1u;
        pat_ = static_cast<uint8_t>(pat_ >> 1);
        if (--patLeft_ == 0) {
            // A flag or abort has just been completed; decide what follows.
            if (closing_) inFrame_ = false;
            if (patIsFlag_ && !q_.empty()) {
                // Opening flag done (possibly shared with the previous frame).
                cur_ = std::move(q_.front());
                q_.pop_front();
                pos_ = 0;
                bit_ = 0;
                ones_ = 0;
                inFrame_ = true;
                closing_ = false;
                state_ = State::Data;
            } else {
                startPattern(kFlag, false);  // idle flags, or the flag after an abort
            }
        }
        return b;
    }
}

void HdlcEncoder::next(uint8_t* out, size_t n) {
    const unsigned bpb = bitsPerByte_;
    for (size_t i = 0; i < n; ++i) {
        unsigned byte = 0;
        for (unsigned k = 0; k < bpb; ++k) byte |= nextBit() << k;
        if (bpb == 7) byte |= 0x80;
        out[i] = static_cast<uint8_t>(byte);
    }
}

// ---------------------------------------------------------------- decoder --

HdlcDecoder::HdlcDecoder(size_t maxPayload) : maxPayload_(maxPayload) {
    setMaxPayload(maxPayload);
}

void HdlcDecoder::setMaxPayload(size_t maxPayload) {
    maxPayload_ = maxPayload;
    buf_.assign(maxPayload_ + 2, 0);
    reset();
}

bool HdlcDecoder::setBitsPerByte(unsigned bits) {
    if (bits != 7 && bits != 8) return false;
    bitsPerByte_ = bits;
    return true;
}

void HdlcDecoder::reset() {
    len_ = 0;
    acc_ = 0;
    accBits_ = 0;
    ones_ = 0;
    fcs_ = kFcsInit;
    hunting_ = true;
}

std::vector<HdlcEvent> HdlcDecoder::takeEvents() {
    std::vector<HdlcEvent> out;
    out.swap(pending_);
    return out;
}

void HdlcDecoder::emit(HdlcEvent&& ev) {
    if (handler_)
        handler_(std::move(ev));
    else
        pending_.push_back(std::move(ev));
}

void HdlcDecoder::push(const uint8_t* in, size_t n) {
    const unsigned bpb = bitsPerByte_;
    for (size_t i = 0; i < n; ++i) {
        const unsigned byte = in[i];
        for (unsigned k = 0; k < bpb; ++k) {
            if ((byte >> k) & 1u) {
                // Ones are only counted here; they are appended when the run
                // ends, once we know whether it was data, a flag or an abort.
                if (++ones_ == 7) {
                    if (!hunting_ && (len_ > 0 || accBits_ > 0)) {
                        // Data bits were received since the flag: a real abort.
                        // (A run of ones right after a flag is mark idle.)
                        ++stats_.aborts;
                        HdlcEvent ev;
                        ev.type = HdlcEvent::Type::Abort;
                        emit(std::move(ev));
                    }
                    hunting_ = true;
                }
                if (ones_ > 7) ones_ = 7;  // saturate; only >= 7 matters
            } else {
                bitZero();
            }
        }
    }
}

void HdlcDecoder::bitZero() {
    const unsigned ones = ones_;
    ones_ = 0;
    if (ones == 6) {  // 0111111 0: flag
        if (!hunting_) endFrame();
        hunting_ = false;
        len_ = 0;
        acc_ = 0;
        accBits_ = 0;
        fcs_ = kFcsInit;
        return;
    }
    if (hunting_) return;  // includes the zero ending an abort (ones >= 7)
    if (ones == 5) {
        appendBits(0x1F, 5);  // the zero is a stuffed bit: drop it
    } else {
        appendBits((1u << ones) - 1u, ones + 1);  // `ones` ones then a zero
    }
}

// Append `count` (<= 6) bits, LSB first. Complete octets are committed while
// at least one more bit is pending: the zero that starts a flag is appended
// as data before the flag is recognised, so it must never reach buf_.
void HdlcDecoder::appendBits(uint32_t bits, unsigned count) {
    acc_ |= bits << accBits_;
    accBits_ += count;
    while (accBits_ >= 9) {
        if (len_ == buf_.size()) {  // more than maxPayload + 2 FCS octets
            ++stats_.overruns;
            HdlcEvent ev;
            ev.type = HdlcEvent::Type::Overrun;
            emit(std::move(ev));
            hunting_ = true;
            len_ = 0;
            acc_ = 0;
            accBits_ = 0;
            return;
        }
        const uint8_t octet = static_cast<uint8_t>(acc_ & 0xFF);
        buf_[len_++] = octet;
        fcs_ = fcsByte(fcs_, octet);
        acc_ >>= 8;
        accBits_ -= 8;
    }
}

// Called on a closing flag while receiving. Exactly one pending bit (the
// flag's leading zero) means the frame was octet-aligned.
void HdlcDecoder::endFrame() {
    if (len_ == 0 && accBits_ <= 1) return;  // flag after flag: idle fill
    const bool aligned = (accBits_ == 1);
    if (len_ < minPayload_ + 2 || len_ < 2) {
        ++stats_.runts;
        return;
    }
    HdlcEvent ev;
    ev.type = HdlcEvent::Type::Frame;
    ev.fcsOk = aligned && fcs_ == kFcsGood;
    ev.fcs[0] = buf_[len_ - 2];
    ev.fcs[1] = buf_[len_ - 1];
    ev.payload.assign(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(len_ - 2));
    if (ev.fcsOk)
        ++stats_.frames;
    else
        ++stats_.badFcs;
    emit(std::move(ev));
}

}  // namespace switchboard::sim
