// SPDX-License-Identifier: GPL-2.0-or-later
// Call-progress tones of a zone (and SIT) recognised by frequency and cadence: a least-squares tone fit and a cadence matcher.
//
// Why not spandsp's super_tone_rx: it picks the two strongest of a bank of 128-sample
// Goertzel filters, whose bins are 62.5 Hz wide. Zones put tones 25 Hz apart (China's dial tone
// 450 Hz and its stutter 450+425 Hz, Germany's 425 and 425+400 Hz, Britain's 400 and 400+450 Hz),
// so a pure 450 Hz tone would light the 425 Hz bin as well and read as the two-frequency tone.
//
// Method:
//  1. A 120 Hz high-pass removes DC and sub-audio components (Japan's "400+15" is 400 Hz on a line).
//  2. Every 10 ms, a 20 ms window (160 samples) is fitted, by least squares, with sines at the
//     frequencies of each *signature* (the frequency sets the zone's segments use). The window is
//     labelled with the signature that explains at least 90 % of its energy with every component
//     present; a 25 Hz difference over 20 ms leaves most of the other tone's energy unexplained, so
//     450 and 450+425 Hz are told apart. Otherwise the window is silence (20 dB under the last tone,
//     or under -42 dBm0) or "other" (speech, DTMF, noise).
//  3. Labels become runs: two equal windows confirm a run; up to four unconfirmed windows (edges,
//     clicks) are split between the neighbours, more are an "other" run. A silence shorter than
//     35 ms cannot be told from an edge in 20 ms windows: between two runs of the same tone it
//     is dropped, between different tones it is no step.
//  4. Each tone of the zone is a cadence: steps of (signature or silence, duration +-(40 ms + 10 %)),
//     a once-only prefix and a repeating cycle, tidied as the windows hear it (gaps under 35 ms
//     dropped, gaps to 50 ms optional, a cycle that is a shorter one twice shortened). A tone is
//     recognised when the runs heard match it: a cadence twice through, a steady tone for one
//     second, a prefix then its tail. While another tone that explains at least the same runs is
//     still possible (ringback's first second sounds like dial tone), the verdict waits. Tones a
//     zone plays identically are reported by the first one's name (reported_names()).
//  5. SIT: any of 913.8/950/985.2, then 1370.6/1400/1428.5, then 1776.7/1800 Hz, each 240..430 ms
//     (ITU-T E.180 and the North American segment lengths 276 and 380 ms), in any zone.

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>

#include "dsp_internal.h"

