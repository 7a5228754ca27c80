// SPDX-License-Identifier: GPL-2.0
// `object attach` corpus: XDP counting IP packets by protocol, reporting UDP datagrams to one
// port (all packets when watch_port is 0) through a ring buffer.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct packet_event {
	__u8 saddr[4];
	__u16 sport;
	__u16 dport;
	__u16 len;
	__u8 proto;
	__u8 ipv6;
};

/* Keeps the record type in the object's BTF for user space. */
const struct packet_event *unused_packet_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} packets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

const volatile __u16 watch_port = 0;
__u64 reported;

static void count(__u32 proto)
{
	__u64 one = 1, *n;

	n = bpf_map_lookup_elem(&packets, &proto);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	if (bpf_map_update_elem(&packets, &proto, &one, BPF_NOEXIST) == 0)
		return;
	n = bpf_map_lookup_elem(&packets, &proto);
	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct packet_event *e;
	struct udphdr *udp = 0;
	__u8 saddr[4] = {};
	__u32 proto;
	__u8 ipv6 = 0;
	void *l4;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end)
			return XDP_PASS;
		proto = ip->protocol;
		__builtin_memcpy(saddr, &ip->saddr, 4);
		l4 = (void *)ip + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return XDP_PASS;
		proto = ip6->nexthdr;
		ipv6 = 1;
		l4 = ip6 + 1;
	} else {
		return XDP_PASS;
	}
	count(proto);
	if (proto == IPPROTO_UDP && l4 + sizeof(*udp) <= data_end)
		udp = l4;
	if (watch_port && (!udp || udp->dest != bpf_htons(watch_port)))
		return XDP_PASS;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return XDP_PASS;
	__builtin_memcpy(e->saddr, saddr, 4);
	e->sport = udp ? bpf_ntohs(udp->source) : 0;
	e->dport = udp ? bpf_ntohs(udp->dest) : 0;
	e->len = data_end - data;
	e->proto = proto;
	e->ipv6 = ipv6;
	bpf_ringbuf_submit(e, 0);
	__sync_fetch_and_add(&reported, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
