// SPDX-License-Identifier: GPL-2.0
// observe: a flow record per packet seen at TCX (or tc) ingress and egress, and per packet the
// kernel drops (skb:kfree_skb with its enum skb_drop_reason).
//
// Each record carries the addresses, the L4 ports and TCP flags or ICMP type and code, the
// direction, whether it is a reply (from a connection table kept here), the processes at either
// end where a local socket names them, and the first bytes of the L4 payload for the user
// side's DNS and HTTP parsers. Filters the user gives go into the rodata and the filter maps so
// that a packet nobody asked for costs a few loads. A record that does not fit in the ring is
// counted, per CPU, in `lost`.
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_HOPOPTS 0
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ROUTING 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_ICMPV6 58
#define IPPROTO_DSTOPTS 60
#define TC_ACT_UNSPEC (-1)
#define SNAP_MAX 512
#define CONN_SLOTS 65536
#define SOCK_SLOTS 65536
#define FILTER_SLOTS 1024

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_ACK 0x10

enum direction {
	DIR_INGRESS = 1,
	DIR_EGRESS = 2,
	DIR_UNKNOWN = 0,
};

enum verdict {
	VERDICT_FORWARDED = 1,
	VERDICT_DROPPED = 2,
};

enum reply {
	REPLY_UNKNOWN = 0,
	REPLY_NO = 1,
	REPLY_YES = 2,
};

// Bits of filter_protocols.
enum proto_bit {
	PROTO_TCP = 1,
	PROTO_UDP = 2,
	PROTO_ICMP = 4,
	PROTO_OTHER = 8,
};

// Bits of a filter map's value: where the address or port may stand.
enum side {
	SIDE_SRC = 1,
	SIDE_DST = 2,
};

// A local process at one end of a flow, as its socket told.
struct proc {
	__u64 cgroup_id;
	__u32 pid;
	char comm[16];
	__u32 pad;
};

// One ring record. It is EVENT_HEAD bytes without payload, and with one, as long as its
// payload_len needs in steps of 64, 128, 256 and SNAP_MAX bytes.
struct flow_event {
	__u64 ts_ns;
	__u64 sock_cookie;
	struct proc src;
	struct proc dst;
	__u32 ifindex;
	__u32 len;
	__u32 drop_reason;
	__u32 netns;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 payload_len;
	__u8 family;
	__u8 proto;
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 direction;
	__u8 verdict;
	__u8 is_reply;
	// Made under aggregation only for the payload of a new turn: the user side shows the L7
	// flow of the payload in its stead, and this packet's own flow only when there is none.
	__u8 turn_only;
	__u8 pad;
	__u8 payload[SNAP_MAX];
};

// Names the types in the object's BTF, for the generated TypeScript.
const struct flow_event *unused_flow_event __attribute__((unused));

// A connection in its originator's orientation: a:pa opened it towards b:pb.
struct conn_key {
	__u8 a[16];
	__u8 b[16];
	__u16 pa;
	__u16 pb;
	__u8 proto;
	__u8 family;
	__u16 pad;
};

struct conn_val {
	__u64 first_ns;
	// When a record was last made for this connection (monitor aggregation).
	__u64 reported_ns;
	struct proc orig;
	struct proc resp;
	// TCP flags seen so far from the originator [0] and the responder [1].
	__u8 seen[2];
	// 1 + the side that sent the last payload: a payload from the other side is a new turn
	// (a request, a response).
	__u8 turn;
	// Made mid-stream, with the orientation of the first packet seen: is_reply is unknown.
	__u8 guessed;
	// Bit 0: a packet from the originator was seen; bit 1: from the responder.
	__u8 sides;
	__u8 pad[3];
};
// A record per connection at least this often under aggregation, as Cilium's report interval.
#define REPORT_INTERVAL_NS 5000000000ULL

struct lpm_v4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct lpm_v6 {
	__u32 prefixlen;
	__u8 addr[16];
};