namespace switchboard::dsp {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kSqrt2 = 1.41421356237309504880;
constexpr int kHop = 80;          // 10 ms: the resolution of cadence edges
constexpr int kWin = 2 * kHop;    // 20 ms: the frequency resolution (50 Hz)
constexpr double kHighpassHz = 120;
constexpr double kMinHz = 150, kMaxHz = 3800;
constexpr double kFitMin = 0.90;        // share of a window's energy a signature must explain
constexpr double kComponentMin = 0.1;   // each frequency of a signature within 10 dB of the strongest
constexpr double kToneMinDbm0 = -40;
constexpr double kSilenceDbm0 = -42;
constexpr double kSilenceBelowTone = 20;  // dB under the last tone heard
constexpr int kConfirm = 2;               // windows that make a run
constexpr int kMaxGlitch = 4;             // unconfirmed windows split between two runs
constexpr size_t kMaxRuns = 64;
constexpr int64_t kSteadyMs = 1000;       // a steady tone is recognised after this long
constexpr int kDropGapMs = 35;            // gaps shorter than this vanish in 20 ms windows
constexpr int kOptionalGapMs = 50;        // gaps up to this long may or may not be seen
constexpr int kOptionalGapMaxMs = 70;

constexpr int kSilence = -1;
constexpr int kOther = -2;
constexpr int kNone = -3;  // before the first run

constexpr int64_t ms_to_samples(int64_t ms) { return ms * kRate / 1000; }

double dbm0(double mean_square) {
  if (mean_square <= 0) return -99;
  return 10 * std::log10(mean_square / (32767.0 * 32767.0 / 2)) + 3.14;
}

// A frequency as an 8 kHz channel carries it (zone data has a 10 kHz typo that DAHDI plays as
// its 2 kHz alias).
double alias(double hz) {
  hz = std::fmod(hz, kRate);
  return hz > kRate / 2 ? kRate - hz : hz;
}

struct Freq {
  double hz;
  std::array<double, kHop> c, s;  // cos, sin over one hop
  double rc, rs;                  // rotation by one hop
};

struct Signature {
  std::vector<int> freqs;  // indices into Impl::freqs, 1 or 2
  int dim = 0;             // 2 per frequency (cos, sin)
  std::array<double, 16> ginv{};  // inverse Gram matrix of the window's basis, dim x dim
};

struct Run {
  int label;
  int64_t start, end;  // samples
};

struct Step {
  std::vector<int> labels;
  bool any = false;       // accepts every run (the tail after SIT)
  bool optional = false;  // a short gap that may not be seen
  bool hold = false;      // lasts for ever (the last step of a pattern)
  int64_t min = 0, max = 0;
  bool accepts(int label) const {
    return any || std::find(labels.begin(), labels.end(), label) != labels.end();
  }
  bool silent() const { return !any && labels.size() == 1 && labels[0] == kSilence; }
};

struct Pattern {
  std::string name;
  int order;
  std::vector<Step> prefix, cycle;
  int required = 0;        // steps of the cycle that are not optional
  bool steady = false;     // the cycle is one tone that holds: recognised after kSteadyMs
  bool at_tail = false;    // recognised as soon as its (silent or any) tail begins
  const Step& at(int64_t p) const {
    const int64_t n = static_cast<int64_t>(prefix.size());
    return p < n ? prefix[p] : cycle[(p - n) % static_cast<int64_t>(cycle.size())];
  }
};

// Where a pattern lines up with the runs heard: runs from index k on, the run k at step `pos`;
// `partial` when run k may be the tail end of a step (joined mid-cadence).
struct Alignment {
  bool valid = false;
  int k = 0;
  int64_t pos = 0;
  bool partial = false;
};

struct Walk {
  bool ok = false;
  bool complete = false;
  int64_t last_tone_end = 0;
  int64_t pos_at = 0;  // position of run `stop_at` (for trimming)
};

struct Active {
  int pattern = -1;
  int64_t start = 0, last_tone_end = 0;
};

}  // namespace

struct ProgressDetector::Impl {
  std::vector<Freq> freqs;
  std::vector<Signature> sigs;
  std::vector<Pattern> patterns;
  std::vector<Alignment> align;

  // High-pass biquad.
  double b0, b1, b2, a1, a2;
  double x1 = 0, x2 = 0, y1 = 0, y2 = 0;

  // The hop being filled and the previous hop's sums.
  std::array<double, kHop> hop{};
  int fill = 0;
  int64_t hops = 0;  // hops completed
  std::vector<double> prev_c, prev_s, cur_c, cur_s;
  double prev_e = 0;

  double last_tone_db = kSilenceDbm0;

  // Runs.
  std::vector<Run> runs;  // the last one is in progress (when cur_label != kNone)
  int cur_label = kNone;
  int64_t cur_last_win = 0;
  std::vector<std::pair<int64_t, int>> pending;  // windows since cur_last_win: (index, label)

  Active active;

  explicit Impl(const ToneZone& zone);
  int freq_index(double hz);
  int signature(std::vector<double> hz);
  int label_of(const ToneSegment& seg);
  void add_pattern(const Tone& tone, int order);
  void add_sit(int order);

  void hop_done(int64_t hop_index, std::vector<Event>& out);
  void window(int64_t win, int label, std::vector<Event>& out);
  void trim();
  Walk walk(const Pattern& pt, const Alignment& a, int stop_at = -1) const;
  void evaluate(std::vector<Event>& out);
  int64_t center(int64_t win) const { return win * kHop; }
};

