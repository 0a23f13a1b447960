// SPDX-License-Identifier: GPL-2.0-or-later
// The signalling engine: trunks (one Stack each, on its own thread), commands in, batched events out.
#pragma once

#include <poll.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace switchboard {

using json = nlohmann::json;

// A refused command or configuration. `code` is a SwitchboardError code (E_CONFIG_FIELD,
// E_CALL_UNKNOWN ...); `field` names the configuration field or command field at fault.
class EngineError : public std::runtime_error {
 public:
  EngineError(std::string code, std::string field, const std::string& message)
      : std::runtime_error(field.empty() ? message : field + ": " + message),
        code(std::move(code)),
        field(std::move(field)) {}
  std::string code;
  std::string field;
};

class Engine;
class Media;
class Trace;

// Milliseconds on the monotonic clock (protocol timers never follow wall-clock changes).
int64_t now_ms();

// One trunk: a signalling stack and the channels it owns, run on its own thread. Protocol
// timers, HDLC frames and CAS bits are handled there and never wait on JavaScript.
//
// Threading: open() runs on the JavaScript thread before the loop starts (so configuration
// errors are thrown to the caller); everything else named on_* runs on the trunk's thread.
// submit() and snapshot() are called from the JavaScript thread; state they read is guarded by mu_.
class Stack {
 public:
  Stack(Engine& engine, json config, std::string field);
  virtual ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  const std::string& name() const { return name_; }
  const std::string& signalling() const { return signalling_; }
  // Spans whose channels this trunk uses (a signalling trace of span N goes to the trunk owning it).
  const std::vector<int>& spans() const { return spans_; }

  // Opens the DAHDI channels and the stack. Throws EngineError naming the configuration field.
  virtual void open() = 0;
  // Checks a command synchronously (throws EngineError) and queues it for the trunk's thread.
  // Returns the immediate result ({"call": id} for place, {} otherwise).
  json submit(json cmd);
  // The trunk, its links, channels and calls as one JSON object.
  json snapshot();
  // Whether frames of `span` can be captured: sets the pcap link type (LINKTYPE_LINUX_LAPD or
  // LINKTYPE_MTP2_WITH_PHDR) and, for LAPD, whether we are the network side.
  virtual bool trace_params(int span, int& linktype, bool& network) const;

  void start();
  void stop();

  // Media. Whether this trunk holds the descriptor of DAHDI channel `channo` (MFC-R2 and
  // analog trunks do; PRI and SS7 bearers are opened by the media layer). Constant after open().
  virtual bool holds_bearer(int channo) const;
  // Queues the hand-over of that descriptor to the media layer (lend), which receives it
  // through Media::adopt on the trunk's thread, or its return (lend false). Any thread.
  void lend_bearer(int channo, bool lend);

 protected:
  // Trunk-thread hooks.
  virtual void on_poll_set(std::vector<pollfd>& fds) = 0;
  virtual void on_poll(const std::vector<pollfd>& fds) = 0;
  // Milliseconds until the stack's next timer, -1 when none is running.
  virtual int on_timeout() = 0;
  virtual void on_timers() = 0;
  virtual void on_command(const json& cmd) = 0;
  virtual void on_close() = 0;
  // Stop (lend) or resume (give back) using the audio of a bearer this trunk holds; returns its
  // descriptor, -1 when the trunk has no such channel.
  virtual int on_bearer(int channo, bool lend);
  // JavaScript-thread hooks.
  // Validates a command (throws EngineError) and returns its immediate result.
  virtual json on_check(json& cmd) = 0;
  // Called with mu_ held.
  virtual json on_snapshot() = 0;

  // Emits an event stamped with this trunk's name.
  void emit(json event);
  void log(const char* level, const std::string& message, json extra = json::object());
  // Counts a malformed frame or protocol error (reported in the snapshot) and logs it.
  void protocol_error(const std::string& what);