// Set by the user side before load.
const volatile __u32 snap_len = 0;
const volatile __u32 filter_family = 0; // 0: both, else 4 or 6
const volatile __u32 filter_protocols = 0; // proto_bit mask; 0: every protocol
const volatile __u32 filter_addresses = 0; // addr_v4/addr_v6 hold the allowed prefixes
const volatile __u32 filter_ports = 0; // ports holds the allowed ports
const volatile __u32 drop_ifaces = 0; // drops only on the interfaces in `ifaces`
const volatile __u32 netns_ino = 0; // drops only in this network namespace (0: any)
const volatile __u32 trace_events = 1; // the tc programs emit records (0: only track)
// 0: a record per packet. 1 (Cilium's "medium"): per connection, a record per packet that
// shows a TCP flag not seen before from its side, opens a new payload turn, or comes
// REPORT_INTERVAL_NS after the last record; other packets are only tracked.
const volatile __u32 aggregate = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CONN_SLOTS);
	__type(key, struct conn_key);
	__type(value, struct conn_val);
} conns SEC(".maps");

// Socket cookie -> the process that created the socket.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SOCK_SLOTS);
	__type(key, __u64);
	__type(value, struct proc);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FILTER_SLOTS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4);
	__type(value, __u8);
} addr_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FILTER_SLOTS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v6);
	__type(value, __u8);
} addr_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FILTER_SLOTS);
	__type(key, __u16);
	__type(value, __u8);
} ports SEC(".maps");

// ifindex -> the length of its link-layer header plus one: the interfaces observed (for
// drop_ifaces), and where their packets' network header starts at tc (skb->data is the
// link-layer header there, and payload in page fragments is only read from skb->data).
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FILTER_SLOTS);
	__type(key, __u32);
	__type(value, __u8);
} ifaces SEC(".maps");

// What parsing a packet found, before it goes into a record.
struct pkt {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 family;
	__u8 proto;
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 pad[3];
	// Offset of the L4 payload from the network header, and its length.
	__u32 payload_off;
	__u32 payload_len;
};

// How a record of `size` bytes wakes the reader. The user side drains the ring on a short
// timer, so only the record that takes the ring past WAKE_SHARE of its size wakes it, for it
// to drain before the ring overflows. By default the kernel would wake it for the first record
// after each drain; waking for every record past the mark would wake it once per record
// while it is late, when it can least afford it.
#define WAKE_SHARE 8
static __always_inline __u64 wake_flags(__u64 size)
{
	__u64 ready = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 mark = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / WAKE_SHARE;

	// `ready` counts this record (reserved, not yet submitted) and its 8-byte header.
	return ready >= mark && ready < mark + size + 8 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&lost, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline __u32 proto_bit(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return PROTO_TCP;
	case IPPROTO_UDP:
		return PROTO_UDP;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return PROTO_ICMP;
	default:
		return PROTO_OTHER;
	}
}

static __always_inline __u8 addr_sides(struct pkt *p, __u8 *addr)
{
	__u8 *v;

	if (p->family == 4) {
		struct lpm_v4 k = { .prefixlen = 32 };

		__builtin_memcpy(k.addr, addr + 12, 4);
		v = bpf_map_lookup_elem(&addr_v4, &k);
	} else {
		struct lpm_v6 k = { .prefixlen = 128 };

		__builtin_memcpy(k.addr, addr, 16);
		v = bpf_map_lookup_elem(&addr_v6, &k);
	}
	return v ? *v : 0;
}

static __always_inline __u8 port_sides(__u16 port)
{
	__u8 *v = bpf_map_lookup_elem(&ports, &port);

	return v ? *v : 0;
}

// Whether the user's filter lets this packet through (a superset of what the user side shows).
static __always_inline bool wanted(struct pkt *p)
{
	if (filter_family && filter_family != p->family)
		return false;
	if (filter_protocols && !(filter_protocols & proto_bit(p->proto)))
		return false;
	if (filter_addresses && !(addr_sides(p, p->saddr) & SIDE_SRC) && !(addr_sides(p, p->daddr) & SIDE_DST))
		return false;
	if (filter_ports) {
		if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)
			return false;
		if (!(port_sides(p->sport) & SIDE_SRC) && !(port_sides(p->dport) & SIDE_DST))
			return false;
	}
	return true;
}

// IPv4 addresses are kept v4-mapped (::ffff:a.b.c.d) so that both families share one layout.
static __always_inline void map_v4(__u8 *dst, __u32 addr)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &addr, 4);
}

