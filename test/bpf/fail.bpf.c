// SPDX-License-Identifier: GPL-2.0
// Programs the verifier rejects, with maps and a good program around them.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} values SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} more SEC(".maps");

SEC("socket")
int good(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&values, &key);

	if (v)
		*v += 1;
	return 0;
}

SEC("socket")
int missing_null_check(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&more, &key);

	return *v + 1;
}

char LICENSE[] SEC("license") = "GPL";