  Engine& engine_;
  json config_;
  std::string field_;  // configuration path of this trunk, e.g. trunks[2]
  std::string name_;
  std::string signalling_;
  std::vector<int> spans_;
  std::mutex mu_;
  uint64_t protocol_errors_ = 0;

 private:
  void loop();
  int wake_fd_ = -1;
  std::mutex queue_mu_;
  std::deque<json> queue_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

// Creates the Stack for a trunk's `signalling`; throws EngineError for an unknown one.
using StackFactory = std::function<std::unique_ptr<Stack>(Engine&, json, std::string)>;
std::unique_ptr<Stack> make_pri(Engine&, json, std::string);
std::unique_ptr<Stack> make_ss7(Engine&, json, std::string);
std::unique_ptr<Stack> make_r2(Engine&, json, std::string);
std::unique_ptr<Stack> make_analog(Engine&, json, std::string);

// Owns the trunks, routes commands to them and hands their events to JavaScript in batches.
class Engine {
 public:
  // `deliver` is called (on any thread) when the event queue goes from empty to non-empty.
  explicit Engine(std::function<void()> deliver);
  ~Engine();

  // Builds and opens every trunk of {"trunks": [...]}, then starts their threads.
  void start(const json& config);
  void stop();
  bool running() const { return running_; }

  json command(json cmd);
  json snapshot();

  // Thread-safe.
  void emit(json event);
  std::vector<json> take_events();
  uint64_t new_call_id() { return ++last_call_; }
  void bind_call(uint64_t call, Stack* stack);
  void unbind_call(uint64_t call);
  // The trunk carrying a call (nullptr when it has ended), and the trunk holding a bearer.
  Stack* stack_for_call(uint64_t call);
  Stack* bearer_holder(int channo);
  Media* media() { return media_.get(); }

  // Signalling traces per span (pcap in memory).
  void trace_start(int span, size_t max_bytes);
  void trace_stop(int span);
  std::string trace_read(int span);
  // Called by trunk threads for every frame; cheap when no trace runs on the span.
  // `sent` is true for a frame we transmitted. `frame` excludes the FCS.
  void capture(int span, bool sent, const uint8_t* frame, size_t len, int link = 0);

 private:
  Stack* trunk_for_span(int span);
  Stack* trunk_named(const std::string& name);

  std::function<void()> deliver_;
  std::vector<std::unique_ptr<Stack>> trunks_;
  std::unique_ptr<Media> media_;
  bool running_ = false;
  std::mutex events_mu_;
  std::vector<json> events_;
  std::atomic<uint64_t> last_call_{0};
  std::mutex calls_mu_;
  std::map<uint64_t, Stack*> calls_;
  std::mutex traces_mu_;
  std::map<int, std::unique_ptr<Trace>> traces_;
  std::atomic<int> active_traces_{0};
};

// Helpers for reading validated configuration and command fields with errors that name them.
// A value as an error message quotes it (JSON, cut at 60 characters).
std::string describe(const json& v);
int int_field(const json& obj, const char* key, const std::string& path, int min, int max, int fallback);
int int_field(const json& obj, const char* key, const std::string& path, int min, int max);
std::string string_field(const json& obj, const char* key, const std::string& path,
                         const std::string& fallback);
std::string string_field(const json& obj, const char* key, const std::string& path);
bool bool_field(const json& obj, const char* key, const std::string& path, bool fallback);
// "1-15,17-31" or [1,2,3] to a list of numbers within [min, max].
std::vector<int> list_field(const json& obj, const char* key, const std::string& path, int min,
                            int max);
uint64_t call_field(const json& cmd);
// A number in a command (`called`, `calling`, `digits`): a string of characters from `alphabet`,
// at most `max_len` long, not empty when `required`; "" when absent and not required.
std::string digits_field(const json& cmd, const char* key, bool required, size_t max_len,
                         const char* alphabet = "0123456789");

}  // namespace switchboard
