// SPDX-License-Identifier: GPL-2.0-or-later
// switchboard-simd: the userspace DAHDI daemon (sockets, the 1 ms tick thread, the control protocol).
#include <dahdi/user.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "engine.h"
#include "fdpass.h"
#include "protocol.h"

using nlohmann::json;
namespace sim = switchboard::sim;
using simproto::Reply;
using simproto::Request;

namespace {

std::atomic<bool> g_stop{false};
int g_memfd = -1;
std::unique_ptr<sim::Engine> g_engine;
std::vector<int> g_wakerFd(simproto::kMaxWakers, -1);  // guarded by engine mu

void onSignal(int) { g_stop.store(true); }

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "switchboard-simd: %s\n", msg.c_str());
  std::exit(2);
}

// ---- configuration ----

struct Config {
  std::vector<sim::Span> spans;
  std::vector<std::pair<int, int>> cables;
  std::vector<std::pair<int, int>> lines;  // analog: span*1000+port on each end
};

int parsePortRef(const json& v, const Config& cfg, const std::string& where) {
  if (!v.is_string()) die(where + ": must be \"SPAN:PORT\" naming an analog port, e.g. \"6:1\"");
  std::string s = v.get<std::string>();
  auto colon = s.find(':');
  if (colon == std::string::npos) die(where + ": '" + s + "' must be \"SPAN:PORT\"");
  int span = std::atoi(s.substr(0, colon).c_str());
  int port = std::atoi(s.substr(colon + 1).c_str());
  if (span < 1 || span > static_cast<int>(cfg.spans.size()) || cfg.spans[static_cast<size_t>(span - 1)].type != sim::SpanType::Analog)
    die(where + ": span " + std::to_string(span) + " is not an analog card");
  if (port < 1 || port > cfg.spans[static_cast<size_t>(span - 1)].nchans)
    die(where + ": port " + std::to_string(port) + " does not exist on span " + std::to_string(span));
  return span * 1000 + port;
}

Config loadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) die("cannot read config " + path + ": " + std::strerror(errno));
  json j;
  try {
    j = json::parse(in);
  } catch (const std::exception& e) {
    die("config " + path + " is not valid JSON: " + e.what());
  }
  Config cfg;
  if (!j.contains("spans") || !j["spans"].is_array() || j["spans"].empty()) die("config: spans must be a non-empty array");
  if (j["spans"].size() > DAHDI_MAX_SPANS - 1) die("config: at most " + std::to_string(DAHDI_MAX_SPANS - 1) + " spans");
  int no = 1;
  size_t totalChans = 0;
  for (auto& sj : j["spans"]) {
    std::string where = "spans[" + std::to_string(no - 1) + "]";
    sim::Span s;
    s.no = no;
    std::string type = sj.value("type", "");
    if (type == "E1") {
      s.type = sim::SpanType::E1;
      s.nchans = 31;
    } else if (type == "T1") {
      s.type = sim::SpanType::T1;
      s.nchans = 24;
    } else if (type == "analog") {
      s.type = sim::SpanType::Analog;
      if (!sj.contains("ports") || !sj["ports"].is_array() || sj["ports"].empty() || sj["ports"].size() > 32)
        die(where + ".ports: an analog card needs 1-32 ports, each \"fxs\" or \"fxo\"");
      for (auto& p : sj["ports"]) {
        std::string pt = p.is_string() ? p.get<std::string>() : "";
        if (pt == "fxs") s.ports.push_back(sim::PortType::FXS);
        else if (pt == "fxo") s.ports.push_back(sim::PortType::FXO);
        else die(where + ".ports: '" + p.dump() + "' must be \"fxs\" or \"fxo\"");
      }
      s.nchans = static_cast<int>(s.ports.size());
    } else {
      die(where + ".type: must be \"E1\", \"T1\" or \"analog\", got '" + sj.value("type", json()).dump() + "'");
    }
    std::string tname = type == "analog" ? "FXS/FXO" : type;
    s.name = sj.value("name", "SIM/" + std::string(type == "analog" ? "ANALOG" : type) + "/" + std::to_string(no));
    if (s.name.size() >= 20) die(where + ".name: at most 19 characters (DAHDI's span name field)");
    s.desc = "Switchboard simulated " + tname + " card, span " + std::to_string(no);
    totalChans += static_cast<size_t>(s.nchans);
    cfg.spans.push_back(std::move(s));
    no++;
  }
  if (totalChans >= simproto::kMaxSlots / 2) die("config: too many channels (" + std::to_string(totalChans) + ")");
  if (j.contains("cables")) {
    if (!j["cables"].is_array()) die("config: cables must be an array of [SPAN_A, SPAN_B] pairs");
    size_t i = 0;
    for (auto& c : j["cables"]) {
      std::string where = "cables[" + std::to_string(i++) + "]";
      if (!c.is_array() || c.size() != 2 || !c[0].is_number_integer() || !c[1].is_number_integer())
        die(where + ": must be [SPAN_A, SPAN_B]");
      cfg.cables.emplace_back(c[0].get<int>(), c[1].get<int>());
    }
  }
  if (j.contains("lines")) {
    if (!j["lines"].is_array()) die("config: lines must be an array of [\"SPAN:PORT\", \"SPAN:PORT\"] pairs");
    size_t i = 0;
    for (auto& l : j["lines"]) {
      std::string where = "lines[" + std::to_string(i++) + "]";
      if (!l.is_array() || l.size() != 2) die(where + ": must be [\"SPAN:PORT\", \"SPAN:PORT\"]");
      cfg.lines.emplace_back(parsePortRef(l[0], cfg, where + "[0]"), parsePortRef(l[1], cfg, where + "[1]"));
    }
  }
  return cfg;
}

