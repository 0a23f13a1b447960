// SPDX-License-Identifier: GPL-2.0-or-later
// The engine's trunk threads, command routing, event batching and configuration field readers.

#include "engine.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>

#include "calls.h"
#include "media.h"
#include "pcap.h"

namespace switchboard {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Q.850 cause of the calls a reconfiguration ends: the call did nothing wrong and may be tried
// again at once (41, temporary failure; NORMAL_TEMPORARY_FAILURE in Asterisk's names).
constexpr int kCauseReconfigured = 41;

bool is_analog(const std::string& signalling) { return signalling.rfind("fx", 0) == 0; }

// The spans a trunk's configuration names (`span`, or SS7's links[].span and cics[].span),
// read leniently: a malformed value is left to the stack's own field check.
std::set<int> spans_named(const json& trunk) {
  std::set<int> out;
  if (!trunk.is_object()) return out;
  if (trunk.contains("span") && trunk["span"].is_number_integer()) out.insert(trunk["span"].get<int>());
  for (const char* key : {"links", "cics"}) {
    if (!trunk.contains(key) || !trunk[key].is_array()) continue;
    for (const json& e : trunk[key])
      if (e.is_object() && e.contains("span") && e["span"].is_number_integer())
        out.insert(e["span"].get<int>());
  }
  return out;
}

}  // namespace

// ---- configuration and command fields --------------------------------------------------------

std::string describe(const json& v) {
  std::string s = v.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}


int int_field(const json& obj, const char* key, const std::string& path, int min, int max,
              int fallback) {
  if (!obj.contains(key) || obj[key].is_null()) return fallback;
  return int_field(obj, key, path, min, max);
}

int int_field(const json& obj, const char* key, const std::string& path, int min, int max) {
  const std::string field = path.empty() ? key : path + "." + key;
  if (!obj.is_object() || !obj.contains(key))
    throw EngineError("E_CONFIG_FIELD", field, "is required");
  const json& v = obj[key];
  if (!v.is_number_integer())
    throw EngineError("E_CONFIG_FIELD", field, "must be an integer, not " + describe(v));
  const int64_t n = v.get<int64_t>();
  if (n < min || n > max)
    throw EngineError("E_CONFIG_FIELD", field,
                      std::to_string(n) + " is out of range " + std::to_string(min) + ".." +
                          std::to_string(max));
  return static_cast<int>(n);
}

std::string string_field(const json& obj, const char* key, const std::string& path,
                         const std::string& fallback) {
  if (!obj.contains(key) || obj[key].is_null()) return fallback;
  return string_field(obj, key, path);
}

std::string string_field(const json& obj, const char* key, const std::string& path) {
  const std::string field = path.empty() ? key : path + "." + key;
  if (!obj.is_object() || !obj.contains(key))
    throw EngineError("E_CONFIG_FIELD", field, "is required");
  if (!obj[key].is_string())
    throw EngineError("E_CONFIG_FIELD", field, "must be a string, not " + describe(obj[key]));
  return obj[key].get<std::string>();
}

bool bool_field(const json& obj, const char* key, const std::string& path, bool fallback) {
  if (!obj.contains(key) || obj[key].is_null()) return fallback;
  if (!obj[key].is_boolean())
    throw EngineError("E_CONFIG_FIELD", path + "." + key,
                      "must be true or false, not " + describe(obj[key]));
  return obj[key].get<bool>();
}