// Fills the L4 fields from the header at `off` (from the network header), read by `load`.
#define PARSE_L4(p, off, load)                                                         \
	do {                                                                           \
		if ((p)->proto == IPPROTO_TCP) {                                       \
			__u8 th[14];                                                   \
			if (load((off), th, sizeof(th)))                               \
				break;                                                 \
			(p)->sport = (th[0] << 8) | th[1];                             \
			(p)->dport = (th[2] << 8) | th[3];                             \
			(p)->tcp_flags = th[13];                                       \
			(p)->payload_off = (off) + (th[12] >> 4) * 4;                  \
		} else if ((p)->proto == IPPROTO_UDP) {                                \
			__u8 uh[4];                                                    \
			if (load((off), uh, sizeof(uh)))                               \
				break;                                                 \
			(p)->sport = (uh[0] << 8) | uh[1];                             \
			(p)->dport = (uh[2] << 8) | uh[3];                             \
			(p)->payload_off = (off) + 8;                                  \
		} else if ((p)->proto == IPPROTO_ICMP || (p)->proto == IPPROTO_ICMPV6) { \
			__u8 ih[2];                                                    \
			if (load((off), ih, sizeof(ih)))                               \
				break;                                                 \
			(p)->icmp_type = ih[0];                                        \
			(p)->icmp_code = ih[1];                                        \
		}                                                                      \
	} while (0)

// Parses IPv4 or IPv6 and L4 through `load(offset, buf, len)` (0 on success), offsets counted
// from the network header. `total` is the packet's length from there. Returns false when the
// packet is not IP or too short.
#define PARSE_IP(p, ethertype, total, load, ok)                                        \
	do {                                                                           \
		ok = false;                                                            \
		if ((ethertype) == ETH_P_IP) {                                         \
			struct iphdr ip;                                               \
			__u32 hl, tot;                                                 \
			if (load(0, &ip, sizeof(ip)))                                  \
				break;                                                 \
			hl = ip.ihl * 4;                                               \
			if (hl < 20)                                                   \
				break;                                                 \
			(p)->family = 4;                                               \
			(p)->proto = ip.protocol;                                      \
			map_v4((p)->saddr, ip.saddr);                                  \
			map_v4((p)->daddr, ip.daddr);                                  \
			tot = bpf_ntohs(ip.tot_len);                                   \
			ok = true;                                                     \
			if (ip.frag_off & bpf_htons(0x1fff))                           \
				break;                                                 \
			PARSE_L4(p, hl, load);                                         \
			if ((p)->payload_off && tot > (p)->payload_off)                \
				(p)->payload_len = tot - (p)->payload_off;             \
		} else if ((ethertype) == ETH_P_IPV6) {                                \
			struct ipv6hdr ip6;                                            \
			__u32 off = sizeof(ip6);                                       \
			__u8 next;                                                     \
			if (load(0, &ip6, sizeof(ip6)))                                \
				break;                                                 \
			(p)->family = 6;                                               \
			__builtin_memcpy((p)->saddr, &ip6.saddr, 16);                  \
			__builtin_memcpy((p)->daddr, &ip6.daddr, 16);                  \
			next = ip6.nexthdr;                                            \
			ok = true;                                                     \
			for (int i = 0; i < 4; i++) {                                  \
				__u8 ext[2];                                           \
				if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING && \
				    next != IPPROTO_DSTOPTS && next != IPPROTO_FRAGMENT) \
					break;                                         \
				if (load(off, ext, sizeof(ext)))                       \
					break;                                         \
				next = ext[0];                                         \
				off += next == IPPROTO_FRAGMENT ? 8 : (ext[1] + 1) * 8; \
			}                                                              \
			(p)->proto = next;                                             \
			PARSE_L4(p, off, load);                                        \
			if ((p)->payload_off && sizeof(ip6) + bpf_ntohs(ip6.payload_len) > (p)->payload_off) \
				(p)->payload_len = sizeof(ip6) + bpf_ntohs(ip6.payload_len) - (p)->payload_off; \
		}                                                                      \
		(void)(total);                                                         \
	} while (0)

static __always_inline void conn_key_of(struct conn_key *k, struct pkt *p, bool reverse)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->proto = p->proto;
	k->family = p->family;
	if (!reverse) {
		__builtin_memcpy(k->a, p->saddr, 16);
		__builtin_memcpy(k->b, p->daddr, 16);
		k->pa = p->sport;
		k->pb = p->dport;
	} else {
		__builtin_memcpy(k->a, p->daddr, 16);
		__builtin_memcpy(k->b, p->saddr, 16);
		k->pa = p->dport;
		k->pb = p->sport;
	}
}