ProgressDetector::Impl::Impl(const ToneZone& zone) {
  const double k = std::tan(kPi * kHighpassHz / kRate);
  const double norm = 1 / (1 + kSqrt2 * k + k * k);
  b0 = norm;
  b1 = -2 * norm;
  b2 = norm;
  a1 = 2 * (k * k - 1) * norm;
  a2 = (1 - kSqrt2 * k + k * k) * norm;

  int order = 0;
  for (const Tone& t : zone.tones()) add_pattern(t, order++);
  add_sit(order);
  align.resize(patterns.size());
  cur_c.assign(freqs.size(), 0);
  cur_s.assign(freqs.size(), 0);
  prev_c = cur_c;
  prev_s = cur_s;
}

int ProgressDetector::Impl::freq_index(double hz) {
  for (size_t i = 0; i < freqs.size(); ++i)
    if (std::fabs(freqs[i].hz - hz) < 0.5) return static_cast<int>(i);
  Freq f;
  f.hz = hz;
  const double w = 2 * kPi * hz / kRate;
  for (int j = 0; j < kHop; ++j) {
    f.c[j] = std::cos(w * j);
    f.s[j] = std::sin(w * j);
  }
  f.rc = std::cos(w * kHop);
  f.rs = std::sin(w * kHop);
  freqs.push_back(f);
  return static_cast<int>(freqs.size() - 1);
}

// Inverts a small symmetric positive-definite matrix in place (Gauss-Jordan); a tiny ridge keeps
// a degenerate basis (a frequency at 0 or 4000 Hz has no sine) invertible.
void invert(std::array<double, 16>& m, int n) {
  std::array<double, 16> inv{};
  double trace = 0;
  for (int i = 0; i < n; ++i) trace += m[i * n + i];
  for (int i = 0; i < n; ++i) {
    m[i * n + i] += 1e-9 * trace;
    inv[i * n + i] = 1;
  }
  for (int col = 0; col < n; ++col) {
    int pivot = col;
    for (int r = col + 1; r < n; ++r)
      if (std::fabs(m[r * n + col]) > std::fabs(m[pivot * n + col])) pivot = r;
    for (int c = 0; c < n; ++c) {
      std::swap(m[col * n + c], m[pivot * n + c]);
      std::swap(inv[col * n + c], inv[pivot * n + c]);
    }
    const double d = m[col * n + col];
    for (int c = 0; c < n; ++c) {
      m[col * n + c] /= d;
      inv[col * n + c] /= d;
    }
    for (int r = 0; r < n; ++r) {
      if (r == col) continue;
      const double f = m[r * n + col];
      for (int c = 0; c < n; ++c) {
        m[r * n + c] -= f * m[col * n + c];
        inv[r * n + c] -= f * inv[col * n + c];
      }
    }
  }
  m = inv;
}

int ProgressDetector::Impl::signature(std::vector<double> hz) {
  std::sort(hz.begin(), hz.end());
  hz.erase(std::unique(hz.begin(), hz.end(), [](double a, double b) { return std::fabs(a - b) < 1; }),
           hz.end());
  std::vector<int> idx;
  for (double f : hz) idx.push_back(freq_index(f));
  for (size_t i = 0; i < sigs.size(); ++i)
    if (sigs[i].freqs == idx) return static_cast<int>(i);
  Signature s;
  s.freqs = idx;
  s.dim = 2 * static_cast<int>(idx.size());
  // Basis over the 160-sample window: cos and sin of each frequency.
  std::vector<std::array<double, kWin>> basis;
  for (double f : hz) {
    std::array<double, kWin> c{}, sn{};
    const double w = 2 * kPi * f / kRate;
    for (int n = 0; n < kWin; ++n) {
      c[n] = std::cos(w * n);
      sn[n] = std::sin(w * n);
    }
    basis.push_back(c);
    basis.push_back(sn);
  }
  for (int i = 0; i < s.dim; ++i)
    for (int j = 0; j < s.dim; ++j) {
      double acc = 0;
      for (int n = 0; n < kWin; ++n) acc += basis[i][n] * basis[j][n];
      s.ginv[i * s.dim + j] = acc;
    }
  invert(s.ginv, s.dim);
  sigs.push_back(s);
  return static_cast<int>(sigs.size() - 1);
}

