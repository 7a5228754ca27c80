// SPDX-License-Identifier: GPL-2.0
// tcptrack: TCP connections from the socket state machine.
//
// The sock:inet_sock_set_state tracepoint sees every TCP state change. CLOSE -> SYN_SENT runs in
// the connecting task, so pid, tid, uid and comm are captured there; SYN_SENT -> ESTABLISHED
// gives the connect latency; SYN_SENT -> CLOSE is a refused, timed-out or failed connect
// (sk_err tells which); any state -> CLOSE of a tracked socket ends it with duration and bytes.
// Inbound connections become ESTABLISHED in softirq context, so the accepting task is taken
// from the accept()/accept4() syscall exit, which runs in that task. A v4-mapped IPv6
// connection (an IPv4 peer of a dual-stack socket) is reported, filtered and counted as IPv4.
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define ECONNREFUSED 111
#define ETIMEDOUT 110
#define MAX_PORTS 16

enum tcp_state_ids {
	ST_ESTABLISHED = 1,
	ST_SYN_SENT = 2,
	ST_SYN_RECV = 3,
	ST_FIN_WAIT1 = 4,
	ST_CLOSE = 7,
	ST_LAST_ACK = 9,
};

enum event_kind {
	KIND_CONNECT = 0,
	KIND_ACCEPT = 1,
	KIND_CLOSE = 2,
};

enum outcome {
	OUTCOME_ESTABLISHED = 0,
	OUTCOME_REFUSED = 1,
	OUTCOME_TIMEOUT = 2,
	OUTCOME_FAILED = 3,
	OUTCOME_CLOSED = 4,
};

enum direction {
	DIR_OUT = 0,
	DIR_IN = 1,
};

// One ring buffer record. saddr/sport is the local end, daddr/dport the remote end.
struct event {
	__u64 ts_ns;
	__u64 latency_ns;
	__u64 duration_ns;
	__u64 tx_bytes;
	__u64 rx_bytes;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 error;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 family;
	__u8 direction;
	__u8 kind;
	__u8 outcome;
	char comm[16];
	// The inode number of the socket's network namespace (as `stat -L /proc/PID/ns/net`).
	__u32 netns;
};

// Names struct event in the object's BTF, for the generated TypeScript types.
const struct event *unused_event __attribute__((unused));

// conn_stats key: local address, remote address, the service port (remote for outbound,
// local for inbound), family 4 or 6, direction.
struct conn_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 dport;
	__u8 family;
	__u8 direction;
};

struct conn_stat {
	__u64 connections;
	__u64 failed;
	__u64 tx_bytes;
	__u64 rx_bytes;
};

// What is known about a socket between its first state and its close.
struct sock_info {
	__u64 start_ns;
	__u64 established_ns;
	// bytes_acked and bytes_received when it became ESTABLISHED: the SYN's sequence number
	// is in them for an active open, and a close reports data bytes only.
	__u64 acked_base;
	__u64 received_base;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u8 direction;
	// Inbound: the accepting task is known. Outbound: see REPORTED_IN_CONNECT.
	__u8 reported;
	// The connect call that started this socket has returned (seen by fexit only).
	__u8 connect_returned;
	// A FIN was queued (FIN_WAIT1 or LAST_ACK was entered): once acked, bytes_acked counts it.
	__u8 fin_queued;
	char comm[16];
};

// A connect that failed inside tcp_v{4,6}_connect after SYN_SENT was already reported by the
// state machine; the entry stays until the connect's fexit sees it, so it is not reported twice.
#define REPORTED_IN_CONNECT 2

// Filters, set by user space before load. Zero means "any".
const volatile __u32 target_pid = 0;
const volatile __u32 target_uid = 0;
const volatile __u8 filter_uid = 0;
const volatile __u8 target_family = 0;
const volatile __u8 include_accept = 0;
const volatile __u8 include_close = 0;
const volatile __u8 count_only = 0;
const volatile __u64 target_cgroup = 0;
const volatile __u32 nports = 0;
const volatile __u16 ports[MAX_PORTS] = {};
// Only sockets of the network namespace with this inode number; 0: every namespace.
const volatile __u32 target_netns = 0;
// Set when the accept syscall tracepoints are attached: inbound connections are reported when
// accepted, with the accepting task. Otherwise they are reported when established, pid 0.
const volatile __u8 accept_syscalls = 0;
// Set when the tcp_v{4,6}_connect fexit programs are attached.
const volatile __u8 connect_exit = 0;
// Set when the reader drains the ring on a timer: records then wake nobody. A wake-up costs
// more than the record it announces. Otherwise the kernel wakes a reader that has caught up.
const volatile __u8 timer_reader = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct sock_info);
} socks SEC(".maps");