// The connection of a TCP or UDP packet: found in either orientation, or (when `create`) made
// with the orientation the packet tells: a SYN opens, a SYN-ACK answers, the first UDP datagram
// seen opens. ICMP echo replies are replies without a table.
static __always_inline struct conn_val *track(struct pkt *p, bool create, __u8 *reply, __u8 *side)
{
	struct conn_key k;
	struct conn_val *v;

	*reply = REPLY_UNKNOWN;
	*side = 0;
	if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6) {
		if (p->icmp_type == 0 || p->icmp_type == 129)
			*reply = REPLY_YES;
		else if (p->icmp_type == 8 || p->icmp_type == 128)
			*reply = REPLY_NO;
		return NULL;
	}
	if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)
		return NULL;
	conn_key_of(&k, p, false);
	v = bpf_map_lookup_elem(&conns, &k);
	if (v) {
		*reply = v->guessed ? REPLY_UNKNOWN : REPLY_NO;
		return v;
	}
	conn_key_of(&k, p, true);
	v = bpf_map_lookup_elem(&conns, &k);
	if (v) {
		*reply = v->guessed ? REPLY_UNKNOWN : REPLY_YES;
		*side = 1;
		return v;
	}
	{
		struct conn_val fresh = { .first_ns = bpf_ktime_get_ns() };

		if (p->proto == IPPROTO_TCP && (p->tcp_flags & TCP_SYN)) {
			bool ack = p->tcp_flags & TCP_ACK;

			*reply = ack ? REPLY_YES : REPLY_NO;
			*side = ack;
			// The SYN-ACK of a connection whose SYN was not seen: keyed as its SYN would have been.
			conn_key_of(&k, p, ack);
		} else if (p->proto == IPPROTO_TCP) {
			// Mid-stream: tracked, for aggregation and processes, with no say on replies.
			fresh.guessed = 1;
			conn_key_of(&k, p, false);
		} else {
			*reply = REPLY_NO;
			conn_key_of(&k, p, false);
		}
		if (!create)
			return NULL;
		bpf_map_update_elem(&conns, &k, &fresh, BPF_NOEXIST);
	}
	return bpf_map_lookup_elem(&conns, &k);
}

// What a packet of a connection makes under aggregation.
enum report {
	REPORT_NONE = 0,
	// A flow of its own: a new side or TCP flag, or the interval passed.
	REPORT_TRACE = 1,
	// Only its payload, the first of a new turn, for the user side's L7 parsers.
	REPORT_TURN = 2,
};

// What this packet of connection `c` makes under aggregation; notes what it shows. A record
// made only for a turn leaves the interval running, so that a busy connection still has a
// flow of its own every REPORT_INTERVAL_NS, as Cilium's "medium" has.
static __always_inline enum report report(struct conn_val *c, struct pkt *p, __u8 side, __u64 now)
{
	__u8 bit = 1 << side;
	__u8 seen = side ? c->seen[1] : c->seen[0];
	bool fresh = !(c->sides & bit) || (p->tcp_flags & ~seen);
	// A turn makes a record only for the parsers: none when no payload is copied.
	bool turn = snap_len && p->payload_len && c->turn != side + 1;

	c->sides |= bit;
	if (side)
		c->seen[1] = seen | p->tcp_flags;
	else
		c->seen[0] = seen | p->tcp_flags;
	if (p->payload_len)
		c->turn = side + 1;
	if (fresh || now - c->reported_ns >= REPORT_INTERVAL_NS) {
		c->reported_ns = now;
		return REPORT_TRACE;
	}
	return turn ? REPORT_TURN : REPORT_NONE;
}

static __always_inline void fill(struct flow_event *e, struct pkt *p, struct conn_val *c, __u8 reply, __u8 side)
{
	e->ts_ns = bpf_ktime_get_ns();
	__builtin_memcpy(e->saddr, p->saddr, 16);
	__builtin_memcpy(e->daddr, p->daddr, 16);
	e->sport = p->sport;
	e->dport = p->dport;
	e->family = p->family;
	e->proto = p->proto;
	e->tcp_flags = p->tcp_flags;
	e->icmp_type = p->icmp_type;
	e->icmp_code = p->icmp_code;
	e->is_reply = reply;
	e->payload_len = 0;
	e->turn_only = 0;
	e->pad = 0;
	e->sock_cookie = 0;
	e->netns = 0;
	if (c) {
		e->src = side ? c->resp : c->orig;
		e->dst = side ? c->orig : c->resp;
	} else {
		__builtin_memset(&e->src, 0, sizeof(e->src));
		__builtin_memset(&e->dst, 0, sizeof(e->dst));
	}
}