std::vector<int> list_field(const json& obj, const char* key, const std::string& path, int min,
                            int max) {
  const std::string field = path + "." + key;
  if (!obj.contains(key)) throw EngineError("E_CONFIG_FIELD", field, "is required");
  const json& v = obj[key];
  std::vector<int> out;
  auto add = [&](int64_t n) {
    if (n < min || n > max)
      throw EngineError("E_CONFIG_FIELD", field,
                        std::to_string(n) + " is out of range " + std::to_string(min) + ".." +
                            std::to_string(max));
    out.push_back(static_cast<int>(n));
  };
  if (v.is_array()) {
    for (const json& e : v) {
      if (!e.is_number_integer())
        throw EngineError("E_CONFIG_FIELD", field, "must hold integers, not " + describe(e));
      add(e.get<int64_t>());
    }
  } else if (v.is_string()) {
    // "1-15,17-31"
    const std::string s = v.get<std::string>();
    size_t i = 0;
    while (i < s.size()) {
      size_t comma = s.find(',', i);
      if (comma == std::string::npos) comma = s.size();
      const std::string part = s.substr(i, comma - i);
      const size_t dash = part.find('-');
      char* end = nullptr;
      const long a = std::strtol(part.c_str(), &end, 10);
      long b = a;
      bool ok = !part.empty() && end != part.c_str();
      if (ok && dash != std::string::npos) {
        const char* rest = part.c_str() + dash + 1;
        b = std::strtol(rest, &end, 10);
        ok = end != rest && *end == '\0' && end == part.c_str() + part.size();
      } else if (ok) {
        ok = *end == '\0';
      }
      if (!ok || b < a)
        throw EngineError("E_CONFIG_FIELD", field, "\"" + part + "\" is not a number or range");
      for (long n = a; n <= b; ++n) add(n);
      i = comma + 1;
    }
  } else {
    throw EngineError("E_CONFIG_FIELD", field,
                      "must be a list like \"1-15,17-31\", not " + describe(v));
  }
  std::set<int> seen;
  for (int n : out)
    if (!seen.insert(n).second)
      throw EngineError("E_CONFIG_FIELD", field, std::to_string(n) + " is listed twice");
  return out;
}

uint64_t call_field(const json& cmd) {
  if (!cmd.contains("call") || !cmd["call"].is_number_unsigned())
    throw EngineError("E_COMMAND_FIELD", "call", "must be a call id");
  return cmd["call"].get<uint64_t>();
}

std::string digits_field(const json& cmd, const char* key, bool required, size_t max_len,
                         const char* alphabet) {
  if (!cmd.contains(key) || cmd[key].is_null()) {
    if (required) throw EngineError("E_COMMAND_FIELD", key, "is required");
    return {};
  }
  if (!cmd[key].is_string())
    throw EngineError("E_COMMAND_FIELD", key, "must be a string of digits");
  const std::string s = cmd[key].get<std::string>();
  if (s.find_first_not_of(alphabet) != std::string::npos)
    throw EngineError("E_COMMAND_FIELD", key,
                      "\"" + s + "\" is not a number (characters " + alphabet + ")");
  if (required && s.empty()) throw EngineError("E_COMMAND_FIELD", key, "must not be empty");
  if (s.size() > max_len)
    throw EngineError("E_COMMAND_FIELD", key,
                      "has " + std::to_string(s.size()) + " digits; at most " +
                          std::to_string(max_len) + " go on this trunk");
  return s;
}

// ---- Stack ------------------------------------------------------------------------------------

Stack::Stack(Engine& engine, json config, std::string field)
    : engine_(engine), given_(config), config_(std::move(config)), field_(std::move(field)) {
  name_ = string_field(config_, "name", field_);
  if (name_.empty()) throw EngineError("E_CONFIG_FIELD", field_ + ".name", "must not be empty");
  signalling_ = string_field(config_, "signalling", field_);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw EngineError("E_ENGINE", "", std::string("eventfd: ") + strerror(errno));
}

Stack::~Stack() {
  stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

bool Stack::trace_params(int, int&, bool&) const { return false; }

bool Stack::holds_bearer(int) const { return false; }

void Stack::on_retire(int) {}

int Stack::on_bearer(int, bool) { return -1; }

void Stack::lend_bearer(int channo, bool lend) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    queue_.push_back({{"op", "_bearer"}, {"dahdiChannel", channo}, {"lend", lend}});
  }
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof one) < 0) {
    // The trunk's loop polls at least every 100 ms and sees the queue then.
  }
}

json Stack::submit(json cmd) {
  json result = on_check(cmd);
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    queue_.push_back(std::move(cmd));
  }
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof one) < 0 && errno != EAGAIN)
    throw EngineError("E_ENGINE", "", std::string("eventfd write: ") + strerror(errno));
  return result;
}

json Stack::snapshot() {
  std::lock_guard<std::mutex> lock(mu_);
  json s = on_snapshot();
  s["name"] = name_;
  s["signalling"] = signalling_;
  s["spans"] = spans_;
  s["protocolErrors"] = protocol_errors_;
  return s;
}

void Stack::emit(json event) {
  event["trunk"] = name_;
  engine_.emit(std::move(event));
}

void Stack::log(const char* level, const std::string& message, json extra) {
  extra["event"] = "log";
  extra["level"] = level;
  extra["message"] = message;
  emit(std::move(extra));
}

