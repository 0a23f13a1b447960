// SPDX-License-Identifier: GPL-2.0-or-later
// The media thread: legs (bearers in use), prompts, recordings, conferences and DAHDI cross-connects.

#include "media.h"

#include <dahdi/user.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <set>

#include "dahdi.h"
#include "dsp.h"
#include "wav.h"

namespace switchboard {

namespace {

using dsp::kBlock;
using Block = std::array<int16_t, kBlock>;

constexpr int kTickMs = 10;          // the media clock: twice per 20 ms block
constexpr int kNumBufs = 16;         // DAHDI buffers each way: 320 ms a late thread can absorb
constexpr size_t kConfQueue = 3;     // a party's blocks waiting to be mixed before the oldest goes
constexpr int kConfPrefill = 2;      // silent blocks sent on joining, the mix's jitter cushion
constexpr int kMaxReadsPerTick = 32; // a leg's blocks read per tick (bounded: one leg cannot starve the rest)
constexpr size_t kPromptCacheBytes = 64u << 20;
constexpr int kMaxPlaylist = 100;
constexpr int kMaxConferenceParties = 64;

// Commands the media layer answers; every other op goes to a trunk.
const std::set<std::string> kOps = {"play",   "tone",    "sendDtmf", "stop",       "record",
                                    "detect", "confCreate", "confJoin", "confLeave", "confSet",
                                    "confDestroy", "connect", "disconnect", "echo", "detach"};

int64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

EngineError field_error(const std::string& field, const std::string& why) {
  return EngineError("E_COMMAND_FIELD", field, why);
}

int cmd_int(const json& cmd, const char* key, int min, int max, int fallback) {
  if (!cmd.contains(key) || cmd[key].is_null()) return fallback;
  const json& v = cmd[key];
  if (!v.is_number_integer()) throw field_error(key, "must be an integer, not " + describe(v));
  const int64_t n = v.get<int64_t>();
  if (n < min || n > max)
    throw field_error(key, std::to_string(n) + " is out of range " + std::to_string(min) + ".." +
                               std::to_string(max));
  return static_cast<int>(n);
}

bool cmd_bool(const json& cmd, const char* key, bool fallback) {
  if (!cmd.contains(key) || cmd[key].is_null()) return fallback;
  if (!cmd[key].is_boolean()) throw field_error(key, "must be true or false");
  return cmd[key].get<bool>();
}

std::string cmd_string(const json& cmd, const char* key, const std::string& fallback) {
  if (!cmd.contains(key) || cmd[key].is_null()) return fallback;
  if (!cmd[key].is_string()) throw field_error(key, "must be a string, not " + describe(cmd[key]));
  return cmd[key].get<std::string>();
}

constexpr const char* kDtmfDigits = "0123456789*#ABCD";

std::string write_all(int fd, const uint8_t* p, size_t n) {
  while (n) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return std::strerror(errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return {};
}

}  // namespace

// ---- recordings are written by their own thread: a slow disk never stalls the audio -----------

class FileWriter {
 public:
  explicit FileWriter(Engine& engine) : engine_(engine) {
    thread_ = std::thread([this] { loop(); });
  }
  ~FileWriter() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void append(int fd, std::vector<uint8_t> bytes) { push({fd, std::move(bytes), false, {}}); }
  // Writes the final header at offset 0, closes the file and then emits `done`.
  void finish(int fd, std::vector<uint8_t> header, json done) {
    push({fd, std::move(header), true, std::move(done)});
  }

 private:
  struct Job {
    int fd;
    std::vector<uint8_t> bytes;
    bool final;
    json done;
  };
  void push(Job job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }
  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      std::string err;
      if (job.final) {
        if (pwrite(job.fd, job.bytes.data(), job.bytes.size(), 0) < 0) err = std::strerror(errno);
        if (::close(job.fd) < 0 && err.empty()) err = std::strerror(errno);
        if (!err.empty()) job.done["error"] = err;
        engine_.emit(std::move(job.done));
      } else if (failed_.count(job.fd) == 0) {
        err = write_all(job.fd, job.bytes.data(), job.bytes.size());
        if (!err.empty()) failed_.insert(job.fd);
      }
      lock.lock();
    }
  }
  Engine& engine_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::set<int> failed_;
  bool stopping_ = false;
  std::thread thread_;
};

// ---- the legs and what runs on them ----------------------------------------------------------

struct TxBlock {
  Block pcm;
  uint64_t source;  // the playback it came from
};

struct Playback {
  uint64_t id = 0;
  std::string kind;  // prompt, tone, dtmf
  std::vector<std::shared_ptr<const WavData>> items;
  std::vector<std::string> files;
  size_t item = 0;
  size_t pos = 0;  // samples into items[item]
  std::unique_ptr<dsp::Generator> gen;
  int64_t gen_left = -1;  // samples still to generate; -1 until stopped
  std::string name;       // tone name or DTMF digits
  bool barge_in = false;
  bool writing_done = false;  // the source is exhausted
  bool has_pending = false;   // a produced block the line did not take yet
  Block pending_pcm{};
  uint8_t pending_out[kBlock] = {};
  int64_t played = 0;     // samples that left in the line (popped from the transmit queue)
};

struct Recording {
  uint64_t id = 0;
  std::string file;
  int fd = -1;
  WavFormat format = WavFormat::kAlaw;
  std::string direction;  // rx, tx, both
  bool stereo = false;
  int64_t max_samples = 0;
  int64_t silence_samples = 0;  // stop after this much silence; 0: never
  double silence_dbm0 = -45;
  int64_t silent_run = 0;
  std::string stop_digits;
  int64_t samples = 0;
  uint64_t data_bytes = 0;
  std::vector<uint8_t> pending;
};

struct Leg {
  int channo = 0;
  uint64_t call = 0;
  std::string trunk;
  int fd = -1;
  Stack* lender = nullptr;  // the trunk whose descriptor this is, if lent
  bool adopted = false;
  dsp::Law law = dsp::Law::kAlaw;
  int saved_flags = 0;
  dsp::DetectOptions detect;
  std::string zone;
  std::unique_ptr<dsp::Detector> detector;
  std::unique_ptr<Playback> play;
  std::deque<TxBlock> txq;
  std::unique_ptr<Recording> rec;
  std::string conference;
  bool talk = true, listen = true;
  int whisper_to = 0;  // channo of the one party this party's voice goes to (0: everyone)
  std::deque<Block> conf_in;
  Block conf_out{};
  bool conf_out_fresh = false;
  int peer = 0;       // time-slot switch partner
  std::string peer_mode;  // duplex, listen (this leg hears the peer), talk (the peer hears this leg)
  int echo_taps = 0;
  Block last_rx{};
  uint64_t rx_blocks = 0, tx_blocks = 0, tx_dropped = 0, read_errors = 0;
};

struct Conference {
  std::string name;
  std::vector<int> parties;  // channos, in joining order
  uint64_t frames = 0;
};

class MediaLayer {
 public:
  explicit MediaLayer(Engine& engine) : engine_(engine) {}
  ~MediaLayer() { stop(); }

  void configure(const json& config);
  void let_go(const Stack& trunk);
  void start();
  void stop();
  json submit(json cmd);
  json snapshot();
  void on_call_event(const json& ev);
  void adopt(int channo, int fd, Stack* from);

 private:
  // Command handlers, called with mu_ held after what can fail without the lock was prepared.
  Leg& leg_for(const json& where, const std::string& pre);
  json op_play(Leg& leg, const json& cmd, std::vector<std::shared_ptr<const WavData>> items);
  json op_tone(Leg& leg, const json& cmd);
  json op_send_dtmf(Leg& leg, const json& cmd);
  json op_stop(Leg& leg, const json& cmd);
  json op_record(Leg& leg, const json& cmd, int file_fd, const std::string& file);
  json op_detect(Leg& leg, const json& cmd);
  json op_echo(Leg& leg, const json& cmd);
  json op_conference(const std::string& op, const json& cmd);
  json op_connect(const json& cmd);
  json op_disconnect(Leg& leg);

  // Resolves the leg a command addresses (`call`, or `dahdiChannel`), creating it when needed:
  // opens the bearer, or borrows it from the trunk that holds it. Called without mu_.
  int prepare_leg(const json& where, const std::string& pre);
  std::shared_ptr<const WavData> load_prompt(const std::string& path, const std::string& field);