// The socket table. A socket's entry is kept in the slot of sock_slots its cookie picks: an
// array element, found with no hash, lock or helper call (and claimed with one compare-and-
// swap). A slot holds one socket at a time. A socket whose slot is taken, and every socket
// seen by a program that has no cookie for it (raw_tp), has its entry in socks instead.
// User space sizes sock_slots (a power of two) and sets sock_slot_mask to match.
#define SOCK_SLOTS 32768
const volatile __u32 sock_slot_mask = SOCK_SLOTS - 1;

struct sock_slot {
	// The owner's cookie; 0 while the slot is free.
	__u64 cookie;
	struct sock_info info;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SOCK_SLOTS);
	__type(key, __u32);
	__type(value, struct sock_slot);
} sock_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct conn_key);
	__type(value, struct conn_stat);
} conn_stats SEC(".maps");

// Events that did not fit in the ring buffer, per CPU.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline bool port_allowed(__u16 port)
{
	if (nports == 0)
		return true;
	for (__u32 i = 0; i < MAX_PORTS; i++) {
		if (i >= nports)
			break;
		if (ports[i] == port)
			return true;
	}
	return false;
}

static __always_inline bool family_allowed(__u8 family)
{
	return target_family == 0 || target_family == family;
}

static __always_inline bool task_filtered(void)
{
	return target_pid || filter_uid || target_cgroup;
}

static __always_inline bool task_allowed(__u32 pid, __u32 uid)
{
	if (target_pid && pid != target_pid)
		return false;
	if (filter_uid && uid != target_uid)
		return false;
	if (target_cgroup && bpf_get_current_cgroup_id() != target_cgroup)
		return false;
	return true;
}

// ::ffff:a.b.c.d as a.b.c.d; a local end of :: (not bound yet) becomes 0.0.0.0.
static __always_inline void unmap_v4(struct event *e)
{
	__u32 *s = (__u32 *)e->saddr, *d = (__u32 *)e->daddr;

	if (d[0] != 0 || d[1] != 0 || d[2] != bpf_htonl(0xffff))
		return;
	s[0] = s[3];
	s[1] = s[2] = s[3] = 0;
	d[0] = d[3];
	d[1] = d[2] = d[3] = 0;
	e->family = 4;
}

// A field of a socket (struct sock or tcp_sock). tp_btf programs get a BTF-typed pointer and
// load it directly; the others read through bpf_probe_read_kernel. `btf` is a constant
// wherever this is expanded, so each program keeps only its own way.
#define SK_READ(btf, sk, field) ((btf) ? (sk)->field : BPF_CORE_READ(sk, field))

// The tcp_sock of a socket. A tp_btf program gets a BTF pointer from bpf_skc_to_tcp_sock()
// and loads its fields directly; the others read each field through bpf_probe_read_kernel,
// which costs far more than a load. NULL when the socket is not a full TCP socket.
static __always_inline const struct tcp_sock *tcp_of(const struct sock *sk, const bool btf)
{
	return btf ? bpf_skc_to_tcp_sock((void *)sk) : (const struct tcp_sock *)sk;
}

// The one field of struct net read here. Naming struct net itself would put its whole type
// graph into the object's BTF (47 KB more to load); CO-RE matches this to the kernel's.
struct net___tcptrack {
	struct ns_common ns;
} __attribute__((preserve_access_index));

// The inode number of the socket's network namespace: two loads in tp_btf.
static __always_inline __u32 netns_of(const struct sock *sk, const bool btf)
{
	const struct net___tcptrack *net = (const void *)SK_READ(btf, sk, __sk_common.skc_net.net);

	return btf ? net->ns.inum : BPF_CORE_READ(net, ns.inum);
}

