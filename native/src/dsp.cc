// SPDX-License-Identifier: GPL-2.0-or-later
// The per-channel DSP: G.711, the Detector (spandsp DTMF and fax tones, progress tones, AMD) and the generators.

#include <spandsp.h>

#include <algorithm>
#include <cmath>

#include "dsp_internal.h"

namespace switchboard::dsp {

// ---- G.711 and levels -------------------------------------------------------------------------------

namespace {

// Decoding tables, built once: a lookup is cheaper than spandsp's bit arithmetic per sample.
struct DecodeTables {
  int16_t alaw[256], ulaw[256];
  DecodeTables() {
    for (int i = 0; i < 256; ++i) {
      alaw[i] = alaw_to_linear(static_cast<uint8_t>(i));
      ulaw[i] = ulaw_to_linear(static_cast<uint8_t>(i));
    }
  }
};
const DecodeTables& tables() {
  static const DecodeTables t;
  return t;
}

constexpr double kPi = 3.14159265358979323846;

}  // namespace

void decode(Law law, const uint8_t* in, int16_t* out, int n) {
  const int16_t* table = law == Law::kAlaw ? tables().alaw : tables().ulaw;
  for (int i = 0; i < n; ++i) out[i] = table[in[i]];
}

void encode(Law law, const int16_t* in, uint8_t* out, int n) {
  if (law == Law::kAlaw) {
    for (int i = 0; i < n; ++i) out[i] = linear_to_alaw(in[i]);
  } else {
    for (int i = 0; i < n; ++i) out[i] = linear_to_ulaw(in[i]);
  }
}

double power_dbm0(const int16_t* pcm, int n) {
  if (n <= 0) return -99;
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += static_cast<double>(pcm[i]) * pcm[i];
  if (sum == 0) return -99;
  // spandsp's convention (telephony.h): a full-scale sine, mean square 32767^2/2, is +3.14 dBm0.
  return 10 * std::log10(sum / n / (32767.0 * 32767.0 / 2)) + 3.14;
}

double sine_amplitude(double dbm0) { return 32767.0 * std::pow(10.0, (dbm0 - 3.14) / 20); }

// ---- detection ----------------------------------------------------------------------------------------

namespace {

// spandsp 0.0.6 dtmf_rx decides once per block of this many samples (DTMF_SAMPLES_PER_BLOCK in
// dtmf.c; not in its headers). We feed it up to block ends so that each report has a known time.
constexpr int kDtmfBlock = 102;
// A digit is confirmed by two blocks that hear it and ended by two that do not, so both edges
// are reported late: a start by 2 to 3 blocks, an end by 1.5 to 2.5 (a block the tone only
// partly fills already fails spandsp's energy test). These delays, the mean lateness over
// every alignment of a digit to the blocks, centre the error of each edge (about +-6 ms) and
// leave the duration unbiased; test/dsp-dtmf.test.ts holds them to it.
constexpr int kDtmfStartDelay = 243;
constexpr int kDtmfEndDelay = 172;

bool dtmf_digit(char c) {
  return (c >= '0' && c <= '9') || c == '*' || c == '#' || (c >= 'A' && c <= 'D');
}

}  // namespace

struct Detector::Impl {
  std::vector<Event>* out = nullptr;
  std::vector<int64_t> at;  // for each event of this call, the sample it was recognised at
  int64_t pos = 0;  // samples processed before the current call
  int64_t block_end = 0;  // sample index at the end of the chunk being fed to a spandsp receiver

  dtmf_rx_state_t* dtmf = nullptr;
  int dtmf_fill = 0;  // samples into spandsp's current DTMF block
  char digit = 0;
  int64_t digit_start = 0;
  double digit_level = 0;

  modem_connect_tones_rx_state_t* cng = nullptr;
  modem_connect_tones_rx_state_t* ced = nullptr;

  std::unique_ptr<ProgressDetector> progress;

  std::unique_ptr<Amd> amd;
  int16_t amd_block[kBlock];
  int amd_fill = 0;