// The small record: everything up to the payload.
#define EVENT_HEAD (sizeof(struct flow_event) - SNAP_MAX)

// Reserves a record with `room` payload bytes and copies `snap` (1..room) of them from `off`
// past the link-layer header (`l2` holds its length plus one), in a form the verifier follows:
// one less, masked to the room (a power of two), one more. `copied` gets the bytes copied.
#define RESERVE_SNAP(skb, l2, off, e, snap, room, copied)                               \
	do {                                                                           \
		(e) = bpf_ringbuf_reserve(&events, EVENT_HEAD + (room), 0);            \
		if ((e) && (l2) && *(l2)) {                                            \
			__u32 n = (snap) - 1;                                          \
			barrier_var(n);                                                \
			n &= (room) - 1;                                               \
			if (!bpf_skb_load_bytes((skb), *(l2) - 1 + (off), (e)->payload, n + 1)) \
				(copied) = n + 1;                                      \
		}                                                                      \
	} while (0)

static __always_inline int load_net(struct __sk_buff *skb, __u32 off, void *to, __u32 len)
{
	return bpf_skb_load_bytes_relative(skb, off, to, len, BPF_HDR_START_NET);
}

// The process of the local socket that sent this packet: its own cookie, or for a SYN-ACK the
// listener its request socket belongs to.
static __always_inline struct proc *sender(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct tcp_request_sock *req;
	struct sock *listener;
	__u64 cookie;

	if (!sk)
		return NULL;
	cookie = bpf_get_socket_cookie(skb);
	if (cookie) {
		struct proc *p = bpf_map_lookup_elem(&socks, &cookie);

		if (p)
			return p;
	}
	req = bpf_skc_to_tcp_request_sock(sk);
	if (!req)
		return NULL;
	listener = req->req.req.__req_common.skc_listener;
	if (!listener)
		return NULL;
	cookie = BPF_CORE_READ(listener, __sk_common.skc_cookie.counter);
	return cookie ? bpf_map_lookup_elem(&socks, &cookie) : NULL;
}

static __always_inline int observe_skb(struct __sk_buff *skb, __u8 direction)
{
	struct pkt p = {};
	struct conn_val *c;
	struct flow_event *e;
	__u32 snap = 0, copied = 0, size;
	__u8 *l2 = NULL;
	__u8 reply, side;
	enum report why = REPORT_TRACE;
	bool ok;

#define LOAD(off, buf, len) load_net(skb, (off), (buf), (len))
	PARSE_IP(&p, bpf_ntohs(skb->protocol), skb->len, LOAD, ok);
#undef LOAD
	if (!ok || !wanted(&p))
		return TC_ACT_UNSPEC;
	c = track(&p, true, &reply, &side);
	// The sending process is looked up once per side of a connection.
	if (c && direction == DIR_EGRESS) {
		struct proc *slot = side ? &c->resp : &c->orig;

		if (!slot->pid && !slot->cgroup_id) {
			struct proc *who = sender(skb);

			if (who)
				*slot = *who;
			else
				slot->cgroup_id = bpf_skb_cgroup_id(skb);
		}
	}
	if (!trace_events)
		return TC_ACT_UNSPEC;
	if (aggregate && c) {
		why = report(c, &p, side, bpf_ktime_get_ns());
		if (why == REPORT_NONE)
			return TC_ACT_UNSPEC;
	}
	if (snap_len && p.payload_len)
		snap = p.payload_len < snap_len ? p.payload_len : snap_len;
	// The record is as long as its payload needs, in steps: a request or a response takes
	// a third of the ring space a full-size record would, and is read from fewer lines.
	// Each step copies in the branch that reserved it, where the verifier knows its size.
	if (snap) {
		__u32 ifindex = skb->ifindex;

		l2 = bpf_map_lookup_elem(&ifaces, &ifindex);
	}
	if (!snap)
		e = bpf_ringbuf_reserve(&events, EVENT_HEAD, 0);
	else if (snap <= 64)
		RESERVE_SNAP(skb, l2, p.payload_off, e, snap, 64, copied);
	else if (snap <= 128)
		RESERVE_SNAP(skb, l2, p.payload_off, e, snap, 128, copied);
	else if (snap <= 256)
		RESERVE_SNAP(skb, l2, p.payload_off, e, snap, 256, copied);
	else
		RESERVE_SNAP(skb, l2, p.payload_off, e, snap, SNAP_MAX, copied);
	size = !snap ? EVENT_HEAD : snap <= 64 ? EVENT_HEAD + 64 : snap <= 128 ? EVENT_HEAD + 128 : snap <= 256 ? EVENT_HEAD + 256 : sizeof(struct flow_event);
	if (!e) {
		count_lost();
		return TC_ACT_UNSPEC;
	}
	fill(e, &p, c, reply, side);
	e->ifindex = skb->ifindex;
	e->len = skb->len;
	e->direction = direction;
	e->verdict = VERDICT_FORWARDED;
	e->drop_reason = 0;
	e->sock_cookie = skb->sk ? bpf_get_socket_cookie(skb) : 0;
	e->turn_only = why == REPORT_TURN;
	e->payload_len = copied;
	bpf_ringbuf_submit(e, wake_flags(size));
	return TC_ACT_UNSPEC;
}

