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
#include <shared_mutex>
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
  // The trunk's configuration exactly as given (reconfigure keeps a trunk whose JSON is equal).
  // A copy of its own, which the stack never touches: JavaScript thread.
  const json& config() const { return given_; }
  // Its configuration path when it was built (trunks[2]).
  const std::string& field() const { return field_; }
  // Spans whose channels this trunk uses (a signalling trace of span N goes to the trunk owning it).
  const std::vector<int>& spans() const { return spans_; }
  // Every DAHDI channel the trunk signals or carries calls on (D-channel, links, bearers, ports).
  // Filled by open(), constant afterwards.
  const std::vector<int>& dahdi_channels() const { return dahdi_channels_; }

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
  // Stops the trunk for good while its calls may be up (a reconfiguration replaces or removes
  // it): on the trunk's thread, on_retire(cause) ends every call with a `released` event (by
  // "stack") before on_close. Returns when the thread has ended.
  void retire(int cause);

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
  // The trunk is being retired (see retire()): end every call with `released` (by "stack",
  // `cause`), telling the far end where the protocol has a message for it. Default: nothing;
  // the engine then reports the calls that are still bound, with fewer details.
  virtual void on_retire(int cause);
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
  const json given_;
  json config_;
  std::string field_;  // configuration path of this trunk, e.g. trunks[2]
  std::string name_;
  std::string signalling_;
  std::vector<int> spans_;
  std::vector<int> dahdi_channels_;
  std::mutex mu_;
  uint64_t protocol_errors_ = 0;

 private:
  void loop();
  int wake_fd_ = -1;
  std::mutex queue_mu_;
  std::deque<json> queue_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> retire_cause_{0};
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
  // Applies a changed configuration (the whole {"trunks": [...], "media": {...}}, as start()
  // takes) to the running engine. Trunks are matched by name: one whose JSON is equal keeps
  // running untouched (thread, calls, media legs). Removed and changed trunks are retired: the
  // media layer lets go of their legs, their calls end with `released` (by "stack", Cause
  // NORMAL_TEMPORARY_FAILURE (41)) and are forgotten. New and changed trunks are then opened and
  // started. What can be checked without the line (names, signalling, fields the stacks read
  // when built, span ownership, media.zone) is checked before anything stops; an error names
  // the field (trunks[2].span) and changes nothing. When opening fails, none of the new trunks
  // runs, the retired ones are opened again from their old configuration where the line still
  // allows it, and the error names the field. Media zone changes apply to new legs.
  // Returns {"kept": [names], "stopped": [names], "started": [names]}.
  json reconfigure(const json& config);

  json command(json cmd);
  json snapshot();

  // Thread-safe.
  void emit(json event);
  std::vector<json> take_events();
  uint64_t new_call_id() { return ++last_call_; }
  void bind_call(uint64_t call, Stack* stack);
  void unbind_call(uint64_t call);
  // The trunk carrying a call (nullptr when it has ended), and the name of the trunk holding a
  // bearer ("" when none). For the media layer's command checks: the caller holds trunks_mu_
  // shared (Engine::command does, for the whole command), so the trunk cannot be retired while
  // the pointer is in use.
  Stack* stack_for_call(uint64_t call);
  std::string bearer_holder(int channo);
  Media* media() { return media_.get(); }

  // Signalling traces per span (pcap in memory).
  void trace_start(int span, size_t max_bytes);
  void trace_stop(int span);
  std::string trace_read(int span);
  // Called by trunk threads for every frame; cheap when no trace runs on the span.
  // `sent` is true for a frame we transmitted. `frame` excludes the FCS.
  void capture(int span, bool sent, const uint8_t* frame, size_t len, int link = 0);

 private:
  // Called with trunks_mu_ held.
  Stack* trunk_for_span(int span);
  Stack* trunk_named(const std::string& name);
  std::unique_ptr<Stack> make_stack(const json& trunk, const std::string& field);
  // Ends the calls still bound to a retired trunk (its thread has ended) with `released`.
  void release_calls_of(Stack* stack, int cause);

  std::function<void()> deliver_;
  // trunks_ is read by command routing, snapshot() and trace_start() (the JavaScript thread)
  // and, through stack_for_call/bearer_holder, by the media layer's command checks inside
  // command(). Readers hold trunks_mu_ shared for as long as they use a Stack*; reconfigure()
  // and stop() change the list, and destroy retired trunks, only under the exclusive lock.
  // Trunk threads and the media thread never read trunks_: they reach a Stack only through
  // `this` or a leg's lender, which Media::let_go clears before a trunk is retired.
  mutable std::shared_mutex trunks_mu_;
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