  ~Impl() {
    if (dtmf) dtmf_rx_free(dtmf);
    if (cng) modem_connect_tones_rx_free(cng);
    if (ced) modem_connect_tones_rx_free(ced);
  }

  void dtmf_report(int code, int level) {
    const int64_t end = std::max<int64_t>(digit_start, block_end - kDtmfEndDelay);
    const int64_t start = std::max<int64_t>(0, block_end - kDtmfStartDelay);
    if (digit) {
      Event e;
      e.kind = Event::Kind::kDtmf;
      e.digit = digit;
      e.start = digit_start;
      e.ms = static_cast<int>((end - digit_start) * 1000 / kRate);
      e.level = digit_level;
      push(e, block_end);
      digit = 0;
    }
    if (code) {
      digit = static_cast<char>(code);
      digit_start = start;
      digit_level = level;
      Event e;
      e.kind = Event::Kind::kDtmfStart;
      e.digit = digit;
      e.start = start;
      push(e, block_end);
    }
  }

  void fax_report(int code, const char* name) {
    // Reported when the tone is recognised; its end (code NONE) is of no use to a dialler.
    if (code == MODEM_CONNECT_TONES_NONE) return;
    // At the end of the 20 ms block it was recognised in, however the caller cut the samples.
    const int64_t at = (block_end + kBlock - 1) / kBlock * kBlock;
    Event e;
    e.kind = Event::Kind::kFax;
    e.name = name;
    e.start = at;
    push(e, at);
  }

  void push(const Event& e, int64_t when) {
    out->push_back(e);
    at.push_back(when);
  }
};

Detector::Detector(const DetectOptions& options) : options_(options), impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  // spandsp's callbacks (the lambdas see Impl, which is private to Detector).
  tone_report_func_t on_dtmf = [](void* user, int code, int level, int /*delay*/) {
    static_cast<Impl*>(user)->dtmf_report(code, level);
  };
  tone_report_func_t on_cng = [](void* user, int code, int /*level*/, int /*delay*/) {
    static_cast<Impl*>(user)->fax_report(code, "cng");
  };
  tone_report_func_t on_ced = [](void* user, int code, int /*level*/, int /*delay*/) {
    static_cast<Impl*>(user)->fax_report(code, "ced");
  };
  if (options.amd) m.amd = std::make_unique<Amd>(options.amd_params);  // checks the ranges first
  if (options.dtmf) {
    m.dtmf = dtmf_rx_init(nullptr, nullptr, nullptr);
    if (!m.dtmf) throw std::bad_alloc();
    dtmf_rx_set_realtime_callback(m.dtmf, on_dtmf, &m);
    // The dial tone filter where dial tone is 350+440 Hz, as the analog stack does, so a line's
    // own dial tone cannot fake or mask digits. spandsp's default threshold; its default twist
    // (8 dB normal, 4 dB reverse) is the very edge of its strict comparison, where 50 ms digits
    // were lost from 3.7 and 7.6 dB on: 9 and 5 dB accept every digit to Bellcore's 8 and 4 dB
    // and still refuse all from 9.75 and 5.5 dB (test/dsp-dtmf.test.ts).
    bool filter = false;
    if (options.zone) {
      const Tone* dial = options.zone->tone("dial");
      filter = dial && !dial->segments.empty() && dial->segments[0].f1 == 350 &&
               dial->segments[0].f2 == 440;
    }
    dtmf_rx_parms(m.dtmf, filter ? 1 : 0, 9, 5, -99);
  }
  if (options.fax) {
    m.cng = modem_connect_tones_rx_init(nullptr, MODEM_CONNECT_TONES_FAX_CNG, on_cng, &m);
    m.ced = modem_connect_tones_rx_init(nullptr, MODEM_CONNECT_TONES_ANS, on_ced, &m);
    if (!m.cng || !m.ced) throw std::bad_alloc();
  }
  if (options.zone) m.progress = std::make_unique<ProgressDetector>(*options.zone);
}

Detector::~Detector() = default;

int64_t Detector::position() const { return impl_->pos; }

