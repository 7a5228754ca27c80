// SPDX-License-Identifier: GPL-2.0
// Global data in .data, .bss, .rodata and custom sections; const volatile settings.
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

struct pair {
	__u32 a;
	__u64 b;
};

int data_counter = 5;
__u64 bss_counter;
__u32 last_len;
__u32 history[8];
struct pair pair_var = { .a = 1, .b = 2 };

const volatile __u32 ret_value = 1;
const volatile bool double_it = false;
const volatile __u8 tag[4] = { 1, 2, 3, 4 };
const volatile __s64 offset_by = -3;
const volatile __u64 big_setting = 0;

int custom_data SEC(".data.custom") = 42;
const volatile __u32 custom_ro SEC(".rodata.custom") = 7;

SEC("socket")
int globals(struct __sk_buff *skb)
{
	__u64 r = ret_value;

	bss_counter++;
	data_counter += 1;
	custom_data += 2;
	last_len = skb->len;
	history[bss_counter & 7] = skb->len;
	pair_var.b += pair_var.a;
	if (double_it)
		r *= 2;
	r += tag[3];
	r += offset_by;
	r += custom_ro;
	if (big_setting > 0xffffffffULL)
		r += 1000;
	return r;
}

char LICENSE[] SEC("license") = "GPL";
