// The cost of waking a sleeping process, as a round trip: a parent and a child bounce one byte
// over two pipes, N times, first placed by the scheduler (on a 2-CPU machine: across the CPUs),
// then both pinned to CPU 0. Prints {"free_us": ..., "pinned_us": ...} per round trip. For
// bench/stream.ts: a stream's trip has four such wake-ups between threads and processes.
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double RoundTripUs(int n, int pin) {
  int a[2], b[2];
  if (pipe(a) != 0 || pipe(b) != 0) exit(1);
  if (pin) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) exit(1);  // the child inherits it
  }
  pid_t child = fork();
  if (child < 0) exit(1);
  char c = 'x';
  if (child == 0) {
    close(a[1]);
    close(b[0]);
    while (read(a[0], &c, 1) == 1)
      if (write(b[1], &c, 1) != 1) _exit(1);
    _exit(0);
  }
  close(a[0]);
  close(b[1]);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < n; i++)
    if (write(a[1], &c, 1) != 1 || read(b[0], &c, 1) != 1) exit(1);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  close(a[1]);
  close(b[0]);
  waitpid(child, NULL, 0);
  return ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / n;
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20000;
  double free_us = RoundTripUs(n, 0);
  double pinned_us = RoundTripUs(n, 1);
  printf("{\"free_us\": %.2f, \"pinned_us\": %.2f}\n", free_us, pinned_us);
  return 0;
}
