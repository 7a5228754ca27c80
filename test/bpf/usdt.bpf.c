// SPDX-License-Identifier: GPL-2.0
// USDT tests: the arguments of tsbpf:req and tsbpf:tick (test/fixtures/usdt/target.c), read
// through <bpf/usdt.bpf.h> from the locations tsbpf writes into __bpf_usdt_specs.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

struct req_stats {
	__u64 count;
	__s64 sum_i;
	__s64 last_neg;
	__s64 last_big;
	__s64 last_const;
	__s64 arg_cnt;
	__u64 cookie;
};

struct tick_stats {
	__u64 count;
	__s64 sum;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct req_stats);
} reqs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tick_stats);
} ticks SEC(".maps");

SEC("usdt")
int BPF_USDT(on_req, int i, int neg, long big, int k)
{
	__u32 zero = 0;
	struct req_stats *s = bpf_map_lookup_elem(&reqs, &zero);

	if (!s)
		return 0;
	s->count++;
	s->sum_i += i;
	s->last_neg = neg;
	s->last_big = big;
	s->last_const = k;
	s->arg_cnt = bpf_usdt_arg_cnt(ctx);
	s->cookie = bpf_usdt_cookie(ctx);
	return 0;
}

SEC("usdt")
int BPF_USDT(on_tick, int v)
{
	__u32 zero = 0;
	struct tick_stats *s = bpf_map_lookup_elem(&ticks, &zero);

	if (!s)
		return 0;
	__sync_fetch_and_add(&s->count, 1);
	__sync_fetch_and_add(&s->sum, v);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