  void loop();
  void tick();
  void read_leg(Leg& leg);
  void on_rx(Leg& leg, const uint8_t* bytes);
  void fill_tx(Leg& leg);
  void mix(Conference& conf);
  void record_block(Leg& leg, const Block& rx, const Block& tx, const uint8_t* raw);
  void finish_play(Leg& leg, const char* reason, char digit = 0);
  void finish_record(Leg& leg, const char* reason, char digit = 0);
  void flush_tx(Leg& leg);
  void leave_conference(Leg& leg);
  void unpatch(Leg& leg);
  void detach(int channo, const char* reason);
  void set_detector(Leg& leg);
  void emit_leg(const Leg& leg, json ev);
  json leg_json(const Leg& leg) const;
  Leg* leg_at(int channo);

  Engine& engine_;
  std::mutex mu_;  // everything below; the media thread holds it for a whole tick
  std::condition_variable adopted_cv_;
  std::map<int, std::unique_ptr<Leg>> legs_;
  std::map<std::string, Conference> conferences_;
  std::map<uint64_t, int> call_channels_;  // call id -> DAHDI channel, from call events
  std::map<uint64_t, std::string> call_trunks_;
  std::string zone_ = "itu";
  uint64_t last_id_ = 0;
  uint64_t ticks_ = 0, late_ticks_ = 0;
  std::unique_ptr<FileWriter> writer_;

  std::mutex cache_mu_;
  struct Cached {
    int64_t mtime_ns;
    off_t size;
    std::shared_ptr<const WavData> wav;
    uint64_t used;
  };
  std::map<std::string, Cached> prompt_cache_;
  uint64_t cache_clock_ = 0;

  std::thread thread_;
  std::atomic<bool> stopping_{false};
  int wake_fd_ = -1;
  clockid_t cpu_clock_{};
  bool have_cpu_clock_ = false;
};

// ---- lifecycle ----------------------------------------------------------------------------------

namespace {

std::string zone_of(const json& config) {
  if (!config.is_object() || !config.contains("media") || config["media"].is_null()) return "itu";
  const json& m = config["media"];
  if (!m.is_object()) throw EngineError("E_CONFIG_FIELD", "media", "must be an object");
  const std::string zone = string_field(m, "zone", "media", "itu");
  if (!dsp::ToneZone::find(zone)) {
    std::string known;
    for (const auto& z : dsp::ToneZone::names()) known += (known.empty() ? "" : ", ") + z;
    throw EngineError("E_CONFIG_FIELD", "media.zone",
                      "\"" + zone + "\" is not a tone zone (known: " + known + ")");
  }
  return zone;
}

}  // namespace

void MediaLayer::configure(const json& config) {
  const std::string zone = zone_of(config);
  std::lock_guard<std::mutex> lock(mu_);
  zone_ = zone;
}

void MediaLayer::let_go(const Stack& trunk) {
  const std::set<int> channels(trunk.dahdi_channels().begin(), trunk.dahdi_channels().end());
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<int> gone;
  for (auto& [channo, leg] : legs_)
    if (leg->lender == &trunk || (!leg->trunk.empty() && leg->trunk == trunk.name()) ||
        channels.count(channo))
      gone.push_back(channo);
  for (int channo : gone) {
    Leg* leg = leg_at(channo);
    if (leg->lender) leg->lender = nullptr, leg->fd = -1;
    detach(channo, "trunkStopped");
  }
}

void MediaLayer::start() {
  stopping_ = false;
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw EngineError("E_ENGINE", "", std::string("eventfd: ") + strerror(errno));
  writer_ = std::make_unique<FileWriter>(engine_);
  thread_ = std::thread([this] { loop(); });
  have_cpu_clock_ = pthread_getcpuclockid(thread_.native_handle(), &cpu_clock_) == 0;
}

void MediaLayer::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  const uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) < 0) {
    // The loop wakes every tick anyway.
  }
  thread_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<int> all;
    for (auto& [channo, leg] : legs_) all.push_back(channo);
    // The trunks stop right after: a lent bearer is not given back, only let go of.
    for (int channo : all) {
      Leg* leg = leg_at(channo);
      if (leg && leg->lender) leg->lender = nullptr, leg->fd = -1;
      detach(channo, "stopped");
    }
  }
  writer_.reset();  // drains the last recordings
  ::close(wake_fd_);
  wake_fd_ = -1;
}

// ---- legs -----------------------------------------------------------------------------------------

Leg* MediaLayer::leg_at(int channo) {
  auto it = legs_.find(channo);
  return it == legs_.end() ? nullptr : it->second.get();
}

int MediaLayer::prepare_leg(const json& where, const std::string& pre) {
  const std::string whole = pre.empty() ? "call" : pre.substr(0, pre.size() - 1);
  if (!where.is_object()) throw field_error(whole, "must name a call or a dahdiChannel");
  int channo = 0;
  uint64_t call = 0;
  Stack* owner = nullptr;
  if (where.contains("call")) {
    if (!where["call"].is_number_unsigned()) throw field_error(pre + "call", "must be a call id");
    call = where["call"].get<uint64_t>();
    owner = engine_.stack_for_call(call);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = call_channels_.find(call);
    if (!owner) throw EngineError("E_CALL_UNKNOWN", pre + "call", "no call " + std::to_string(call));
    if (it == call_channels_.end())
      throw EngineError("E_CALL_STATE", pre + "call",
                        "call " + std::to_string(call) + " has no channel yet");
    channo = it->second;
    if (Leg* leg = leg_at(channo)) return leg->channo;
  } else if (where.contains("dahdiChannel")) {
    const json& v = where["dahdiChannel"];
    if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 4095)
      throw field_error(pre + "dahdiChannel", "must be a DAHDI channel number 1..4095, not " +
                                                  describe(v));
    channo = v.get<int>();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (Leg* leg = leg_at(channo)) return leg->channo;
    }
    const std::string holder = engine_.bearer_holder(channo);
    if (!holder.empty())
      throw EngineError("E_CHANNEL_BUSY", pre + "dahdiChannel",
                        "DAHDI channel " + std::to_string(channo) + " is held by trunk " +
                            holder + "; address its call instead");
  } else {
    throw field_error(whole, "a media command names a call or a dahdiChannel");
  }

  auto leg = std::make_unique<Leg>();
  leg->channo = channo;
  leg->call = call;
  if (owner && owner->holds_bearer(channo)) {
    leg->lender = owner;
    leg->trunk = owner->name();
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (Leg* existing = leg_at(channo)) return existing->channo;
      legs_[channo] = std::move(leg);
    }
    owner->lend_bearer(channo, true);
    std::unique_lock<std::mutex> lock(mu_);
    const bool ok = adopted_cv_.wait_for(lock, std::chrono::seconds(2), [&] {
      Leg* l = leg_at(channo);
      return !l || l->adopted;
    });
    Leg* l = leg_at(channo);
    if (!l) throw EngineError("E_CALL_STATE", pre + "call", "the call ended");
    if (!ok || l->fd < 0) {
      legs_.erase(channo);
      throw EngineError("E_ENGINE", pre + "call",
                        "trunk " + owner->name() + " did not hand over DAHDI channel " +
                            std::to_string(channo));
    }
    return channo;
  }
  // PRI and SS7 bearers, and channels no trunk uses: the media layer opens them.
  const std::string field = pre + (call ? "call" : "dahdiChannel");
  int fd = -1;
  try {
    fd = dahdi_open(channo, field);
    const dahdi_params p = dahdi_get_params(fd, field);
    if (p.sigtype != DAHDI_SIG_CLEAR && p.sigtype != DAHDI_SIG_CAS &&
        !(p.sigtype & (__DAHDI_SIG_FXO | __DAHDI_SIG_FXS)))
      throw EngineError("E_CHANNEL_UNKNOWN", field,
                        "DAHDI channel " + std::to_string(channo) + " is configured as " +
                            dahdi_sig_name(p.sigtype) + ", which carries no audio");
    leg->law = p.curlaw == DAHDI_LAW_MULAW ? dsp::Law::kUlaw : dsp::Law::kAlaw;
    dahdi_set_blocksize(fd, kBlock, field);
    dahdi_bufferinfo bi{};
    bi.txbufpolicy = DAHDI_POLICY_IMMEDIATE;
    bi.rxbufpolicy = DAHDI_POLICY_IMMEDIATE;
    bi.numbufs = kNumBufs;
    bi.bufsize = kBlock;
    if (ioctl(fd, DAHDI_SET_BUFINFO, &bi) < 0)
      throw EngineError("E_DAHDI_IOCTL", field, std::string("DAHDI_SET_BUFINFO: ") + strerror(errno));
    const int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    throw;
  }
  leg->fd = fd;
  leg->adopted = true;
  if (owner) leg->trunk = owner->name();
  std::lock_guard<std::mutex> lock(mu_);
  if (Leg* existing = leg_at(channo)) {
    ::close(fd);
    return existing->channo;
  }
  Leg& l = *leg;
  legs_[channo] = std::move(leg);
  set_detector(l);
  return channo;
}