void Stack::protocol_error(const std::string& what) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++protocol_errors_;
  }
  log("warn", what, {{"kind", "protocol_error"}});
}

void Stack::start() {
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void Stack::retire(int cause) {
  retire_cause_ = cause;
  stop();
}

void Stack::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof one) < 0) {
    // The eventfd cannot overflow with one pending wake-up; the loop also polls stopping_.
  }
  thread_.join();
}

void Stack::loop() {
  std::vector<pollfd> fds;
  std::deque<json> commands;
  while (!stopping_) {
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    on_poll_set(fds);
    int timeout = on_timeout();
    // Poll at least every 100 ms so stopping_ is seen even if a wake-up was lost.
    if (timeout < 0 || timeout > 100) timeout = 100;
    const int n = poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno != EINTR) {
      log("error", std::string("poll: ") + strerror(errno));
      usleep(10000);
      continue;
    }
    if (n > 0 && (fds[0].revents & POLLIN)) {
      uint64_t v;
      if (read(wake_fd_, &v, sizeof v) < 0) {
        // EAGAIN: another wake-up consumed it; nothing to do.
      }
    }
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      commands.swap(queue_);
    }
    for (const json& cmd : commands) {
      try {
        if (cmd["op"] == "_bearer") {
          const int channo = cmd["dahdiChannel"].get<int>();
          const bool lend = cmd["lend"].get<bool>();
          const int fd = on_bearer(channo, lend);
          if (lend && engine_.media()) engine_.media()->adopt(channo, fd, this);
          continue;
        }
        on_command(cmd);
      } catch (const EngineError& e) {
        json ev = {{"event", "error"}, {"code", e.code}, {"message", e.what()}};
        if (cmd.contains("call")) ev["call"] = cmd["call"];
        if (cmd.contains("op")) ev["op"] = cmd["op"];
        emit(std::move(ev));
      }
    }
    commands.clear();
    if (n > 0) on_poll(fds);
    on_timers();
  }
  if (const int cause = retire_cause_.load()) on_retire(cause);
  on_close();
}

// ---- Engine -----------------------------------------------------------------------------------

Engine::Engine(std::function<void()> deliver) : deliver_(std::move(deliver)) {}

Engine::~Engine() { stop(); }

std::unique_ptr<Stack> Engine::make_stack(const json& trunk, const std::string& field) {
  const std::string sig = string_field(trunk, "signalling", field);
  if (sig == "pri_net" || sig == "pri_cpe") return make_pri(*this, trunk, field);
  if (sig == "ss7") return make_ss7(*this, trunk, field);
  if (sig == "mfcr2") return make_r2(*this, trunk, field);
  if (sig == "fxs_ls" || sig == "fxs_ks" || sig == "fxo_ls" || sig == "fxo_ks")
    return make_analog(*this, trunk, field);
  throw EngineError("E_CONFIG_FIELD", field + ".signalling",
                    "\"" + sig +
                        "\" is not one of pri_net, pri_cpe, ss7, mfcr2, fxs_ls, fxs_ks, "
                        "fxo_ls, fxo_ks");
}

void Engine::start(const json& config) {
  if (running_) throw EngineError("E_ENGINE_RUNNING", "", "the engine is already running");
  if (!config.is_object() || !config.contains("trunks") || !config["trunks"].is_array())
    throw EngineError("E_CONFIG_FIELD", "trunks", "must be a list of trunks");
  std::vector<std::unique_ptr<Stack>> trunks;
  std::set<std::string> names;
  std::map<int, std::string> span_owner;
  const json& list = config["trunks"];
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string field = "trunks[" + std::to_string(i) + "]";
    std::unique_ptr<Stack> stack = make_stack(list[i], field);
    if (!names.insert(stack->name()).second)
      throw EngineError("E_CONFIG_FIELD", field + ".name",
                        "\"" + stack->name() + "\" names two trunks");
    trunks.push_back(std::move(stack));
  }
  // Open in order; a failure closes what was opened (the unique_ptrs) and reports the field.
  for (auto& t : trunks) t->open();
  for (auto& t : trunks) {
    for (int span : t->spans()) {
      auto [it, fresh] = span_owner.emplace(span, t->name());
      // Analog trunks may share an analog card's span; digital trunks own theirs.
      if (!fresh && !is_analog(t->signalling()))
        throw EngineError("E_CONFIG_FIELD", "trunks",
                          "span " + std::to_string(span) + " is used by both " + it->second +
                              " and " + t->name());
    }
  }
  auto media = std::make_unique<Media>(*this);
  media->configure(config);
  {
    std::unique_lock<std::shared_mutex> lock(trunks_mu_);
    trunks_ = std::move(trunks);
  }
  media_ = std::move(media);
  running_ = true;
  for (auto& t : trunks_) t->start();
  media_->start();
}

