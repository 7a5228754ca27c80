// SPDX-License-Identifier: GPL-2.0
// lb: an XDP layer-4 load balancer. Packets to a VIP (address, protocol, one port or all) go to
// a real server chosen through the VIP's Maglev table, over the 5-tuple or the 3-tuple; the
// connection table keeps each flow on its real while the set of reals changes. DSR mode wraps
// the packet in an outer IPv4 or IPv6 header to the real (IP-in-IP, the real answers the client
// itself); NAT mode rewrites the destination to the real and, for the replies that come back
// through the balancer, the source back to the VIP. Everything else passes untouched.
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define AF_INET 2
#define AF_INET6 10
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define ETH_ALEN 6

#define MAX_VIPS 64
#define MAX_REALS 4096
// The largest Maglev table of one VIP; VIP n's table starts at n * RING_STRIDE.
#define RING_STRIDE 65537
#define CONN_ENTRIES 262144

// vip_info.flags
#define VIP_DSR 1
#define VIP_HASH_3TUPLE 2

// flow_key.dir: a forward entry (client to VIP) or a reverse one (real to client, NAT only).
#define DIR_FORWARD 0
#define DIR_REVERSE 1

struct vip_key {
	__u8 addr[16];
	__be16 port; // 0: every port
	__u8 proto;
	__u8 family;
};

struct vip_info {
	__u32 id;
	__u32 flags;
	__u32 ring_size;
	__u32 pad;
};

struct real_info {
	__u8 addr[16];
	__u8 family;
	__u8 pad[3];
	__u32 flags;
};

struct flow_key {
	__u8 src[16];
	__u8 dst[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u8 dir;
	__u8 pad;
};

// Forward entries name the real; reverse entries carry the VIP address to put back.
struct conn {
	__u8 vip[16];
	__u32 real_id;
	__u32 vip_id;
};

struct lb_counter {
	__u64 packets;
	__u64 bytes;
	__u64 new_conns;
	__u64 lru_misses;
	__u64 reply_packets;
	__u64 reply_bytes;
	__u64 dropped;
	__u64 fib_passed;
};

struct lb_settings {
	__u32 ifindex;
	__u32 flags;
	__be32 src4;
	__u32 pad;
	__u8 src6[16];
	char ifname[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_VIPS);
	__type(key, struct vip_key);
	__type(value, struct vip_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_REALS);
	__type(key, __u32);
	__type(value, struct real_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} reals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_VIPS * RING_STRIDE);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ring SEC(".maps");

// One table, LRU lists per CPU (no common LRU): a flow is found from every CPU, and eviction
// takes no global lock.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CONN_ENTRIES);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct flow_key);
	__type(value, struct conn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_VIPS);
	__type(key, __u32);
	__type(value, struct lb_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_REALS);
	__type(key, __u32);
	__type(value, struct lb_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} real_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_settings);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} settings SEC(".maps");

// Control state the datapath never reads, pinned beside the rest so every command (and the
// health checker) works from one place: each VIP's key by id with its health check, and the
// reals of each VIP with their weights and health.
#define CHECK_NONE 0
#define CHECK_TCP 1
#define CHECK_HTTP 2

struct vip_meta {
	struct vip_key key;
	__u8 check;
	__u8 rise;
	__u8 fall;
	__u8 used;
	__u32 interval_ms;
	__u32 timeout_ms;
	__u16 check_port;
	__u16 pad;
	char path[64];
};

struct member_key {
	__u32 vip_id;
	__u32 real_id;
};

// member.flags
#define MEMBER_DOWN 1

struct member {
	__u32 weight;
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_VIPS);
	__type(key, __u32);
	__type(value, struct vip_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vip_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_REALS);
	__type(key, struct member_key);
	__type(value, struct member);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} members SEC(".maps");

// The packet's layer 3 and 4 as parsed: addresses stay where they are in the packet.
struct packet {
	struct flow_key key;
	void *l3;
	void *l4;
	__u16 *l4_check; // NULL for a UDP datagram without a checksum
	__u64 bytes;
	__u16 l3_len;
	__u8 tcp_flags;
};