void Detector::restart_amd(const AmdParams& params) {
  check_amd_params(params);
  options_.amd = true;
  options_.amd_params = params;
  impl_->amd = std::make_unique<Amd>(params);
  impl_->amd_fill = 0;
}

void Detector::process(const int16_t* pcm, int n, std::vector<Event>& out) {
  Impl& m = *impl_;
  // Each receiver runs over the whole call in turn; their events are merged by the time they
  // were recognised at the end.
  std::vector<Event> mine;
  m.out = &mine;
  m.at.clear();
  if (m.dtmf) {
    int i = 0;
    while (i < n) {
      const int len = std::min(n - i, kDtmfBlock - m.dtmf_fill);
      m.block_end = m.pos + i + len;
      dtmf_rx(m.dtmf, pcm + i, len);
      m.dtmf_fill = (m.dtmf_fill + len) % kDtmfBlock;
      i += len;
    }
  }
  if (m.cng) {
    // In 20 ms blocks counted from the first sample, so that a report's block does not depend
    // on how the caller cut the samples.
    for (int i = 0, len = 0; i < n; i += len) {
      len = std::min<int>(n - i, kBlock - static_cast<int>((m.pos + i) % kBlock));
      m.block_end = m.pos + i + len;
      modem_connect_tones_rx(m.cng, pcm + i, len);
      modem_connect_tones_rx(m.ced, pcm + i, len);
    }
  }
  if (m.progress) m.progress->process(pcm, n, mine, m.at);
  if (m.amd) {
    for (int i = 0; i < n; ++i) {
      m.amd_block[m.amd_fill++] = pcm[i];
      if (m.amd_fill < kBlock) continue;
      m.amd_fill = 0;
      if (m.amd->block(m.amd_block)) {
        Event e;
        e.kind = Event::Kind::kAmd;
        e.name = m.amd->verdict();
        e.cause = m.amd->cause();
        e.start = m.pos + i + 1;
        m.push(e, e.start);
      }
    }
  }
  m.pos += n;
  std::vector<size_t> order(mine.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&m](size_t a, size_t b) { return m.at[a] < m.at[b]; });
  for (size_t i : order) out.push_back(std::move(mine[i]));
  m.out = nullptr;
}

// ---- generation ---------------------------------------------------------------------------------------

namespace {

int16_t saturate(double v) {
  const long r = std::lround(v);
  return static_cast<int16_t>(std::clamp<long>(r, -32768, 32767));
}

class ToneGenerator : public Generator {
 public:
  explicit ToneGenerator(const Tone& tone) : tone_(tone) { enter(0); }

  int generate(int16_t* out, int n) override {
    int i = 0;
    while (i < n && !done_) {
      const ToneSegment& s = tone_.segments[seg_];
      const int64_t left = s.ms == 0 ? INT64_MAX : len_ - at_;
      const int run = static_cast<int>(std::min<int64_t>(left, n - i));
      for (int j = 0; j < run; ++j) {
        double v = 0;
        if (s.f1) {
          const double carrier = a1_ * std::sin(ph1_);
          // DAHDI's "f1*f2": the carrier's amplitude swings about 22 % at f2 (dahdi-base.c scales
          // it by 0.9 * (1 - f2 oscillator / 32768) at its -10 dBm0 playback level).
          v = s.am ? carrier * (1 + kAmDepth * std::sin(ph2_)) : carrier;
        }
        if (s.f2 && !s.am) v += a2_ * std::sin(ph2_);
        out[i + j] = saturate(v);
        ph1_ = std::fmod(ph1_ + w1_, 2 * kPi);
        ph2_ = std::fmod(ph2_ + w2_, 2 * kPi);
      }
      i += run;
      at_ += run;
      if (s.ms != 0 && at_ >= len_) next();
    }
    return i;
  }
  bool done() const override { return done_; }

 private:
  static constexpr double kAmDepth = 0.22;

