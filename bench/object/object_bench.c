// The C reference for bench/object/run.ts: libbpf opening a BPF object and preparing it for the
// kernel (BTF sanitising, map definitions, CO-RE against vmlinux BTF, relocations, linking), with
// the kernel left out: bpf(2) commands that would create objects are answered here with a dummy
// fd, so no map is created and no verifier runs, and what is timed is libbpf's own work.
//
// Usage: object_bench OBJECT ITERATIONS
// Prints one JSON object per measurement: {"name": ..., "ops": ..., "seconds": ...}.
#define _GNU_SOURCE
#include <bpf/libbpf.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int fake;
static int devnull = -1;

// Interposes glibc's syscall(), which libbpf calls for bpf(2).
long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
  long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
  va_end(ap);
  if (number == __NR_bpf && fake) {
    switch ((int)a1) {
      case BPF_PROG_LOAD:
      case BPF_MAP_CREATE:
      case BPF_BTF_LOAD:
        return dup(devnull);
      case BPF_MAP_UPDATE_ELEM:
      case BPF_MAP_FREEZE:
      case BPF_OBJ_GET_INFO_BY_FD:
      case BPF_PROG_BIND_MAP:
        return 0;
      default:
        break;
    }
  }
  static long (*real)(long, ...);
  if (real == NULL) real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  return real(number, a1, a2, a3, a4, a5, a6);
}

// CPU time of the process, so time spent descheduled on a shared machine does not count.
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int quiet(enum libbpf_print_level level, const char* fmt, va_list args) {
  (void)level;
  (void)fmt;
  (void)args;
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: object_bench OBJECT ITERATIONS\n");
    return 2;
  }
  const char* path = argv[1];
  int n = atoi(argv[2]);
  devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  libbpf_set_print(quiet);
  fake = 1;

  double open_s = 0, load_s = 0;
  for (int i = 0; i < n; i++) {
    double t0 = now();
    struct bpf_object* obj = bpf_object__open_file(path, NULL);
    if (obj == NULL) {
      fprintf(stderr, "object_bench: open %s: %s\n", path, strerror(errno));
      return 1;
    }
    double t1 = now();
    int err = bpf_object__load(obj);
    double t2 = now();
    if (err) {
      fprintf(stderr, "object_bench: load %s: %s\n", path, strerror(-err));
      return 1;
    }
    bpf_object__close(obj);
    open_s += t1 - t0;
    load_s += t2 - t1;
  }
  printf("{\"name\":\"open\",\"ops\":%d,\"seconds\":%.6f}\n", n, open_s);
  printf("{\"name\":\"prepare\",\"ops\":%d,\"seconds\":%.6f}\n", n, load_s);
  printf("{\"name\":\"open+prepare\",\"ops\":%d,\"seconds\":%.6f}\n", n, open_s + load_s);
  return 0;
}