void MediaLayer::adopt(int channo, int fd, Stack* from) {
  std::lock_guard<std::mutex> lock(mu_);
  Leg* leg = leg_at(channo);
  if (!leg || leg->adopted || leg->lender != from) {
    if (fd >= 0) from->lend_bearer(channo, false);
    return;
  }
  leg->adopted = true;
  leg->fd = fd;
  if (fd >= 0) {
    dahdi_params p{};
    p.channo = 0;
    if (ioctl(fd, DAHDI_GET_PARAMS, &p) == 0)
      leg->law = p.curlaw == DAHDI_LAW_MULAW ? dsp::Law::kUlaw : dsp::Law::kAlaw;
    leg->saved_flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, leg->saved_flags | O_NONBLOCK);
    int what = DAHDI_FLUSH_READ;
    ioctl(fd, DAHDI_FLUSH, &what);
    set_detector(*leg);
  }
  adopted_cv_.notify_all();
}

void MediaLayer::set_detector(Leg& leg) {
  if (leg.zone.empty()) leg.zone = zone_;
  leg.detector = std::make_unique<dsp::Detector>(leg.detect);
}

void MediaLayer::detach(int channo, const char* reason) {
  Leg* leg = leg_at(channo);
  if (!leg) return;
  if (leg->play) finish_play(*leg, reason);
  if (leg->rec) finish_record(*leg, reason);
  leave_conference(*leg);
  unpatch(*leg);
  if (leg->fd >= 0) {
    if (leg->echo_taps) {
      dahdi_echocanparams ep{};
      ioctl(leg->fd, DAHDI_ECHOCANCEL_PARAMS, &ep);
    }
    if (leg->lender) {
      fcntl(leg->fd, F_SETFL, leg->saved_flags);
      leg->lender->lend_bearer(channo, false);
    } else {
      ::close(leg->fd);
    }
  }
  emit_leg(*leg, {{"event", "mediaDetached"}, {"reason", reason}});
  legs_.erase(channo);
}

void MediaLayer::on_call_event(const json& ev) {
  const std::string name = ev.value("event", "");
  if (!ev.contains("call") || !ev["call"].is_number_unsigned()) return;
  const uint64_t call = ev["call"].get<uint64_t>();
  std::lock_guard<std::mutex> lock(mu_);
  if (name == "released") {
    auto it = call_channels_.find(call);
    if (it != call_channels_.end()) {
      Leg* leg = leg_at(it->second);
      if (leg && leg->call == call) detach(it->second, "released");
      call_channels_.erase(it);
    }
    return;
  }
  if (ev.contains("dahdiChannel") && ev["dahdiChannel"].is_number_integer())
    call_channels_[call] = ev["dahdiChannel"].get<int>();
}

// ---- commands ---------------------------------------------------------------------------------

std::shared_ptr<const WavData> MediaLayer::load_prompt(const std::string& path,
                                                       const std::string& field) {
  struct stat st{};
  if (::stat(path.c_str(), &st) < 0)
    throw EngineError("E_PROMPT_MISSING", field, path + ": " + std::strerror(errno));
  const int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = prompt_cache_.find(path);
    if (it != prompt_cache_.end() && it->second.mtime_ns == mtime && it->second.size == st.st_size) {
      it->second.used = ++cache_clock_;
      return it->second.wav;
    }
  }
  auto wav = std::make_shared<const WavData>(wav_read(path, field));
  std::lock_guard<std::mutex> lock(cache_mu_);
  prompt_cache_[path] = {mtime, st.st_size, wav, ++cache_clock_};
  size_t total = 0;
  for (auto& [p, c] : prompt_cache_) total += c.wav->bytes.size();
  while (total > kPromptCacheBytes && prompt_cache_.size() > 1) {
    auto oldest = prompt_cache_.begin();
    for (auto it = prompt_cache_.begin(); it != prompt_cache_.end(); ++it)
      if (it->second.used < oldest->second.used) oldest = it;
    total -= oldest->second.wav->bytes.size();
    prompt_cache_.erase(oldest);
  }
  return wav;
}

bool Media::is_media_op(const std::string& op) { return kOps.count(op) != 0; }

json MediaLayer::submit(json cmd) {
  const std::string op = cmd["op"].get<std::string>();
  if (op == "confCreate" || op == "confJoin" || op == "confLeave" || op == "confSet" ||
      op == "confDestroy")
    return op_conference(op, cmd);
  if (op == "connect") return op_connect(cmd);

  // What can fail on files is done before the leg is touched, so a bad prompt changes nothing.
  std::vector<std::shared_ptr<const WavData>> items;
  if (op == "play") {
    if (!cmd.contains("files") || !cmd["files"].is_array() || cmd["files"].empty())
      throw field_error("files", "must be a list of WAV files to play");
    if (cmd["files"].size() > kMaxPlaylist)
      throw field_error("files", "holds " + std::to_string(cmd["files"].size()) +
                                     " prompts; at most " + std::to_string(kMaxPlaylist));
    for (size_t i = 0; i < cmd["files"].size(); ++i) {
      const std::string f = "files[" + std::to_string(i) + "]";
      if (!cmd["files"][i].is_string()) throw field_error(f, "must be a file path");
      items.push_back(load_prompt(cmd["files"][i].get<std::string>(), f));
    }
  }
  int file_fd = -1;
  std::string file;
  if (op == "record") {
    file = cmd_string(cmd, "file", "");
    if (file.empty()) throw field_error("file", "is required (the WAV file to record to)");
    WavFormat fmt;
    if (!wav_format_from(cmd_string(cmd, "format", "alaw"), fmt))
      throw field_error("format", "\"" + cmd_string(cmd, "format", "") +
                                      "\" is not one of alaw, ulaw, pcm16");
  }
  if (op != "detach" && op != "stop" && op != "disconnect" && op != "play" && op != "tone" &&
      op != "sendDtmf" && op != "record" && op != "detect" && op != "echo")
    throw field_error("op", "\"" + op + "\" is not a media command");

  const int channo =
      (op == "stop" || op == "detach" || op == "disconnect") ? 0 : prepare_leg(cmd, "");
  if (op == "record") {
    file_fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (file_fd < 0)
      throw EngineError("E_RECORD_FILE", "file", file + ": " + std::strerror(errno));
  }
  std::lock_guard<std::mutex> lock(mu_);
  try {
    if (op == "stop" || op == "detach" || op == "disconnect") {
      Leg& leg = leg_for(cmd, "");
      if (op == "stop") return op_stop(leg, cmd);
      if (op == "disconnect") return op_disconnect(leg);
      detach(leg.channo, "detached");
      return json::object();
    }
    Leg* leg = leg_at(channo);
    if (!leg) throw EngineError("E_CALL_STATE", "call", "the call ended");
    if (op == "play") return op_play(*leg, cmd, std::move(items));
    if (op == "tone") return op_tone(*leg, cmd);
    if (op == "sendDtmf") return op_send_dtmf(*leg, cmd);
    if (op == "detect") return op_detect(*leg, cmd);
    if (op == "echo") return op_echo(*leg, cmd);
    const int fd = file_fd;
    file_fd = -1;
    return op_record(*leg, cmd, fd, file);
  } catch (...) {
    if (file_fd >= 0) {
      ::close(file_fd);
      ::unlink(file.c_str());
    }
    throw;
  }
}

