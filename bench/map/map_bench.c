// The C reference for bench/map/run.ts: the same four measurements through libbpf.
// Usage: map_bench ENTRIES SINGLE_OPS DUMPS CHUNK REPS [lookup|update|dump-batch|dump-iterate]
// Prints one JSON object per measurement: {"name": ..., "ops": ..., "seconds": ...}.
#include <bpf/bpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// CPU time of the process, so time spent descheduled on a shared machine does not count.
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report(const char* name, double ops, double seconds) {
  printf("{\"name\":\"%s\",\"ops\":%.0f,\"seconds\":%.6f}\n", name, ops, seconds);
  fflush(stdout);
}

static void die(const char* what) {
  fprintf(stderr, "map_bench: %s: %s\n", what, strerror(errno));
  exit(1);
}

int main(int argc, char** argv) {
  unsigned entries = argc > 1 ? (unsigned)atoi(argv[1]) : 100000;
  unsigned single_ops = argc > 2 ? (unsigned)atoi(argv[2]) : 2000000;
  unsigned dumps = argc > 3 ? (unsigned)atoi(argv[3]) : 10;
  unsigned chunk = argc > 4 ? (unsigned)atoi(argv[4]) : 4096;
  unsigned reps = argc > 5 ? (unsigned)atoi(argv[5]) : 3;
  const char* only = argc > 6 ? argv[6] : NULL;
#define WANT(name) (only == NULL || strcmp(only, name) == 0)

  int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_c", 8, 16, entries, NULL);
  if (fd < 0) die("bpf_map_create");
  uint64_t key;
  uint8_t value[16];
  memset(value, 0xab, sizeof(value));
  for (key = 0; key < entries; key++)
    if (bpf_map_update_elem(fd, &key, value, BPF_ANY)) die("fill");

  double best;
  volatile uint64_t sink = 0;

  best = 1e30;
  for (unsigned r = 0; WANT("lookup") && r < reps; r++) {
    double t0 = now();
    for (unsigned i = 0; i < single_ops; i++) {
      key = i % entries;
      if (bpf_map_lookup_elem(fd, &key, value)) die("lookup");
      sink += value[0];
    }
    double dt = now() - t0;
    if (dt < best) best = dt;
  }
  if (WANT("lookup")) report("lookup", single_ops, best);

  best = 1e30;
  for (unsigned r = 0; WANT("update") && r < reps; r++) {
    double t0 = now();
    for (unsigned i = 0; i < single_ops; i++) {
      key = i % entries;
      if (bpf_map_update_elem(fd, &key, value, BPF_ANY)) die("update");
    }
    double dt = now() - t0;
    if (dt < best) best = dt;
  }
  if (WANT("update")) report("update", single_ops, best);

  uint64_t* keys = malloc((size_t)chunk * 8);
  uint8_t* values = malloc((size_t)chunk * 16);
  best = 1e30;
  for (unsigned r = 0; WANT("dump-batch") && r < reps; r++) {
    double t0 = now();
    for (unsigned d = 0; d < dumps; d++) {
      uint32_t in_batch = 0, out_batch = 0;
      uint64_t seen = 0;
      int first = 1;
      for (;;) {
        __u32 count = chunk;
        int err = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch, keys, values, &count, NULL);
        if (err && errno != ENOENT) die("lookup_batch");
        for (__u32 i = 0; i < count; i++) sink += (uint32_t)keys[i];
        seen += count;
        if (err) break;
        in_batch = out_batch;
        first = 0;
      }
      if (seen != entries) {
        fprintf(stderr, "map_bench: batch dump saw %llu of %u entries\n", (unsigned long long)seen, entries);
        return 1;
      }
    }
    double dt = now() - t0;
    if (dt < best) best = dt;
  }
  if (WANT("dump-batch")) report("dump-batch", (double)dumps * entries, best);

  best = 1e30;
  for (unsigned r = 0; WANT("dump-iterate") && r < reps; r++) {
    double t0 = now();
    for (unsigned d = 0; d < dumps; d++) {
      uint64_t cur, next, seen = 0;
      int err = bpf_map_get_next_key(fd, NULL, &next);
      while (!err) {
        cur = next;
        if (bpf_map_lookup_elem(fd, &cur, value)) die("lookup during iteration");
        sink += (uint32_t)cur;
        seen++;
        err = bpf_map_get_next_key(fd, &cur, &next);
      }
      if (errno != ENOENT) die("get_next_key");
      if (seen != entries) {
        fprintf(stderr, "map_bench: iteration saw %llu of %u entries\n", (unsigned long long)seen, entries);
        return 1;
      }
    }
    double dt = now() - t0;
    if (dt < best) best = dt;
  }
  if (WANT("dump-iterate")) report("dump-iterate", (double)dumps * entries, best);
  (void)sink;
  return 0;
}