// The label a segment's sound gets: its in-band frequencies (an AM tone by its carrier: DAHDI
// modulates about 22 %, the sidebands are 19 dB down), or silence.
int ProgressDetector::Impl::label_of(const ToneSegment& seg) {
  std::vector<double> hz;
  for (int f : {seg.f1, seg.am ? 0 : seg.f2}) {
    if (f <= 0) continue;
    const double a = alias(f);
    if (a >= kMinHz && a <= kMaxHz) hz.push_back(a);
  }
  if (hz.empty()) return kSilence;
  return signature(hz);
}

namespace {

struct RawStep {
  int label;
  int ms;  // 0: holds
};

// Short gaps vanish (their time goes to the step before), equal neighbours merge, gaps up to
// kOptionalGapMs become optional.
std::vector<RawStep> tidy(std::vector<RawStep> in) {
  std::vector<RawStep> out;
  for (const RawStep& s : in) {
    if (s.label == kSilence && s.ms > 0 && s.ms < kDropGapMs && !out.empty() && out.back().ms > 0) {
      out.back().ms += s.ms;
      continue;
    }
    if (!out.empty() && out.back().label == s.label && out.back().ms > 0) {
      out.back().ms = s.ms == 0 ? 0 : out.back().ms + s.ms;
      continue;
    }
    out.push_back(s);
  }
  return out;
}

Step make_step(const RawStep& s) {
  Step st;
  st.labels = {s.label};
  if (s.ms == 0) {
    st.hold = true;
    st.max = INT64_MAX;
    return st;
  }
  if (s.label == kSilence && s.ms <= kOptionalGapMs) {
    st.optional = true;
    st.min = 0;
    st.max = ms_to_samples(kOptionalGapMaxMs);
    return st;
  }
  const int64_t tol = 40 + s.ms / 10;
  st.min = ms_to_samples(std::max<int64_t>(10, s.ms - tol));
  st.max = ms_to_samples(s.ms + tol);
  return st;
}

}  // namespace

void ProgressDetector::Impl::add_pattern(const Tone& tone, int order) {
  std::vector<RawStep> all;
  for (const ToneSegment& seg : tone.segments) all.push_back({label_of(seg), seg.ms});
  if (all.empty()) return;
  // Prefix: the segments played once; cycle: the ones that repeat (or the one that holds).
  size_t first = all.size();
  if (tone.repeat) first = std::min(tone.first_repeated, all.size() - 1);
  else if (all.back().ms == 0) first = all.size() - 1;
  std::vector<RawStep> prefix, cycle;
  for (size_t i = 0; i < all.size(); ++i) (i < first ? prefix : cycle).push_back(all[i]);
  if (cycle.empty()) cycle.push_back({kSilence, 0});  // played once, then the line is silent
  prefix = tidy(prefix);
  cycle = tidy(cycle);
  // The cycle wraps: a last step equal to the first is the same run.
  if (cycle.size() > 1 && cycle.front().label == cycle.back().label) {
    cycle.front().ms += cycle.back().ms;
    cycle.pop_back();
  }
  // A cycle that is a shorter one twice (Australia's congestion is busy with a quieter second
  // burst) sounds as the shorter one.
  for (size_t d = 1; d < cycle.size(); ++d) {
    if (cycle.size() % d) continue;
    bool same = true;
    for (size_t i = d; i < cycle.size() && same; ++i)
      same = cycle[i].label == cycle[i % d].label &&
             std::abs(cycle[i].ms - cycle[i % d].ms) <= cycle[i % d].ms / 10;
    if (same) {
      cycle.resize(d);
      break;
    }
  }
  const bool all_silent = std::all_of(cycle.begin(), cycle.end(),
                                      [](const RawStep& s) { return s.label == kSilence; });
  if (all_silent) cycle = {{kSilence, 0}};
  // One tone repeated without a gap is a steady tone.
  if (cycle.size() == 1) cycle[0].ms = 0;

  Pattern p;
  p.name = tone.name;
  p.order = order;
  for (const RawStep& s : prefix) p.prefix.push_back(make_step(s));
  for (const RawStep& s : cycle) p.cycle.push_back(make_step(s));
  for (const Step& s : p.cycle) p.required += s.optional ? 0 : 1;
  const Step& last = p.cycle.back();
  p.steady = last.hold && !last.silent();
  p.at_tail = last.hold && last.silent();
  // A prefix that is nothing but silence, or a tone that is silence throughout, cannot be heard.
  const bool audible = std::any_of(all.begin(), all.end(), [](const RawStep& s) { return s.label != kSilence; });
  if (audible) patterns.push_back(std::move(p));
}