static __always_inline __u32 rotl(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

// MurmurHash3's 32-bit block mixing and finalizer over the words of the tuple.
static __always_inline __u32 mix(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51;
	k = rotl(k, 15);
	k *= 0x1b873593;
	h ^= k;
	h = rotl(h, 13);
	return h * 5 + 0xe6546b64;
}

static __always_inline __u32 flow_hash(const struct flow_key *key, int ports)
{
	const __u32 *src = (const __u32 *)key->src;
	const __u32 *dst = (const __u32 *)key->dst;
	__u32 h = 0x2d358dcc;

#pragma unroll
	for (int i = 0; i < 4; i++) {
		h = mix(h, src[i]);
		h = mix(h, dst[i]);
	}
	h = mix(h, key->proto);
	if (ports)
		h = mix(h, ((__u32)key->sport << 16) | key->dport);
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

// RFC 1624: the checksum after replacing n 16-bit words, without summing the rest again.
static __always_inline __u16 csum_replace(__u16 check, const __u16 *from, const __u16 *to, int n)
{
	__u32 sum = (__u16)~check;

#pragma unroll
	for (int i = 0; i < 8; i++) {
		if (i < n) {
			sum += (__u16)~from[i];
			sum += to[i];
		}
	}
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static __always_inline __u16 ipv4_csum(struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u32 sum = 0;

	ip->check = 0;
#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static __always_inline struct lb_counter *counter(void *map, __u32 index)
{
	return bpf_map_lookup_elem(map, &index);
}

static __always_inline int parse_l4(struct packet *p, void *end)
{
	if (p->key.proto == IPPROTO_TCP) {
		struct tcphdr *tcp = p->l4;

		if ((void *)(tcp + 1) > end)
			return -1;
		p->key.sport = tcp->source;
		p->key.dport = tcp->dest;
		p->tcp_flags = ((__u8 *)tcp)[13];
		p->l4_check = &tcp->check;
		return 0;
	}
	if (p->key.proto == IPPROTO_UDP) {
		struct udphdr *udp = p->l4;

		if ((void *)(udp + 1) > end)
			return -1;
		p->key.sport = udp->source;
		p->key.dport = udp->dest;
		p->l4_check = udp->check || p->key.family == AF_INET6 ? &udp->check : NULL;
		return 0;
	}
	return -1;
}

// 0 with p filled for TCP and UDP over IPv4 or IPv6; -1 for anything else, which passes.
static __always_inline int parse(struct xdp_md *ctx, struct packet *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return -1;
	p->bytes = end - data;
	p->l3 = eth + 1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = p->l3;

		if ((void *)(ip + 1) > end || ip->ihl != 5)
			return -1;
		// Fragments carry no ports (or not the first's): the kernel reassembles them.
		if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
			return -1;
		p->key.family = AF_INET;
		p->key.proto = ip->protocol;
		__builtin_memcpy(p->key.src, &ip->saddr, 4);
		__builtin_memcpy(p->key.dst, &ip->daddr, 4);
		p->l3_len = sizeof(*ip);
		p->l4 = ip + 1;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = p->l3;

		if ((void *)(ip6 + 1) > end)
			return -1;
		p->key.family = AF_INET6;
		p->key.proto = ip6->nexthdr;
		__builtin_memcpy(p->key.src, &ip6->saddr, 16);
		__builtin_memcpy(p->key.dst, &ip6->daddr, 16);
		p->l3_len = sizeof(*ip6);
		p->l4 = ip6 + 1;
	} else {
		return -1;
	}
	return parse_l4(p, end);
}

// Sends the packet (its layer 3 already final) to the next hop the kernel's FIB names. Without
// a resolved neighbour or a route the kernel's own forwarding takes it, which also resolves
// the neighbour for the packets after it.
static __always_inline int forward(struct xdp_md *ctx, struct bpf_fib_lookup *fib, struct lb_counter *c)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	long rc;

	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	fib->ifindex = ctx->ingress_ifindex;
	rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
		if (c)
			c->fib_passed++;
		return XDP_PASS;
	}
	__builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
	if (fib->ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect(fib->ifindex, 0);
}

static __always_inline void fib_addrs(struct bpf_fib_lookup *fib, __u8 family, const __u8 *src, const __u8 *dst)
{
	fib->family = family;
	if (family == AF_INET) {
		__builtin_memcpy(&fib->ipv4_src, src, 4);
		__builtin_memcpy(&fib->ipv4_dst, dst, 4);
	} else {
		__builtin_memcpy(fib->ipv6_src, src, 16);
		__builtin_memcpy(fib->ipv6_dst, dst, 16);
	}
}

// Replaces the address at `field` (the packet's source or destination), fixing the IPv4 header
// checksum and the layer 4 checksum, whose pseudo-header covers it.
static __always_inline int rewrite_addr(struct packet *p, void *end, __u8 *field, const __u8 *to)
{
	if (p->key.family == AF_INET) {
		struct iphdr *ip = p->l3;
		__u16 old[2], new[2];

		if ((void *)(ip + 1) > end || (void *)(field + 4) > end)
			return -1;
		__builtin_memcpy(old, field, 4);
		__builtin_memcpy(new, to, 4);
		ip->check = csum_replace(ip->check, old, new, 2);
		if (p->l4_check) {
			if ((void *)(p->l4_check + 1) > end)
				return -1;
			*p->l4_check = csum_replace(*p->l4_check, old, new, 2);
			if (p->key.proto == IPPROTO_UDP && *p->l4_check == 0)
				*p->l4_check = 0xffff;
		}
		__builtin_memcpy(field, to, 4);
	} else {
		__u16 old[8], new[8];

		if ((void *)(field + 16) > end)
			return -1;
		__builtin_memcpy(old, field, 16);
		__builtin_memcpy(new, to, 16);
		if (p->l4_check) {
			if ((void *)(p->l4_check + 1) > end)
				return -1;
			*p->l4_check = csum_replace(*p->l4_check, old, new, 8);
			if (p->key.proto == IPPROTO_UDP && *p->l4_check == 0)
				*p->l4_check = 0xffff;
		}
		__builtin_memcpy(field, to, 16);
	}
	return 0;
}

// IP-in-IP: an outer header of the VIP's family from the balancer to the real, in front.
static __always_inline int encapsulate(struct xdp_md *ctx, struct packet *p, const struct real_info *real, const struct lb_settings *cfg, __u32 hash)
{
	struct ethhdr eth_copy;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	int outer = p->key.family == AF_INET ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
	__u16 inner_len;

	if ((void *)(eth + 1) > end)
		return -1;
	__builtin_memcpy(&eth_copy, eth, sizeof(eth_copy));
	if (p->key.family == AF_INET) {
		struct iphdr *inner = (void *)(eth + 1);

		if ((void *)(inner + 1) > end)
			return -1;
		inner_len = bpf_ntohs(inner->tot_len);
	} else {
		struct ipv6hdr *inner = (void *)(eth + 1);

		if ((void *)(inner + 1) > end)
			return -1;
		inner_len = bpf_ntohs(inner->payload_len) + sizeof(*inner);
	}
	if (bpf_xdp_adjust_head(ctx, -outer))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > end)
		return -1;
	__builtin_memcpy(eth, &eth_copy, sizeof(eth_copy));
	if (p->key.family == AF_INET) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end)
			return -1;
		ip->version = 4;
		ip->ihl = 5;
		ip->tos = 0;
		ip->tot_len = bpf_htons(inner_len + sizeof(*ip));
		ip->id = 0;
		ip->frag_off = 0;
		ip->ttl = 64;
		ip->protocol = IPPROTO_IPIP;
		ip->saddr = cfg->src4;
		__builtin_memcpy(&ip->daddr, real->addr, 4);
		ip->check = ipv4_csum(ip);
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		__be32 *first = (__be32 *)ip6;

		if ((void *)(ip6 + 1) > end)
			return -1;
		// Version 6 and a flow label from the flow's hash, for ECMP on the way to the real.
		*first = bpf_htonl((6U << 28) | (hash & 0xfffff));
		ip6->payload_len = bpf_htons(inner_len);
		ip6->nexthdr = IPPROTO_IPV6;
		ip6->hop_limit = 64;
		__builtin_memcpy(&ip6->saddr, cfg->src6, 16);
		__builtin_memcpy(&ip6->daddr, real->addr, 16);
	}
	eth->h_proto = p->key.family == AF_INET ? bpf_htons(ETH_P_IP) : bpf_htons(ETH_P_IPV6);
	return 0;
}