  void enter(size_t index) {
    const ToneSegment* prev = seg_ < tone_.segments.size() && started_ ? &tone_.segments[seg_] : nullptr;
    seg_ = index;
    started_ = true;
    const ToneSegment& s = tone_.segments[seg_];
    at_ = 0;
    len_ = static_cast<int64_t>(s.ms) * kRate / 1000;
    // A new frequency starts at a zero crossing; the same one carries on without a click.
    const bool same = prev && prev->f1 == s.f1 && prev->f2 == s.f2 && prev->am == s.am;
    if (!same) ph1_ = ph2_ = 0;
    w1_ = 2 * kPi * s.f1 / kRate;
    w2_ = 2 * kPi * s.f2 / kRate;
    a1_ = s.f1 ? sine_amplitude(s.level1) : 0;
    a2_ = s.f2 && !s.am ? sine_amplitude(s.level2) : 0;
  }
  void next() {
    if (seg_ + 1 < tone_.segments.size()) {
      enter(seg_ + 1);
    } else if (tone_.repeat) {
      enter(std::min(tone_.first_repeated, tone_.segments.size() - 1));
    } else {
      done_ = true;
    }
  }

  Tone tone_;
  size_t seg_ = 0;
  bool started_ = false;
  int64_t at_ = 0, len_ = 0;
  double ph1_ = 0, ph2_ = 0, w1_ = 0, w2_ = 0, a1_ = 0, a2_ = 0;
  bool done_ = false;
};

class DtmfGenerator : public Generator {
 public:
  DtmfGenerator(std::string digits, int on_ms, int off_ms, int level) : left_(std::move(digits)) {
    tx_ = dtmf_tx_init(nullptr);
    if (!tx_) throw std::bad_alloc();
    dtmf_tx_set_timing(tx_, on_ms, off_ms);
    // Q.24 lets the high group be louder; 2 dB is the usual pre-emphasis.
    dtmf_tx_set_level(tx_, level, 2);
    refill();
  }
  ~DtmfGenerator() override { dtmf_tx_free(tx_); }
  DtmfGenerator(const DtmfGenerator&) = delete;
  DtmfGenerator& operator=(const DtmfGenerator&) = delete;

  int generate(int16_t* out, int n) override {
    int i = 0;
    while (i < n && !done_) {
      i += dtmf_tx(tx_, out + i, n - i);
      if (i == n) break;
      // spandsp ran out of digits: its queue holds MAX_DTMF_DIGITS, a longer string is fed as
      // it drains.
      if (left_.empty()) {
        done_ = true;
      } else {
        refill();
      }
    }
    return i;
  }
  bool done() const override { return done_; }

 private:
  // Called with spandsp's queue empty: it takes up to MAX_DTMF_DIGITS at once, and a string
  // that does not fit is refused whole (dtmf_tx_put returns what did not fit).
  void refill() {
    const size_t n = std::min<size_t>(left_.size(), MAX_DTMF_DIGITS);
    if (dtmf_tx_put(tx_, left_.c_str(), static_cast<int>(n)) == 0) left_.erase(0, n);
    else done_ = true;  // cannot happen with an empty queue; never loop on it
  }

  dtmf_tx_state_t* tx_ = nullptr;
  std::string left_;
  bool done_ = false;
};

}  // namespace

std::unique_ptr<Generator> Generator::tone(const Tone& tone) {
  if (tone.segments.empty()) throw DspError("tone", "has no segments");
  return std::make_unique<ToneGenerator>(tone);
}

std::unique_ptr<Generator> Generator::dtmf(const std::string& digits, int on_ms, int off_ms,
                                           int level) {
  if (digits.empty()) throw DspError("digits", "must not be empty");
  for (char c : digits)
    if (!dtmf_digit(c))
      throw DspError("digits", std::string("'") + c + "' is not a DTMF digit (0-9 * # A-D)");
  if (on_ms < 40 || on_ms > 10000) throw DspError("onMs", std::to_string(on_ms) + " is out of range 40..10000");
  if (off_ms < 40 || off_ms > 10000) throw DspError("offMs", std::to_string(off_ms) + " is out of range 40..10000");
  if (level < -50 || level > -4) throw DspError("level", std::to_string(level) + " is out of range -50..-4");
  return std::make_unique<DtmfGenerator>(digits, on_ms, off_ms, level);
}

}  // namespace switchboard::dsp
