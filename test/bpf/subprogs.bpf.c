// SPDX-License-Identifier: GPL-2.0
// bpf-to-bpf calls: static and global subprograms, bpf_loop, bpf_for_each_map_elem and timer
// callbacks, several programs in one section.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define CLOCK_MONOTONIC 1

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} numbers SEC(".maps");

struct timer_value {
	struct bpf_timer timer;
	__u64 fired;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct timer_value);
} timers SEC(".maps");

struct loop_ctx {
	__u64 sum;
	__u32 step;
};

__u64 callback_calls;

static __attribute__((noinline)) int static_add(int a, int b)
{
	return a + b;
}

static __attribute__((noinline)) int static_twice(int a)
{
	return static_add(a, a);
}

__attribute__((noinline)) int global_mul(int a, int b)
{
	return a * b + static_add(0, 0);
}

static int loop_cb(__u32 index, void *data)
{
	struct loop_ctx *c = data;

	c->sum += index * c->step;
	callback_calls++;
	return 0;
}

static long sum_cb(struct bpf_map *map, __u32 *key, __u64 *val, void *data)
{
	*(__u64 *)data += *val;
	return 0;
}

static int timer_cb(void *map, __u32 *key, struct timer_value *v)
{
	v->fired++;
	return 0;
}

/* 3 + 4 = 7, twice 5 = 10, 6 * 7 = 42: 59. */
SEC("socket")
int calls(struct __sk_buff *skb)
{
	return static_add(3, 4) + static_twice(5) + global_mul(6, 7);
}

/* sum of i * 2 for i in 0..9 = 90 */
SEC("socket")
int loop(struct __sk_buff *skb)
{
	struct loop_ctx c = { .sum = 0, .step = 2 };

	bpf_loop(10, loop_cb, &c, 0);
	return c.sum;
}

/* The sum of the values in `numbers`. */
SEC("socket")
int for_each(struct __sk_buff *skb)
{
	__u64 sum = 0;

	bpf_for_each_map_elem(&numbers, sum_cb, &sum, 0);
	return sum + static_add(0, 1) - 1;
}

SEC("tc")
int arm_timer(struct __sk_buff *skb)
{
	__u32 key = 0;
	struct timer_value *v = bpf_map_lookup_elem(&timers, &key);

	if (!v)
		return 0;
	bpf_timer_init(&v->timer, &timers, CLOCK_MONOTONIC);
	bpf_timer_set_callback(&v->timer, timer_cb);
	bpf_timer_start(&v->timer, 1000, 0);
	return global_mul(1, 1);
}

char LICENSE[] SEC("license") = "GPL";