Leg& MediaLayer::leg_for(const json& where, const std::string& pre) {
  if (where.is_object() && where.contains("call")) {
    if (!where["call"].is_number_unsigned()) throw field_error(pre + "call", "must be a call id");
    const uint64_t call = where["call"].get<uint64_t>();
    auto it = call_channels_.find(call);
    Leg* leg = it == call_channels_.end() ? nullptr : leg_at(it->second);
    if (!leg || leg->call != call)
      throw EngineError("E_CALL_STATE", pre + "call",
                        "call " + std::to_string(call) + " has no media running");
    return *leg;
  }
  if (where.is_object() && where.contains("dahdiChannel")) {
    const json& v = where["dahdiChannel"];
    Leg* leg = v.is_number_integer() ? leg_at(v.get<int>()) : nullptr;
    if (!leg)
      throw EngineError("E_CHANNEL_UNKNOWN", pre + "dahdiChannel",
                        "no media runs on DAHDI channel " + describe(v));
    return *leg;
  }
  throw field_error(pre.empty() ? "call" : pre.substr(0, pre.size() - 1),
                    "a media command names a call or a dahdiChannel");
}

json MediaLayer::op_play(Leg& leg, const json& cmd, std::vector<std::shared_ptr<const WavData>> items) {
  if (leg.peer)
    throw EngineError("E_CHANNEL_BUSY", "call",
                      "the channel is connected through the time-slot switch; disconnect first");
  const bool barge = cmd_bool(cmd, "bargeIn", false);
  if (leg.play) finish_play(leg, "replaced");
  auto p = std::make_unique<Playback>();
  p->id = ++last_id_;
  p->kind = "prompt";
  p->items = std::move(items);
  for (const auto& f : cmd["files"]) p->files.push_back(f.get<std::string>());
  p->barge_in = barge;
  const uint64_t id = p->id;
  leg.play = std::move(p);
  fill_tx(leg);
  return {{"play", id}};
}

json MediaLayer::op_tone(Leg& leg, const json& cmd) {
  if (leg.peer)
    throw EngineError("E_CHANNEL_BUSY", "call",
                      "the channel is connected through the time-slot switch; disconnect first");
  const std::string zone_name = cmd_string(cmd, "zone", leg.zone);
  const dsp::ToneZone* zone = dsp::ToneZone::find(zone_name);
  if (!zone) throw field_error("zone", "\"" + zone_name + "\" is not a tone zone");
  const std::string name = cmd_string(cmd, "tone", "");
  const dsp::Tone* tone = zone->tone(name);
  if (!tone) {
    std::string known;
    for (const auto& t : zone->tones()) known += (known.empty() ? "" : ", ") + t.name;
    throw field_error("tone", "\"" + name + "\" is not a tone of zone " + zone_name + " (" +
                                  known + ")");
  }
  const int ms = cmd_int(cmd, "ms", 0, 3600000, 0);
  if (leg.play) finish_play(leg, "replaced");
  auto p = std::make_unique<Playback>();
  p->id = ++last_id_;
  p->kind = "tone";
  p->name = name;
  p->gen = dsp::Generator::tone(*tone);
  p->gen_left = ms ? static_cast<int64_t>(ms) * 8 : -1;
  p->barge_in = cmd_bool(cmd, "bargeIn", false);
  const uint64_t id = p->id;
  leg.play = std::move(p);
  fill_tx(leg);
  return {{"play", id}};
}

json MediaLayer::op_send_dtmf(Leg& leg, const json& cmd) {
  if (leg.peer)
    throw EngineError("E_CHANNEL_BUSY", "call",
                      "the channel is connected through the time-slot switch; disconnect first");
  const std::string digits = digits_field(cmd, "digits", true, 64, kDtmfDigits);
  const int on = cmd_int(cmd, "onMs", 40, 1000, 100);
  const int off = cmd_int(cmd, "offMs", 40, 1000, 100);
  const int level = cmd_int(cmd, "level", -30, 0, -10);
  if (leg.play) finish_play(leg, "replaced");
  auto p = std::make_unique<Playback>();
  p->id = ++last_id_;
  p->kind = "dtmf";
  p->name = digits;
  p->gen = dsp::Generator::dtmf(digits, on, off, level);
  const uint64_t id = p->id;
  leg.play = std::move(p);
  fill_tx(leg);
  return {{"play", id}};
}

json MediaLayer::op_stop(Leg& leg, const json& cmd) {
  const std::string what = cmd_string(cmd, "what", "all");
  if (what != "all" && what != "play" && what != "record")
    throw field_error("what", "\"" + what + "\" is not one of all, play, record");
  json out = json::object();
  if ((what == "all" || what == "play") && leg.play) {
    out["play"] = leg.play->id;
    finish_play(leg, "stopped");
  }
  if ((what == "all" || what == "record") && leg.rec) {
    out["record"] = leg.rec->id;
    finish_record(leg, "stopped");
  }
  return out;
}

json MediaLayer::op_record(Leg& leg, const json& cmd, int file_fd, const std::string& file) {
  auto r = std::make_unique<Recording>();
  r->fd = file_fd;
  r->file = file;
  wav_format_from(cmd_string(cmd, "format", leg.law == dsp::Law::kUlaw ? "ulaw" : "alaw"), r->format);
  r->direction = cmd_string(cmd, "direction", "rx");
  if (r->direction != "rx" && r->direction != "tx" && r->direction != "both")
    throw field_error("direction", "\"" + r->direction + "\" is not one of rx, tx, both");
  r->stereo = cmd_bool(cmd, "stereo", false);
  if (r->stereo && r->direction != "both")
    throw field_error("stereo", "a two-channel recording needs direction both");
  r->max_samples = static_cast<int64_t>(cmd_int(cmd, "maxMs", 0, 4 * 3600 * 1000, 0)) * 8;
  r->silence_samples = static_cast<int64_t>(cmd_int(cmd, "silenceMs", 0, 600000, 0)) * 8;
  r->silence_dbm0 = cmd_int(cmd, "silenceThreshold", -70, -10, -45);
  r->stop_digits = digits_field(cmd, "stopDigits", false, 16, kDtmfDigits);
  const std::vector<uint8_t> header = wav_header(r->format, r->stereo ? 2 : 1, 0);
  const std::string err = write_all(file_fd, header.data(), header.size());
  if (!err.empty()) throw EngineError("E_RECORD_FILE", "file", file + ": " + err);
  if (leg.rec) finish_record(leg, "replaced");
  r->id = ++last_id_;
  const uint64_t id = r->id;
  leg.rec = std::move(r);
  return {{"record", id}};
}

json MediaLayer::op_detect(Leg& leg, const json& cmd) {
  dsp::DetectOptions o = leg.detect;
  o.dtmf = cmd_bool(cmd, "dtmf", o.dtmf);
  o.fax = cmd_bool(cmd, "fax", o.fax);
  if (cmd.contains("progress")) {
    if (!cmd["progress"].is_boolean()) throw field_error("progress", "must be true or false");
    o.zone = nullptr;
    if (cmd["progress"].get<bool>()) {
      const std::string zone_name = cmd_string(cmd, "zone", leg.zone);
      o.zone = dsp::ToneZone::find(zone_name);
      if (!o.zone) throw field_error("zone", "\"" + zone_name + "\" is not a tone zone");
      leg.zone = zone_name;
    }
  }
  if (cmd.contains("amd")) {
    const json& a = cmd["amd"];
    if (a.is_boolean()) {
      o.amd = a.get<bool>();
    } else if (a.is_object()) {
      o.amd = true;
      dsp::AmdParams p;
      for (auto& [k, v] : a.items()) {
        const auto& specs = dsp::amd_param_specs();
        auto spec = std::find_if(specs.begin(), specs.end(),
                                 [&](const dsp::AmdParamSpec& sp) { return k == sp.name; });
        if (spec == specs.end()) throw field_error("amd." + k, "is not an answering-machine parameter");
        if (!v.is_number_integer() || v.get<int64_t>() < spec->min || v.get<int64_t>() > spec->max)
          throw field_error("amd." + k, describe(v) + " is out of range " +
                                            std::to_string(spec->min) + ".." +
                                            std::to_string(spec->max));
        p.*(spec->member) = v.get<int>();
      }
      o.amd_params = p;
    } else {
      throw field_error("amd", "must be true, false or an object of parameters");
    }
  }
  leg.detect = o;
  set_detector(leg);
  return json::object();
}