void ProgressDetector::Impl::add_sit(int order) {
  // ITU-T E.180 Supplement 2 and the North American segment frequencies.
  const std::vector<std::vector<double>> groups = {
      {913.8, 950, 985.2}, {1370.6, 1400, 1428.5}, {1776.7, 1800}};
  Pattern p;
  p.name = "sit";
  p.order = order;
  for (size_t g = 0; g < groups.size(); ++g) {
    Step st;
    for (double f : groups[g]) st.labels.push_back(signature({f}));
    st.min = ms_to_samples(240);
    st.max = ms_to_samples(430);
    p.prefix.push_back(st);
    if (g + 1 < groups.size()) p.prefix.push_back(make_step({kSilence, kOptionalGapMs}));
  }
  Step tail;
  tail.any = true;
  tail.hold = true;
  tail.max = INT64_MAX;
  p.cycle = {tail};
  p.required = 1;
  p.at_tail = true;
  patterns.push_back(std::move(p));
}

// Feeds hop sums: a window is the previous hop and this one.
void ProgressDetector::Impl::hop_done(int64_t hop_index, std::vector<Event>& out) {
  double e = 0;
  for (int j = 0; j < kHop; ++j) e += hop[j] * hop[j];
  for (size_t f = 0; f < freqs.size(); ++f) {
    double c = 0, s = 0;
    const Freq& fr = freqs[f];
    for (int j = 0; j < kHop; ++j) {
      c += hop[j] * fr.c[j];
      s += hop[j] * fr.s[j];
    }
    cur_c[f] = c;
    cur_s[f] = s;
  }
  if (hop_index > 0) {
    const double energy = prev_e + e;
    const double power_db = dbm0(energy / kWin);
    int label;
    const double silence_db = std::max(kSilenceDbm0, last_tone_db - kSilenceBelowTone);
    if (power_db < silence_db) {
      label = kSilence;
    } else if (power_db < kToneMinDbm0) {
      label = kOther;
    } else {
      label = kOther;
      double best = kFitMin;
      for (size_t si = 0; si < sigs.size(); ++si) {
        const Signature& sg = sigs[si];
        std::array<double, 4> b{};
        for (size_t i = 0; i < sg.freqs.size(); ++i) {
          const int f = sg.freqs[i];
          const Freq& fr = freqs[f];
          // The window's second half is this hop, rotated to the window's phase origin.
          b[2 * i] = prev_c[f] + fr.rc * cur_c[f] - fr.rs * cur_s[f];
          b[2 * i + 1] = prev_s[f] + fr.rs * cur_c[f] + fr.rc * cur_s[f];
        }
        std::array<double, 4> a{};
        double explained = 0;
        for (int i = 0; i < sg.dim; ++i) {
          for (int j = 0; j < sg.dim; ++j) a[i] += sg.ginv[i * sg.dim + j] * b[j];
          explained += a[i] * b[i];
        }
        const double share = explained / energy;
        if (share < best) continue;
        if (sg.freqs.size() == 2) {
          const double p0 = a[0] * a[0] + a[1] * a[1];
          const double p1 = a[2] * a[2] + a[3] * a[3];
          if (std::min(p0, p1) < kComponentMin * std::max(p0, p1)) continue;
        }
        best = share + 1e-12;  // a tie keeps the first (the zone's own) signature
        label = static_cast<int>(si);
      }
      if (label >= 0) last_tone_db = power_db;
    }
    window(hop_index, label, out);
  }
  prev_c.swap(cur_c);
  prev_s.swap(cur_s);
  prev_e = e;
}

