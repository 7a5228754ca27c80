// SPDX-License-Identifier: GPL-2.0
// Drops UDP datagrams to one configurable port and counts what it passes and drops.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* The UDP destination port to drop, in host byte order; 0 drops nothing. */
const volatile __u16 blocked_port = 53;

enum verdict {
	VERDICT_PASS = 0,
	VERDICT_DROP = 1,
};

struct counters {
	__u64 packets;
	__u64 bytes;
};

/* Packets and bytes per verdict, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, enum verdict);
	__type(value, struct counters);
} stats SEC(".maps");

static __always_inline int count(enum verdict v, __u64 len)
{
	struct counters *c = bpf_map_lookup_elem(&stats, &v);

	if (c) {
		c->packets++;
		c->bytes += len;
	}
	return v == VERDICT_DROP ? XDP_DROP : XDP_PASS;
}

/* The UDP header of an IPv4 or IPv6 packet, or NULL. */
static __always_inline struct udphdr *udp_header(void *data, void *end)
{
	struct ethhdr *eth = data;
	__u8 proto;
	void *l4;

	if ((void *)(eth + 1) > end)
		return NULL;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->ihl < 5)
			return NULL;
		proto = ip->protocol;
		l4 = (void *)ip + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end)
			return NULL;
		proto = ip6->nexthdr;
		l4 = ip6 + 1;
	} else {
		return NULL;
	}
	if (proto != IPPROTO_UDP || l4 + sizeof(struct udphdr) > end)
		return NULL;
	return l4;
}

SEC("xdp")
int xdp_drop_udp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct udphdr *udp = udp_header(data, end);
	__u64 len = end - data;

	if (udp && blocked_port != 0 && udp->dest == bpf_htons(blocked_port))
		return count(VERDICT_DROP, len);
	return count(VERDICT_PASS, len);
}

char LICENSE[] SEC("license") = "GPL";
