// SPDX-License-Identifier: GPL-2.0-or-later
// Unit test for the simulator's HDLC framer/deframer and G.711 companding (plain main, no framework).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "hdlc.h"
#include "law.h"

using namespace switchboard::sim;

namespace {

int g_pass = 0;
int g_fail = 0;

void check(bool ok, const std::string& what) {
    std::printf("%s  %s\n", ok ? "PASS" : "FAIL", what.c_str());
    (ok ? g_pass : g_fail)++;
}

std::string fmt(const char* f, long long a = 0, long long b = 0, long long c = 0, long long d = 0) {
    char buf[256];
    std::snprintf(buf, sizeof buf, f, a, b, c, d);
    return buf;
}

using Bytes = std::vector<uint8_t>;
constexpr size_t kTick = 8;  // line bytes per 1 ms tick

const char* modeName(unsigned bpb) { return bpb == 8 ? "64k" : "56k"; }

// Random payload with a mix of styles that stress bit stuffing.
Bytes randomFrame(std::mt19937& rng, size_t minLen, size_t maxLen) {
    const size_t len = minLen + rng() % (maxLen - minLen + 1);
    Bytes f(len);
    static const uint8_t nasty[] = {0x00, 0xFF, 0x7E, 0x7D, 0x3F, 0xFC, 0x1F, 0xF8};
    switch (rng() % 4) {
        case 0: std::fill(f.begin(), f.end(), 0xFF); break;
        case 1: for (auto& b : f) b = nasty[rng() % sizeof nasty]; break;
        default: for (auto& b : f) b = static_cast<uint8_t>(rng()); break;
    }
    return f;
}

struct Collector {
    std::vector<Bytes> good;
    std::vector<Bytes> bad;
    int aborts = 0;
    int overruns = 0;
    std::vector<HdlcEvent::Type> order;
    void attach(HdlcDecoder& d) {
        d.setHandler([this](HdlcEvent&& e) {
            order.push_back(e.type);
            if (e.type == HdlcEvent::Type::Abort) ++aborts;
            else if (e.type == HdlcEvent::Type::Overrun) ++overruns;
            else if (e.fcsOk) good.push_back(std::move(e.payload));
            else bad.push_back(std::move(e.payload));
        });
    }
};

// Encode everything queued (plus `pad` idle bytes before and after), one byte at a time.
Bytes encodeAll(HdlcEncoder& enc, size_t pad) {
    Bytes line(pad);
    enc.next(line.data(), pad);
    uint8_t b;
    while (!enc.idle()) {
        enc.next(&b, 1);
        line.push_back(b);
    }
    Bytes tail(pad);
    enc.next(tail.data(), pad);
    line.insert(line.end(), tail.begin(), tail.end());
    return line;
}

void pushTicks(HdlcDecoder& dec, const Bytes& line) {
    for (size_t i = 0; i < line.size(); i += kTick)
        dec.push(line.data() + i, std::min(kTick, line.size() - i));
}

// Data bits of a line (LSB first, bpb bits per byte).
std::vector<uint8_t> lineBits(const Bytes& line, unsigned bpb) {
    std::vector<uint8_t> bits;
    for (uint8_t b : line)
        for (unsigned k = 0; k < bpb; ++k) bits.push_back((b >> k) & 1);
    return bits;
}

std::vector<size_t> flagPositions(const std::vector<uint8_t>& bits) {
    static const uint8_t flag[8] = {0, 1, 1, 1, 1, 1, 1, 0};
    std::vector<size_t> pos;
    for (size_t i = 0; i + 8 <= bits.size(); ++i)
        if (std::equal(flag, flag + 8, bits.begin() + static_cast<std::ptrdiff_t>(i))) pos.push_back(i);
    return pos;
}

// ------------------------------------------------------------------ FCS --

void testFcs() {
    const uint8_t s[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
    check(fcs16(s, 9) == 0x906E, fmt("fcs16(\"123456789\") = 0x%04llX (CRC-16/X.25 check 0x906E)", fcs16(s, 9)));
    check(fcs16Update(kFcsInit, s, 9) == 0x6F91, "raw running FCS of \"123456789\" = 0x6F91 (uncomplemented)");
    const uint16_t f = fcs16(s, 9);
    Bytes withFcs(s, s + 9);
    withFcs.push_back(static_cast<uint8_t>(f & 0xFF));
    withFcs.push_back(static_cast<uint8_t>(f >> 8));
    check(fcs16Update(kFcsInit, withFcs.data(), withFcs.size()) == kFcsGood,
          "running FCS over data + FCS (low byte first) = good residue 0xF0B8");
    check(fcs16(nullptr, 0) == 0x0000, "fcs16 of empty input = 0x0000");
}

// ----------------------------------------------------------- known answer --

void testKnownAnswer() {
    // Pick a payload whose bit stream needs no stuffing, then the 64k line must be
    // exactly: flag, payload bytes, FCS low, FCS high, flag (bytes, LSB first).
    for (unsigned k = 0; k < 256; ++k) {
        Bytes p = {0x03, 0x01, static_cast<uint8_t>(k), 0x10};
        const uint16_t f = fcs16(p.data(), p.size());
        Bytes body = p;
        body.push_back(static_cast<uint8_t>(f & 0xFF));
        body.push_back(static_cast<uint8_t>(f >> 8));
        std::vector<uint8_t> bits = lineBits(body, 8);
        int run = 0, maxRun = 0;
        for (uint8_t b : bits) {
            run = b ? run + 1 : 0;
            maxRun = std::max(maxRun, run);
        }
        if (maxRun >= 5) continue;
        HdlcEncoder enc;
        enc.queue(p);
        Bytes line(body.size() + 3);
        enc.next(line.data(), line.size());
        Bytes expect = {0x7E};
        expect.insert(expect.end(), body.begin(), body.end());
        expect.push_back(0x7E);
        expect.push_back(0x7E);
        check(line == expect, fmt("known answer: unstuffed frame {03 01 %02llX 10} = 7E, payload, FCS lo/hi, 7E", k));
        check(enc.idle(), "encoder idle after the closing flag");
        return;
    }
    check(false, "known answer: no unstuffed candidate payload found");
}

// --------------------------------------------------------------- idle --

void testIdle() {
    for (unsigned bpb : {8u, 7u}) {
        HdlcEncoder enc;
        enc.setBitsPerByte(bpb);
        Bytes line(1000);
        enc.next(line.data(), line.size());
        bool shape = true;
        if (bpb == 8) {
            shape = std::all_of(line.begin(), line.end(), [](uint8_t b) { return b == 0x7E; });
        } else {
            std::vector<uint8_t> bits = lineBits(line, 7);
            for (size_t i = 0; i < bits.size(); ++i)
                if (bits[i] != ((0x7E >> (i % 8)) & 1)) shape = false;
            for (uint8_t b : line)
                if (!(b & 0x80)) shape = false;
        }
        check(shape && enc.idle() && enc.queued() == 0,
              fmt(bpb == 8 ? "64k idle encoder sends only 0x7E flags" : "56k idle encoder sends continuous flags, MSB of every byte = 1"));
        HdlcDecoder dec;
        dec.setBitsPerByte(bpb);
        Collector c;
        c.attach(dec);
        pushTicks(dec, line);
        Bytes ones(1000, 0xFF), zeros(1000, 0x00);
        pushTicks(dec, ones);  // flags -> mark idle -> flags
        pushTicks(dec, line);
        const auto& st = dec.stats();
        check(c.order.empty() && st.frames + st.badFcs + st.aborts + st.overruns + st.runts == 0,
              std::string(modeName(bpb)) + " idle line (flags, then mark idle, then flags) produces no frames or events");
        // Without any flag the decoder stays in hunt mode whatever it receives.
        // (Zeros *after* a flag are a frame, and are reported as bad FCS/overrun.)
        HdlcDecoder d2;
        d2.setBitsPerByte(bpb);
        pushTicks(d2, zeros);
        pushTicks(d2, ones);
        pushTicks(d2, zeros);
        check(d2.takeEvents().empty() && d2.stats().runts == 0,
              std::string(modeName(bpb)) + " unframed line (all-zeros / all-ones, no flag) produces no frames or events");
    }
}

// --------------------------------------------------------- round trip --

void testRoundTrip(unsigned bpb, bool randomChunks) {
    std::mt19937 rng(1234 + bpb + (randomChunks ? 100 : 0));
    HdlcEncoder enc;
    HdlcDecoder dec;
    check(enc.setBitsPerByte(bpb) && dec.setBitsPerByte(bpb), "setBitsPerByte accepted");
    dec.setMinPayload(1);  // 1-byte frames are part of the round trip
    Collector c;
    c.attach(dec);
    const size_t kFrames = 2000;
    std::vector<Bytes> sent;
    bool msbOk = true;
    Bytes line;
    size_t lineBytes = 0;
    while (sent.size() < kFrames || !enc.idle()) {
        if (sent.size() < kFrames && rng() % 3 == 0) {
            const size_t burst = 1 + rng() % 5;  // several frames back to back
            for (size_t i = 0; i < burst && sent.size() < kFrames; ++i) {
                sent.push_back(randomFrame(rng, 1, 300));
                enc.queue(sent.back());
            }
        }
        uint8_t tick[kTick];
        enc.next(tick, kTick);
        lineBytes += kTick;
        if (bpb == 7)
            for (uint8_t b : tick)
                if (!(b & 0x80)) msbOk = false;
        if (!randomChunks) {
            dec.push(tick, kTick);
        } else {
            line.insert(line.end(), tick, tick + kTick);
        }
    }
    Bytes tail(4 * kTick);
    enc.next(tail.data(), tail.size());
    if (!randomChunks) {
        dec.push(tail.data(), tail.size());
    } else {
        line.insert(line.end(), tail.begin(), tail.end());
        for (size_t i = 0; i < line.size();) {
            const size_t n = std::min<size_t>(1 + rng() % 17, line.size() - i);
            dec.push(line.data() + i, n);
            i += n;
        }
    }
    const std::string tag = std::string(modeName(bpb)) + (randomChunks ? " (random 1..17-byte chunks)" : " (8-byte ticks)");
    check(c.good == sent,
          fmt("%lld random frames of 1..300 bytes round-trip: %lld delivered, in order, none lost/duplicated", kFrames,
              static_cast<long long>(c.good.size())) + " " + tag);
    check(c.bad.empty() && c.aborts == 0 && c.overruns == 0 && dec.stats().runts == 0,
          "no bad-FCS, abort, overrun or runt on a clean line " + tag);
    if (bpb == 7) check(msbOk, "56k: MSB of every line byte is 1 " + tag);
    (void)lineBytes;
}

// ------------------------------------------------------------- bounds --

void testRateBound() {
    for (unsigned bpb : {8u, 7u}) {
        bool ok = true;
        std::string detail;
        for (size_t n : {0u, 1u, 2u, 10u, 100u, 300u, 1000u}) {
            for (uint8_t fill : {uint8_t(0x00), uint8_t(0x55), uint8_t(0xFF)}) {
                HdlcEncoder enc;
                enc.setBitsPerByte(bpb);
                enc.queue(Bytes(n, fill));
                size_t bytes = 0;
                uint8_t b;
                while (!enc.idle()) {
                    enc.next(&b, 1);
                    ++bytes;
                }
                const size_t minBits = (n + 4) * 8;  // flag + payload + FCS + flag
                const size_t minBytes = (minBits + bpb - 1) / bpb;
                // Upper bound: worst-case stuffing adds one bit per 5 data bits.
                const size_t maxBytes = ((n + 2) * 8 * 6 / 5 + 16 + bpb) / bpb + 1;
                if (bytes < minBytes || bytes > maxBytes || bytes < n + 4) {
                    ok = false;
                    detail = fmt(" [n=%lld fill=%lld took %lld bytes, min %lld]", static_cast<long long>(n), fill,
                                 static_cast<long long>(bytes), static_cast<long long>(minBytes));
                }
            }
        }
        check(ok, std::string(modeName(bpb)) +
                      ": a lone N-byte frame takes >= N+4 line bytes (>= 8(N+4)/bpb) and <= the stuffing worst case" +
                      detail);

        // Back to back: K frames of N bytes share flags but still need K*(N+3)+1 bytes.
        HdlcEncoder enc;
        enc.setBitsPerByte(bpb);
        const size_t k = 50, n = 20;
        for (size_t i = 0; i < k; ++i) enc.queue(Bytes(n, 0x00));
        check(enc.queued() == k, "queued() counts queued frames");
        size_t bytes = 0;
        uint8_t b;
        while (!enc.idle()) {
            enc.next(&b, 1);
            ++bytes;
        }
        const size_t minBytes = ((k * (n + 3) + 1) * 8 + bpb - 1) / bpb;
        check(bytes >= minBytes && bytes >= k * (n + 3) + 1,
              fmt("back-to-back: 50 x 20-byte frames took %lld line bytes (>= %lld): rate bounded by the line", static_cast<long long>(bytes),
                  static_cast<long long>(minBytes)) +
                  " " + modeName(bpb));
    }
}

// ---------------------------------------------------------- bit errors --

void testSingleBitFlips(unsigned bpb) {
    std::mt19937 rng(777 + bpb);
    const int kTrials = 3000;
    int good = 0, badFcs = 0, aborts = 0, runts = 0, silent = 0, bodyUndetected = 0, bodyMarkIdle = 0, setupFail = 0;
    int bodyTrials = 0, flagTrials = 0;
    for (int t = 0; t < kTrials; ++t) {
        HdlcEncoder enc;
        enc.setBitsPerByte(bpb);
        Bytes pad(4);
        enc.next(pad.data(), pad.size());  // decoder syncs on these flags
        const Bytes frame = randomFrame(rng, 1, 300);
        enc.queue(frame);
        Bytes line = encodeAll(enc, 4);
        line.insert(line.begin(), pad.begin(), pad.end());
        const std::vector<uint8_t> bits = lineBits(line, bpb);
        const std::vector<size_t> flags = flagPositions(bits);
        size_t open = 0, close = 0;
        for (size_t i = 0; i + 1 < flags.size(); ++i)
            if (flags[i + 1] - flags[i] > 8) {
                open = flags[i];
                close = flags[i + 1];
                break;
            }
        if (close == 0) {
            ++setupFail;
            continue;
        }
        // 2/3 of the flips hit the frame body, 1/3 the opening or closing flag.
        size_t pos;
        const bool body = rng() % 3 != 0;
        if (body) {
            pos = open + 8 + rng() % (close - open - 8);
            ++bodyTrials;
        } else {
            const size_t k = rng() % 16;
            pos = k < 8 ? open + k : close + (k - 8);
            ++flagTrials;
        }
        line[pos / bpb] ^= static_cast<uint8_t>(1u << (pos % bpb));

        HdlcDecoder dec;
        dec.setBitsPerByte(bpb);
        dec.setMinPayload(1);
        Collector c;
        c.attach(dec);
        pushTicks(dec, line);
        const auto& st = dec.stats();
        good += static_cast<int>(c.good.size());
        if (st.badFcs) ++badFcs;
        if (st.aborts) ++aborts;
        if (st.runts) ++runts;
        const bool detected = st.badFcs + st.aborts + st.runts > 0;
        if (!detected) ++silent;
        if (body && !detected) {
            // The one undetectable case: the flip made the frame start with 7+
            // ones right after the opening flag, which is indistinguishable from
            // a line going to mark idle (DAHDI ignores it the same way).
            const std::vector<uint8_t> fb = lineBits(line, bpb);
            bool markIdle = true;
            for (size_t i = open + 8; i < open + 15; ++i) markIdle = markIdle && fb[i] == 1;
            if (markIdle)
                ++bodyMarkIdle;
            else
                ++bodyUndetected;
        }
    }
    const std::string m = modeName(bpb);
    check(setupFail == 0, m + ": bit-flip setup located every frame body");
    check(good == 0, fmt("%lld single-bit flips (%lld in body, %lld in its flags): never delivered as a good frame", kTrials,
                         bodyTrials, flagTrials) + " " + m);
    check(bodyUndetected == 0,
          fmt("  every body flip detected (trials with bad FCS %lld, abort %lld, runt %lld), except %lld that turned the frame start into 7+ ones (= mark idle)",
              badFcs, aborts, runts, bodyMarkIdle) + " " + m);
    std::printf("      (%d trials lost the frame without any report: %d mark-idle cases above, %d flag flips (e.g. the opening flag turned into 7 ones))\n",
                silent, bodyMarkIdle, silent - bodyMarkIdle);
}

void testStreamFlips(unsigned bpb) {
    std::mt19937 rng(4242 + bpb);
    const int kTrials = 300;
    bool ok = true;
    int maxMissing = 0;
    for (int t = 0; t < kTrials; ++t) {
        HdlcEncoder enc;
        enc.setBitsPerByte(bpb);
        std::vector<Bytes> sent;
        for (int i = 0; i < 20; ++i) {
            sent.push_back(randomFrame(rng, 1, 64));
            enc.queue(sent.back());  // back to back: shared flags
        }
        Bytes line = encodeAll(enc, 4);
        const size_t nbits = line.size() * bpb;
        const size_t pos = rng() % nbits;
        line[pos / bpb] ^= static_cast<uint8_t>(1u << (pos % bpb));
        HdlcDecoder dec;
        dec.setBitsPerByte(bpb);
        dec.setMinPayload(1);
        Collector c;
        c.attach(dec);
        pushTicks(dec, line);
        // Good frames must be an in-order subsequence of what was sent.
        size_t j = 0;
        for (const Bytes& g : c.good) {
            while (j < sent.size() && sent[j] != g) ++j;
            if (j == sent.size()) {
                ok = false;
                break;
            }
            ++j;
        }
        const int missing = static_cast<int>(sent.size() - c.good.size());
        maxMissing = std::max(maxMissing, missing);
        if (missing > 2) ok = false;
    }
    check(ok, fmt("%lld streams of 20 back-to-back frames, one flipped bit each: good frames are exactly the sent ones, in order; at most %lld lost", kTrials, maxMissing) +
                  " " + modeName(bpb));
}

// ------------------------------------------------------------- abort --

void testAbort(unsigned bpb) {
    const std::string m = modeName(bpb);
    std::mt19937 rng(99 + bpb);
    HdlcEncoder enc;
    enc.setBitsPerByte(bpb);
    HdlcDecoder dec;
    dec.setBitsPerByte(bpb);
    Collector c;
    c.attach(dec);
    Bytes a(200), b(50), d(30);
    for (auto& x : a) x = static_cast<uint8_t>(rng());
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    for (auto& x : d) x = static_cast<uint8_t>(rng());
    enc.queue(a);
    enc.queue(b);
    check(enc.queued() == 2 && !enc.idle(), "two frames queued " + m);
    uint8_t tick[kTick];
    for (int i = 0; i < 5; ++i) {
        enc.next(tick, kTick);
        dec.push(tick, kTick);
    }
    enc.abort();
    check(enc.queued() == 1, "abort() discards only the frame in progress " + m);
    Bytes rest = encodeAll(enc, 16);
    pushTicks(dec, rest);
    const std::vector<HdlcEvent::Type> want = {HdlcEvent::Type::Abort, HdlcEvent::Type::Frame};
    check(c.order == want && c.good.size() == 1 && c.good[0] == b && dec.stats().aborts == 1,
          "aborted frame reported as Abort, next queued frame delivered intact " + m);

    // abort() with nothing in progress is a no-op.
    enc.abort();
    Bytes idle(64);
    enc.next(idle.data(), idle.size());
    pushTicks(dec, idle);
    check(c.order.size() == 2 && enc.idle(), "abort() on an idle encoder is a no-op " + m);

    // Abort injected on the line (0xFF octets in the middle of a frame).
    enc.queue(d);
    enc.queue(b);
    Bytes line = encodeAll(enc, 8);
    line[8 + 10] = 0xFF;
    line[8 + 11] = 0xFF;
    c = Collector();
    c.attach(dec);
    pushTicks(dec, line);
    check(c.order == want && c.good.size() == 1 && c.good[0] == b,
          "line-injected abort (7+ ones) mid-frame: Abort, then the following frame is received " + m);
}

// ----------------------------------------------------------- overrun --

void testOverrun() {
    std::mt19937 rng(5);
    {
        HdlcEncoder enc;
        HdlcDecoder dec(100);
        Collector c;
        c.attach(dec);
        for (size_t n : {100u, 101u, 50u, 5000u, 3u}) {
            Bytes f(n);
            for (auto& x : f) x = static_cast<uint8_t>(rng());
            enc.queue(f);
        }
        pushTicks(dec, encodeAll(enc, 8));
        const std::vector<HdlcEvent::Type> want = {HdlcEvent::Type::Frame, HdlcEvent::Type::Overrun,
                                                   HdlcEvent::Type::Frame, HdlcEvent::Type::Overrun,
                                                   HdlcEvent::Type::Frame};
        check(c.order == want && c.good.size() == 3 && c.good[0].size() == 100 && c.good[1].size() == 50 &&
                  c.good[2].size() == 3 && dec.stats().overruns == 2,
              "max payload 100: 100 ok, 101 Overrun, 50 ok, 5000 Overrun, 3 ok");
    }
    {
        HdlcEncoder enc;
        HdlcDecoder dec;  // default 8192
        Collector c;
        c.attach(dec);
        enc.queue(Bytes(8192, 0x5A));
        enc.queue(Bytes(8193, 0x5A));
        enc.queue(Bytes(10, 0x5A));
        pushTicks(dec, encodeAll(enc, 8));
        check(dec.maxPayload() == 8192 && c.good.size() == 2 && c.good[0].size() == 8192 && c.overruns == 1 &&
                  c.good[1].size() == 10,
              "default max payload 8192: 8192 ok, 8193 Overrun, decoder recovers");
    }
}

// ------------------------------------------------------------- runts --

void testRunts() {
    HdlcEncoder enc;
    HdlcDecoder dec;  // default minimum payload 2
    Collector c;
    c.attach(dec);
    enc.queue(Bytes{});
    enc.queue(Bytes{0x42});
    enc.queue(Bytes{0x01, 0x02});
    pushTicks(dec, encodeAll(enc, 8));
    check(dec.minPayload() == 2 && dec.stats().runts == 2 && c.order.size() == 1 && c.good.size() == 1 &&
              c.good[0] == Bytes({0x01, 0x02}),
          "runts: 0- and 1-byte payloads dropped silently (runts=2), 2-byte payload delivered");

    // Garbage shorter than an FCS between two flags (e.g. a noise hit) is a runt too.
    HdlcDecoder d2;
    Collector c2;
    c2.attach(d2);
    const Bytes line = {0x7E, 0x7E, 0x03, 0x7E, 0x7E};
    d2.push(line.data(), line.size());
    check(d2.stats().runts == 1 && c2.order.empty(), "1 octet between flags: counted as runt, no event");
}

// -------------------------------------------------------------- G.711 --

void testG711() {
    check(kAlawSilence == 0xD5 && kUlawSilence == 0xFF, "silence codes: A-law 0xD5, mu-law 0xFF");
    struct Kv {
        uint8_t code;
        int16_t lin;
    };
    const Kv aKnown[] = {{0xD5, 8},      {0x55, -8},    {0xAA, 32256}, {0x2A, -32256},
                         {0x00, -5504},  {0x80, 5504},  {0x01, -5248}, {0xD4, 24}};
    const Kv uKnown[] = {{0xFF, 0},      {0x7F, 0},      {0x80, 32124}, {0x00, -32124},
                         {0x01, -31100}, {0xFE, 8},      {0x7E, -8},    {0xF0, 120}};
    bool ok = true;
    for (const auto& k : aKnown) ok = ok && alaw2lin(k.code) == k.lin;
    check(ok, "A-law decode spot values (0xD5=+8, 0x55=-8, 0xAA=+32256, 0x00=-5504, ...)");
    ok = true;
    for (const auto& k : uKnown) ok = ok && ulaw2lin(k.code) == k.lin;
    check(ok, "mu-law decode spot values (0xFF=0, 0x7F=0, 0x80=+32124, 0x00=-32124, 0x01=-31100, ...)");
    check(lin2alaw(0) == 0xD5 && lin2alaw(-1) == 0x55 && lin2alaw(32767) == 0xAA && lin2alaw(-32768) == 0x2A,
          "A-law encode: 0->0xD5, -1->0x55, +max->0xAA, -max->0x2A");
    check(lin2ulaw(0) == 0xFF && lin2ulaw(-1) == 0x7F && lin2ulaw(32767) == 0x80 && lin2ulaw(-32768) == 0x00,
          "mu-law encode: 0->0xFF, -1->0x7F (G.191), +max->0x80, -max->0x00");

    int aBad = 0, uBad = 0;
    for (unsigned c = 0; c < 256; ++c) {
        if (lin2alaw(alaw2lin(static_cast<uint8_t>(c))) != c) ++aBad;
        if (c != 0x7F && lin2ulaw(ulaw2lin(static_cast<uint8_t>(c))) != c) ++uBad;
    }
    check(aBad == 0, "A-law: all 256 codes satisfy lin2alaw(alaw2lin(c)) == c");
    check(uBad == 0 && lin2ulaw(ulaw2lin(0x7F)) == 0xFF,
          "mu-law: lin2ulaw(ulaw2lin(c)) == c for 255 codes; 0x7F (negative zero) -> 0 -> 0xFF (documented)");

    // Exhaustive check against the G.711 decision intervals. The positive
    // reconstruction values are the midpoints of contiguous intervals, so the
    // intervals follow from the decode table alone: lo[0] = 0 (mu-law: the
    // zero level covers [0, 4) in 16-bit units, i.e. [0, 1) in 14-bit units),
    // hi[k] = 2 * r[k] - lo[k], lo[k+1] = hi[k]; the top interval absorbs the
    // clip range. Negative x uses the magnitude -1 - x (G.191 one's complement).
    for (int law = 0; law < 2; ++law) {
        std::vector<int> r;
        for (unsigned c = 0; c < 256; ++c) {
            const int v = law == 0 ? alaw2lin(static_cast<uint8_t>(c)) : ulaw2lin(static_cast<uint8_t>(c));
            if ((law == 0 && v > 0) || (law == 1 && (c & 0x80))) r.push_back(v);
        }
        std::sort(r.begin(), r.end());
        std::vector<int> lo(r.size()), hi(r.size());
        int start = 0;
        bool tiles = r.size() == 128;
        for (size_t k = 0; k < r.size(); ++k) {
            lo[k] = start;
            hi[k] = (law == 1 && k == 0) ? 4 : 2 * r[k] - lo[k];
            if (hi[k] <= lo[k]) tiles = false;
            start = hi[k];
        }
        hi.back() = 32768;
        bool inInterval = true, mono = true;
        int prev = -40000;
        for (int x = -32768; x <= 32767; ++x) {
            const int16_t s = static_cast<int16_t>(x);
            const int d = law == 0 ? alaw2lin(lin2alaw(s)) : ulaw2lin(lin2ulaw(s));
            const int mag = x < 0 ? -1 - x : x;
            const size_t k = static_cast<size_t>(std::upper_bound(lo.begin(), lo.end(), mag) - lo.begin()) - 1;
            const int want = x < 0 ? -r[k] : r[k];
            if (mag >= hi[k] || d != want) inInterval = false;
            if (d < prev) mono = false;
            prev = d;
        }
        check(tiles && inInterval && mono,
              std::string(law == 0 ? "A-law" : "mu-law") +
                  ": all 65536 inputs land in the right G.711 decision interval; encode+decode is monotonic");
    }

    check(saturate16(40000) == 32767 && saturate16(-40000) == -32768 && saturate16(1234) == 1234 &&
              saturate16(32767) == 32767 && saturate16(-32768) == -32768 && saturate16(INT32_MIN) == -32768,
          "saturate16 clamps to [-32768, 32767]");
}

}  // namespace

int main() {
    std::printf("== HDLC ==\n");
    testFcs();
    testKnownAnswer();
    testIdle();
    for (unsigned bpb : {8u, 7u}) {
        testRoundTrip(bpb, false);
        testRoundTrip(bpb, true);
    }
    testRateBound();
    for (unsigned bpb : {8u, 7u}) {
        testSingleBitFlips(bpb);
        testStreamFlips(bpb);
        testAbort(bpb);
    }
    testOverrun();
    testRunts();
    {
        HdlcEncoder e;
        HdlcDecoder d;
        check(!e.setBitsPerByte(6) && e.bitsPerByte() == 8 && !d.setBitsPerByte(9) && d.bitsPerByte() == 8,
              "setBitsPerByte rejects values other than 7 and 8");
        // takeEvents() path (no handler).
        e.queue(Bytes{1, 2, 3});
        Bytes line = encodeAll(e, 2);
        d.push(line.data(), line.size());
        std::vector<HdlcEvent> ev = d.takeEvents();
        check(ev.size() == 1 && ev[0].fcsOk && ev[0].payload == Bytes({1, 2, 3}) && d.takeEvents().empty(),
              "without a handler, events are collected by takeEvents()");
        const uint16_t f = fcs16(ev[0].payload.data(), ev[0].payload.size());
        check(ev[0].fcs[0] == (f & 0xFF) && ev[0].fcs[1] == (f >> 8), "event carries the received FCS octets");
    }
    std::printf("== G.711 ==\n");
    testG711();
    std::printf("== %d passed, %d failed ==\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