// Turns window labels into runs; see the file comment (3).
void ProgressDetector::Impl::window(int64_t win, int label, std::vector<Event>& out) {
  bool changed = false;
  if (label == cur_label) {
    // The run goes on; the few windows since its last one were an edge or a click.
    cur_last_win = win;
    pending.clear();
  } else {
    pending.emplace_back(win, label);
    const size_t n = pending.size();
    bool confirmed = label != kOther && n >= static_cast<size_t>(kConfirm);
    for (int i = 0; confirmed && i < kConfirm; ++i) confirmed = pending[n - 1 - i].second == label;
    if (confirmed) {
      const int64_t first = pending[n - kConfirm].first;
      // Unconfirmed windows between the two runs (at most kMaxGlitch: more would have become
      // an "other" run) are split between them.
      const int64_t boundary = cur_label == kNone ? center(first) - kHop
                                                  : (center(cur_last_win) + center(first)) / 2;
      if (!runs.empty() && cur_label != kNone) runs.back().end = boundary;
      const size_t r = runs.size();
      if (cur_label == kSilence && r >= 2 && runs[r - 2].label == label &&
          runs[r - 1].end - runs[r - 1].start < ms_to_samples(kDropGapMs)) {
        // A gap too short for the zones' cadences (a click, a 25 ms break): the tone goes on.
        runs.pop_back();
        runs.back().end = center(win) + kHop;
        for (Alignment& a : align) {
          if (a.k < static_cast<int>(runs.size())) continue;
          a.k = static_cast<int>(runs.size()) - 1;
          a.valid = false;
        }
      } else {
        runs.push_back({label, boundary, center(win) + kHop});
      }
      cur_label = label;
      cur_last_win = win;
      pending.clear();
      changed = true;
    } else if (n >= static_cast<size_t>(kMaxGlitch + kConfirm)) {
      if (cur_label == kOther || cur_label == kNone) {
        // Flickering labels inside something unrecognised stay part of it; the last window may
        // still begin a run.
        if (cur_label == kOther) cur_last_win = pending[n - 2].first;
        pending.erase(pending.begin(), pending.end() - 1);
      } else {
        // Too long to be an edge: something that is no tone and no silence.
        const int64_t boundary = (center(cur_last_win) + center(pending.front().first)) / 2;
        runs.back().end = boundary;
        runs.push_back({kOther, boundary, center(win) + kHop});
        cur_label = kOther;
        cur_last_win = win;
        pending.clear();
        changed = true;
      }
    }
  }
  if (!runs.empty() && !changed && cur_label != kNone) runs.back().end = center(cur_last_win) + kHop;
  if (cur_label == kNone) return;
  trim();
  evaluate(out);
}

// Keeps the last runs only, moving each alignment onto the runs kept.
void ProgressDetector::Impl::trim() {
  if (runs.size() <= kMaxRuns) return;
  const int drop = static_cast<int>(runs.size() - kMaxRuns / 2);
  for (size_t i = 0; i < patterns.size(); ++i) {
    Alignment& a = align[i];
    if (!a.valid) {
      a.k = std::max(0, a.k - drop);
      continue;
    }
    if (a.k >= drop) {
      a.k -= drop;
      continue;
    }
    const Walk w = walk(patterns[i], a, drop);
    a.k = 0;
    a.pos = w.pos_at;
    a.partial = false;
  }
  runs.erase(runs.begin(), runs.begin() + drop);
}