json MediaLayer::op_echo(Leg& leg, const json& cmd) {
  const int taps = cmd_int(cmd, "taps", 0, 1024, 128);
  if (taps && (taps & (taps - 1)))
    throw field_error("taps", std::to_string(taps) + " is not a power of two (32..1024) or 0 for off");
  if (taps && taps < 32) throw field_error("taps", std::to_string(taps) + " is below 32");
  dahdi_echocanparams ep{};
  ep.tap_length = static_cast<uint32_t>(taps);
  if (ioctl(leg.fd, DAHDI_ECHOCANCEL_PARAMS, &ep) < 0)
    throw EngineError("E_DAHDI_IOCTL", "taps",
                      std::string("DAHDI_ECHOCANCEL_PARAMS: ") + std::strerror(errno));
  leg.echo_taps = taps;
  return {{"taps", taps}};
}

// @@REST@@
json MediaLayer::op_conference(const std::string& op, const json& cmd) {
  const std::string name = cmd_string(cmd, "conference", "");
  // confLeave and confSet find the conference from the party.
  const bool named = op == "confCreate" || op == "confJoin" || op == "confDestroy";
  if ((named && name.empty()) || name.size() > 64)
    throw field_error("conference", "must be a name of 1 to 64 characters");

  // The parties this command brings, as legs (opened or borrowed before the lock is taken).
  std::vector<std::pair<const json*, std::string>> parties;
  if (op == "confCreate") {
    if (!cmd.contains("parties") || !cmd["parties"].is_array())
      throw field_error("parties", "must be a list of parties (each a call or a dahdiChannel)");
    const size_t n = cmd["parties"].size();
    if (n < 2)
      throw field_error("parties", "a conference needs at least two parties, not " +
                                       std::to_string(n) + " (a conference of one is a call)");
    if (n > kMaxConferenceParties)
      throw field_error("parties", std::to_string(n) + " parties; at most " +
                                       std::to_string(kMaxConferenceParties));
    for (size_t i = 0; i < n; ++i)
      parties.emplace_back(&cmd["parties"][i], "parties[" + std::to_string(i) + "].");
  } else if (op == "confJoin") {
    parties.emplace_back(&cmd, "");
  }
  std::vector<int> channos;
  for (auto& [where, pre] : parties) channos.push_back(prepare_leg(*where, pre));

  std::lock_guard<std::mutex> lock(mu_);
  auto apply_flags = [&](Leg& leg, const json& p, const std::string& pre, Conference& conf) {
    leg.talk = cmd_bool(p, "talk", leg.talk);
    leg.listen = cmd_bool(p, "listen", leg.listen);
    if (p.contains("whisperTo")) {
      if (p["whisperTo"].is_null()) {
        leg.whisper_to = 0;
      } else {
        Leg& target = leg_for(p["whisperTo"], pre + "whisperTo.");
        if (std::find(conf.parties.begin(), conf.parties.end(), target.channo) ==
            conf.parties.end())
          throw field_error(pre + "whisperTo", "is not a party of conference " + conf.name);
        if (target.channo == leg.channo) throw field_error(pre + "whisperTo", "is the party itself");
        leg.whisper_to = target.channo;
      }
    }
  };
  auto check_free = [&](Leg& leg, const std::string& pre) {
    if (!leg.conference.empty())
      throw EngineError("E_CHANNEL_BUSY", pre + (leg.call ? "call" : "dahdiChannel"),
                        "is already in conference " + leg.conference);
    if (leg.peer)
      throw EngineError("E_CHANNEL_BUSY", pre + (leg.call ? "call" : "dahdiChannel"),
                        "is connected through the time-slot switch; disconnect first");
  };
  auto add = [&](Conference& conf, Leg& leg) {
    leg.conference = conf.name;
    leg.talk = leg.listen = true;
    leg.whisper_to = 0;
    leg.conf_in.clear();
    conf.parties.push_back(leg.channo);
    if (!leg.play) {
      uint8_t silence[kBlock];
      Block zero{};
      dsp::encode(leg.law, zero.data(), silence, kBlock);
      for (int i = 0; i < kConfPrefill; ++i)
        if (::write(leg.fd, silence, kBlock) < 0) break;
    }
  };
  auto event = [&](const Conference& conf, const char* state) {
    json ev = {{"event", "conference"}, {"conference", conf.name}, {"state", state}};
    json list = json::array();
    for (int c : conf.parties) {
      const Leg* l = leg_at(c);
      json p = {{"dahdiChannel", c}};
      if (l && l->call) p["call"] = l->call;
      list.push_back(p);
    }
    ev["parties"] = list;
    engine_.emit(std::move(ev));
  };

  if (op == "confCreate") {
    if (conferences_.count(name))
      throw field_error("conference", "\"" + name + "\" already exists");
    std::set<int> seen;
    for (size_t i = 0; i < channos.size(); ++i) {
      Leg* leg = leg_at(channos[i]);
      if (!leg) throw EngineError("E_CALL_STATE", parties[i].second + "call", "the call ended");
      if (!seen.insert(channos[i]).second)
        throw field_error(parties[i].second.substr(0, parties[i].second.size() - 1),
                          "is listed twice");
      check_free(*leg, parties[i].second);
    }
    Conference& conf = conferences_[name];
    conf.name = name;
    for (int c : channos) add(conf, *leg_at(c));
    try {
      for (size_t i = 0; i < channos.size(); ++i)
        apply_flags(*leg_at(channos[i]), *parties[i].first, parties[i].second, conf);
    } catch (...) {
      for (int c : channos) leg_at(c)->conference.clear();
      conferences_.erase(name);
      throw;
    }
    event(conf, "created");
    return {{"conference", name}, {"parties", conf.parties.size()}};
  }
  if (op == "confDestroy") {
    auto it = conferences_.find(name);
    if (it == conferences_.end()) throw field_error("conference", "no conference \"" + name + "\"");
    const std::vector<int> all = it->second.parties;
    for (int c : all)
      if (Leg* leg = leg_at(c)) leave_conference(*leg);
    conferences_.erase(name);
    return json::object();
  }
  if (op == "confJoin") {
    auto it = conferences_.find(name);
    if (it == conferences_.end()) throw field_error("conference", "no conference \"" + name + "\"");
    Leg* leg = leg_at(channos[0]);
    if (!leg) throw EngineError("E_CALL_STATE", "call", "the call ended");
    check_free(*leg, "");
    add(it->second, *leg);
    try {
      apply_flags(*leg, cmd, "", it->second);
    } catch (...) {
      leave_conference(*leg);
      throw;
    }
    event(it->second, "joined");
    return {{"conference", name}, {"parties", it->second.parties.size()}};
  }
  Leg& leg = leg_for(cmd, "");
  if (leg.conference.empty())
    throw EngineError("E_CALL_STATE", leg.call ? "call" : "dahdiChannel", "is in no conference");
  if (!name.empty() && name != leg.conference)
    throw field_error("conference", "the party is in conference " + leg.conference + ", not " + name);
  if (op == "confLeave") {
    leave_conference(leg);
    return json::object();
  }
  apply_flags(leg, cmd, "", conferences_[leg.conference]);
  return {{"talk", leg.talk}, {"listen", leg.listen}, {"whisperTo", leg.whisper_to}};
}

void MediaLayer::leave_conference(Leg& leg) {
  if (leg.conference.empty()) return;
  auto it = conferences_.find(leg.conference);
  leg.conference.clear();
  leg.conf_in.clear();
  leg.whisper_to = 0;
  if (it == conferences_.end()) return;
  Conference& conf = it->second;
  conf.parties.erase(std::remove(conf.parties.begin(), conf.parties.end(), leg.channo),
                     conf.parties.end());
  for (int c : conf.parties)
    if (Leg* other = leg_at(c); other && other->whisper_to == leg.channo) other->whisper_to = 0;
  json ev = {{"event", "conference"},
             {"conference", conf.name},
             {"state", conf.parties.empty() ? "ended" : "left"},
             {"party", {{"dahdiChannel", leg.channo}}}};
  if (leg.call) ev["party"]["call"] = leg.call;
  ev["remaining"] = conf.parties.size();
  engine_.emit(std::move(ev));
  if (conf.parties.empty()) conferences_.erase(it);
}