// ---- sockets ----

int listenOn(const std::string& path, int type) {
  int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket: " + std::string(std::strerror(errno)));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) die("socket path too long: " + path);
  std::strcpy(sa.sun_path, path.c_str());
  unlink(path.c_str());
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) die("bind " + path + ": " + std::strerror(errno));
  chmod(path.c_str(), 0660);
  if (listen(fd, 128) < 0) die("listen " + path + ": " + std::strerror(errno));
  return fd;
}

struct Conn {
  int fd = -1;
  bool control = false;
  bool session = false;
  std::string inbuf;  // control: partial line
  sim::OpenFile file;
  std::vector<int> wakers;
};

uint64_t g_nextId = 1;
std::map<int, std::unique_ptr<Conn>> g_conns;
int g_epfd = -1;

void sendReply(int fd, const Reply& r, const void* payload, size_t len, int passFd = -1) {
  std::vector<uint8_t> buf(sizeof r + len);
  Reply rr = r;
  rr.len = static_cast<uint32_t>(len);
  std::memcpy(buf.data(), &rr, sizeof rr);
  if (len) std::memcpy(buf.data() + sizeof rr, payload, len);
  simproto::sendWithFd(fd, buf.data(), buf.size(), passFd);
}

void signalWakers(const std::vector<int>& ws) {
  uint64_t one = 1;
  for (int w : ws) {
    int fd = g_wakerFd[static_cast<size_t>(w)];
    if (fd >= 0) {
      ssize_t r = write(fd, &one, sizeof one);
      (void)r;
    }
  }
}

void closeConn(Conn& c) {
  {
    std::lock_guard<std::mutex> lk(g_engine->mu);
    g_engine->close(c.file);
    for (int w : c.wakers) {
      if (g_wakerFd[static_cast<size_t>(w)] >= 0) close(g_wakerFd[static_cast<size_t>(w)]);
      g_wakerFd[static_cast<size_t>(w)] = -1;
    }
    signalWakers(g_engine->takeWakers());
  }
  epoll_ctl(g_epfd, EPOLL_CTL_DEL, c.fd, nullptr);
  close(c.fd);
}

