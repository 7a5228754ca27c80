// The load of the tracepoint benchmark: waits for a byte on stdin, then makes n getppid
// system calls as fast as it can, which the producer program counts on sys_enter.
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  char go;
  if (read(0, &go, 1) != 1) return 1;
  for (long i = 0; i < n; i++) syscall(SYS_getppid);
  return 0;
}