// Checks the runs from a.k on against the pattern from step a.pos.
Walk ProgressDetector::Impl::walk(const Pattern& pt, const Alignment& a, int stop_at) const {
  Walk w;
  int n = static_cast<int>(runs.size());
  // A silence that has just begun may yet be a break too short to count (see below): until it
  // is longer, the run before it is taken as still going on.
  if (n >= 2 && runs[n - 1].label == kSilence &&
      runs[n - 1].end - runs[n - 1].start < ms_to_samples(kDropGapMs))
    --n;
  const int64_t prefix_len = static_cast<int64_t>(pt.prefix.size());
  int64_t p = a.pos;
  int cycle_runs = 0;
  bool tail = false;
  int64_t tail_len = 0;
  int64_t done = a.pos;  // position after the last run that completed its step
  for (int i = a.k; i < n; ++i) {
    const Run& r = runs[i];
    const int64_t d = r.end - r.start;
    const bool last = i == n - 1;
    // An optional gap that this run does not fill is skipped.
    for (int guard = 0; pt.at(p).optional && guard < 4; ++guard) {
      if (r.label == kSilence && d <= pt.at(p).max) break;
      ++p;
    }
    if (i == stop_at) w.pos_at = p;
    const Step& s = pt.at(p);
    // A gap too short to be a step of any cadence between two different tones (SIT's 15-30 ms
    // breaks) is not a step.
    if (r.label == kSilence && d < ms_to_samples(kDropGapMs) && !s.accepts(kSilence)) continue;
    if (!s.accepts(r.label)) return w;
    if (s.hold) {
      if (!last) return w;
      tail = true;
      tail_len = d;
      if (r.label != kSilence && r.label != kOther) w.last_tone_end = r.end;
      break;
    }
    if (d > s.max) return w;
    const bool first_partial = a.partial && i == a.k;
    const bool full = d >= s.min;
    if (!full && !last && !first_partial) return w;
    if (r.label != kSilence && r.label != kOther) w.last_tone_end = r.end;
    if (full && p >= prefix_len && !s.optional) ++cycle_runs;
    if (full) done = p + 1;
    ++p;
  }
  w.ok = true;
  const bool prefix_done = done >= prefix_len || (tail && p >= prefix_len);
  if (!prefix_done) return w;
  if (pt.steady) {
    w.complete = tail && tail_len >= ms_to_samples(kSteadyMs);
  } else if (pt.at_tail) {
    w.complete = tail;
  } else {
    w.complete = cycle_runs >= 2 * pt.required;
  }
  return w;
}

