// SPDX-License-Identifier: GPL-2.0-or-later
// dahdi_probe: a DAHDI API client used by the test suite to exercise any DAHDI (simulated or real) end to end.
//
// It speaks only the public DAHDI API (/dev/dahdi/*, ioctl, read, write, poll, epoll), so the same
// checks run against a real card. Every subcommand prints one JSON object (or JSON lines) on stdout.
#include <dahdi/user.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static const char *event_name(int e) {
  static const char *names[] = {"NONE",       "ONHOOK",      "RINGOFFHOOK",     "WINKFLASH",     "ALARM",
                                "NOALARM",    "ABORT",       "OVERRUN",         "BADFCS",        "DIALCOMPLETE",
                                "RINGERON",   "RINGEROFF",   "HOOKCOMPLETE",    "BITSCHANGED",   "PULSE_START",
                                "TIMER_EXPIRED", "TIMER_PING", "POLARITY",      "RINGBEGIN",     "EC_DISABLED",
                                "REMOVED"};
  if (e >= 0 && e < (int)(sizeof names / sizeof names[0])) return names[e];
  return "OTHER";
}

static int open_chan(int channo) {
  int fd = open("/dev/dahdi/channel", O_RDWR);
  if (fd < 0) {
    fprintf(stderr, "open /dev/dahdi/channel: %s\n", strerror(errno));
    exit(2);
  }
  if (ioctl(fd, DAHDI_SPECIFY, &channo) < 0) {
    fprintf(stderr, "DAHDI_SPECIFY %d: %s\n", channo, strerror(errno));
    exit(2);
  }
  return fd;
}

static int chanpos_of(int fd) {
  struct dahdi_params p;
  memset(&p, 0, sizeof p);
  if (ioctl(fd, DAHDI_GET_PARAMS, &p) < 0) {
    fprintf(stderr, "DAHDI_GET_PARAMS: %s\n", strerror(errno));
    exit(2);
  }
  return p.chanpos;
}

static void drain_events(int fd, int *last) {
  int e;
  while (ioctl(fd, DAHDI_GETEVENT, &e) == 0 && e) {
    if (last) *last = e;
  }
}

// The byte stream a timeslot carries in the stream test: never the A-law or mu-law idle code.
static uint8_t seq_byte(int chanpos, uint64_t i) { return (uint8_t)((i + (uint64_t)chanpos * 37) % 200); }