SEC("tc")
int observe_ingress(struct __sk_buff *skb)
{
	return observe_skb(skb, DIR_INGRESS);
}

SEC("tc")
int observe_egress(struct __sk_buff *skb)
{
	return observe_skb(skb, DIR_EGRESS);
}

// Every socket made in the cgroup tree, with the process that made it: listeners and clients.
SEC("cgroup/sock_create")
int observe_sock_create(struct bpf_sock *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct proc p = {};

	p.pid = bpf_get_current_pid_tgid() >> 32;
	p.cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(p.comm, sizeof(p.comm));
	bpf_map_update_elem(&socks, &cookie, &p, BPF_ANY);
	return 1;
}

// Sockets made before observe started: their cookie and inode, for the user side to find
// their process (/proc/PID/fd) and fill in `socks`.
static __always_inline void print_socket(struct seq_file *seq, struct sock *sk)
{
	__u64 cookie = bpf_get_socket_cookie(sk);
	__u64 ino = BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);

	if (ino)
		BPF_SEQ_PRINTF(seq, "%llu %llu\n", cookie, ino);
}

SEC("iter/tcp")
int observe_tcp_sockets(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp;

	if (!skc)
		return 0;
	// Listeners and connections; time-wait and request sockets have no process.
	tp = bpf_skc_to_tcp_sock(skc);
	if (tp)
		print_socket(ctx->meta->seq, (struct sock *)tp);
	return 0;
}

SEC("iter/udp")
int observe_udp_sockets(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;

	if (udp)
		print_socket(ctx->meta->seq, (struct sock *)udp);
	return 0;
}

static __always_inline int read_kernel(void *head, __u32 off, void *to, __u32 len)
{
	return bpf_probe_read_kernel(to, len, head + off);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(observe_drop, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	struct pkt p = {};
	struct flow_event *e;
	struct conn_val *c;
	struct net_device *dev;
	unsigned char *nh;
	__u32 ifindex = 0;
	__u16 proto;
	__u8 reply, side;
	bool ok;

	dev = BPF_CORE_READ(skb, dev);
	if (dev)
		ifindex = BPF_CORE_READ(dev, ifindex);
	if (drop_ifaces && !bpf_map_lookup_elem(&ifaces, &ifindex))
		return 0;
	if (netns_ino && (!dev || BPF_CORE_READ(dev, nd_net.net, ns.inum) != netns_ino))
		return 0;
	proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	nh = BPF_CORE_READ(skb, head) + BPF_CORE_READ(skb, network_header);
#define LOAD(off, buf, len) read_kernel(nh, (off), (buf), (len))
	PARSE_IP(&p, proto, 0, LOAD, ok);
#undef LOAD
	if (!ok || !wanted(&p))
		return 0;
	c = track(&p, false, &reply, &side);
	e = bpf_ringbuf_reserve(&events, EVENT_HEAD, 0);
	if (!e) {
		count_lost();
		return 0;
	}
	fill(e, &p, c, reply, side);
	e->ifindex = ifindex;
	e->len = BPF_CORE_READ(skb, len);
	e->direction = DIR_UNKNOWN;
	e->verdict = VERDICT_DROPPED;
	e->drop_reason = reason;
	if (dev)
		e->netns = BPF_CORE_READ(dev, nd_net.net, ns.inum);
	bpf_ringbuf_submit(e, wake_flags(EVENT_HEAD));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
