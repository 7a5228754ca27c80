// The C reference for bench/btf/run.ts: libbpf parsing the running kernel's BTF with
// btf__load_vmlinux_btf(), which reads /sys/kernel/btf/vmlinux, checks every type and builds its
// type offset table. "parse+lookup" adds btf__find_by_name_kind() for task_struct and sk_buff,
// so the row is what a caller pays before it can use a kernel type.
//
// Usage: btf_bench ITERATIONS
// Prints one JSON object per measurement. Times are wall-clock seconds for all iterations;
// "memory" is what one parsed BTF keeps: malloc'd bytes in use (mallinfo2) and RSS growth.
#define _GNU_SOURCE
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_bytes(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  long size = 0, resident = 0;
  if (f == NULL) return 0;
  if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
  fclose(f);
  return resident * 4096;
}

static struct btf* load(void) {
  struct btf* btf = btf__load_vmlinux_btf();
  if (btf == NULL) {
    fprintf(stderr, "btf_bench: btf__load_vmlinux_btf: %s\n", strerror(errno));
    exit(1);
  }
  return btf;
}

static void lookup(const struct btf* btf, const char* name) {
  if (btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT) < 0) {
    fprintf(stderr, "btf_bench: no struct %s in vmlinux BTF\n", name);
    exit(1);
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: btf_bench ITERATIONS\n");
    return 2;
  }
  int n = atoi(argv[1]);

  // Memory first, in a process that has parsed nothing yet.
  struct mallinfo2 m0 = mallinfo2();
  long rss0 = rss_bytes();
  struct btf* kept = load();
  lookup(kept, "task_struct");
  lookup(kept, "sk_buff");
  struct mallinfo2 m1 = mallinfo2();
  long rss1 = rss_bytes();
  printf("{\"name\":\"memory\",\"types\":%u,\"mallocBytes\":%zu,\"rssBytes\":%ld}\n", btf__type_cnt(kept) - 1,
         (m1.uordblks + m1.hblkhd) - (m0.uordblks + m0.hblkhd), rss1 - rss0);
  btf__free(kept);

  double parse_s = 0, ready_s = 0;
  for (int i = 0; i < n; i++) {
    double t0 = now();
    struct btf* btf = load();
    double t1 = now();
    btf__free(btf);
    double t2 = now();
    btf = load();
    lookup(btf, "task_struct");
    lookup(btf, "sk_buff");
    double t3 = now();
    btf__free(btf);
    parse_s += t1 - t0;
    ready_s += t3 - t2;
  }
  printf("{\"name\":\"parse\",\"ops\":%d,\"seconds\":%.6f}\n", n, parse_s);
  printf("{\"name\":\"parse+lookup\",\"ops\":%d,\"seconds\":%.6f}\n", n, ready_s);
  return 0;
}
