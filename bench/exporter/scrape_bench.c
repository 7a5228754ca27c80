// The C reference for bench/exporter/run.ts: one scrape of the execs example's map done by hand
// with libbpf, the floor for what the exporter does. It reads every element with
// bpf_map_lookup_batch and writes each as a line of the Prometheus text format
// (`ebpf_exporter_execs_total{comm="...",uid="..."} N`), the labels decoded as the config
// says (a NUL-terminated string, a little-endian u32).
// Usage: scrape_bench MAP_ID SCRAPES
// Prints {"seconds": CPU seconds per scrape, "bytes": bytes of text per scrape, "series": N}.
#include <bpf/bpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct exec_key {
  char comm[16];
  uint32_t uid;
  uint32_t pad;
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char* what) {
  fprintf(stderr, "scrape_bench: %s: %s\n", what, strerror(errno));
  exit(1);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: scrape_bench MAP_ID SCRAPES\n");
    return 2;
  }
  int fd = bpf_map_get_fd_by_id((uint32_t)atoi(argv[1]));
  if (fd < 0) die("bpf_map_get_fd_by_id");
  int scrapes = atoi(argv[2]);
  const uint32_t chunk = 4096;
  struct exec_key* keys = malloc(sizeof(*keys) * chunk);
  uint64_t* values = malloc(sizeof(*values) * chunk);
  size_t cap = 1 << 20, len = 0, series = 0;
  char* out = malloc(cap);
  double t0 = now();
  for (int s = 0; s < scrapes; s++) {
    len = 0;
    series = 0;
    uint64_t in_batch = 0, out_batch = 0;
    int first = 1;
    for (;;) {
      uint32_t count = chunk;
      int r = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch, keys, values, &count, NULL);
      if (r < 0 && errno != ENOENT) die("bpf_map_lookup_batch");
      for (uint32_t i = 0; i < count; i++) {
        if (cap - len < 256) {
          cap *= 2;
          out = realloc(out, cap);
        }
        len += (size_t)snprintf(out + len, cap - len, "ebpf_exporter_execs_total{comm=\"%.*s\",uid=\"%u\"} %llu\n", (int)strnlen(keys[i].comm, 16), keys[i].comm, keys[i].uid,
                                (unsigned long long)values[i]);
        series++;
      }
      if (r < 0) break;
      in_batch = out_batch;
      first = 0;
    }
  }
  double seconds = (now() - t0) / scrapes;
  printf("{\"seconds\":%.9f,\"bytes\":%zu,\"series\":%zu}\n", seconds, len, series);
  return 0;
}
