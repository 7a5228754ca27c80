// SPDX-License-Identifier: GPL-2.0
// `object attach` corpus: IPv4 connects counted per destination port, and the packets a cgroup
// sends.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} connects SEC(".maps");

__u64 egress_packets;

SEC("cgroup/connect4")
int count_connect4(struct bpf_sock_addr *ctx)
{
	__u32 port = bpf_ntohs(ctx->user_port);
	__u64 one = 1, *n;

	n = bpf_map_lookup_elem(&connects, &port);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&connects, &port, &one, BPF_ANY);
	return 1;
}

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&egress_packets, 1);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
