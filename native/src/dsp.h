// SPDX-License-Identifier: GPL-2.0-or-later
// DSP of one channel (spandsp): DTMF, call-progress tones by tone zone, fax tones, answering machines.
//
// Pure block processing: no descriptors, threads or JavaScript. The media thread runs one
// Detector and at most one generator per channel on 20 ms blocks of linear 16-bit samples at
// 8 kHz; the addon's Dsp class drives the same code on synthetic audio for the conformance tests
// and the media benchmark.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace switchboard::dsp {

// A refused argument (an unknown zone, an AMD parameter out of range ...): `field` names it as the
// JavaScript options do (`zone`, `amd.greeting`), so the addon can say which field is at fault.
class DspError : public std::runtime_error {
 public:
  DspError(const std::string& field, const std::string& message)
      : std::runtime_error(field + ": " + message), field(field), detail(message) {}
  std::string field;
  std::string detail;  // the message without the field
};

constexpr int kRate = 8000;
constexpr int kBlock = 160;  // samples in 20 ms, the media thread's block

// ---- G.711 ------------------------------------------------------------------------------------
enum class Law { kAlaw, kUlaw };
void decode(Law law, const uint8_t* in, int16_t* out, int n);
void encode(Law law, const int16_t* in, uint8_t* out, int n);
// Mean power of a block in dBm0 (G.711: a full-scale sine is +3.14 dBm0); -99 for digital silence.
double power_dbm0(const int16_t* pcm, int n);

// ---- tone zones --------------------------------------------------------------------------------
// One call-progress tone: a cadence of segments, each one or two frequencies (0 Hz for silence)
// for a duration (0 ms for "continues for ever", always the last segment). `repeat` is false
// for a tone that plays its segments once and then holds the last one (dial recall) or stops.
struct ToneSegment {
  int f1 = 0, f2 = 0;       // Hz; f2 0 for a single frequency
  int level1 = -13, level2 = -13;  // dBm0
  int ms = 0;
  // DAHDI's "f1*f2": f1 amplitude-modulated at f2 Hz (about 22 % deep, as DAHDI plays it);
  // level2 is then unused.
  bool am = false;
};
struct Tone {
  std::string name;  // dial, busy, ringback, congestion, callwaiting, dialrecall, record, sit, stutter
  std::vector<ToneSegment> segments;
  bool repeat = true;
  // When `repeat`: the segment the cadence loops back to. The ones before it (marked '!' in
  // DAHDI's zone data) play once, as a prefix (for example a stutter before a steady tone).
  size_t first_repeated = 0;
};
// A country's tones, after DAHDI's zone data (libtonezone) and ITU-T E.180 Supplement 2:
// every zone libtonezone knows, by its two-letter name ("us", "uk", "cn", "de" ...), plus "itu"
// (the E.180 recommended tones: 425 Hz, ringback 1 s on 4 s off, busy 0.5/0.5, congestion 0.25/0.25).
class ToneZone {
 public:
  // nullptr for an unknown zone.
  static const ToneZone* find(const std::string& name);
  static std::vector<std::string> names();
  const std::string& name() const { return name_; }
  const std::string& description() const { return description_; }
  // nullptr when the zone has no tone of that name.
  const Tone* tone(const std::string& name) const;
  const std::vector<Tone>& tones() const { return tones_; }

  std::string name_, description_;
  std::vector<Tone> tones_;
};

// ---- detection -----------------------------------------------------------------------------------
struct Event {
  enum class Kind {
    kDtmf,     // a DTMF digit ended: `digit`, `start` (sample index), `ms` (duration), `level`
    kDtmfStart,  // a DTMF digit began (reported as soon as it is recognised): `digit`, `start`
    kTone,     // a call-progress tone recognised by its cadence: `name` (busy, ringback ...), `start`
    kToneEnd,  // that tone stopped: `name`, `start` (as its kTone), `ms` how long it was heard
    kFax,      // `name` "cng" (calling fax, 1100 Hz) or "ced" (answering fax/modem, 2100 Hz)
    kAmd,      // answering-machine verdict: `name` human|machine|notsure, `cause` INITIALSILENCE,
               // HUMAN, LONGGREETING, MAXWORDS, MAXWORDLENGTH or TOOLONG
  };
  Kind kind;
  char digit = 0;
  std::string name;
  std::string cause;
  // Sample index since the detector was created: where the digit or tone began; for kFax and
  // kAmd, the end of the 20 ms block in which it was recognised.
  int64_t start = 0;
  int ms = 0;
  double level = 0;   // kDtmf: dBm0 of both frequencies, as spandsp measured them at the start
};