json MediaLayer::op_connect(const json& cmd) {
  const std::string mode = cmd_string(cmd, "mode", "duplex");
  if (mode != "duplex" && mode != "listen")
    throw field_error("mode", "\"" + mode + "\" is not one of duplex, listen (b hears a)");
  if (!cmd.contains("a") || !cmd["a"].is_object()) throw field_error("a", "must name a call or a dahdiChannel");
  if (!cmd.contains("b") || !cmd["b"].is_object()) throw field_error("b", "must name a call or a dahdiChannel");
  const int a = prepare_leg(cmd["a"], "a.");
  const int b = prepare_leg(cmd["b"], "b.");
  std::lock_guard<std::mutex> lock(mu_);
  Leg* la = leg_at(a);
  Leg* lb = leg_at(b);
  if (!la || !lb) throw EngineError("E_CALL_STATE", la ? "b" : "a", "the call ended");
  if (a == b) throw field_error("b", "is the same channel as a");
  // DAHDI_CONF_DIGITALMON copies bytes: an A-law channel fed to a µ-law one would be noise.
  if (la->law != lb->law)
    throw field_error("b", "DAHDI channel " + std::to_string(b) + " is " +
                               (lb->law == dsp::Law::kUlaw ? "mu-law" : "A-law") + " but channel " +
                               std::to_string(a) + " is " +
                               (la->law == dsp::Law::kUlaw ? "mu-law" : "A-law") +
                               ": the time-slot switch copies bytes, so both need one law "
                               "(system.conf alaw=/mulaw=; the switch configuration's system.law)");
  for (Leg* l : {la, lb}) {
    const std::string f = l == la ? "a" : "b";
    if (l->peer) throw EngineError("E_CHANNEL_BUSY", f, "is already connected to DAHDI channel " + std::to_string(l->peer));
    if (!l->conference.empty())
      throw EngineError("E_CHANNEL_BUSY", f, "is in conference " + l->conference);
  }
  auto monitor = [&](Leg& listener, int source) {
    dahdi_confinfo ci{};
    ci.chan = 0;
    ci.confno = source;
    ci.confmode = DAHDI_CONF_DIGITALMON;
    if (ioctl(listener.fd, DAHDI_SETCONF, &ci) < 0)
      throw EngineError("E_DAHDI_IOCTL", listener.channo == a ? "a" : "b",
                        std::string("DAHDI_SETCONF (DIGITALMON): ") + std::strerror(errno));
  };
  // What the listening side sends comes from the kernel now: a prompt on it would be lost.
  if (lb->play) finish_play(*lb, "connected");
  monitor(*lb, a);
  if (mode == "duplex") {
    if (la->play) finish_play(*la, "connected");
    try {
      monitor(*la, b);
    } catch (...) {
      dahdi_confinfo off{};
      ioctl(lb->fd, DAHDI_SETCONF, &off);
      throw;
    }
  }
  la->peer = b;
  lb->peer = a;
  la->peer_mode = mode == "duplex" ? "duplex" : "talk";
  lb->peer_mode = mode == "duplex" ? "duplex" : "listen";
  json ev = {{"event", "connected"}, {"mode", mode}};
  ev["a"] = {{"dahdiChannel", a}};
  ev["b"] = {{"dahdiChannel", b}};
  if (la->call) ev["a"]["call"] = la->call;
  if (lb->call) ev["b"]["call"] = lb->call;
  engine_.emit(ev);
  return {{"a", a}, {"b", b}, {"mode", mode}};
}

json MediaLayer::op_disconnect(Leg& leg) {
  if (!leg.peer) throw EngineError("E_CALL_STATE", leg.call ? "call" : "dahdiChannel", "is not connected");
  unpatch(leg);
  return json::object();
}

void MediaLayer::unpatch(Leg& leg) {
  if (!leg.peer) return;
  Leg* other = leg_at(leg.peer);
  dahdi_confinfo off{};
  off.confmode = DAHDI_CONF_NORMAL;
  if (leg.peer_mode != "talk") ioctl(leg.fd, DAHDI_SETCONF, &off);
  json ev = {{"event", "disconnected"}, {"a", {{"dahdiChannel", leg.channo}}},
             {"b", {{"dahdiChannel", leg.peer}}}};
  if (other) {
    dahdi_confinfo off2{};
    off2.confmode = DAHDI_CONF_NORMAL;
    if (other->peer_mode != "talk") ioctl(other->fd, DAHDI_SETCONF, &off2);
    other->peer = 0;
    other->peer_mode.clear();
  }
  leg.peer = 0;
  leg.peer_mode.clear();
  engine_.emit(std::move(ev));
}

// ---- the media thread -------------------------------------------------------------------------

void MediaLayer::loop() {
  int64_t next = mono_ns();
  while (!stopping_) {
    next += static_cast<int64_t>(kTickMs) * 1000000;
    const int64_t now = mono_ns();
    if (next < now - 200 * 1000000LL) {
      // Asleep far too long (a stopped VM, a debugger): start the clock again from now; the
      // DAHDI buffers absorbed what they could.
      next = now;
      ++late_ticks_;
    }
    if (next > now) {
      const int64_t wait = next - now;
      timespec ts = {static_cast<time_t>(wait / 1000000000), static_cast<long>(wait % 1000000000)};
      pollfd pfd = {wake_fd_, POLLIN, 0};
      if (ppoll(&pfd, 1, &ts, nullptr) > 0) {
        uint64_t v;
        if (::read(wake_fd_, &v, sizeof v) < 0) {
          // Consumed elsewhere: nothing to do.
        }
      }
    }
    if (stopping_) break;
    std::lock_guard<std::mutex> lock(mu_);
    tick();
  }
}

void MediaLayer::tick() {
  ++ticks_;
  for (auto& [channo, leg] : legs_)
    if (leg->fd >= 0) read_leg(*leg);
  for (auto& [name, conf] : conferences_) mix(conf);
  // finish_* may end playbacks: iterate over a copy of the keys.
  std::vector<int> keys;
  keys.reserve(legs_.size());
  for (auto& [channo, leg] : legs_) keys.push_back(channo);
  for (int c : keys)
    if (Leg* leg = leg_at(c); leg && leg->fd >= 0) fill_tx(*leg);
}

void MediaLayer::read_leg(Leg& leg) {
  uint8_t buf[kBlock];
  for (int i = 0; i < kMaxReadsPerTick; ++i) {
    const ssize_t n = ::read(leg.fd, buf, kBlock);
    if (n == kBlock) {
      on_rx(leg, buf);
      if (!leg_at(leg.channo)) return;
      continue;
    }
    if (n > 0) {
      // A short read (another block size on a lent descriptor): pad it, it is rare.
      std::memset(buf + n, buf[n - 1], kBlock - static_cast<size_t>(n));
      on_rx(leg, buf);
      continue;
    }
    if (n < 0 && errno == ELAST && !leg.lender) {
      // An event on a bearer only the media layer holds: nobody else will collect it.
      int event = 0;
      ioctl(leg.fd, DAHDI_GETEVENT, &event);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != ELAST && errno != EINTR) ++leg.read_errors;
    return;
  }
}