json spanJson(const sim::Span& s) {
  json j;
  j["span"] = s.no;
  j["name"] = s.name;
  j["type"] = s.type == sim::SpanType::E1 ? "E1" : s.type == sim::SpanType::T1 ? "T1" : "analog";
  j["channels"] = s.nchans;
  j["basechan"] = s.basechan;
  j["configured"] = s.configured;
  j["running"] = s.running;
  int lc = s.lineconfig;
  j["framing"] = (lc & DAHDI_CONFIG_CCS) ? "ccs" : (lc & DAHDI_CONFIG_ESF) ? "esf" : (lc & DAHDI_CONFIG_D4) ? "d4" : "cas";
  j["coding"] = (lc & DAHDI_CONFIG_HDB3) ? "hdb3" : (lc & DAHDI_CONFIG_B8ZS) ? "b8zs" : "ami";
  j["crc4"] = (lc & DAHDI_CONFIG_CRC4) != 0;
  json alarms = json::array();
  if (s.type != sim::SpanType::Analog) {
    if (s.alarms & DAHDI_ALARM_RED) alarms.push_back("RED");
    if (s.alarms & DAHDI_ALARM_YELLOW) alarms.push_back("YELLOW");
    if (s.alarms & DAHDI_ALARM_BLUE) alarms.push_back("BLUE");
    if (s.alarms & DAHDI_ALARM_LOS) alarms.push_back("LOS");
    if (s.alarms & DAHDI_ALARM_BLUE) alarms.push_back("AIS");
    if (s.alarms & DAHDI_ALARM_YELLOW) alarms.push_back("RAI");
    if (s.alarms & DAHDI_ALARM_NOTOPEN) alarms.push_back("NOTOPEN");
  }
  j["alarms"] = alarms;
  j["cable"] = s.cable ? json(s.cable) : json(nullptr);
  j["faults"] = {{"los", s.faults.los}, {"ais", s.faults.ais}, {"rai", s.faults.rai},
                 {"errorRate", s.faults.errorRate}, {"slipPpm", s.faults.slipPpm}};
  j["counters"] = {{"bpv", s.counters.bpv}, {"crc4", s.counters.crc4}, {"ebit", s.counters.ebit},
                   {"fas", s.counters.fas}, {"fe", s.counters.fe},     {"cv", s.counters.cv},
                   {"be", s.counters.be},   {"errsec", s.counters.errsec}, {"slips", s.counters.slips}};
  j["openChannels"] = g_engine->openChannels(s);
  if (s.type == sim::SpanType::Analog) {
    json ports = json::array();
    for (auto p : s.ports) ports.push_back(p == sim::PortType::FXS ? "fxs" : "fxo");
    j["ports"] = ports;
  }
  return j;
}

uint64_t percentile(const sim::TickStats& st, double q) {
  uint64_t total = 0;
  for (auto v : st.lateHist) total += v;
  if (!total) return 0;
  uint64_t want = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
  uint64_t acc = 0;
  for (size_t i = 0; i < sim::TickStats::kLateBuckets; i++) {
    acc += st.lateHist[i];
    if (acc >= want) return i;
  }
  return sim::TickStats::kLateBuckets - 1;
}

