// The libbpf baseline of the ring and perf buffer benchmarks. It loads the same producer
// program as the TypeScript side (its encoded instructions, maps given by fd_array) with maps
// of its own, and consumes with ring_buffer__* or perf_buffer__*.
//
//   consumer ring|perf drain <insns> <size> <n> <rounds>
//       fill with n records by BPF_PROG_TEST_RUN repeat, then time one consume; best of rounds
//   consumer ring|perf live <insns> <size> <rounds> <repeat>
//       a producer thread runs the program rounds x repeat times; the main thread polls until
//       every record is accounted for, timed from the first
//   consumer ring|perf tp <insns> <size> <n>
//       the program is a raw_tp on sys_enter (filtered to a load process by the caller);
//       poll until n records are accounted for, timed from the first
//
// <size> is the ring's bytes (ring) or the pages per CPU (perf). Prints one JSON line.
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct counters {
  uint64_t seq, failed, discarded;
};

static uint64_t delivered, lost_reported, sink;
static double first_at;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "consumer: %s: %s\n", what, strerror(errno));
  exit(1);
}

// The callbacks do what the TypeScript ones do: read the first u32 and count.
static int on_ring(void *ctx, void *data, size_t size) {
  (void)ctx;
  (void)size;
  if (delivered == 0) first_at = now();
  sink += *(uint32_t *)data;
  delivered++;
  return 0;
}

static void on_perf(void *ctx, int cpu, void *data, __u32 size) {
  (void)ctx;
  (void)cpu;
  (void)size;
  if (delivered == 0) first_at = now();
  sink += *(uint32_t *)data;
  delivered++;
}

static void on_lost(void *ctx, int cpu, __u64 n) {
  (void)ctx;
  (void)cpu;
  lost_reported += n;
}

static int perf_mode;
static struct ring_buffer *rb;
static struct perf_buffer *pb;
static int prog_fd, counters_fd;

static int consume(void) { return perf_mode ? perf_buffer__consume(pb) : ring_buffer__consume(rb); }
static int poll_once(int ms) { return perf_mode ? perf_buffer__poll(pb, ms) : ring_buffer__poll(rb, ms); }

static struct counters read_counters(void) {
  struct counters c;
  uint32_t key = 0;
  if (bpf_map_lookup_elem(counters_fd, &key, &c)) die("counters");
  return c;
}

static void test_run(int repeat) {
  static char packet[64];
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet, .data_size_in = sizeof(packet), .repeat = repeat);
  if (bpf_prog_test_run_opts(prog_fd, &opts)) die("BPF_PROG_TEST_RUN");
}

static atomic_int producer_done;
static int live_rounds, live_repeat;

static void *producer(void *arg) {
  (void)arg;
  for (int i = 0; i < live_rounds; i++) test_run(live_repeat);
  atomic_store(&producer_done, 1);
  return NULL;
}

static void *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) die(path);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  void *buf = malloc(*len);
  if (!buf || fread(buf, 1, *len, f) != *len) die(path);
  fclose(f);
  return buf;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: consumer ring|perf drain|live|tp <insns> <size> <args...>\n");
    return 2;
  }
  perf_mode = strcmp(argv[1], "perf") == 0;
  const char *mode = argv[2];
  long size = atol(argv[4]);
  int tp = strcmp(mode, "tp") == 0;

  int target_fd;
  if (perf_mode)
    target_fd = bpf_map_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, "bench_perf", 4, 4, libbpf_num_possible_cpus(), NULL);
  else
    target_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "bench_ring", 0, 0, size, NULL);
  if (target_fd < 0) die("map create");
  counters_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bench_counters", 4, sizeof(struct counters), 1, NULL);
  if (counters_fd < 0) die("counters create");

  size_t len;
  struct bpf_insn *insns = read_file(argv[3], &len);
  int fds[2] = {target_fd, counters_fd};
  LIBBPF_OPTS(bpf_prog_load_opts, load, .fd_array = fds);
  prog_fd = bpf_prog_load(tp ? BPF_PROG_TYPE_RAW_TRACEPOINT : BPF_PROG_TYPE_SCHED_CLS, "bench_producer", "GPL", insns,
                          len / sizeof(struct bpf_insn), &load);
  if (prog_fd < 0) die("prog load");

  if (perf_mode) {
    pb = perf_buffer__new(target_fd, size, on_perf, on_lost, NULL, NULL);
    if (!pb) die("perf_buffer__new");
  } else {
    rb = ring_buffer__new(target_fd, on_ring, NULL, NULL);
    if (!rb) die("ring_buffer__new");
  }

  if (strcmp(mode, "drain") == 0) {
    int n = atoi(argv[5]), rounds = atoi(argv[6]);
    double best = 1e9;
    for (int r = 0; r < rounds; r++) {
      delivered = 0;
      test_run(n);
      double t0 = now();
      consume();
      double t = now() - t0;
      if (delivered != (uint64_t)n) {
        fprintf(stderr, "consumer: drained %llu of %d\n", (unsigned long long)delivered, n);
        return 1;
      }
      if (t < best) best = t;
    }
    printf("{\"rate\":%.0f,\"delivered\":%d,\"failed\":0,\"seconds\":%.6f}\n", n / best, n, best);
  } else if (strcmp(mode, "live") == 0) {
    live_rounds = atoi(argv[5]);
    live_repeat = atoi(argv[6]);
    pthread_t t;
    if (pthread_create(&t, NULL, producer, NULL)) die("pthread_create");
    for (;;) {
      poll_once(10);
      if (!atomic_load(&producer_done)) continue;
      struct counters c = read_counters();
      consume();
      if (delivered + c.failed >= c.seq) break;
    }
    double secs = now() - first_at;
    pthread_join(t, NULL);
    struct counters c = read_counters();
    printf("{\"rate\":%.0f,\"delivered\":%llu,\"failed\":%llu,\"seconds\":%.6f}\n", delivered / secs,
           (unsigned long long)delivered, (unsigned long long)c.failed, secs);
  } else if (tp) {
    long n = atol(argv[5]);
    int link = bpf_raw_tracepoint_open("sys_enter", prog_fd);
    if (link < 0) die("raw tracepoint sys_enter");
    printf("ready\n");
    fflush(stdout);
    for (;;) {
      poll_once(100);
      struct counters c = read_counters();
      if (c.seq >= (uint64_t)n && delivered + c.failed >= c.seq) break;
    }
    double secs = now() - first_at;
    struct counters c = read_counters();
    printf("{\"rate\":%.0f,\"delivered\":%llu,\"failed\":%llu,\"seconds\":%.6f}\n", delivered / secs,
           (unsigned long long)delivered, (unsigned long long)c.failed, secs);
    close(link);
  } else {
    fprintf(stderr, "consumer: unknown mode %s\n", mode);
    return 2;
  }
  if (sink == 42) fprintf(stderr, "\n");
  return 0;
}