void ProgressDetector::Impl::evaluate(std::vector<Event>& out) {
  const int n = static_cast<int>(runs.size());
  std::vector<Walk> walks(patterns.size());
  for (size_t i = 0; i < patterns.size(); ++i) {
    const Pattern& pt = patterns[i];
    Alignment& a = align[i];
    if (a.valid) {
      walks[i] = walk(pt, a);
      if (walks[i].ok) continue;
      a.valid = false;
    }
    // Find the earliest run the pattern can start at: a prefix from its first step, a cycle
    // from any of its tone steps (joined mid-cadence).
    for (int k = a.k; k < n && !a.valid; ++k) {
      const int label = runs[k].label;
      if (label == kSilence || label == kOther) continue;
      Alignment c;
      c.valid = true;
      c.k = k;
      if (!pt.prefix.empty()) {
        c.pos = 0;
        c.partial = false;
        if (pt.prefix[0].accepts(label)) {
          const Walk w = walk(pt, c);
          if (w.ok) {
            a = c;
            walks[i] = w;
          }
        }
        continue;
      }
      for (size_t s = 0; s < pt.cycle.size() && !a.valid; ++s) {
        if (pt.cycle[s].optional || !pt.cycle[s].accepts(label)) continue;
        c.pos = static_cast<int64_t>(s);
        c.partial = true;
        const Walk w = walk(pt, c);
        if (w.ok) {
          a = c;
          walks[i] = w;
        }
      }
    }
    if (!a.valid) a.k = n;  // nothing heard yet fits: only runs still to come may start it
  }

  if (active.pattern >= 0) {
    const Alignment& a = align[active.pattern];
    if (a.valid) {
      active.last_tone_end = std::max(active.last_tone_end, walks[active.pattern].last_tone_end);
    } else {
      // Another pattern of the same name may carry on (a zone's SIT and the generic one).
      int next = -1;
      for (size_t i = 0; i < patterns.size(); ++i)
        if (align[i].valid && walks[i].complete && patterns[i].name == patterns[active.pattern].name)
          next = static_cast<int>(i);
      if (next >= 0) {
        active.pattern = next;
      } else {
        Event e;
        e.kind = Event::Kind::kToneEnd;
        e.name = patterns[active.pattern].name;
        e.start = active.start;
        e.ms = static_cast<int>((active.last_tone_end - active.start) * 1000 / kRate);
        out.push_back(e);
        active = Active{};
      }
    }
  }
  if (active.pattern >= 0) return;

  int best = -1;
  for (size_t i = 0; i < patterns.size(); ++i) {
    if (!align[i].valid || !walks[i].complete) continue;
    // Wait while a different tone that explains at least these runs may still turn out to be it.
    bool blocked = false;
    for (size_t j = 0; j < patterns.size() && !blocked; ++j)
      blocked = j != i && align[j].valid && !walks[j].complete && align[j].k <= align[i].k &&
                patterns[j].name != patterns[i].name;
    if (blocked) continue;
    if (best < 0 || align[i].k < align[best].k ||
        (align[i].k == align[best].k && patterns[i].order < patterns[best].order))
      best = static_cast<int>(i);
  }
  if (best < 0) return;
  active.pattern = best;
  active.start = runs[align[best].k].start;
  active.last_tone_end = walks[best].last_tone_end;
  Event e;
  e.kind = Event::Kind::kTone;
  e.name = patterns[best].name;
  e.start = active.start;
  out.push_back(e);
}

namespace {

bool same_steps(const std::vector<Step>& a, const std::vector<Step>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].labels != b[i].labels || a[i].any != b[i].any || a[i].optional != b[i].optional ||
        a[i].hold != b[i].hold || a[i].min != b[i].min || a[i].max != b[i].max)
      return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> ProgressDetector::reported_names(const ToneZone& zone) {
  const Impl m(zone);
  std::vector<std::string> out;
  for (size_t t = 0; t < zone.tones().size(); ++t) {
    const Pattern* mine = nullptr;
    for (const Pattern& p : m.patterns)
      if (p.order == static_cast<int>(t)) mine = &p;
    std::string name;
    if (mine) {
      name = mine->name;
      // Among patterns that sound the same, the first of the zone is reported.
      for (const Pattern& p : m.patterns) {
        if (p.order < mine->order && same_steps(p.prefix, mine->prefix) && same_steps(p.cycle, mine->cycle)) {
          name = p.name;
          break;
        }
      }
    }
    out.push_back(name);
  }
  return out;
}

ProgressDetector::ProgressDetector(const ToneZone& zone) : impl_(std::make_unique<Impl>(zone)) {}
ProgressDetector::~ProgressDetector() = default;

void ProgressDetector::process(const int16_t* pcm, int n, std::vector<Event>& out,
                               std::vector<int64_t>& at) {
  Impl& m = *impl_;
  for (int i = 0; i < n; ++i) {
    const double x = pcm[i];
    const double y = m.b0 * x + m.b1 * m.x1 + m.b2 * m.x2 - m.a1 * m.y1 - m.a2 * m.y2;
    m.x2 = m.x1;
    m.x1 = x;
    m.y2 = m.y1;
    m.y1 = y;
    m.hop[m.fill++] = y;
    if (m.fill == kHop) {
      m.fill = 0;
      const size_t before = out.size();
      m.hop_done(m.hops++, out);
      at.resize(at.size() + (out.size() - before), m.hops * kHop);
    }
  }
}

}  // namespace switchboard::dsp
