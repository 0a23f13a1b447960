// SPDX-License-Identifier: GPL-2.0-or-later
// The media layer: one native thread that plays, records, detects, mixes and cross-connects bearers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine.h"

namespace switchboard {

class MediaLayer;

// Owns every bearer in use for media ("a leg", keyed by DAHDI channel number) and runs them on
// one thread clocked every 10 ms: each leg's received 20 ms blocks are read without blocking,
// decoded, fed to its DSP (DTMF, tones, fax, answering machines), its recording and its
// conference; what it sends (a prompt, a tone, DTMF, a conference mix) is written ahead into
// DAHDI's buffers so a late thread leaves no gap. Nothing of this waits on JavaScript, which
// gets only batched events (dtmf, tone, fax, amd, playDone, recordDone, conference ...).
//
// Bearers: PRI and SS7 trunks hold no B-channel descriptor, so the media layer opens those
// itself (DAHDI_SPECIFY). MFC-R2 and analog trunks do hold one: it is lent to the media layer
// (Stack::lend_bearer) while media runs on the call and given back when the call ends.
//
// The time-slot switch is DAHDI's own: `connect` sets DAHDI_CONF_DIGITALMON on each side so
// the kernel (or the card) moves the samples, and the connection table is in the snapshot.
class Media {
 public:
  explicit Media(Engine& engine);
  ~Media();
  Media(const Media&) = delete;
  Media& operator=(const Media&) = delete;

  // Reads {"zone": "cn", ...} from the engine configuration's `media` object (default zone
  // itu). Also applies a reconfiguration: legs made from then on take the new zone.
  void configure(const json& config);
  // Checks the `media` object as configure() reads it (throws EngineError naming the field).
  static void check(const json& config);
  // A trunk is about to be retired: every leg it lent, every leg of its calls and every leg on
  // one of its DAHDI channels ends (mediaDetached, reason trunkStopped). A lent descriptor is
  // let go of, not given back: the trunk closes it as it stops. JavaScript thread.
  void let_go(const Stack& trunk);
  void start();
  void stop();

  static bool is_media_op(const std::string& op);
  // JavaScript thread: checks the command (throws EngineError naming the field), prepares what
  // can fail (files, descriptors) and queues it for the media thread.
  json submit(json cmd);
  json snapshot();

  // Any thread: call events as the engine emits them (learns channels, ends media on release).
  void on_call_event(const json& ev);
  // A trunk thread hands over the descriptor of a bearer it lent (fd -1: it could not). When
  // the leg is gone by then (the call ended meanwhile), the bearer goes straight back.
  void adopt(int channo, int fd, Stack* from);

 private:
  std::unique_ptr<MediaLayer> impl_;
};

}  // namespace switchboard