void MediaLayer::on_rx(Leg& leg, const uint8_t* bytes) {
  Block rx;
  dsp::decode(leg.law, bytes, rx.data(), kBlock);
  leg.last_rx = rx;
  ++leg.rx_blocks;
  // What went out in the same 20 ms: the transmit queue moves one block per received block.
  Block tx{};
  if (!leg.txq.empty()) {
    tx = leg.txq.front().pcm;
    if (leg.play && leg.play->id == leg.txq.front().source) leg.play->played += kBlock;
    leg.txq.pop_front();
  } else if (leg.peer && leg.peer_mode != "talk") {
    if (const Leg* p = leg_at(leg.peer)) tx = p->last_rx;
  } else if (leg.conf_out_fresh) {
    tx = leg.conf_out;
    leg.conf_out_fresh = false;
  }
  std::vector<dsp::Event> events;
  if (leg.detector) leg.detector->process(rx.data(), kBlock, events);
  if (leg.rec) record_block(leg, rx, tx, bytes);
  for (const auto& e : events) {
    const double at_ms = static_cast<double>(e.start) / 8.0;
    switch (e.kind) {
      case dsp::Event::Kind::kDtmfStart:
        emit_leg(leg, {{"event", "dtmfStart"}, {"digit", std::string(1, e.digit)}, {"at", at_ms}});
        if (leg.play && leg.play->barge_in) finish_play(leg, "bargeIn", e.digit);
        break;
      case dsp::Event::Kind::kDtmf:
        emit_leg(leg, {{"event", "dtmf"},
                       {"digit", std::string(1, e.digit)},
                       {"ms", e.ms},
                       {"level", std::round(e.level * 10) / 10},
                       {"at", at_ms}});
        if (leg.play && leg.play->barge_in) finish_play(leg, "bargeIn", e.digit);
        if (leg.rec && leg.rec->stop_digits.find(e.digit) != std::string::npos)
          finish_record(leg, "dtmf", e.digit);
        break;
      case dsp::Event::Kind::kTone:
        emit_leg(leg, {{"event", "tone"}, {"name", e.name}, {"zone", leg.zone}, {"at", at_ms}});
        break;
      case dsp::Event::Kind::kToneEnd:
        emit_leg(leg, {{"event", "toneEnd"}, {"name", e.name}, {"ms", e.ms}, {"at", at_ms}});
        break;
      case dsp::Event::Kind::kFax:
        emit_leg(leg, {{"event", "fax"}, {"name", e.name}, {"at", at_ms}});
        break;
      case dsp::Event::Kind::kAmd:
        emit_leg(leg, {{"event", "amd"}, {"result", e.name}, {"cause", e.cause}, {"at", at_ms}});
        break;
    }
  }
  if (!leg.conference.empty()) {
    leg.conf_in.push_back(rx);
    while (leg.conf_in.size() > kConfQueue + 2) leg.conf_in.pop_front();
  }
  if (leg.play && leg.play->writing_done && !leg.play->has_pending && leg.txq.empty())
    finish_play(leg, "done");
}

// The next 20 ms of a playback, as linear samples (for recordings) and as line bytes. A prompt
// stored in the channel's own law goes out byte for byte (µ-law has two zeros: a round trip
// through linear would change one of them). Returns the samples taken from the source.
static int produce(Playback& p, dsp::Law law, Block& pcm, uint8_t* out) {
  int n = 0;
  if (p.gen) {
    int want = kBlock;
    if (p.gen_left >= 0 && p.gen_left < want) want = static_cast<int>(p.gen_left);
    n = want > 0 ? p.gen->generate(pcm.data(), want) : 0;
    if (p.gen_left >= 0) p.gen_left -= n;
    if (n < kBlock) p.writing_done = true;
    std::fill(pcm.begin() + n, pcm.end(), 0);
    dsp::encode(law, pcm.data(), out, kBlock);
    return n;
  }
  const dsp::Law line_law = law;
  while (n < kBlock && p.item < p.items.size()) {
    const WavData& w = *p.items[p.item];
    const size_t take = std::min(w.samples() - p.pos, static_cast<size_t>(kBlock - n));
    const bool same_law = (w.format == WavFormat::kAlaw && line_law == dsp::Law::kAlaw) ||
                          (w.format == WavFormat::kUlaw && line_law == dsp::Law::kUlaw);
    if (w.format == WavFormat::kPcm16) {
      const uint8_t* src = w.bytes.data() + p.pos * 2;
      for (size_t i = 0; i < take; ++i)
        pcm[n + i] = static_cast<int16_t>(src[2 * i] | (src[2 * i + 1] << 8));
      dsp::encode(line_law, pcm.data() + n, out + n, static_cast<int>(take));
    } else {
      const uint8_t* src = w.bytes.data() + p.pos;
      const dsp::Law file_law = w.format == WavFormat::kUlaw ? dsp::Law::kUlaw : dsp::Law::kAlaw;
      dsp::decode(file_law, src, pcm.data() + n, static_cast<int>(take));
      if (same_law) std::memcpy(out + n, src, take);
      else dsp::encode(line_law, pcm.data() + n, out + n, static_cast<int>(take));
    }
    n += static_cast<int>(take);
    p.pos += take;
    if (p.pos >= w.samples()) ++p.item, p.pos = 0;
  }
  if (p.item >= p.items.size()) p.writing_done = true;
  if (n > 0 && n < kBlock) {
    std::fill(pcm.begin() + n, pcm.end(), 0);
    dsp::encode(line_law, pcm.data() + n, out + n, kBlock - n);
  }
  return n;
}

void MediaLayer::fill_tx(Leg& leg) {
  Playback* p = leg.play.get();
  if (!p || leg.peer) return;
  while (leg.txq.size() < static_cast<size_t>(kNumBufs)) {
    if (!p->has_pending) {
      if (p->writing_done) break;
      if (produce(*p, leg.law, p->pending_pcm, p->pending_out) == 0) break;
      p->has_pending = true;
    }
    // Full (EAGAIN) or an event pending on a lent bearer: the block waits for the next tick.
    if (::write(leg.fd, p->pending_out, kBlock) != kBlock) break;
    p->has_pending = false;
    ++leg.tx_blocks;
    leg.txq.push_back({p->pending_pcm, p->id});
  }
}

void MediaLayer::mix(Conference& conf) {
  // Parties are read in the same tick, so their queues differ by at most a block; mix what all
  // of them have, and past kConfQueue mix anyway (a party that went quiet gets silence).
  size_t lo = SIZE_MAX, hi = 0;
  std::vector<Leg*> legs;
  for (int c : conf.parties) {
    Leg* l = leg_at(c);
    if (!l || l->fd < 0) continue;
    legs.push_back(l);
    lo = std::min(lo, l->conf_in.size());
    hi = std::max(hi, l->conf_in.size());
  }
  if (legs.empty()) return;
  size_t frames = lo;
  if (hi > kConfQueue) frames = std::max(frames, hi - kConfQueue);
  std::vector<Block> in(legs.size());
  std::array<int32_t, kBlock> total;
  for (size_t f = 0; f < frames; ++f) {
    total.fill(0);
    for (size_t i = 0; i < legs.size(); ++i) {
      Leg& l = *legs[i];
      if (l.conf_in.empty()) {
        in[i].fill(0);
      } else {
        in[i] = l.conf_in.front();
        l.conf_in.pop_front();
      }
      if (l.talk && !l.whisper_to)
        for (int k = 0; k < kBlock; ++k) total[k] += in[i][k];
    }
    for (size_t i = 0; i < legs.size(); ++i) {
      Leg& l = *legs[i];
      if (!l.listen) continue;
      std::array<int32_t, kBlock> sum = total;
      if (l.talk && !l.whisper_to)  // sum minus self
        for (int k = 0; k < kBlock; ++k) sum[k] -= in[i][k];
      for (size_t j = 0; j < legs.size(); ++j)
        if (legs[j]->talk && legs[j]->whisper_to == l.channo)
          for (int k = 0; k < kBlock; ++k) sum[k] += in[j][k];
      for (int k = 0; k < kBlock; ++k)
        l.conf_out[k] = static_cast<int16_t>(std::clamp<int32_t>(sum[k], INT16_MIN, INT16_MAX));
      l.conf_out_fresh = true;
      if (l.play) continue;  // a prompt to this party alone takes its place for now
      uint8_t out[kBlock];
      dsp::encode(l.law, l.conf_out.data(), out, kBlock);
      if (::write(l.fd, out, kBlock) == kBlock) ++l.tx_blocks;
      else ++l.tx_dropped;
    }
    ++conf.frames;
  }
}