json handleControl(const json& req) {
  std::string cmd = req.value("cmd", "");
  auto err = [](const std::string& code, const std::string& msg) { return json{{"ok", false}, {"code", code}, {"error", msg}}; };
  auto spanArg = [&](const char* key, int& out) -> bool {
    if (!req.contains(key) || !req[key].is_number_integer()) return false;
    out = req[key].get<int>();
    return true;
  };
  std::lock_guard<std::mutex> lk(g_engine->mu);
  if (cmd == "status") {
    json spans = json::array();
    for (auto& s : g_engine->spans()) spans.push_back(spanJson(s));
    auto& st = g_engine->stats;
    json tick = {{"realtime", st.realtime},        {"ticks", st.ticks},
                 {"lateP50Us", percentile(st, 0.5)}, {"lateP99Us", percentile(st, 0.99)},
                 {"lateP999Us", percentile(st, 0.999)}, {"lateMaxUs", st.lateMaxUs},
                 {"busyNs", st.busyNs}};
    int clients = 0;
    for (auto& [fd, c] : g_conns)
      if (!c->control) clients++;
    return json{{"ok", true}, {"spans", spans}, {"tick", tick}, {"clients", clients}, {"pid", getpid()}};
  }
  if (cmd == "channels") {
    int sp = 0;
    if (!spanArg("span", sp) || sp < 1 || sp > g_engine->spanCount())
      return err("E_SIM_SPAN", "channels needs a span between 1 and " + std::to_string(g_engine->spanCount()));
    return json{{"ok", true}, {"channels", json::parse(g_engine->channelsJson(sp))}};
  }
  if (cmd == "resetstats") {
    g_engine->stats = sim::TickStats{g_engine->stats.realtime};
    return json{{"ok", true}};
  }
  if (cmd == "cable") {
    int a = 0, b = 0;
    if (!spanArg("a", a) || !spanArg("b", b)) return err("E_SIM_ARG", "cable needs integer spans a and b");
    std::string e = g_engine->cable(a, b);
    if (!e.empty()) return err("E_SIM_SPAN", e);
    return json{{"ok", true}};
  }
  if (cmd == "uncable") {
    int s = 0;
    if (!spanArg("span", s)) return err("E_SIM_ARG", "uncable needs an integer span");
    std::string e = g_engine->uncable(s);
    if (!e.empty()) return err("E_SIM_SPAN", e);
    return json{{"ok", true}};
  }
  if (cmd == "fault") {
    int s = 0;
    if (!spanArg("span", s)) return err("E_SIM_ARG", "fault needs an integer span");
    std::string kind = req.value("fault", "");
    double v = 0;
    if (kind == "errors") {
      if (!req.contains("rate") || !req["rate"].is_number()) return err("E_SIM_ARG", "fault errors needs a numeric rate (bit error ratio, e.g. 1e-5)");
      v = req["rate"].get<double>();
    } else if (kind == "slip") {
      if (!req.contains("ppm") || !req["ppm"].is_number()) return err("E_SIM_ARG", "fault slip needs a numeric ppm (clock offset)");
      v = req["ppm"].get<double>();
    }
    std::string e = g_engine->fault(s, kind, v);
    if (!e.empty()) return err(e.rfind("span", 0) == 0 ? "E_SIM_SPAN" : "E_SIM_ARG", e);
    return json{{"ok", true}};
  }
  if (cmd == "shutdown") {
    g_stop.store(true);
    return json{{"ok", true}};
  }
  return err("E_SIM_COMMAND", "unknown command '" + cmd + "' (status, cable, uncable, fault, shutdown)");
}

void onControlReadable(Conn& c) {
  char buf[4096];
  for (;;) {
    ssize_t n = read(c.fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      epoll_ctl(g_epfd, EPOLL_CTL_DEL, c.fd, nullptr);
      close(c.fd);
      g_conns.erase(c.fd);
      return;
    }
    if (n < 0) break;
    c.inbuf.append(buf, static_cast<size_t>(n));
    if (c.inbuf.size() > 1 << 20) c.inbuf.clear();
  }
  size_t pos;
  while ((pos = c.inbuf.find('\n')) != std::string::npos) {
    std::string line = c.inbuf.substr(0, pos);
    c.inbuf.erase(0, pos + 1);
    json resp;
    try {
      resp = handleControl(json::parse(line));
    } catch (const std::exception& e) {
      resp = json{{"ok", false}, {"code", "E_SIM_REQUEST"}, {"error", std::string("request is not valid JSON: ") + e.what()}};
    }
    std::string out = resp.dump() + "\n";
    ssize_t w = write(c.fd, out.data(), out.size());
    (void)w;
  }
}

