// SPDX-License-Identifier: GPL-2.0-or-later
// Answering-machine detection: Asterisk app_amd's energy-and-cadence algorithm as a small state machine.

#include <cstdlib>

#include "dsp_internal.h"

namespace switchboard::dsp {

const std::vector<AmdParamSpec>& amd_param_specs() {
  static const std::vector<AmdParamSpec> specs = {
      {"initialSilence", &AmdParams::initialSilence, 300, 10000, "ms",
       "no speech for this long after the answer -> machine (INITIALSILENCE)"},
      {"greeting", &AmdParams::greeting, 500, 10000, "ms",
       "talking longer than this in all -> machine (LONGGREETING)"},
      {"afterGreetingSilence", &AmdParams::afterGreetingSilence, 100, 5000, "ms",
       "this much silence after the greeting -> human (HUMAN)"},
      {"totalAnalysisTime", &AmdParams::totalAnalysisTime, 1000, 30000, "ms",
       "no verdict by then -> notsure (TOOLONG)"},
      {"minimumWordLength", &AmdParams::minimumWordLength, 20, 1000, "ms",
       "shorter bursts of sound are noise, not words"},
      {"betweenWordsSilence", &AmdParams::betweenWordsSilence, 20, 1000, "ms",
       "silence that separates two words"},
      {"maximumNumberOfWords", &AmdParams::maximumNumberOfWords, 1, 20, "count",
       "this many words -> machine (MAXWORDS)"},
      {"maximumWordLength", &AmdParams::maximumWordLength, 500, 30000, "ms",
       "one word longer than this -> machine (MAXWORDLENGTH)"},
      {"silenceThreshold", &AmdParams::silenceThreshold, 1, 32767, "amplitude",
       "mean absolute linear amplitude below which a 20 ms block is silence"},
  };
  return specs;
}

void check_amd_params(const AmdParams& params, const std::string& prefix) {
  for (const AmdParamSpec& spec : amd_param_specs()) {
    const int v = params.*spec.member;
    if (v < spec.min || v > spec.max)
      throw DspError(prefix + "." + spec.name, std::to_string(v) + " is out of range " +
                                                   std::to_string(spec.min) + ".." +
                                                   std::to_string(spec.max));
  }
}

namespace {

using State = Amd::State;
using Input = Amd::Input;

constexpr unsigned bit(State s) { return 1u << static_cast<unsigned>(s); }

// The states each state may go to on each input. A verdict can come on any input (TOOLONG is
// checked first in every block); a word ends only in silence and starts only with sound.
struct Row {
  unsigned on_silence, on_sound;
};
constexpr Row kNext[] = {
    /* waiting for speech */ {bit(State::kWaitingForSpeech) | bit(State::kDone),
                              bit(State::kWaitingForSpeech) | bit(State::kInWord) | bit(State::kDone)},
    /* in word */ {bit(State::kInWord) | bit(State::kBetweenWords) | bit(State::kDone),
                   bit(State::kInWord) | bit(State::kDone)},
    /* between words */ {bit(State::kBetweenWords) | bit(State::kDone),
                         bit(State::kBetweenWords) | bit(State::kInWord) | bit(State::kDone)},
    /* done */ {0, 0},
};

}  // namespace

const char* Amd::state_name(State s) {
  switch (s) {
    case State::kWaitingForSpeech: return "waiting_for_speech";
    case State::kInWord: return "in_word";
    case State::kBetweenWords: return "between_words";
    case State::kDone: return "done";
  }
  return "done";
}

Amd::Amd(const AmdParams& params) : p_(params) { check_amd_params(params); }

bool Amd::go(State next) {
  const Row& row = kNext[static_cast<unsigned>(state_)];
  const unsigned allowed = input_ == Input::kSilence ? row.on_silence : row.on_sound;
  if (!(allowed & bit(next))) {
    ++refused_;
    return false;
  }
  state_ = next;
  return true;
}

void Amd::decide(const char* verdict, const char* cause) {
  if (go(State::kDone)) {
    verdict_ = verdict;
    cause_ = cause;
  }
}

bool Amd::block(const int16_t* pcm) {
  if (state_ == State::kDone) return false;
  constexpr int kBlockMs = kBlock * 1000 / kRate;
  long sum = 0;
  for (int i = 0; i < kBlock; ++i) sum += std::abs(static_cast<int>(pcm[i]));
  input_ = sum / kBlock < p_.silenceThreshold ? Input::kSilence : Input::kSound;
  const Input input = input_;

  total_ms_ += kBlockMs;
  if (input == Input::kSilence) {
    silence_ms_ += kBlockMs;
  } else {
    silence_ms_ = 0;
  }
  if (total_ms_ >= p_.totalAnalysisTime) {
    decide("notsure", "TOOLONG");
    return true;
  }
  const bool greeting = state_ != State::kWaitingForSpeech;

  if (input == Input::kSilence) {
    if (silence_ms_ >= p_.betweenWordsSilence) {
      // Sound shorter than minimumWordLength before this silence was noise, not a word.
      word_ms_ = 0;
      if (state_ == State::kInWord) go(State::kBetweenWords);
      if (!greeting) gap_before_greeting_ = true;
    }
    if (!greeting && silence_ms_ >= p_.initialSilence) {
      decide("machine", "INITIALSILENCE");
      return true;
    }
    if (greeting && silence_ms_ >= p_.afterGreetingSilence) {
      decide("human", "HUMAN");
      return true;
    }
    return false;
  }

  word_ms_ += kBlockMs;
  voice_ms_ += kBlockMs;
  if (word_ms_ >= p_.minimumWordLength) {
    // A word starts after a silence: between words, or before the greeting once a gap was heard.
    const bool new_word = state_ == State::kBetweenWords ||
                          (state_ == State::kWaitingForSpeech && gap_before_greeting_);
    if (new_word) ++words_;
    if (state_ != State::kInWord) go(State::kInWord);
  }
  if (word_ms_ >= p_.maximumWordLength) {
    decide("machine", "MAXWORDLENGTH");
    return true;
  }
  if (words_ >= p_.maximumNumberOfWords) {
    decide("machine", "MAXWORDS");
    return true;
  }
  if (greeting && voice_ms_ >= p_.greeting) {
    decide("machine", "LONGGREETING");
    return true;
  }
  return false;
}

}  // namespace switchboard::dsp