// ---------------------------------------------------------------------------------------------
// stream FIRST LAST SECONDS BLOCKSIZE MODE(poll|epoll|select|block)
static int cmd_stream(int argc, char **argv) {
  if (argc < 6) return 2;
  int first = atoi(argv[1]), last = atoi(argv[2]);
  double seconds = atof(argv[3]);
  int bs = atoi(argv[4]);
  const char *mode = argv[5];
  int n = last - first + 1;
  if (n < 1 || n > 4096) return 2;
  int *fds = calloc((size_t)n, sizeof(int));
  int *pos = calloc((size_t)n, sizeof(int));
  uint64_t *txi = calloc((size_t)n, sizeof(uint64_t)), *rxi = calloc((size_t)n, sizeof(uint64_t));
  int *synced = calloc((size_t)n, sizeof(int));
  uint64_t gaps = 0, pending_idle = 0;
  uint64_t errors = 0, rxbytes = 0, txbytes = 0, reads = 0, elast = 0;
  int64_t t_first_write = 0, t_first_sync = 0;
  uint8_t idle = 0;
  uint8_t *buf = malloc((size_t)bs * 2);
  for (int i = 0; i < n; i++) {
    fds[i] = open_chan(first + i);
    if (ioctl(fds[i], DAHDI_SET_BLOCKSIZE, &bs) < 0) {
      fprintf(stderr, "DAHDI_SET_BLOCKSIZE %d: %s\n", bs, strerror(errno));
      return 2;
    }
    struct dahdi_bufferinfo bi;
    memset(&bi, 0, sizeof bi);
    ioctl(fds[i], DAHDI_GET_BUFINFO, &bi);
    bi.numbufs = bs * 32 <= 32768 ? 32 : 32768 / bs;  // as deep as DAHDI allows: rides out a busy machine
    bi.bufsize = bs;
    bi.txbufpolicy = DAHDI_POLICY_IMMEDIATE;
    if (ioctl(fds[i], DAHDI_SET_BUFINFO, &bi) < 0) {
      fprintf(stderr, "DAHDI_SET_BUFINFO: %s\n", strerror(errno));
      return 2;
    }
    pos[i] = chanpos_of(fds[i]);
    struct dahdi_params p;
    memset(&p, 0, sizeof p);
    ioctl(fds[i], DAHDI_GET_PARAMS, &p);
    idle = p.curlaw == DAHDI_LAW_ALAW ? 0xD5 : 0xFF;
    int fl = fcntl(fds[i], F_GETFL);
    if (strcmp(mode, "block") != 0) fcntl(fds[i], F_SETFL, fl | O_NONBLOCK);
    drain_events(fds[i], NULL);
  }
  int ep = -1;
  if (!strcmp(mode, "epoll")) {
    ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
      struct epoll_event ev = {.events = EPOLLIN | EPOLLPRI, .data.u32 = (uint32_t)i};
      if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
        fprintf(stderr, "epoll_ctl: %s\n", strerror(errno));
        return 2;
      }
    }
  }
  struct pollfd *pf = calloc((size_t)n, sizeof *pf);
  // Every channel is open: say so, and start when told (a line or EOF on stdin), so that the far
  // end is listening before the first byte goes out.
  printf("{\"ready\":true}\n");
  fflush(stdout);
  char go[16];
  if (!fgets(go, sizeof go, stdin)) go[0] = 0;
  int64_t start = now_ns(), end = start + (int64_t)(seconds * 1e9);
  // Keep two blocks queued ahead on every channel; then stream.
  int64_t tw_stop = end - 300000000LL;  // stop writing a little early so the far end receives everything
  while (now_ns() < end) {
    // Keep about four blocks queued ahead of the line: deep enough to ride out scheduling, shallow
    // enough that the queue drains before the end.
    uint64_t allowed = (uint64_t)((now_ns() - start) / 125000) + 4 * (uint64_t)bs;
    for (int i = 0; i < n; i++) {
      if (now_ns() >= tw_stop) break;
      while (txi[i] < allowed) {
        for (int k = 0; k < bs; k++) buf[k] = seq_byte(pos[i], txi[i] + (uint64_t)k);
        ssize_t w = write(fds[i], buf, (size_t)bs);
        if (w < 0) {
          if (errno == ELAST) {
            drain_events(fds[i], NULL);
            elast++;
            continue;
          }
          break;
        }
        if (!t_first_write) t_first_write = now_ns();
        txi[i] += (uint64_t)w;
        txbytes += (uint64_t)w;
        if (!strcmp(mode, "block")) break;
      }
    }
    if (!strcmp(mode, "poll") || !strcmp(mode, "block")) {
      for (int i = 0; i < n; i++) pf[i] = (struct pollfd){fds[i], POLLIN | POLLPRI, 0};
      poll(pf, (nfds_t)n, 50);
    } else if (!strcmp(mode, "select")) {
      fd_set rd, ex;
      FD_ZERO(&rd);
      FD_ZERO(&ex);
      int maxfd = 0;
      for (int i = 0; i < n; i++) {
        FD_SET(fds[i], &rd);
        FD_SET(fds[i], &ex);
        if (fds[i] > maxfd) maxfd = fds[i];
      }
      struct timeval tv = {0, 50000};
      select(maxfd + 1, &rd, NULL, &ex, &tv);
    } else if (ep >= 0) {
      struct epoll_event evs[64];
      epoll_wait(ep, evs, 64, 50);
    }
    for (int i = 0; i < n; i++) {
      for (;;) {
        ssize_t r = read(fds[i], buf, (size_t)bs);
        if (r < 0) {
          if (errno == ELAST) {
            drain_events(fds[i], NULL);
            elast++;
            continue;
          }
          break;
        }
        reads++;
        for (ssize_t k = 0; k < r; k++) {
          if (!synced[i]) {
            if (buf[k] == idle) continue;
            // The first non-idle byte is where the far end's sequence starts.
            if (buf[k] != seq_byte(pos[i], 0)) {
              if (getenv("DAHDI_PROBE_DEBUG") && errors < 10)
                fprintf(stderr, "chan %d: before sync got %u (k=%zd of %zd)\n", first + i, buf[k], k, r);
              errors++;
              continue;
            }
            synced[i] = 1;
            if (!t_first_sync) t_first_sync = now_ns();
          }
          if (buf[k] == idle) {
            pending_idle++;  // the far end has nothing queued: a gap, unless it is the end of the stream
            continue;
          }
          gaps += pending_idle;
          pending_idle = 0;
          if (buf[k] != seq_byte(pos[i], rxi[i])) {
            if (getenv("DAHDI_PROBE_DEBUG") && errors < 10)
              fprintf(stderr, "chan %d pos %d: byte %llu expected %u got %u (k=%zd of %zd)\n", first + i, pos[i],
                      (unsigned long long)rxi[i], seq_byte(pos[i], rxi[i]), buf[k], k, r);
            errors++;
          }
          rxi[i]++;
          rxbytes++;
        }
        if (!strcmp(mode, "block")) break;
      }
    }
  }
  uint64_t minrx = UINT64_MAX, maxrx = 0;
  int nsynced = 0;
  for (int i = 0; i < n; i++) {
    if (rxi[i] < minrx) minrx = rxi[i];
    if (rxi[i] > maxrx) maxrx = rxi[i];
    nsynced += synced[i];
  }
  printf("{\"channels\":%d,\"synced\":%d,\"txBytes\":%llu,\"rxBytes\":%llu,\"minRx\":%llu,\"maxRx\":%llu,"
         "\"errors\":%llu,\"gaps\":%llu,\"reads\":%llu,\"elast\":%llu,\"firstWriteNs\":%lld,\"firstSyncNs\":%lld,\"perChanTx\":%llu}\n",
         n, nsynced, (unsigned long long)txbytes, (unsigned long long)rxbytes, (unsigned long long)minrx,
         (unsigned long long)maxrx, (unsigned long long)errors, (unsigned long long)gaps, (unsigned long long)reads, (unsigned long long)elast,
         (long long)t_first_write, (long long)t_first_sync, (unsigned long long)txi[0]);
  return errors ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Room for 16 frames of up to 1 KiB each way, as a D-channel user would ask.
