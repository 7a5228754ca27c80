// SPDX-License-Identifier: GPL-2.0
// BTF-defined maps of several kinds, map-in-map and prog array with initial values, pinning.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define TC_ACT_OK 0

enum colour { RED = 1, GREEN = 2, BLUE = 40 };

struct point {
	__s32 x;
	__s32 y;
};

union either {
	__u32 word;
	__u8 bytes[4];
};

struct record {
	__u64 count;
	struct point where;
	union either raw;
	enum colour colour;
	char label[12];
	bool flag;
	__u8 small: 3;
	__u8 rest: 5;
	__s16 delta;
	__u16 ports[3];
};

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, struct inner);
} outer_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct point);
	__type(value, struct record);
} records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 128);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, __u64);
	__type(value, __u32);
} lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(numa_node, 0);
	__type(key, __u32);
	__type(value, __u32);
} noprealloc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 32);
	__uint(map_extra, 3);
	__type(value, __u32);
} bloom SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__type(value, __u64);
} pinned_counter SEC(".maps");

int tail_one(struct __sk_buff *skb);
int tail_three(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int(struct __sk_buff *));
} jump_table SEC(".maps") = {
	.values = { [1] = (void *)&tail_one, [3] = (void *)&tail_three },
};

SEC("tc")
int tail_one(struct __sk_buff *skb)
{
	return 101;
}

SEC("tc")
int tail_three(struct __sk_buff *skb)
{
	return 103;
}

/* Tail-calls the slot named by the first packet byte; returns 7 when the slot is empty. */
SEC("tc")
int dispatch(struct __sk_buff *skb)
{
	__u8 slot = 0;

	bpf_skb_load_bytes(skb, 0, &slot, 1);
	bpf_tail_call(skb, &jump_table, slot & 3);
	return 7;
}

/* Adds the packet length into inner map slot 1 of the map at outer[0] and outer[2]. */
SEC("tc")
int through_outer(struct __sk_buff *skb)
{
	__u32 outer_key = 0, key = 1;
	__u64 *v;
	void *inner;

	inner = bpf_map_lookup_elem(&outer, &outer_key);
	if (!inner)
		return 1;
	v = bpf_map_lookup_elem(inner, &key);
	if (!v)
		return 2;
	*v += skb->len;
	outer_key = 2;
	inner = bpf_map_lookup_elem(&outer, &outer_key);
	if (!inner)
		return 3;
	v = bpf_map_lookup_elem(inner, &key);
	if (!v)
		return 4;
	*v += 1;
	return TC_ACT_OK;
}

/* Stores a record keyed by the first two packet words, and bumps the pinned counter. */
SEC("tc")
int store_record(struct __sk_buff *skb)
{
	struct point key = {};
	struct record rec = {};
	__u32 zero = 0;
	__u64 *pc;

	if (bpf_skb_load_bytes(skb, 0, &key, sizeof(key)) < 0)
		return 1;
	rec.count = 0x1122334455667788ULL;
	rec.where.x = key.x;
	rec.where.y = -key.y;
	rec.raw.word = 0x04030201;
	rec.colour = BLUE;
	__builtin_memcpy(rec.label, "hello", 6);
	rec.flag = true;
	rec.small = 5;
	rec.rest = 17;
	rec.delta = -2;
	rec.ports[0] = 80;
	rec.ports[2] = 443;
	bpf_map_update_elem(&records, &key, &rec, BPF_ANY);
	pc = bpf_map_lookup_elem(&pinned_counter, &zero);
	if (pc)
		__sync_fetch_and_add(pc, 1);
	bpf_map_push_elem(&bloom, &zero, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
