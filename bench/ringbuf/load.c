// The load of the tracepoint benchmark: sleeps until START_NS (CLOCK_MONOTONIC), then makes n
// getppid system calls as fast as it can, which the producer program counts on sys_enter.
//
//   load N START_NS
//
// It starts from its own timer rather than on a signal from the harness: the process that
// wakes it would have it run on its own CPU, and when that process is the consumer (as the
// TypeScript one would be; the C consumer is a process of its own) the two would share a CPU
// until the scheduler moved one. Started by a timer, the load meets either consumer alike.
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  long n = atol(argv[1]);
  long long start = atoll(argv[2]);
  struct timespec at = {start / 1000000000LL, start % 1000000000LL};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) != 0) {
  }
  for (long i = 0; i < n; i++) syscall(SYS_getppid);
  return 0;
}