void onClientReadable(Conn& c) {
  static std::vector<uint8_t> buf(sizeof(Request) + simproto::kMaxPayload);
  for (;;) {
    iovec iov{buf.data(), buf.size()};
    alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * 4)];
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    ssize_t n = recvmsg(c.fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      closeConn(c);
      g_conns.erase(c.fd);
      return;
    }
    int passed = simproto::takeFd(mh);
    if (static_cast<size_t>(n) < sizeof(Request)) {
      if (passed >= 0) close(passed);
      continue;
    }
    Request rq;
    std::memcpy(&rq, buf.data(), sizeof rq);
    size_t plen = std::min<size_t>(rq.len, static_cast<size_t>(n) - sizeof rq);
    Reply rep{0, 0, -1, 0};
    switch (rq.type) {
      case simproto::MSG_HELLO:
        c.session = true;
        sendReply(c.fd, rep, nullptr, 0, g_memfd);
        break;
      case simproto::MSG_WAKER_ADD: {
        if (passed < 0) {
          rep.ret = -1;
          rep.err = EINVAL;
          sendReply(c.fd, rep, nullptr, 0);
          break;
        }
        std::lock_guard<std::mutex> lk(g_engine->mu);
        int idx = -1;
        for (size_t i = 0; i < g_wakerFd.size(); i++)
          if (g_wakerFd[i] < 0) {
            idx = static_cast<int>(i);
            break;
          }
        if (idx < 0) {
          close(passed);
          rep.ret = -1;
          rep.err = EMFILE;
        } else {
          g_wakerFd[static_cast<size_t>(idx)] = passed;
          c.wakers.push_back(idx);
          rep.value = idx;
        }
        passed = -1;
        sendReply(c.fd, rep, nullptr, 0);
        break;
      }
      case simproto::MSG_WAKER_DEL: {
        std::lock_guard<std::mutex> lk(g_engine->mu);
        int idx = static_cast<int>(rq.arg);
        auto it = std::find(c.wakers.begin(), c.wakers.end(), idx);
        if (it != c.wakers.end()) {
          c.wakers.erase(it);
          close(g_wakerFd[static_cast<size_t>(idx)]);
          g_wakerFd[static_cast<size_t>(idx)] = -1;
        }
        sendReply(c.fd, rep, nullptr, 0);
        break;
      }
      case simproto::MSG_OPEN: {
        std::lock_guard<std::mutex> lk(g_engine->mu);
        if (!c.file.id) c.file.id = g_nextId++;
        sim::IoResult r = g_engine->open(c.file, rq.arg, rq.num, 0);
        rep.ret = r.ret;
        rep.err = r.err;
        rep.value = r.value;
        sendReply(c.fd, rep, nullptr, 0);
        break;
      }
      case simproto::MSG_IOCTL: {
        std::vector<uint8_t> data(buf.data() + sizeof rq, buf.data() + sizeof rq + plen);
        std::lock_guard<std::mutex> lk(g_engine->mu);
        sim::IoResult r = g_engine->ioctl(c.file, rq.cmd, data);
        rep.ret = r.ret;
        rep.err = r.err;
        rep.value = r.value;
        signalWakers(g_engine->takeWakers());
        sendReply(c.fd, rep, data.data(), data.size());
        break;
      }
      default:
        rep.ret = -1;
        rep.err = EPROTO;
        sendReply(c.fd, rep, nullptr, 0);
    }
    if (passed >= 0) close(passed);
  }
}

void addFd(int fd, bool control) {
  auto c = std::make_unique<Conn>();
  c->fd = fd;
  c->control = control;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  epoll_ctl(g_epfd, EPOLL_CTL_ADD, fd, &ev);
  g_conns[fd] = std::move(c);
}

// ---- the tick ----