static void hdlc_buffers(int fd) {
  int bs = 1024;
  ioctl(fd, DAHDI_SET_BLOCKSIZE, &bs);
  struct dahdi_bufferinfo bi;
  memset(&bi, 0, sizeof bi);
  ioctl(fd, DAHDI_GET_BUFINFO, &bi);
  bi.numbufs = 16;
  ioctl(fd, DAHDI_SET_BUFINFO, &bi);
}

// hdlc-send CHAN COUNT SIZE  /  hdlc-recv CHAN COUNT TIMEOUT_S
static int cmd_hdlc_send(int argc, char **argv) {
  if (argc < 4) return 2;
  int fd = open_chan(atoi(argv[1]));
  int count = atoi(argv[2]), size = atoi(argv[3]);
  if (size < 4 || size > 1000) return 2;
  hdlc_buffers(fd);
  uint8_t buf[1100];
  int64_t t0 = now_ns();
  for (int i = 0; i < count;) {
    buf[0] = (uint8_t)(i >> 24);
    buf[1] = (uint8_t)(i >> 16);
    buf[2] = (uint8_t)(i >> 8);
    buf[3] = (uint8_t)i;
    for (int k = 4; k < size; k++) buf[k] = (uint8_t)(i * 7 + k);
    // Like libpri: the frame plus two bytes where the hardware puts the FCS.
    ssize_t w = write(fd, buf, (size_t)size + 2);
    if (w < 0) {
      if (errno == ELAST) {
        drain_events(fd, NULL);
        continue;
      }
      fprintf(stderr, "write: %s\n", strerror(errno));
      return 1;
    }
    i++;
  }
  // Wait until the last frame has left the transmit buffers.
  int flags = DAHDI_IOMUX_WRITEEMPTY;
  ioctl(fd, DAHDI_IOMUX, &flags);
  int64_t t1 = now_ns();
  printf("{\"sent\":%d,\"size\":%d,\"elapsedNs\":%lld}\n", count, size, (long long)(t1 - t0));
  usleep(200000);
  return 0;
}

