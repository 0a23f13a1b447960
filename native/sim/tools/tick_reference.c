// SPDX-License-Identifier: GPL-2.0-or-later
// tick_reference: a bare 1 ms real-time timer loop, the reference the simulator's tick lateness is compared with.
//
// It does what the simulator's tick thread does minus the work (SCHED_FIFO when granted, absolute
// clock_nanosleep every millisecond) and prints the lateness distribution, so a benchmark can tell
// the host's timer jitter (virtual machines steal time) from the simulator's own.
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int cmp(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int ticks = argc > 1 ? atoi(argv[1]) : 5000;
  if (ticks < 100 || ticks > 600000) {
    fprintf(stderr, "usage: tick_reference [TICKS 100-600000]\n");
    return 2;
  }
  struct sched_param sp;
  memset(&sp, 0, sizeof sp);
  sp.sched_priority = 50;
  int rt = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
  long *late = calloc((size_t)ticks, sizeof(long));
  struct timespec next, now;
  clock_gettime(CLOCK_MONOTONIC, &next);
  for (int i = 0; i < ticks; i++) {
    next.tv_nsec += 1000000;
    if (next.tv_nsec >= 1000000000) {
      next.tv_nsec -= 1000000000;
      next.tv_sec++;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ns = (now.tv_sec - next.tv_sec) * 1000000000L + (now.tv_nsec - next.tv_nsec);
    late[i] = ns > 0 ? ns / 1000 : 0;
  }
  qsort(late, (size_t)ticks, sizeof(long), cmp);
  printf("{\"realtime\":%s,\"ticks\":%d,\"lateP50Us\":%ld,\"lateP99Us\":%ld,\"lateP999Us\":%ld,\"lateMaxUs\":%ld}\n",
         rt ? "true" : "false", ticks, late[ticks / 2], late[(long)ticks * 99 / 100], late[(long)ticks * 999 / 1000],
         late[ticks - 1]);
  free(late);
  return 0;
}