// A reply of a NAT flow from its real: the source becomes the VIP again.
static __always_inline int reverse_nat(struct xdp_md *ctx, struct packet *p)
{
	void *end = (void *)(long)ctx->data_end;
	struct bpf_fib_lookup fib = {};
	struct lb_counter *c;
	struct conn *conn;
	__u8 vip[16];

	p->key.dir = DIR_REVERSE;
	conn = bpf_map_lookup_elem(&conns, &p->key);
	if (!conn)
		return XDP_PASS;
	__builtin_memcpy(vip, conn->vip, 16);
	c = counter(&vip_stats, conn->vip_id);
	if (c) {
		c->reply_packets++;
		c->reply_bytes += p->bytes;
	}
	c = counter(&real_stats, conn->real_id);
	if (c) {
		c->reply_packets++;
		c->reply_bytes += p->bytes;
	}
	if (p->key.family == AF_INET) {
		struct iphdr *ip = p->l3;

		if ((void *)(ip + 1) > end)
			return XDP_DROP;
		if (rewrite_addr(p, end, (__u8 *)&ip->saddr, vip))
			return XDP_DROP;
	} else {
		struct ipv6hdr *ip6 = p->l3;

		if ((void *)(ip6 + 1) > end)
			return XDP_DROP;
		if (rewrite_addr(p, end, (__u8 *)&ip6->saddr, vip))
			return XDP_DROP;
	}
	fib_addrs(&fib, p->key.family, vip, p->key.dst);
	fib.l4_protocol = p->key.proto;
	fib.sport = p->key.sport;
	fib.dport = p->key.dport;
	return forward(ctx, &fib, NULL);
}

