// SPDX-License-Identifier: GPL-2.0-or-later
// Parts of the Detector kept apart for reading: call-progress tones (progress.cc) and answering machines (amd.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dsp.h"

namespace switchboard::dsp {

// dBm0 <-> linear (G.711: a full-scale sine, amplitude 32767, is +3.14 dBm0).
double sine_amplitude(double dbm0);

// ---- call-progress tones ------------------------------------------------------------------------
// Recognises the tones of one zone (and SIT in its ITU and North American forms) by frequency
// and cadence. See progress.cc for the method and the tolerances.
class ProgressDetector {
 public:
  explicit ProgressDetector(const ToneZone& zone);
  ~ProgressDetector();
  ProgressDetector(const ProgressDetector&) = delete;
  ProgressDetector& operator=(const ProgressDetector&) = delete;
  // For each tone of the zone, the name the detector reports when it hears it: its own, or that
  // of an earlier tone of the zone with the same frequencies and cadence (Britain's dial recall
  // tone is its dial tone); empty for a tone that is silence throughout.
  static std::vector<std::string> reported_names(const ToneZone& zone);

  // Takes every sample from the detector's first on (its clock is the samples it has seen).
  // For each event appended to `out`, appends to `at` the sample it was recognised at.
  void process(const int16_t* pcm, int n, std::vector<Event>& out, std::vector<int64_t>& at);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- answering-machine detection ------------------------------------------------------------------
// app_amd's algorithm as a state machine fed one 20 ms block at a time.
class Amd {
 public:
  enum class State { kWaitingForSpeech, kInWord, kBetweenWords, kDone };
  enum class Input { kSilence, kSound };

  explicit Amd(const AmdParams& params);
  // One kBlock of samples. Returns true once, when the verdict is reached.
  bool block(const int16_t* pcm);
  State state() const { return state_; }
  const char* verdict() const { return verdict_; }  // human, machine, notsure
  const char* cause() const { return cause_; }      // INITIALSILENCE, HUMAN, LONGGREETING ...
  // Transitions the table refused (a bug if ever non-zero; counted, never silently taken).
  int refused() const { return refused_; }

  static const char* state_name(State s);

 private:
  // Takes the transition if the table allows it from state_ on input_.
  bool go(State next);
  void decide(const char* verdict, const char* cause);

  AmdParams p_;
  State state_ = State::kWaitingForSpeech;
  Input input_ = Input::kSilence;  // of the block being handled: selects the row of the table
  // app_amd starts "in a word": the first sound counts as a word only after a silence of
  // betweenWordsSilence. This is that silence having been heard before the greeting.
  bool gap_before_greeting_ = false;
  int total_ms_ = 0;        // analysed so far
  int silence_ms_ = 0;      // consecutive silence
  int word_ms_ = 0;         // consecutive sound since the last silence of betweenWordsSilence
  int voice_ms_ = 0;        // all sound so far
  int words_ = 0;
  int refused_ = 0;
  const char* verdict_ = "";
  const char* cause_ = "";
};

}  // namespace switchboard::dsp