static __always_inline bool netns_allowed(const struct sock *sk, const bool btf)
{
	return target_netns == 0 || netns_of(sk, btf) == target_netns;
}

// Addresses as seen from the local socket: saddr is always the local end. `closing` says the
// socket is moving to CLOSE.
static __always_inline void read_addrs(const struct sock *sk, struct event *e, const bool btf, const bool closing)
{
	__u16 family = SK_READ(btf, sk, __sk_common.skc_family);

	// Moving to CLOSE releases an automatically bound port (skc_num becomes 0) before the
	// tracepoint runs; inet_sport keeps it. skc_num is in struct sock itself, which a tp_btf
	// program loads directly; inet_sport is in the tcp_sock around it.
	if (btf && !closing) {
		e->sport = sk->__sk_common.skc_num;
	} else {
		const struct tcp_sock *tp = tcp_of(sk, btf);

		if (tp)
			e->sport = bpf_ntohs(SK_READ(btf, tp, inet_conn.icsk_inet.inet_sport));
	}
	e->dport = bpf_ntohs(SK_READ(btf, sk, __sk_common.skc_dport));
	e->netns = netns_of(sk, btf);
	if (family == AF_INET) {
		__be32 s = SK_READ(btf, sk, __sk_common.skc_rcv_saddr);
		__be32 d = SK_READ(btf, sk, __sk_common.skc_daddr);
		__builtin_memcpy(e->saddr, &s, 4);
		__builtin_memcpy(e->daddr, &d, 4);
		e->family = 4;
	} else {
		if (btf) {
			__builtin_memcpy(e->saddr, sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
			__builtin_memcpy(e->daddr, sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8, 16);
		} else {
			BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
			BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		}
		e->family = 6;
		unmap_v4(e);
	}
}

// Where one socket's entry is looked for: its slot when it has a cookie, else socks.
struct sock_ref {
	// The socket's address, the key in socks.
	__u64 key;
	__u64 cookie;
	struct sock_slot *slot;
};

static __always_inline void sock_ref(struct sock_ref *r, const struct sock *sk, __u64 cookie)
{
	__u32 i = cookie & sock_slot_mask;

	r->key = (__u64)sk;
	r->cookie = cookie;
	r->slot = cookie ? bpf_map_lookup_elem(&sock_slots, &i) : NULL;
}

static __always_inline struct sock_info *sock_find(const struct sock_ref *r)
{
	if (r->slot && r->slot->cookie == r->cookie)
		return &r->slot->info;
	return bpf_map_lookup_elem(&socks, &r->key);
}

static __always_inline void sock_put(const struct sock_ref *r, const struct sock_info *info)
{
	if (r->slot) {
		__u64 owner = __sync_val_compare_and_swap(&r->slot->cookie, 0, r->cookie);

		if (owner == 0 || owner == r->cookie) {
			r->slot->info = *info;
			return;
		}
	}
	bpf_map_update_elem(&socks, &r->key, info, BPF_ANY);
}

static __always_inline void sock_drop(const struct sock_ref *r)
{
	if (r->slot && r->slot->cookie == r->cookie)
		__sync_val_compare_and_swap(&r->slot->cookie, r->cookie, 0);
	else
		bpf_map_delete_elem(&socks, &r->key);
}

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&lost, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline void account(const struct event *e, bool failed)
{
	struct conn_key key = {};
	struct conn_stat zero = {}, *st;

	__builtin_memcpy(key.saddr, e->saddr, 16);
	__builtin_memcpy(key.daddr, e->daddr, 16);
	key.dport = e->direction == DIR_OUT ? e->dport : e->sport;
	key.family = e->family;
	key.direction = e->direction;
	st = bpf_map_lookup_elem(&conn_stats, &key);
	if (!st) {
		bpf_map_update_elem(&conn_stats, &key, &zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&conn_stats, &key);
		if (!st)
			return;
	}
	if (e->kind == KIND_CLOSE) {
		__sync_fetch_and_add(&st->tx_bytes, e->tx_bytes);
		__sync_fetch_and_add(&st->rx_bytes, e->rx_bytes);
		return;
	}
	__sync_fetch_and_add(&st->connections, 1);
	if (failed)
		__sync_fetch_and_add(&st->failed, 1);
}

static __always_inline void emit(const struct event *e)
{
	struct event *out;

	if (count_only)
		return;
	out = bpf_ringbuf_reserve(&events, sizeof(*out), 0);
	if (!out) {
		count_lost();
		return;
	}
	__builtin_memcpy(out, e, sizeof(*out));
	bpf_ringbuf_submit(out, timer_reader ? BPF_RB_NO_WAKEUP : 0);
}

static __always_inline void fill_from_info(struct event *e, const struct sock_info *info)
{
	e->pid = info->pid;
	e->tid = info->tid;
	e->uid = info->uid;
	e->direction = info->direction;
	__builtin_memcpy(e->comm, info->comm, sizeof(e->comm));
}

static __always_inline void set_byte_bases(const struct sock *sk, struct sock_info *info, const bool btf)
{
	const struct tcp_sock *tp = tcp_of(sk, btf);

	if (!tp)
		return;
	info->acked_base = SK_READ(btf, tp, bytes_acked);
	info->received_base = SK_READ(btf, tp, bytes_received);
}

// Data bytes sent (and acknowledged) and received since ESTABLISHED. The FINs occupy a
// sequence number each, which bytes_acked and bytes_received count: ours once acknowledged
// (everything queued, FIN included, is acked), the peer's once received (tcp_fin sets
// SOCK_DONE before any state change it causes).
static __always_inline void read_bytes(const struct sock *sk, const struct sock_info *info, struct event *e, const bool btf)
{
	const struct tcp_sock *tp = tcp_of(sk, btf);
	unsigned long flags = SK_READ(btf, sk, __sk_common.skc_flags);
	int done = bpf_core_enum_value(enum sock_flags, SOCK_DONE);
	__u64 acked, received;

	if (!tp)
		return;
	acked = SK_READ(btf, tp, bytes_acked) - info->acked_base;
	received = SK_READ(btf, tp, bytes_received) - info->received_base;
	if (info->fin_queued && acked > 0 && SK_READ(btf, tp, snd_una) == SK_READ(btf, tp, write_seq))
		acked--;
	if (received > 0 && done >= 0 && done < 64 && (flags >> done) & 1)
		received--;
	e->tx_bytes = acked;
	e->rx_bytes = received;
}

// A socket's cookie, which picks its slot: tp_btf programs can ask for it (the first ask makes
// it); the others have none.
static __always_inline __u64 cookie_of(const struct sock *sk, const bool btf)
{
	return btf ? bpf_get_socket_cookie((void *)sk) : 0;
}

static __always_inline int on_state(const struct sock *sk, int oldstate, int newstate, const bool btf)
{
	struct sock_ref ref;
	struct sock_info *info;
	struct event e = {};
	__u64 now;

	// Most changes matter in no mode: they return before the socket is touched.
	if (newstate != ST_SYN_SENT && oldstate != ST_SYN_SENT &&
	    !(include_accept && newstate == ST_ESTABLISHED && oldstate == ST_SYN_RECV) &&
	    !(include_close && (newstate == ST_CLOSE || newstate == ST_FIN_WAIT1 || newstate == ST_LAST_ACK)))
		return 0;
	if (SK_READ(btf, sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	// With --netns, sockets of other namespaces leave here, before any map is touched.
	if (!netns_allowed(sk, btf))
		return 0;

	if (newstate == ST_SYN_SENT) {
		// Connecting: we are in the caller's context.
		__u64 pid_tgid = bpf_get_current_pid_tgid();
		__u32 uid = (__u32)bpf_get_current_uid_gid();
		struct sock_info fresh = {};

		if (!task_allowed(pid_tgid >> 32, uid))
			return 0;
		fresh.start_ns = bpf_ktime_get_ns();
		fresh.pid = pid_tgid >> 32;
		fresh.tid = (__u32)pid_tgid;
		fresh.uid = uid;
		fresh.direction = DIR_OUT;
		bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
		sock_ref(&ref, sk, cookie_of(sk, btf));
		sock_put(&ref, &fresh);
		return 0;
	}

	if (newstate == ST_ESTABLISHED && oldstate == ST_SYN_RECV) {
		// A passive open: the child socket is complete; the acceptor is not known yet.
		struct sock_info fresh = {};

		if (!include_accept)
			return 0;
		read_addrs(sk, &e, btf, false);
		if (!family_allowed(e.family) || !port_allowed(e.sport))
			return 0;
		now = bpf_ktime_get_ns();
		fresh.start_ns = now;
		fresh.established_ns = now;
		fresh.direction = DIR_IN;
		if (include_close)
			set_byte_bases(sk, &fresh, btf);
		if (!accept_syscalls) {
			// Nobody will say which task accepts it: report it now, without a task.
			if (task_filtered())
				return 0;
			fresh.reported = 1;
			e.ts_ns = now;
			e.direction = DIR_IN;
			e.kind = KIND_ACCEPT;
			e.outcome = OUTCOME_ESTABLISHED;
			account(&e, false);
			emit(&e);
			if (!include_close)
				return 0;
		}
		sock_ref(&ref, sk, cookie_of(sk, btf));
		sock_put(&ref, &fresh);
		return 0;
	}

	// Only these changes matter to a tracked socket; the rest need no lookup. Without close
	// events only the end of a connect does. An inbound entry whose socket closes before any
	// task accepts it is left behind: in socks it ages out of the LRU; in a slot it stays,
	// and sockets that pick that slot use socks instead.
	if (oldstate != ST_SYN_SENT &&
	    (!include_close || (newstate != ST_CLOSE && newstate != ST_FIN_WAIT1 && newstate != ST_LAST_ACK)))
		return 0;
	sock_ref(&ref, sk, cookie_of(sk, btf));
	info = sock_find(&ref);
	if (!info)
		return 0;

	if (newstate == ST_FIN_WAIT1 || newstate == ST_LAST_ACK) {
		info->fin_queued = 1;
		return 0;
	}
	read_addrs(sk, &e, btf, newstate == ST_CLOSE);
	if (!family_allowed(e.family) || !port_allowed(info->direction == DIR_OUT ? e.dport : e.sport) ||
	    (info->direction == DIR_IN && !info->reported && task_filtered())) {
		// Filtered out, or an inbound connection closing before a task accepted it while
		// only some tasks are wanted.
		sock_drop(&ref);
		return 0;
	}
	fill_from_info(&e, info);
	now = bpf_ktime_get_ns();
	e.ts_ns = now;

	if (oldstate == ST_SYN_SENT) {
		e.kind = KIND_CONNECT;
		e.latency_ns = now - info->start_ns;
		if (newstate == ST_ESTABLISHED) {
			e.outcome = OUTCOME_ESTABLISHED;
			info->established_ns = now;
			if (include_close)
				set_byte_bases(sk, info, btf);
			account(&e, false);
			emit(&e);
			if (!include_close)
				sock_drop(&ref);
			return 0;
		}
		if (newstate == ST_CLOSE) {
			int err = SK_READ(btf, sk, sk_err);

			e.error = err;
			e.outcome = err == ECONNREFUSED ? OUTCOME_REFUSED : err == ETIMEDOUT ? OUTCOME_TIMEOUT : OUTCOME_FAILED;
			account(&e, true);
			emit(&e);
			if (connect_exit && !info->connect_returned)
				info->reported = REPORTED_IN_CONNECT;
			else
				sock_drop(&ref);
		}
		return 0;
	}

	// newstate == ST_CLOSE
	if (include_close && info->established_ns) {
		e.kind = KIND_CLOSE;
		e.outcome = OUTCOME_CLOSED;
		e.duration_ns = now - info->established_ns;
		read_bytes(sk, info, &e, btf);
		account(&e, false);
		emit(&e);
	}
	sock_drop(&ref);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcptrack_state_btf, const struct sock *sk, int oldstate, int newstate)
{
	return on_state(sk, oldstate, newstate, true);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(tcptrack_state_raw, const struct sock *sk, int oldstate, int newstate)
{
	return on_state(sk, oldstate, newstate, false);
}

// The socket behind a new file descriptor of the current task.
static __always_inline const struct sock *sock_of_fd(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	struct socket *sock;

	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	if (!file)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

static __always_inline int on_accept(long fd)
{
	const struct sock *sk;
	struct sock_info *info;
	struct event e = {};
	struct sock_ref ref;
	__u64 pid_tgid;
	__u32 uid;

	if (fd < 0 || !include_accept)
		return 0;
	sk = sock_of_fd(fd);
	if (!sk)
		return 0;
	// A cookie the state program made, read here as tracepoints get no BTF socket.
	sock_ref(&ref, sk, BPF_CORE_READ(sk, __sk_common.skc_cookie.counter));
	info = sock_find(&ref);
	if (!info || info->direction != DIR_IN || info->reported)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	uid = (__u32)bpf_get_current_uid_gid();
	if (!task_allowed(pid_tgid >> 32, uid)) {
		sock_drop(&ref);
		return 0;
	}
	info->pid = pid_tgid >> 32;
	info->tid = (__u32)pid_tgid;
	info->uid = uid;
	info->reported = 1;
	bpf_get_current_comm(info->comm, sizeof(info->comm));
	read_addrs(sk, &e, false, false);
	fill_from_info(&e, info);
	e.ts_ns = bpf_ktime_get_ns();
	e.kind = KIND_ACCEPT;
	e.outcome = OUTCOME_ESTABLISHED;
	account(&e, false);
	emit(&e);
	if (!include_close)
		sock_drop(&ref);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int tcptrack_accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int tcptrack_accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept(ctx->ret);
}

// Where fexit exists, connects that fail before reaching SYN_SENT (no route, no local
// address) are seen too; the state machine never reports them. Their destination is the
// connect's argument: the socket holds none yet (or no more, after the failure path).
static __always_inline void read_uaddr(const struct sockaddr *uaddr, struct event *e)
{
	if (BPF_CORE_READ(uaddr, sa_family) == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)uaddr;
		__be32 d = BPF_CORE_READ(in, sin_addr.s_addr);

		__builtin_memcpy(e->daddr, &d, 4);
		e->dport = bpf_ntohs(BPF_CORE_READ(in, sin_port));
		e->family = 4;
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)uaddr;

		BPF_CORE_READ_INTO(&e->daddr, in6, sin6_addr.in6_u.u6_addr8);
		e->dport = bpf_ntohs(BPF_CORE_READ(in6, sin6_port));
		e->family = 6;
		unmap_v4(e);
	}
}

static __always_inline int on_connect_exit(struct sock *sk, const struct sockaddr *uaddr, int ret, bool v4_hook)
{
	struct sock_ref ref;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	struct sock_info *info;
	struct event e = {};

	// tcp_v6_connect calls tcp_v4_connect for a v4-mapped destination; its own exit reports.
	if (v4_hook && BPF_CORE_READ(sk, __sk_common.skc_family) == AF_INET6)
		return 0;
	sock_ref(&ref, sk, cookie_of(sk, true));
	info = sock_find(&ref);
	if (ret == 0) {
		if (info)
			info->connect_returned = 1;
		return 0;
	}
	if (BPF_CORE_READ(sk, __sk_common.skc_state) != ST_CLOSE || !netns_allowed(sk, true))
		return 0;
	if (info) {
		bool reported = info->reported == REPORTED_IN_CONNECT;

		sock_drop(&ref);
		if (reported)
			return 0;
	}
	if (!task_allowed(pid_tgid >> 32, uid))
		return 0;
	read_uaddr(uaddr, &e);
	if (!family_allowed(e.family) || !port_allowed(e.dport))
		return 0;
	e.ts_ns = bpf_ktime_get_ns();
	e.pid = pid_tgid >> 32;
	e.tid = (__u32)pid_tgid;
	e.uid = uid;
	e.error = -ret;
	e.kind = KIND_CONNECT;
	e.outcome = OUTCOME_FAILED;
	e.direction = DIR_OUT;
	e.netns = netns_of(sk, true);
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	account(&e, true);
	emit(&e);
	return 0;
}

SEC("fexit/tcp_v4_connect")
int BPF_PROG(tcptrack_v4_connect_exit, struct sock *sk, struct sockaddr *uaddr, int addr_len, int ret)
{
	return on_connect_exit(sk, uaddr, ret, true);
}

SEC("fexit/tcp_v6_connect")
int BPF_PROG(tcptrack_v6_connect_exit, struct sock *sk, struct sockaddr *uaddr, int addr_len, int ret)
{
	return on_connect_exit(sk, uaddr, ret, false);
}

char LICENSE[] SEC("license") = "GPL";
