// SPDX-License-Identifier: GPL-2.0-or-later
// Tone zones: every country libtonezone knows, its tone strings parsed as DAHDI plays them, plus ITU-T E.180.

#include <cstdlib>
#include <map>

#include "dsp.h"

extern "C" {
#include <dahdi/tonezone.h>
}

namespace switchboard::dsp {
namespace {

// libtonezone's zone data carries frequencies and cadences but no levels: its tonezone.c plays
// every frequency at one compiled-in level. We use the level E.180 Supplement 2 quotes most.
constexpr int kDefaultLevel = -13;
// "f1@/ms" in newer zone data (Australian congestion) is DAHDI's "quieter" tone: a gain of 0.3,
// 10.5 dB down.
constexpr int kQuietLevel = kDefaultLevel - 10;

// DAHDI tone ids (dahdi/user.h) in the order the zone lists them, with our names.
struct ToneId {
  int id;
  const char* name;
};
constexpr ToneId kToneIds[] = {
    {DAHDI_TONE_DIALTONE, "dial"},       {DAHDI_TONE_BUSY, "busy"},
    {DAHDI_TONE_RINGTONE, "ringback"},   {DAHDI_TONE_CONGESTION, "congestion"},
    {DAHDI_TONE_CALLWAIT, "callwaiting"}, {DAHDI_TONE_DIALRECALL, "dialrecall"},
    {DAHDI_TONE_RECORDTONE, "record"},   {DAHDI_TONE_INFO, "sit"},
    {DAHDI_TONE_STUTTER, "stutter"},
};

// Reads a decimal number at `p` as sscanf's %d would; false (p unchanged) when there is none.
bool read_int(const char*& p, int& out) {
  char* end = nullptr;
  const long v = std::strtol(p, &end, 10);
  if (end == p) return false;
  out = static_cast<int>(v);
  p = end;
  return true;
}

// One comma-separated component of a tone string, "[!]f1[+f2|*f2][/ms]", read the way
// libtonezone's build_tone() reads it (a cascade of sscanf patterns): whatever follows the
// first pattern that matches is ignored, "f1+f2+f3" is f1+f2, and a component without a
// duration holds for ever. `loop_here` is set for a bare frequency, which libtonezone takes as
// the place the cadence repeats from even after a '!'.
bool parse_component(const char* s, ToneSegment& seg, bool& once, bool& loop_here) {
  once = *s == '!';
  if (once) ++s;
  loop_here = false;
  int f1 = 0;
  const char* p = s;
  if (!read_int(p, f1)) return false;
  seg = ToneSegment{};
  seg.f1 = f1;
  seg.level1 = f1 ? kDefaultLevel : 0;
  seg.level2 = 0;
  if (*p == '+' || *p == '*') {
    const bool am = *p == '*';
    const char* q = p + 1;
    int f2 = 0;
    if (read_int(q, f2)) {
      seg.f2 = f2;
      seg.am = am;
      seg.level2 = am ? 0 : kDefaultLevel;
      if (*q == '/') {
        const char* r = q + 1;
        int ms = 0;
        if (read_int(r, ms)) seg.ms = ms;
      }
      return true;
    }
  }
  if (*p == '/') {
    const char* q = p + 1;
    int ms = 0;
    if (read_int(q, ms)) {
      seg.ms = ms;
      return true;
    }
  }
  if (*p == '@') {
    // Our reading of the newer "f@/ms" / "f@@/ms": DAHDI's installed libtonezone predates it and
    // would hold the frequency for ever, which is not what the zone means.
    const char* q = p;
    while (*q == '@') ++q;
    int ms = 0;
    if (*q == '/' && (++q, read_int(q, ms))) {
      seg.ms = ms;
      if (seg.f1) seg.level1 = kQuietLevel;
      return true;
    }
  }
  loop_here = true;
  return true;
}

// A tone string as DAHDI plays it: segments up to the first one that holds; the cadence loops
// back to the first segment without '!' (or a bare frequency); with every segment marked '!'
// and the last one timed, the tone stops.
bool parse_tone(const std::string& data, Tone& tone) {
  std::vector<ToneSegment> segments;
  int first_repeated = -1;
  size_t i = 0;
  while (i <= data.size()) {
    size_t comma = data.find(',', i);
    if (comma == std::string::npos) comma = data.size();
    const std::string part = data.substr(i, comma - i);
    i = comma + 1;
    if (part.empty()) {
      if (comma == data.size()) break;
      continue;  // strtok skips empty fields
    }
    ToneSegment seg;
    bool once = false, loop_here = false;
    if (!parse_component(part.c_str(), seg, once, loop_here)) return false;
    if (loop_here || (!once && first_repeated < 0)) first_repeated = static_cast<int>(segments.size());
    segments.push_back(seg);
    // A segment with no duration holds: what follows it can never play.
    if (seg.ms == 0) break;
  }
  if (segments.empty()) return false;
  tone.segments = std::move(segments);
  const bool holds = tone.segments.back().ms == 0;
  tone.repeat = !holds && first_repeated >= 0;
  tone.first_repeated = tone.repeat ? static_cast<size_t>(first_repeated) : 0;
  return true;
}

ToneSegment seg(int f1, int ms, int f2 = 0) {
  ToneSegment s;
  s.f1 = f1;
  s.f2 = f2;
  s.level1 = f1 ? kDefaultLevel : 0;
  s.level2 = f2 ? kDefaultLevel : 0;
  s.ms = ms;
  return s;
}

// ITU-T E.180 (and its Supplement 2) recommended tones: 425 Hz, SIT 950/1400/1800 Hz.
ToneZone itu_zone() {
  ToneZone z;
  z.name_ = "itu";
  z.description_ = "ITU-T E.180 recommended tones";
  z.tones_ = {
      {"dial", {seg(425, 0)}, false, 0},
      {"busy", {seg(425, 500), seg(0, 500)}, true, 0},
      {"ringback", {seg(425, 1000), seg(0, 4000)}, true, 0},
      {"congestion", {seg(425, 250), seg(0, 250)}, true, 0},
      {"sit", {seg(950, 330), seg(1400, 330), seg(1800, 330), seg(0, 1000)}, true, 0},
  };
  return z;
}

struct Zones {
  std::vector<ToneZone> list;
  std::map<std::string, size_t> by_name;
};

const Zones& zones() {
  static const Zones all = [] {
    Zones z;
    for (const tone_zone* tz = builtin_zones; tz->zone > -1; ++tz) {
      ToneZone zone;
      zone.name_ = tz->country;
      zone.description_ = tz->description;
      for (const ToneId& id : kToneIds) {
        for (const tone_zone_sound& sound : tz->tones) {
          if (sound.toneid != id.id || sound.data[0] == '\0') continue;
          Tone tone;
          tone.name = id.name;
          if (parse_tone(sound.data, tone)) zone.tones_.push_back(std::move(tone));
          break;
        }
      }
      z.by_name[zone.name_] = z.list.size();
      z.list.push_back(std::move(zone));
    }
    z.by_name["itu"] = z.list.size();
    z.list.push_back(itu_zone());
    return z;
  }();
  return all;
}

}  // namespace

const ToneZone* ToneZone::find(const std::string& name) {
  const Zones& z = zones();
  const auto it = z.by_name.find(name);
  return it == z.by_name.end() ? nullptr : &z.list[it->second];
}

std::vector<std::string> ToneZone::names() {
  std::vector<std::string> out;
  for (const ToneZone& zone : zones().list) out.push_back(zone.name_);
  return out;
}

const Tone* ToneZone::tone(const std::string& name) const {
  for (const Tone& t : tones_)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace switchboard::dsp