void tickThread() {
  sched_param sp{};
  sp.sched_priority = 50;
  bool rt = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
  {
    std::lock_guard<std::mutex> lk(g_engine->mu);
    g_engine->stats.realtime = rt;
  }
  std::fprintf(stderr, "simd: tick thread running at 1 ms%s\n",
               rt ? " with SCHED_FIFO real-time priority" : " (real-time priority not granted: ordinary scheduling)");
  timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  auto addMs = [](timespec& t) {
    t.tv_nsec += 1000000;
    if (t.tv_nsec >= 1000000000) {
      t.tv_nsec -= 1000000000;
      t.tv_sec++;
    }
  };
  while (!g_stop.load()) {
    addMs(next);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr) == EINTR) {
    }
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t lateNs = (now.tv_sec - next.tv_sec) * 1000000000LL + (now.tv_nsec - next.tv_nsec);
    if (lateNs > 200000000LL) {
      // Suspended or starved for 200 ms: resynchronise rather than burst (a real card would slip).
      next = now;
    }
    {
      std::lock_guard<std::mutex> lk(g_engine->mu);
      auto& st = g_engine->stats;
      uint64_t us = lateNs > 0 ? static_cast<uint64_t>(lateNs / 1000) : 0;
      st.lateHist[std::min<uint64_t>(us, sim::TickStats::kLateBuckets - 1)]++;
      if (us > st.lateMaxUs) st.lateMaxUs = us;
      g_engine->tick();
      signalWakers(g_engine->takeWakers());
      timespec done;
      clock_gettime(CLOCK_MONOTONIC, &done);
      st.busyNs += static_cast<uint64_t>((done.tv_sec - now.tv_sec) * 1000000000LL + (done.tv_nsec - now.tv_nsec));
    }
  }
}

void usage() {
  std::fprintf(stderr,
               "usage: switchboard-simd --dir DIR --config FILE.json\n"
               "  The userspace DAHDI daemon. Creates DIR/dahdi.sock (for the preload library) and\n"
               "  DIR/control.sock (newline-delimited JSON control). Normally started by `switchboard sim up`.\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir, config;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--config" && i + 1 < argc) config = argv[++i];
    else if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }
  if (dir.empty() || config.empty()) {
    usage();
    return 2;
  }
  Config cfg = loadConfig(config);
  mkdir(dir.c_str(), 0770);

  g_memfd = memfd_create("dahdisim", MFD_CLOEXEC);
  if (g_memfd < 0) die(std::string("memfd_create: ") + std::strerror(errno));
  if (ftruncate(g_memfd, static_cast<off_t>(simproto::shmSize())) < 0) die(std::string("ftruncate: ") + std::strerror(errno));
  void* mem = mmap(nullptr, simproto::shmSize(), PROT_READ | PROT_WRITE, MAP_SHARED, g_memfd, 0);
  if (mem == MAP_FAILED) die(std::string("mmap: ") + std::strerror(errno));
  auto* hdr = static_cast<simproto::Header*>(mem);
  hdr->magic = simproto::kMagic;
  hdr->version = simproto::kVersion;
  hdr->nslots = simproto::kMaxSlots;
  hdr->slot_size = sizeof(simproto::Slot);

  g_engine = std::make_unique<sim::Engine>(hdr, cfg.spans, cfg.lines);
  for (auto [a, b] : cfg.cables) {
    std::string e = g_engine->cable(a, b);
    if (!e.empty()) die("config: cables: " + e);
  }

  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::string dsock = dir + "/dahdi.sock", csock = dir + "/control.sock";
  int dl = listenOn(dsock, SOCK_SEQPACKET);
  int cl = listenOn(csock, SOCK_STREAM);
  g_epfd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = dl;
  epoll_ctl(g_epfd, EPOLL_CTL_ADD, dl, &ev);
  ev.data.fd = cl;
  epoll_ctl(g_epfd, EPOLL_CTL_ADD, cl, &ev);

  std::thread ticker(tickThread);
  std::fprintf(stderr, "simd: %d spans, listening on %s and %s\n", g_engine->spanCount(), dsock.c_str(), csock.c_str());

  epoll_event evs[64];
  while (!g_stop.load()) {
    int n = epoll_wait(g_epfd, evs, 64, 200);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == dl || fd == cl) {
        int c;
        while ((c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) addFd(c, fd == cl);
        continue;
      }
      auto it = g_conns.find(fd);
      if (it == g_conns.end()) continue;
      if (it->second->control) onControlReadable(*it->second);
      else onClientReadable(*it->second);
    }
  }
  ticker.join();
  unlink(dsock.c_str());
  unlink(csock.c_str());
  std::fprintf(stderr, "simd: stopped\n");
  return 0;
}
