// SPDX-License-Identifier: GPL-2.0
// Packet programs that BPF_PROG_TEST_RUN can run: XDP, socket filter, tc, cgroup skb.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

#define TC_ACT_SHOT 2

__u64 xdp_packets;
__u64 tc_packets;

/* Swaps the Ethernet addresses and sends the frame back out. */
SEC("xdp")
int xdp_reflect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	unsigned char tmp[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	xdp_packets++;
	return XDP_TX;
}

SEC("xdp.frags")
int xdp_frags_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("socket")
int socket_len(struct __sk_buff *skb)
{
	return skb->len;
}

SEC("tc")
int tc_drop_short(struct __sk_buff *skb)
{
	tc_packets++;
	if (skb->len < 64)
		return TC_ACT_SHOT;
	skb->mark = 42;
	return 0;
}

SEC("tcx/ingress")
int tcx_pass(struct __sk_buff *skb)
{
	return -1;
}

SEC("cgroup_skb/ingress")
int cgroup_allow(struct __sk_buff *skb)
{
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