void Engine::stop() {
  // Media first: it lets go of the bearers the trunks lent it before the trunks close them.
  if (media_) media_->stop();
  std::vector<std::unique_ptr<Stack>> trunks;
  {
    std::unique_lock<std::shared_mutex> lock(trunks_mu_);
    trunks.swap(trunks_);
  }
  // Events the trunks emit on the way out still pass the (stopped) media layer.
  for (auto& t : trunks) t->stop();
  {
    // The threads have ended: no call is bound any more after this.
    std::lock_guard<std::mutex> lock(calls_mu_);
    calls_.clear();
  }
  {
    // A reader that reached a trunk before (through a call) holds the lock shared until done.
    std::unique_lock<std::shared_mutex> barrier(trunks_mu_);
  }
  trunks.clear();
  media_.reset();
  running_ = false;
}

json Engine::reconfigure(const json& config) {
  if (!running_) throw EngineError("E_ENGINE_STOPPED", "", "the engine is not running");
  if (!config.is_object() || !config.contains("trunks") || !config["trunks"].is_array())
    throw EngineError("E_CONFIG_FIELD", "trunks", "must be a list of trunks");
  media_->check(config);
  const json& list = config["trunks"];

  // 1. The new list, built before anything stops: a trunk whose JSON is unchanged is kept by
  // pointer, every other one is constructed (which checks what the stack reads when built).
  struct Next {
    Stack* kept = nullptr;
    std::unique_ptr<Stack> fresh;
  };
  std::vector<Next> next;
  {
    std::shared_lock<std::shared_mutex> lock(trunks_mu_);
    std::set<std::string> names;
    std::map<int, std::pair<std::string, bool>> span_owner;  // span -> trunk, analog
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string field = "trunks[" + std::to_string(i) + "]";
      const std::string name = string_field(list[i], "name", field);
      if (name.empty()) throw EngineError("E_CONFIG_FIELD", field + ".name", "must not be empty");
      if (!names.insert(name).second)
        throw EngineError("E_CONFIG_FIELD", field + ".name", "\"" + name + "\" names two trunks");
      Next n;
      Stack* old = trunk_named(name);
      if (old && old->config() == list[i]) {
        n.kept = old;
      } else {
        n.fresh = make_stack(list[i], field);
      }
      const Stack& t = n.kept ? *n.kept : *n.fresh;
      const bool analog = is_analog(t.signalling());
      std::set<int> spans = spans_named(list[i]);
      spans.insert(t.spans().begin(), t.spans().end());
      for (int span : spans) {
        auto [it, free] = span_owner.emplace(span, std::make_pair(name, analog));
        // Analog trunks may share an analog card's span; digital trunks own theirs.
        if (!free && !(analog && it->second.second))
          throw EngineError("E_CONFIG_FIELD", list[i].contains("span") ? field + ".span" : field,
                            "span " + std::to_string(span) + " is used by both " +
                                it->second.first + " and " + name);
      }
      next.push_back(std::move(n));
    }
  }

  // 2. Retire the trunks that are removed or changed: the media layer lets go of their legs
  // first (as in stop()), then each thread ends its calls and closes; calls a stack did not
  // end itself are released here. They leave the list under the exclusive lock, and are
  // destroyed (every descriptor closed) before the new trunks open the same channels.
  std::set<const Stack*> keep;
  for (const Next& n : next)
    if (n.kept) keep.insert(n.kept);
  struct Retired {
    std::string name;
    std::string field;
    json config;
  };
  std::vector<Retired> retired;
  {
    std::vector<std::unique_ptr<Stack>> leaving;
    {
      std::unique_lock<std::shared_mutex> lock(trunks_mu_);
      std::vector<std::unique_ptr<Stack>> staying;
      for (auto& t : trunks_) (keep.count(t.get()) ? staying : leaving).push_back(std::move(t));
      trunks_ = std::move(staying);
    }
    for (auto& t : leaving) media_->let_go(*t);
    for (auto& t : leaving) {
      t->retire(kCauseReconfigured);
      release_calls_of(t.get(), kCauseReconfigured);
      retired.push_back({t->name(), t->field(), t->config()});
    }
    // Out of the list and with their calls unbound, no reader can reach them any more; one that
    // did before (through a call) still holds the lock shared, and is waited for here.
    std::unique_lock<std::shared_mutex> barrier(trunks_mu_);
  }

  // 3. Open the new and changed trunks. A failure closes every one of them (their unique_ptrs)
  // and brings back the retired trunks where their old configuration still opens.
  try {
    for (Next& n : next)
      if (n.fresh) n.fresh->open();
  } catch (const EngineError& e) {
    next.clear();
    for (const Retired& r : retired) {
      try {
        std::unique_ptr<Stack> again = make_stack(r.config, r.field);
        again->open();
        again->start();
        std::unique_lock<std::shared_mutex> lock(trunks_mu_);
        trunks_.push_back(std::move(again));
      } catch (const EngineError& again_error) {
        emit({{"event", "log"},
              {"trunk", r.name},
              {"level", "error"},
              {"message", "trunk " + r.name + " stays stopped: its old configuration no longer opens (" +
                              again_error.what() + ")"}});
      }
    }
    throw;
  }

  // 4. The new list in configuration order; the fresh trunks start.
  json result = {{"kept", json::array()}, {"stopped", json::array()}, {"started", json::array()}};
  for (const Retired& r : retired) result["stopped"].push_back(r.name);
  std::vector<Stack*> starting;
  {
    std::unique_lock<std::shared_mutex> lock(trunks_mu_);
    std::vector<std::unique_ptr<Stack>> ordered;
    for (Next& n : next) {
      if (n.kept) {
        for (auto& t : trunks_)
          if (t.get() == n.kept) ordered.push_back(std::move(t));
        result["kept"].push_back(n.kept->name());
      } else {
        starting.push_back(n.fresh.get());
        result["started"].push_back(n.fresh->name());
        ordered.push_back(std::move(n.fresh));
      }
    }
    trunks_ = std::move(ordered);
  }
  for (Stack* t : starting) t->start();
  media_->configure(config);
  return result;
}