static int cmd_hdlc_recv(int argc, char **argv) {
  if (argc < 4) return 2;
  int fd = open_chan(atoi(argv[1]));
  int count = atoi(argv[2]);
  double timeout = atof(argv[3]);
  hdlc_buffers(fd);
  drain_events(fd, NULL);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  printf("{\"ready\":true}\n");
  fflush(stdout);
  uint8_t buf[2048];
  int got = 0, dup = 0, lost = 0, reorder = 0, corrupt = 0, badfcs = 0, aborts = 0, other = 0;
  long long bytes = 0;
  int expect = 0;
  int64_t first = 0, lastt = 0, deadline = now_ns() + (int64_t)(timeout * 1e9);
  while (got + lost < count && now_ns() < deadline) {
    struct pollfd p = {fd, POLLIN | POLLPRI, 0};
    poll(&p, 1, 100);
    for (;;) {
      ssize_t r = read(fd, buf, sizeof buf);
      if (r < 0) {
        if (errno == ELAST) {
          int e = 0;
          ioctl(fd, DAHDI_GETEVENT, &e);
          if (e == DAHDI_EVENT_BADFCS) badfcs++;
          else if (e == DAHDI_EVENT_ABORT) aborts++;
          else if (e) other++;
          continue;
        }
        break;
      }
      if (r < 6) {
        corrupt++;
        continue;
      }
      int len = (int)r - 2;  // the two FCS bytes follow the frame
      int seq = (buf[0] << 24) | (buf[1] << 16) | (buf[2] << 8) | buf[3];
      for (int k = 4; k < len; k++)
        if (buf[k] != (uint8_t)(seq * 7 + k)) {
          corrupt++;
          break;
        }
      if (!first) first = now_ns();
      lastt = now_ns();
      bytes += len;
      if (seq == expect) {
        got++;
        expect++;
      } else if (seq < expect) {
        dup++;
      } else {
        reorder++;
        lost += seq - expect;
        got++;
        expect = seq + 1;
      }
    }
  }
  printf("{\"received\":%d,\"duplicates\":%d,\"lost\":%d,\"outOfOrder\":%d,\"corrupt\":%d,\"badFcs\":%d,"
         "\"aborts\":%d,\"otherEvents\":%d,\"payloadBytes\":%lld,\"spanNs\":%lld}\n",
         got, dup, lost, reorder, corrupt, badfcs, aborts, other, bytes, (long long)(lastt - first));
  return (got == count && !dup && !lost && !reorder && !corrupt) ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// events CHAN SECONDS: prints every event as a JSON line, with the span's alarms when it arrives.
static int cmd_events(int argc, char **argv) {
  if (argc < 3) return 2;
  int fd = open_chan(atoi(argv[1]));
  double seconds = atof(argv[2]);
  struct dahdi_params p;
  memset(&p, 0, sizeof p);
  ioctl(fd, DAHDI_GET_PARAMS, &p);
  printf("{\"ready\":true,\"span\":%d}\n", p.spanno);
  fflush(stdout);
  int64_t end = now_ns() + (int64_t)(seconds * 1e9);
  while (now_ns() < end) {
    struct pollfd pf = {fd, POLLPRI, 0};
    int r = poll(&pf, 1, 100);
    if (r <= 0) continue;
    int e = 0;
    while (ioctl(fd, DAHDI_GETEVENT, &e) == 0 && e) {
      struct dahdi_spaninfo si;
      memset(&si, 0, sizeof si);
      si.spanno = p.spanno;
      ioctl(fd, DAHDI_SPANSTAT, &si);
      printf("{\"event\":\"%s\",\"alarms\":%d}\n", event_name(e & 0xffff), si.alarms);
      fflush(stdout);
    }
  }
  return 0;
}

// hook CHAN OP WAIT_MS...: performs hook operations with pauses and prints events seen in between.
// Ops: offhook onhook ring ringoff wait:MS
static int cmd_hook(int argc, char **argv) {
  if (argc < 3) return 2;
  int fd = open_chan(atoi(argv[1]));
  drain_events(fd, NULL);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  printf("{\"ready\":true}\n");
  fflush(stdout);
  for (int a = 2; a < argc; a++) {
    const char *op = argv[a];
    if (!strncmp(op, "wait:", 5)) {
      int64_t end = now_ns() + (int64_t)atoi(op + 5) * 1000000LL;
      while (now_ns() < end) {
        struct pollfd pf = {fd, POLLPRI, 0};
        int remain = (int)((end - now_ns()) / 1000000);
        if (poll(&pf, 1, remain > 0 ? remain : 0) > 0) {
          int e;
          while (ioctl(fd, DAHDI_GETEVENT, &e) == 0 && e) {
            printf("{\"event\":\"%s\"}\n", event_name(e));
            fflush(stdout);
          }
        }
      }
      continue;
    }
    int x = !strcmp(op, "offhook") ? DAHDI_OFFHOOK
            : !strcmp(op, "onhook") ? DAHDI_ONHOOK
            : !strcmp(op, "ring")   ? DAHDI_RING
            : !strcmp(op, "ringoff") ? DAHDI_RINGOFF
                                     : -1;
    if (x < 0) {
      fprintf(stderr, "unknown hook op %s\n", op);
      return 2;
    }
    int r = ioctl(fd, DAHDI_HOOK, &x);
    printf("{\"op\":\"%s\",\"result\":%d,\"errno\":%d}\n", op, r, r < 0 ? errno : 0);
    fflush(stdout);
  }
  return 0;
}

// ioctl CHAN NR SIZE: issues DAHDI ioctl number NR (an int-sized _IOW) and reports errno.
static int cmd_ioctl(int argc, char **argv) {
  if (argc < 3) return 2;
  int fd = atoi(argv[1]) > 0 ? open_chan(atoi(argv[1])) : open("/dev/dahdi/ctl", O_RDWR);
  unsigned nr = (unsigned)strtoul(argv[2], NULL, 0);
  int arg = 0;
  int r = ioctl(fd, _IOW(DAHDI_CODE, nr, int), &arg);
  printf("{\"result\":%d,\"errno\":%d,\"error\":\"%s\"}\n", r, r < 0 ? errno : 0, r < 0 ? strerror(errno) : "");
  return 0;
}

// specify CHAN: tries to bind /dev/dahdi/channel to CHAN and reports the result.
static int cmd_specify(int argc, char **argv) {
  if (argc < 2) return 2;
  int fd = open("/dev/dahdi/channel", O_RDWR);
  if (fd < 0) {
    printf("{\"result\":-1,\"errno\":%d,\"error\":\"%s\"}\n", errno, strerror(errno));
    return 0;
  }
  int ch = atoi(argv[1]);
  int r = ioctl(fd, DAHDI_SPECIFY, &ch);
  printf("{\"result\":%d,\"errno\":%d,\"error\":\"%s\"}\n", r, r < 0 ? errno : 0, r < 0 ? strerror(errno) : "");
  return 0;
}

// tone CHAN HZ SECONDS [pseudo [RECFILE]]: sends a sine of HZ (linear mode) on a channel, or on a
// fresh pseudo channel conferenced as talker and listener into conference CHAN when "pseudo"
// follows; RECFILE gets what it hears (signed 16-bit samples).
static int cmd_tone(int argc, char **argv) {
  if (argc < 4) return 2;
  int fd;
  if (argc > 4 && !strcmp(argv[4], "pseudo")) {
    fd = open("/dev/dahdi/pseudo", O_RDWR);
    struct dahdi_confinfo ci;
    memset(&ci, 0, sizeof ci);
    ci.confno = atoi(argv[1]);
    ci.confmode = DAHDI_CONF_CONF | DAHDI_CONF_TALKER | DAHDI_CONF_LISTENER;
    if (fd < 0 || ioctl(fd, DAHDI_SETCONF, &ci) < 0) {
      fprintf(stderr, "conference %d: %s\n", ci.confno, strerror(errno));
      return 2;
    }
  } else {
    fd = open_chan(atoi(argv[1]));
  }
  double hz = atof(argv[2]), seconds = atof(argv[3]);
  int one = 1, bs = 160;
  ioctl(fd, DAHDI_SETLINEAR, &one);
  ioctl(fd, DAHDI_SET_BLOCKSIZE, &bs);
  printf("{\"ready\":true}\n");
  fflush(stdout);
  FILE *rec = argc > 5 ? fopen(argv[5], "wb") : NULL;
  int16_t buf[160], in[160];
  long n = 0, total = (long)(seconds * 8000);
  while (n < total) {
    for (int k = 0; k < 160; k++, n++) buf[k] = (int16_t)(10000 * sin(2 * 3.14159265358979 * hz * (double)n / 8000.0));
    while (write(fd, buf, sizeof buf) < 0 && errno == ELAST) drain_events(fd, NULL);
    // Keep reading too, so that a conference member's receive side never overruns.
    ssize_t r = read(fd, in, sizeof in);
    if (r < 0 && errno == ELAST) drain_events(fd, NULL);
    if (r > 0 && rec) fwrite(in, 1, (size_t)r, rec);
  }
  if (rec) fclose(rec);
  return 0;
}

// read CHAN: one blocking read of a bearer channel that nobody feeds; prints how it ended.
static int cmd_read(int argc, char **argv) {
  if (argc < 2) return 2;
  int fd = open_chan(atoi(argv[1]));
  int bs = 8000;  // a second per block: the read is sure to be waiting when the test acts
  ioctl(fd, DAHDI_SET_BLOCKSIZE, &bs);
  drain_events(fd, NULL);
  printf("{\"ready\":true}\n");
  fflush(stdout);
  char buf[8000];
  ssize_t r;
  int64_t t0 = now_ns();
  while ((r = read(fd, buf, sizeof buf)) < 0 && errno == ELAST) drain_events(fd, NULL);
  printf("{\"result\":%zd,\"errno\":%d,\"error\":\"%s\",\"elapsedNs\":%lld}\n", r, r < 0 ? errno : 0,
         r < 0 ? strerror(errno) : "", (long long)(now_ns() - t0));
  return 0;
}

// spanstat SPAN: DAHDI_SPANSTAT as JSON (alarms and error counters).
static int cmd_spanstat(int argc, char **argv) {
  if (argc < 2) return 2;
  int fd = open("/dev/dahdi/ctl", O_RDWR);
  struct dahdi_spaninfo s;
  memset(&s, 0, sizeof s);
  s.spanno = atoi(argv[1]);
  if (fd < 0 || ioctl(fd, DAHDI_SPANSTAT, &s) < 0) {
    printf("{\"result\":-1,\"errno\":%d}\n", errno);
    return 1;
  }
  printf("{\"span\":%d,\"alarms\":%d,\"bpvcount\":%d,\"crc4count\":%d,\"ebitcount\":%d,\"fascount\":%d,"
         "\"fecount\":%u,\"errsec\":%u,\"numchans\":%d,\"totalchans\":%d,\"syncsrc\":%d}\n",
         s.spanno, s.alarms, s.bpvcount, s.crc4count, s.ebitcount, s.fascount, s.fecount, s.errsec, s.numchans,
         s.totalchans, s.syncsrc);
  return 0;
}

// config-clear FIRST_SPAN LAST_SPAN: every channel of those E1/T1 spans a clear bearer channel.
// dahdi_cfg stops at DAHDI_MAX_CHANNELS (1024); benchmarks of bigger boards configure this way.
static int cmd_config_clear(int argc, char **argv) {
  if (argc < 3) return 2;
  int fd = open("/dev/dahdi/ctl", O_RDWR);
  if (fd < 0) return 2;
  int first = atoi(argv[1]), last = atoi(argv[2]);
  int chan = 1, done = 0;  // channels are numbered consecutively across spans
  for (int span = 1; span <= last; span++) {
    struct dahdi_spaninfo si;
    memset(&si, 0, sizeof si);
    si.spanno = span;
    if (ioctl(fd, DAHDI_SPANSTAT, &si) < 0) {
      fprintf(stderr, "span %d: %s\n", span, strerror(errno));
      return 1;
    }
    if (span < first) {
      chan += si.totalchans;
      continue;
    }
    struct dahdi_lineconfig lc;
    memset(&lc, 0, sizeof lc);
    lc.span = span;
    lc.lineconfig = !strcmp(si.spantype, "T1") ? (DAHDI_CONFIG_ESF | DAHDI_CONFIG_B8ZS)
                                               : (DAHDI_CONFIG_CCS | DAHDI_CONFIG_HDB3 | DAHDI_CONFIG_CRC4);
    if (ioctl(fd, DAHDI_SPANCONFIG, &lc) < 0) return 1;
    for (int pos = 1; pos <= si.totalchans; pos++, chan++) {
      struct dahdi_chanconfig cc;
      memset(&cc, 0, sizeof cc);
      cc.chan = chan;
      cc.sigtype = DAHDI_SIG_CLEAR;
      if (ioctl(fd, DAHDI_CHANCONFIG, &cc) < 0) {
        fprintf(stderr, "channel %d: %s\n", chan, strerror(errno));
        return 1;
      }
      done++;
    }
    if (ioctl(fd, DAHDI_STARTUP, &span) < 0) return 1;
  }
  printf("{\"channels\":%d}\n", done);
  return 0;
}

// timer MS COUNT: a /dev/dahdi/timer firing every MS, COUNT times; prints the expiries seen.
static int cmd_timer(int argc, char **argv) {
  if (argc < 3) return 2;
  int fd = open("/dev/dahdi/timer", O_RDWR);
  if (fd < 0) {
    fprintf(stderr, "open timer: %s\n", strerror(errno));
    return 2;
  }
  int ms = atoi(argv[1]), count = atoi(argv[2]), seen = 0;
  ioctl(fd, DAHDI_TIMERCONFIG, &ms);
  int64_t t0 = now_ns();
  while (seen < count) {
    struct pollfd p = {fd, POLLPRI, 0};
    if (poll(&p, 1, 5000) <= 0) break;
    int e = 0;
    ioctl(fd, DAHDI_GETEVENT, &e);
    if (e == DAHDI_EVENT_TIMER_EXPIRED) {
      int one = 1;
      ioctl(fd, DAHDI_TIMERACK, &one);
      seen++;
    }
  }
  printf("{\"expired\":%d,\"elapsedNs\":%lld}\n", seen, (long long)(now_ns() - t0));
  return seen == count ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help")) {
    fprintf(stderr,
            "usage: dahdi_probe stream FIRST LAST SECONDS BLOCKSIZE poll|epoll|select|block\n"
            "       dahdi_probe hdlc-send CHAN COUNT SIZE | hdlc-recv CHAN COUNT TIMEOUT_S\n"
            "       dahdi_probe events CHAN SECONDS | hook CHAN OP... (offhook onhook ring ringoff wait:MS)\n"
            "       dahdi_probe ioctl CHAN NR | specify CHAN | timer MS COUNT | spanstat SPAN\n"
            "       dahdi_probe config-clear FIRST_SPAN LAST_SPAN | tone CHAN HZ SECONDS [pseudo]\n"
            "       dahdi_probe read CHAN\n");
    return argc < 2 ? 2 : 0;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *c = argv[1];
  if (!strcmp(c, "stream")) return cmd_stream(argc - 1, argv + 1);
  if (!strcmp(c, "hdlc-send")) return cmd_hdlc_send(argc - 1, argv + 1);
  if (!strcmp(c, "hdlc-recv")) return cmd_hdlc_recv(argc - 1, argv + 1);
  if (!strcmp(c, "events")) return cmd_events(argc - 1, argv + 1);
  if (!strcmp(c, "hook")) return cmd_hook(argc - 1, argv + 1);
  if (!strcmp(c, "ioctl")) return cmd_ioctl(argc - 1, argv + 1);
  if (!strcmp(c, "specify")) return cmd_specify(argc - 1, argv + 1);
  if (!strcmp(c, "timer")) return cmd_timer(argc - 1, argv + 1);
  if (!strcmp(c, "spanstat")) return cmd_spanstat(argc - 1, argv + 1);
  if (!strcmp(c, "tone")) return cmd_tone(argc - 1, argv + 1);
  if (!strcmp(c, "read")) return cmd_read(argc - 1, argv + 1);
  if (!strcmp(c, "config-clear")) return cmd_config_clear(argc - 1, argv + 1);
  fprintf(stderr, "unknown subcommand %s\n", c);
  return 2;
}
