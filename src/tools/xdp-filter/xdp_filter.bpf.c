// SPDX-License-Identifier: GPL-2.0
// xdp-filter: drop (deny policy) or keep only (allow policy) packets matching MAC addresses,
// address prefixes and ports, counting every verdict and every rule's hits per CPU. Each drop
// is also offered to drop_events (the rule and the frame's first bytes) for observers such as
// `tsbpf observe`; when nobody reads it and it is full, the record is skipped.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define MAX_RULES 4096
#define DROP_SNAP 128
// The rule of a drop under the allow policy, where no rule matched.
#define NO_RULE 0xffffffff
#define VLAN_HDR_LEN 4
#define ETH_P_8021Q_BE bpf_htons(0x8100)
#define ETH_P_8021AD_BE bpf_htons(0x88A8)

enum policy {
	POLICY_DENY = 0,
	POLICY_ALLOW = 1,
};

enum stat_index {
	STAT_TOTAL = 0,
	STAT_PASSED = 1,
	STAT_DROPPED = 2,
	STAT_INVALID = 3,
	STAT_MAX = 4,
};

struct counter {
	__u64 packets;
	__u64 bytes;
};

struct lpm_v4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct lpm_v6 {
	__u32 prefixlen;
	__u8 addr[16];
};

enum rule_dir {
	DIR_DST = 0,
	DIR_SRC = 1,
};

struct port_key {
	__u16 port;
	__u8 proto;
	__u8 dir;
};

struct mac_key {
	__u8 addr[ETH_ALEN];
	__u8 dir;
	__u8 pad;
};

// A rule's slot in rule_hits.
struct rule_ref {
	__u32 id;
};

// Only policy is read here; the rest tells the user side which interface the pinned state
// belongs to (bpffs names cannot hold every interface name, and an interface can be recreated
// under the same name with another ifindex).
struct config {
	__u32 policy;
	__u32 flags;
	__u32 ifindex;
	__u32 pad;
	char ifname[16];
};

#define LPM_MAP(name, key_type)                        \
	struct {                                       \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);   \
		__uint(max_entries, MAX_RULES);        \
		__uint(map_flags, BPF_F_NO_PREALLOC);  \
		__type(key, key_type);                 \
		__type(value, struct rule_ref);        \
	} name SEC(".maps")

LPM_MAP(src_v4, struct lpm_v4);
LPM_MAP(dst_v4, struct lpm_v4);
LPM_MAP(src_v6, struct lpm_v6);
LPM_MAP(dst_v6, struct lpm_v6);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_RULES);
	__type(key, struct port_key);
	__type(value, struct rule_ref);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_RULES);
	__type(key, struct mac_key);
	__type(value, struct rule_ref);
} macs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_RULES);
	__type(key, __u32);
	__type(value, struct counter);
} rule_hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, struct counter);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} config SEC(".maps");

// A dropped frame: the rule that matched (NO_RULE: none, under the allow policy), where, and
// its first bytes.
struct drop_event {
	__u64 ts_ns;
	__u32 rule;
	__u32 ifindex;
	__u16 len;
	__u16 caplen;
	__u32 pad;
	__u8 data[DROP_SNAP];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} drop_events SEC(".maps");

static __always_inline void count(void *map, __u32 index, __u64 bytes)
{
	struct counter *c = bpf_map_lookup_elem(map, &index);

	if (c) {
		c->packets += 1;
		c->bytes += bytes;
	}
}