SEC("xdp")
int lb_xdp(struct xdp_md *ctx)
{
	struct packet p = {};
	struct vip_key vk = {};
	struct vip_info *vip;
	struct lb_counter *vc, *rc;
	struct real_info *real;
	struct lb_settings *cfg;
	struct bpf_fib_lookup fib = {};
	struct conn *conn, entry = {};
	__u32 zero = 0, real_id = 0, hash, slot, *owner;
	void *end;

	if (parse(ctx, &p))
		return XDP_PASS;
	__builtin_memcpy(vk.addr, p.key.dst, 16);
	vk.port = p.key.dport;
	vk.proto = p.key.proto;
	vk.family = p.key.family;
	vip = bpf_map_lookup_elem(&vips, &vk);
	if (!vip) {
		vk.port = 0;
		vip = bpf_map_lookup_elem(&vips, &vk);
	}
	if (!vip)
		return reverse_nat(ctx, &p);
	cfg = bpf_map_lookup_elem(&settings, &zero);
	vc = counter(&vip_stats, vip->id);
	if (!cfg || !vc)
		return XDP_PASS;
	vc->packets++;
	vc->bytes += p.bytes;

	hash = flow_hash(&p.key, !(vip->flags & VIP_HASH_3TUPLE));
	conn = bpf_map_lookup_elem(&conns, &p.key);
	if (conn && conn->vip_id == vip->id) {
		real_id = conn->real_id;
	} else {
		// A TCP segment other than the first SYN of a flow the table does not know: evicted,
		// or it began on another balancer or before a restart.
		if (p.key.proto == IPPROTO_TCP && (p.tcp_flags & 0x12) != 0x02)
			vc->lru_misses++;
		if (vip->ring_size == 0 || vip->id >= MAX_VIPS) {
			vc->dropped++;
			return XDP_DROP;
		}
		slot = vip->id * RING_STRIDE + hash % vip->ring_size;
		owner = bpf_map_lookup_elem(&ring, &slot);
		if (!owner || *owner == 0) {
			vc->dropped++;
			return XDP_DROP;
		}
		real_id = *owner;
		entry.real_id = real_id;
		entry.vip_id = vip->id;
		__builtin_memcpy(entry.vip, p.key.dst, 16);
		bpf_map_update_elem(&conns, &p.key, &entry, BPF_ANY);
		vc->new_conns++;
	}
	real = bpf_map_lookup_elem(&reals, &real_id);
	if (!real || real->family != p.key.family) {
		vc->dropped++;
		return XDP_DROP;
	}
	rc = counter(&real_stats, real_id);
	if (rc) {
		rc->packets++;
		rc->bytes += p.bytes;
		if (!conn || conn->vip_id != vip->id)
			rc->new_conns++;
	}

	if (vip->flags & VIP_DSR) {
		if (encapsulate(ctx, &p, real, cfg, hash)) {
			vc->dropped++;
			return XDP_DROP;
		}
		fib_addrs(&fib, p.key.family, p.key.family == AF_INET ? (const __u8 *)&cfg->src4 : cfg->src6, real->addr);
		fib.l4_protocol = p.key.family == AF_INET ? IPPROTO_IPIP : IPPROTO_IPV6;
		return forward(ctx, &fib, vc);
	}

	// NAT: the real's reply is known by its own 5-tuple, back to the client.
	if (!conn || conn->vip_id != vip->id) {
		struct flow_key back = {};

		__builtin_memcpy(back.src, real->addr, 16);
		__builtin_memcpy(back.dst, p.key.src, 16);
		back.sport = p.key.dport;
		back.dport = p.key.sport;
		back.proto = p.key.proto;
		back.family = p.key.family;
		back.dir = DIR_REVERSE;
		bpf_map_update_elem(&conns, &back, &entry, BPF_ANY);
	}
	end = (void *)(long)ctx->data_end;
	if (p.key.family == AF_INET) {
		struct iphdr *ip = p.l3;

		if ((void *)(ip + 1) > end || rewrite_addr(&p, end, (__u8 *)&ip->daddr, real->addr))
			return XDP_DROP;
	} else {
		struct ipv6hdr *ip6 = p.l3;

		if ((void *)(ip6 + 1) > end || rewrite_addr(&p, end, (__u8 *)&ip6->daddr, real->addr))
			return XDP_DROP;
	}
	fib_addrs(&fib, p.key.family, p.key.src, real->addr);
	fib.l4_protocol = p.key.proto;
	fib.sport = p.key.sport;
	fib.dport = p.key.dport;
	return forward(ctx, &fib, vc);
}

char LICENSE[] SEC("license") = "GPL";
