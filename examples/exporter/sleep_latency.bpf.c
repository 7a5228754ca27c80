// How long nanosleep and clock_nanosleep take, by command name: an exp2 histogram in
// microseconds whose key bucket_max + 1 holds the sum.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define MAX_BUCKET 26
#define NR_NANOSLEEP 35
#define NR_CLOCK_NANOSLEEP 230

struct hist_key {
	char comm[16];
	u64 bucket;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32);
	__type(value, u64);
} sleep_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct hist_key);
	__type(value, u64);
} sleep_latency_seconds SEC(".maps");

static __always_inline bool is_sleep(long id)
{
	return id == NR_NANOSLEEP || id == NR_CLOCK_NANOSLEEP;
}

static __always_inline u64 log2_ceil(u64 v)
{
	u64 bucket = 0;

	/* The smallest b with v <= 2^b: bucket b counts (2^(b-1), 2^b]. */
	for (int i = 0; i <= MAX_BUCKET; i++) {
		if (v <= (1ULL << i))
			break;
		bucket++;
	}
	return bucket;
}

static __always_inline void add(struct hist_key *key, u64 n)
{
	u64 *count = bpf_map_lookup_elem(&sleep_latency_seconds, key);

	if (count) {
		__sync_fetch_and_add(count, n);
		return;
	}
	bpf_map_update_elem(&sleep_latency_seconds, key, &n, BPF_NOEXIST);
	count = bpf_map_lookup_elem(&sleep_latency_seconds, key);
	/* Another CPU created it first: add to its count. */
	if (count && *count != n)
		__sync_fetch_and_add(count, n);
}

SEC("tracepoint/raw_syscalls/sys_enter")
int sleep_enter(struct trace_event_raw_sys_enter *ctx)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	u64 now;

	if (!is_sleep(ctx->id))
		return 0;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&sleep_start, &tid, &now, BPF_ANY);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sleep_exit(struct trace_event_raw_sys_exit *ctx)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct hist_key key = {};
	u64 *start, us, bucket;

	if (!is_sleep(ctx->id))
		return 0;
	start = bpf_map_lookup_elem(&sleep_start, &tid);
	if (!start)
		return 0;
	us = (bpf_ktime_get_ns() - *start) / 1000;
	bpf_map_delete_elem(&sleep_start, &tid);
	bucket = log2_ceil(us);
	if (bucket > MAX_BUCKET)
		bucket = MAX_BUCKET;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	key.bucket = bucket;
	add(&key, 1);
	key.bucket = MAX_BUCKET + 1;
	add(&key, us);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
