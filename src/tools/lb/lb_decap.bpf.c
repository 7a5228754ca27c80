// SPDX-License-Identifier: GPL-2.0
// lb_decap: on a real server of a DSR VIP, strips the outer header the balancer put in front
// (IPv4 in IPv4, IPv6 in IPv6) from packets whose inner destination is one of its VIPs, so the
// kernel delivers the client's own packet to the VIP on this host. For kernels without an ipip
// or ip6tnl device; anything else passes untouched.
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define AF_INET 2
#define AF_INET6 10
#define MAX_VIPS 256

struct decap_key {
	__u8 addr[16];
	__u8 family;
	__u8 pad[3];
};

struct decap_counter {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_VIPS);
	__type(key, struct decap_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} decap_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct decap_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} decap_stats SEC(".maps");

static __always_inline int strip(struct xdp_md *ctx, int outer, __u16 proto)
{
	struct ethhdr eth_copy, *eth = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct decap_counter *c;
	__u32 zero = 0;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	__builtin_memcpy(&eth_copy, eth, sizeof(eth_copy));
	c = bpf_map_lookup_elem(&decap_stats, &zero);
	if (c) {
		c->packets++;
		c->bytes += end - (void *)eth;
	}
	if (bpf_xdp_adjust_head(ctx, outer))
		return XDP_DROP;
	eth = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	__builtin_memcpy(eth, &eth_copy, sizeof(eth_copy));
	eth->h_proto = bpf_htons(proto);
	return XDP_PASS;
}

SEC("xdp")
int lb_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct decap_key key = {};

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *outer = (void *)(eth + 1);
		struct iphdr *inner = (void *)(outer + 1);

		if ((void *)(inner + 1) > end || outer->ihl != 5 || outer->protocol != IPPROTO_IPIP)
			return XDP_PASS;
		if (outer->frag_off & bpf_htons(0x3fff))
			return XDP_PASS;
		key.family = AF_INET;
		__builtin_memcpy(key.addr, &inner->daddr, 4);
		if (!bpf_map_lookup_elem(&decap_vips, &key))
			return XDP_PASS;
		return strip(ctx, sizeof(*outer), ETH_P_IP);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *outer = (void *)(eth + 1);
		struct ipv6hdr *inner = (void *)(outer + 1);

		if ((void *)(inner + 1) > end || outer->nexthdr != IPPROTO_IPV6)
			return XDP_PASS;
		key.family = AF_INET6;
		__builtin_memcpy(key.addr, &inner->daddr, 16);
		if (!bpf_map_lookup_elem(&decap_vips, &key))
			return XDP_PASS;
		return strip(ctx, sizeof(*outer), ETH_P_IPV6);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