// Answering-machine detection from energy and cadence (the dialer's classic parameters, as
// Asterisk's app_amd names them). Times in ms; `silenceThreshold` is the mean absolute linear
// amplitude below which a 20 ms block counts as silence.
struct AmdParams {
  int initialSilence = 2500;        // 300..10000: no speech for this long -> machine (INITIALSILENCE)
  int greeting = 1500;              // 500..10000: talking longer than this -> machine (LONGGREETING)
  int afterGreetingSilence = 800;   // 100..5000: this much silence after a greeting -> human (HUMAN)
  int totalAnalysisTime = 5000;     // 1000..30000: no verdict by then -> notsure (TOOLONG)
  int minimumWordLength = 100;      // 20..1000: shorter bursts of sound are noise, not words
  int betweenWordsSilence = 50;     // 20..1000: silence that separates two words
  int maximumNumberOfWords = 3;     // 1..20: this many words -> machine (MAXWORDS)
  int maximumWordLength = 5000;     // 500..30000: one word longer than this -> machine (MAXWORDLENGTH)
  int silenceThreshold = 256;       // 1..32767
};

// The ranges above as a table (name, member, range, unit, meaning): the addon checks options
// against it and reports it, so src/media/amd.ts can be tested to say the same.
struct AmdParamSpec {
  const char* name;
  int AmdParams::*member;
  int min, max;
  const char* unit;  // ms, count or amplitude
  const char* meaning;
};
const std::vector<AmdParamSpec>& amd_param_specs();
// Throws DspError naming `prefix` + "." + the first parameter out of range.
void check_amd_params(const AmdParams& params, const std::string& prefix = "amd");

struct DetectOptions {
  bool dtmf = true;
  // Call-progress tones of `zone` (nullptr: none). Recognised by frequency and cadence, at least
  // two on/off cycles for a cadenced tone and one second for a continuous one.
  const ToneZone* zone = nullptr;
  bool fax = false;
  bool amd = false;
  AmdParams amd_params;
};

class Detector {
 public:
  // Throws DspError for AMD parameters out of range.
  explicit Detector(const DetectOptions& options);
  ~Detector();
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;

  // Processes `n` linear samples (any n; the media thread passes kBlock) and appends what was
  // recognised to `out`. Events come in the order they happened.
  void process(const int16_t* pcm, int n, std::vector<Event>& out);
  // Restarts answering-machine detection (a new verdict is reported once). Throws DspError for
  // a parameter out of range.
  void restart_amd(const AmdParams& params);
  // Samples processed so far (the clock of every `start`).
  int64_t position() const;
  const DetectOptions& options() const { return options_; }

 private:
  struct Impl;
  DetectOptions options_;
  std::unique_ptr<Impl> impl_;
};

// ---- generation -------------------------------------------------------------------------------------
// Generates a tone (segments and cadence as given) or a DTMF string into linear samples.
class Generator {
 public:
  static std::unique_ptr<Generator> tone(const Tone& tone);
  // ITU-T Q.24 timing: `on_ms` of tone (>= 40), `off_ms` of silence after each digit (>= 40);
  // digits 0-9 * # A-D; `level` dBm0 of the low group (the high group 2 dB higher).
  // Throws DspError (field `digits`, `onMs`, `offMs` or `level`) for a bad argument.
  static std::unique_ptr<Generator> dtmf(const std::string& digits, int on_ms, int off_ms,
                                         int level = -10);
  virtual ~Generator() = default;
  // Fills up to `n` samples; returns how many were written (fewer than `n` when it ends; a
  // repeating tone never ends).
  virtual int generate(int16_t* out, int n) = 0;
  virtual bool done() const = 0;
};

}  // namespace switchboard::dsp