void Engine::release_calls_of(Stack* stack, int cause) {
  std::vector<uint64_t> ids;
  {
    std::lock_guard<std::mutex> lock(calls_mu_);
    for (auto it = calls_.begin(); it != calls_.end();) {
      if (it->second == stack) {
        ids.push_back(it->first);
        it = calls_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (uint64_t id : ids)
    emit({{"event", "released"},
          {"call", id},
          {"trunk", stack->name()},
          {"cause", cause},
          {"causeName", cause_name(cause)},
          {"by", "stack"}});
}

Stack* Engine::trunk_named(const std::string& name) {
  for (auto& t : trunks_)
    if (t->name() == name) return t.get();
  return nullptr;
}

Stack* Engine::trunk_for_span(int span) {
  for (auto& t : trunks_)
    for (int s : t->spans())
      if (s == span) return t.get();
  return nullptr;
}

json Engine::command(json cmd) {
  if (!running_) throw EngineError("E_ENGINE_STOPPED", "", "the engine is not running");
  if (!cmd.is_object()) throw EngineError("E_COMMAND_FIELD", "", "a command is an object");
  if (!cmd.contains("op") || !cmd["op"].is_string())
    throw EngineError("E_COMMAND_FIELD", "op", "is required");
  // Held for the whole command: the trunk it reaches (or the media layer's checks reach) stays.
  std::shared_lock<std::shared_mutex> trunks_lock(trunks_mu_);
  if (Media::is_media_op(cmd["op"].get<std::string>())) return media_->submit(std::move(cmd));
  Stack* stack = nullptr;
  if (cmd.contains("call")) {
    const uint64_t id = call_field(cmd);
    std::lock_guard<std::mutex> lock(calls_mu_);
    auto it = calls_.find(id);
    if (it == calls_.end())
      throw EngineError("E_CALL_UNKNOWN", "call", "no call " + std::to_string(id));
    stack = it->second;
  } else if (cmd.contains("trunk")) {
    if (!cmd["trunk"].is_string()) throw EngineError("E_COMMAND_FIELD", "trunk", "must be a name");
    stack = trunk_named(cmd["trunk"].get<std::string>());
    if (!stack)
      throw EngineError("E_TRUNK_UNKNOWN", "trunk",
                        "no trunk named \"" + cmd["trunk"].get<std::string>() + "\"");
  } else {
    throw EngineError("E_COMMAND_FIELD", "trunk", "a command names a call or a trunk");
  }
  return stack->submit(std::move(cmd));
}

json Engine::snapshot() {
  json out = {{"trunks", json::array()}, {"traces", json::array()}};
  {
    std::shared_lock<std::shared_mutex> lock(trunks_mu_);
    for (auto& t : trunks_) out["trunks"].push_back(t->snapshot());
  }
  if (media_) out["media"] = media_->snapshot();
  std::lock_guard<std::mutex> lock(traces_mu_);
  for (auto& [span, tr] : traces_)
    out["traces"].push_back({{"span", span},
                             {"running", tr->running()},
                             {"frames", tr->frames()},
                             {"dropped", tr->dropped()},
                             {"bytes", tr->bytes().size()}});
  return out;
}

void Engine::emit(json event) {
  event["time"] = wall_ms();
  // The media layer follows calls: it learns their bearers and ends their media on release.
  if (media_ && event.contains("call")) {
    static const std::set<std::string> call_events = {"offered",  "dialing",  "proceeding",
                                                      "alerting", "progress", "answered",
                                                      "released"};
    const auto it = event.find("event");
    if (it != event.end() && it->is_string() && call_events.count(it->get<std::string>()))
      media_->on_call_event(event);
  }
  bool first;
  {
    std::lock_guard<std::mutex> lock(events_mu_);
    first = events_.empty();
    events_.push_back(std::move(event));
  }
  if (first && deliver_) deliver_();
}

std::vector<json> Engine::take_events() {
  std::vector<json> out;
  std::lock_guard<std::mutex> lock(events_mu_);
  out.swap(events_);
  return out;
}

void Engine::bind_call(uint64_t call, Stack* stack) {
  std::lock_guard<std::mutex> lock(calls_mu_);
  calls_[call] = stack;
}

void Engine::unbind_call(uint64_t call) {
  std::lock_guard<std::mutex> lock(calls_mu_);
  calls_.erase(call);
}

Stack* Engine::stack_for_call(uint64_t call) {
  std::lock_guard<std::mutex> lock(calls_mu_);
  auto it = calls_.find(call);
  return it == calls_.end() ? nullptr : it->second;
}

std::string Engine::bearer_holder(int channo) {
  for (auto& t : trunks_)
    if (t->holds_bearer(channo)) return t->name();
  return {};
}

void Engine::trace_start(int span, size_t max_bytes) {
  std::shared_lock<std::shared_mutex> trunks_lock(trunks_mu_);
  Stack* stack = trunk_for_span(span);
  if (!stack)
    throw EngineError("E_TRACE", "span", "span " + std::to_string(span) + " carries no trunk");
  int linktype = 0;
  bool network = false;
  if (!stack->trace_params(span, linktype, network))
    throw EngineError("E_TRACE", "span",
                      "span " + std::to_string(span) + " carries " + stack->signalling() +
                          ", which has no D-channel or MTP2 frames to capture");
  std::lock_guard<std::mutex> lock(traces_mu_);
  auto& slot = traces_[span];
  if (slot && slot->running()) return;  // already capturing: keep what it has
  if (!slot) active_traces_++;
  slot = std::make_unique<Trace>(linktype, network, max_bytes);
}

void Engine::trace_stop(int span) {
  std::lock_guard<std::mutex> lock(traces_mu_);
  auto it = traces_.find(span);
  if (it == traces_.end())
    throw EngineError("E_TRACE", "span", "no trace was started on span " + std::to_string(span));
  it->second->stop();
}

std::string Engine::trace_read(int span) {
  std::lock_guard<std::mutex> lock(traces_mu_);
  auto it = traces_.find(span);
  if (it == traces_.end())
    throw EngineError("E_TRACE", "span", "no trace was started on span " + std::to_string(span));
  return it->second->bytes();
}

void Engine::capture(int span, bool sent, const uint8_t* frame, size_t len, int link) {
  if (active_traces_.load(std::memory_order_relaxed) == 0) return;
  std::lock_guard<std::mutex> lock(traces_mu_);
  auto it = traces_.find(span);
  if (it != traces_.end()) it->second->add(sent, frame, len, link);
}

}  // namespace switchboard