static __always_inline void report_drop(struct xdp_md *ctx, __u32 rule, __u64 bytes)
{
	struct drop_event *e = bpf_ringbuf_reserve(&drop_events, sizeof(*e), 0);
	__u32 n = bytes < DROP_SNAP ? bytes : DROP_SNAP;

	if (!e)
		return;
	e->ts_ns = bpf_ktime_get_ns();
	e->rule = rule;
	e->ifindex = ctx->ingress_ifindex;
	e->len = bytes;
	e->pad = 0;
	e->caplen = 0;
	// 1..DROP_SNAP in a form the verifier follows.
	if (n > 0) {
		n = (n - 1) & (DROP_SNAP - 1);
		if (!bpf_xdp_load_bytes(ctx, 0, e->data, n + 1))
			e->caplen = n + 1;
	}
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int verdict(struct xdp_md *ctx, __u32 action, __u64 bytes, __u32 rule)
{
	count(&stats, action == XDP_DROP ? STAT_DROPPED : STAT_PASSED, bytes);
	if (action == XDP_DROP)
		report_drop(ctx, rule, bytes);
	return action;
}

// The first matching port rule (destination, then source), or NULL.
static __always_inline struct rule_ref *match_port(__u8 proto, void *l4, void *end)
{
	struct port_key key = { .proto = proto, .dir = DIR_DST };
	struct rule_ref *rule;
	__u16 source;

	// TCP and UDP both start with the source and destination ports.
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return NULL;
	if (l4 + 4 > end)
		return NULL;
	source = bpf_ntohs(*(__u16 *)l4);
	key.port = bpf_ntohs(*(__u16 *)(l4 + 2));
	rule = bpf_map_lookup_elem(&ports, &key);
	if (rule)
		return rule;
	key.port = source;
	key.dir = DIR_SRC;
	return bpf_map_lookup_elem(&ports, &key);
}

static __always_inline struct rule_ref *match_mac(struct ethhdr *eth)
{
	struct mac_key key = { .dir = DIR_SRC };
	struct rule_ref *rule;

	__builtin_memcpy(key.addr, eth->h_source, ETH_ALEN);
	rule = bpf_map_lookup_elem(&macs, &key);
	if (rule)
		return rule;
	__builtin_memcpy(key.addr, eth->h_dest, ETH_ALEN);
	key.dir = DIR_DST;
	return bpf_map_lookup_elem(&macs, &key);
}

SEC("xdp")
int xdp_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 bytes = end - data;
	struct ethhdr *eth = data;
	struct rule_ref *rule = NULL;
	__u32 zero = 0, policy = POLICY_DENY;
	struct config *cfg;
	__u16 proto;
	void *l3;

	count(&stats, STAT_TOTAL, bytes);
	if ((void *)(eth + 1) > end) {
		count(&stats, STAT_INVALID, bytes);
		return verdict(ctx, XDP_PASS, bytes, NO_RULE);
	}
	cfg = bpf_map_lookup_elem(&config, &zero);
	if (cfg)
		policy = cfg->policy;

	// A MAC rule covers every frame of that station, ARP included, under the deny policy.
	rule = match_mac(eth);
	if (rule) {
		count(&rule_hits, rule->id, bytes);
		return verdict(ctx, policy == POLICY_DENY ? XDP_DROP : XDP_PASS, bytes, rule->id);
	}

	proto = eth->h_proto;
	l3 = eth + 1;
	if (proto == ETH_P_8021Q_BE || proto == ETH_P_8021AD_BE) {
		if (l3 + VLAN_HDR_LEN > end) {
			count(&stats, STAT_INVALID, bytes);
			return verdict(ctx, XDP_PASS, bytes, NO_RULE);
		}
		proto = *(__u16 *)(l3 + 2);
		l3 += VLAN_HDR_LEN;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;
		struct lpm_v4 key = { .prefixlen = 32 };

		if ((void *)(ip + 1) > end || ip->ihl < 5 || l3 + ip->ihl * 4 > end) {
			count(&stats, STAT_INVALID, bytes);
			return verdict(ctx, XDP_PASS, bytes, NO_RULE);
		}
		__builtin_memcpy(key.addr, &ip->saddr, 4);
		rule = bpf_map_lookup_elem(&src_v4, &key);
		if (!rule) {
			__builtin_memcpy(key.addr, &ip->daddr, 4);
			rule = bpf_map_lookup_elem(&dst_v4, &key);
		}
		if (!rule && !(ip->frag_off & bpf_htons(0x1fff)))
			rule = match_port(ip->protocol, l3 + ip->ihl * 4, end);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;
		struct lpm_v6 key = { .prefixlen = 128 };

		if ((void *)(ip6 + 1) > end) {
			count(&stats, STAT_INVALID, bytes);
			return verdict(ctx, XDP_PASS, bytes, NO_RULE);
		}
		__builtin_memcpy(key.addr, &ip6->saddr, 16);
		rule = bpf_map_lookup_elem(&src_v6, &key);
		if (!rule) {
			__builtin_memcpy(key.addr, &ip6->daddr, 16);
			rule = bpf_map_lookup_elem(&dst_v6, &key);
		}
		if (!rule)
			rule = match_port(ip6->nexthdr, ip6 + 1, end);
		// An allow list must not cut the link's neighbour discovery (router and neighbour
		// solicitations and advertisements, redirects).
		if (!rule && policy == POLICY_ALLOW && ip6->nexthdr == IPPROTO_ICMPV6) {
			__u8 *type = (__u8 *)(ip6 + 1);

			if ((void *)(type + 1) <= end && *type >= 133 && *type <= 137)
				return verdict(ctx, XDP_PASS, bytes, NO_RULE);
		}
	} else {
		// Not IP (ARP, LLDP, ...): never filtered, or the link itself would break.
		return verdict(ctx, XDP_PASS, bytes, NO_RULE);
	}

	if (rule) {
		count(&rule_hits, rule->id, bytes);
		return verdict(ctx, policy == POLICY_DENY ? XDP_DROP : XDP_PASS, bytes, rule->id);
	}
	return verdict(ctx, policy == POLICY_DENY ? XDP_PASS : XDP_DROP, bytes, NO_RULE);
}

char LICENSE[] SEC("license") = "GPL";