void MediaLayer::record_block(Leg& leg, const Block& rx, const Block& tx, const uint8_t* raw) {
  Recording& r = *leg.rec;
  const size_t before = r.pending.size();
  auto put = [&](const int16_t* pcm, int n, int stride) {
    for (int k = 0; k < n; ++k) {
      const int16_t s = pcm[k * stride];
      if (r.format == WavFormat::kPcm16) {
        r.pending.push_back(static_cast<uint8_t>(s & 0xff));
        r.pending.push_back(static_cast<uint8_t>((s >> 8) & 0xff));
      } else {
        uint8_t b;
        dsp::encode(r.format == WavFormat::kUlaw ? dsp::Law::kUlaw : dsp::Law::kAlaw, &s, &b, 1);
        r.pending.push_back(b);
      }
    }
  };
  const bool raw_ok = (r.format == WavFormat::kAlaw && leg.law == dsp::Law::kAlaw) ||
                      (r.format == WavFormat::kUlaw && leg.law == dsp::Law::kUlaw);
  if (r.direction == "rx") {
    // What the line brought, byte for byte when the file is in the line's law.
    if (raw_ok) r.pending.insert(r.pending.end(), raw, raw + kBlock);
    else put(rx.data(), kBlock, 1);
  } else if (r.direction == "tx") {
    put(tx.data(), kBlock, 1);
  } else if (r.stereo) {
    for (int k = 0; k < kBlock; ++k) {
      put(&rx[k], 1, 1);
      put(&tx[k], 1, 1);
    }
  } else {
    Block mixed;
    for (int k = 0; k < kBlock; ++k)
      mixed[k] = static_cast<int16_t>(std::clamp<int32_t>(rx[k] + tx[k], INT16_MIN, INT16_MAX));
    put(mixed.data(), kBlock, 1);
  }
  r.data_bytes += r.pending.size() - before;
  r.samples += kBlock;
  if (r.silence_samples) {
    if (dsp::power_dbm0(rx.data(), kBlock) < r.silence_dbm0) r.silent_run += kBlock;
    else r.silent_run = 0;
  }
  if (r.pending.size() >= 8000) writer_->append(r.fd, std::exchange(r.pending, {}));
  if (r.max_samples && r.samples >= r.max_samples) finish_record(leg, "maxLength");
  else if (r.silence_samples && r.silent_run >= r.silence_samples) finish_record(leg, "silence");
}

void MediaLayer::flush_tx(Leg& leg) {
  int what = DAHDI_FLUSH_WRITE;
  if (leg.fd >= 0) ioctl(leg.fd, DAHDI_FLUSH, &what);
  leg.txq.clear();
}

void MediaLayer::finish_play(Leg& leg, const char* reason, char digit) {
  if (!leg.play) return;
  std::unique_ptr<Playback> p = std::move(leg.play);
  if (std::strcmp(reason, "done") != 0) flush_tx(leg);
  json ev = {{"event", "playDone"},
             {"play", p->id},
             {"kind", p->kind},
             {"reason", reason},
             {"playedMs", p->played / 8}};
  if (digit) ev["digit"] = std::string(1, digit);
  if (p->kind == "prompt") ev["item"] = std::min(p->item, p->items.size());
  else ev["name"] = p->name;
  emit_leg(leg, std::move(ev));
}

void MediaLayer::finish_record(Leg& leg, const char* reason, char digit) {
  if (!leg.rec) return;
  std::unique_ptr<Recording> r = std::move(leg.rec);
  if (!r->pending.empty()) writer_->append(r->fd, std::move(r->pending));
  json ev = {{"event", "recordDone"},
             {"record", r->id},
             {"file", r->file},
             {"reason", reason},
             {"ms", r->samples / 8},
             {"dahdiChannel", leg.channo}};
  if (digit) ev["digit"] = std::string(1, digit);
  if (leg.call) ev["call"] = leg.call;
  if (!leg.trunk.empty()) ev["trunk"] = leg.trunk;
  const uint64_t bytes = std::min<uint64_t>(r->data_bytes, UINT32_MAX - 64);
  writer_->finish(r->fd, wav_header(r->format, r->stereo ? 2 : 1, static_cast<uint32_t>(bytes)),
                  std::move(ev));
}

void MediaLayer::emit_leg(const Leg& leg, json ev) {
  ev["dahdiChannel"] = leg.channo;
  if (leg.call) ev["call"] = leg.call;
  if (!leg.trunk.empty()) ev["trunk"] = leg.trunk;
  engine_.emit(std::move(ev));
}

json MediaLayer::leg_json(const Leg& leg) const {
  json j = {{"dahdiChannel", leg.channo},
            {"law", leg.law == dsp::Law::kUlaw ? "ulaw" : "alaw"},
            {"bearer", leg.lender ? "lent by " + leg.trunk : "opened"},
            {"detect",
             {{"dtmf", leg.detect.dtmf},
              {"progress", leg.detect.zone != nullptr},
              {"zone", leg.zone},
              {"fax", leg.detect.fax},
              {"amd", leg.detect.amd}}},
            {"echoTaps", leg.echo_taps},
            {"rxBlocks", leg.rx_blocks},
            {"txBlocks", leg.tx_blocks},
            {"txDropped", leg.tx_dropped},
            {"readErrors", leg.read_errors}};
  if (leg.call) j["call"] = leg.call;
  if (!leg.trunk.empty()) j["trunk"] = leg.trunk;
  if (leg.play) {
    const Playback& p = *leg.play;
    j["playing"] = {{"play", p.id}, {"kind", p.kind}, {"playedMs", p.played / 8}};
    if (p.kind == "prompt") j["playing"]["files"] = p.files, j["playing"]["item"] = p.item;
    else j["playing"]["name"] = p.name;
  }
  if (leg.rec)
    j["recording"] = {{"record", leg.rec->id},
                      {"file", leg.rec->file},
                      {"direction", leg.rec->direction},
                      {"stereo", leg.rec->stereo},
                      {"format", wav_format_name(leg.rec->format)},
                      {"ms", leg.rec->samples / 8}};
  if (!leg.conference.empty())
    j["conference"] = {{"name", leg.conference},
                       {"talk", leg.talk},
                       {"listen", leg.listen},
                       {"whisperTo", leg.whisper_to}};
  if (leg.peer) j["connectedTo"] = leg.peer;
  return j;
}

json MediaLayer::snapshot() {
  std::lock_guard<std::mutex> lock(mu_);
  json legs = json::array();
  json conns = json::array();
  for (const auto& [channo, leg] : legs_) {
    legs.push_back(leg_json(*leg));
    if (leg->peer && (leg->peer_mode == "talk" || (leg->peer_mode == "duplex" && channo < leg->peer)))
      conns.push_back({{"a", channo},
                       {"b", leg->peer},
                       {"mode", leg->peer_mode == "duplex" ? "duplex" : "listen"},
                       {"via", "DAHDI_CONF_DIGITALMON"}});
  }
  json confs = json::array();
  for (const auto& [name, conf] : conferences_) {
    json parties = json::array();
    for (int c : conf.parties) {
      const Leg* l = leg_at(c);
      if (!l) continue;
      json p = {{"dahdiChannel", c}, {"talk", l->talk}, {"listen", l->listen}};
      if (l->call) p["call"] = l->call;
      if (l->whisper_to) p["whisperTo"] = l->whisper_to;
      parties.push_back(p);
    }
    confs.push_back({{"name", name}, {"parties", parties}, {"frames", conf.frames}});
  }
  int64_t cpu = 0;
  timespec ts{};
  if (have_cpu_clock_ && clock_gettime(cpu_clock_, &ts) == 0)
    cpu = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  return {{"zone", zone_},     {"legs", legs},        {"conferences", confs},
          {"connections", conns}, {"ticks", ticks_}, {"lateTicks", late_ticks_},
          {"cpuNs", cpu}};
}

// ---- Media ---------------------------------------------------------------------------------------

Media::Media(Engine& engine) : impl_(std::make_unique<MediaLayer>(engine)) {}
Media::~Media() = default;
void Media::configure(const json& config) { impl_->configure(config); }
void Media::check(const json& config) { zone_of(config); }
void Media::let_go(const Stack& trunk) { impl_->let_go(trunk); }
void Media::start() { impl_->start(); }
void Media::stop() { impl_->stop(); }
json Media::submit(json cmd) {
  try {
    return impl_->submit(std::move(cmd));
  } catch (const dsp::DspError& e) {
    throw EngineError("E_COMMAND_FIELD", e.field, e.detail);
  }
}
json Media::snapshot() { return impl_->snapshot(); }
void Media::on_call_event(const json& ev) { impl_->on_call_event(ev); }
void Media::adopt(int channo, int fd, Stack* from) { impl_->adopt(channo, fd, from); }

}  // namespace switchboard
