// SPDX-License-Identifier: GPL-2.0
// guard: the system calls and process lifecycle events that security rules look at.
//
// sys_enter saves a wanted call's arguments per thread and sys_exit sends one record with the
// arguments, the strings and socket addresses they point to, and the return value: the
// pointers are still valid at exit (the kernel just read them), and one record per call is
// half the ring traffic of an enter/exit pair. Which calls are wanted, and what each argument
// is, user space writes into `syscalls` (indexed by number) from the rules it loads, so the
// kernel does no work for calls no rule can match. A successful exec is reported by
// sched_process_exec (the new image's argv, exe and cwd); fork and exit keep user space's
// process table. Enforcement: an exec of a path in `kill_exec`, a connect, bind or socket in
// `kill_connect`, `kill_bind`, `deny_socket`, sends the rule's signal to the caller at sys_enter,
// and cgroup hooks refuse the network calls.
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define STR_LEN 256
#define WALK_LEN 512
#define ARGS_LEN 1024
#define SA_LEN 112
#define MAX_SYSCALL 512
#define WALK_DEPTH 16

#define AF_INET 2
#define AF_INET6 10

enum kind {
	KIND_SYSCALL = 1,
	KIND_EXEC = 2,
	KIND_FORK = 3,
	KIND_EXIT = 4,
};

// Bits of syscall_spec.flags.
#define SPEC_TRACE 1
// The socket of the fd in sock_fd_arg (or of the returned fd) is described in the record.
#define SPEC_SOCK_FD 2
#define SPEC_SOCK_RET 4
// The call is an exec (its success is reported by sched_process_exec).
#define SPEC_EXEC 8
// Enforcement checks at sys_enter.
#define SPEC_KILL_EXEC 16
#define SPEC_KILL_CONNECT 32
// Only calls whose path (str1_arg) starts with one of `path_prefixes` are reported.
#define SPEC_PATH_FILTER 64
#define SPEC_KILL_BIND 128
#define SPEC_KILL_SOCKET 256
#define SPEC_KILL_ANY (SPEC_KILL_EXEC | SPEC_KILL_CONNECT | SPEC_KILL_BIND | SPEC_KILL_SOCKET)

// Bits of event_hdr.flags.
#define FLAG_KILLED 1
#define FLAG_EXE_MEMFD 2
#define FLAG_ARGS_TRUNCATED 4

#define ARG_NONE 0xff

// What the record of a call carries; user space fills it per syscall number.
struct syscall_spec {
	__u16 flags;
	// Argument indexes (0-5) of the strings, the sockaddr and its length; ARG_NONE if none.
	__u8 str1_arg;
	__u8 str2_arg;
	__u8 sa_arg;
	__u8 salen_arg;
	// The argument holding the socket fd for SPEC_SOCK_FD.
	__u8 sock_fd_arg;
	__u8 pad;
};

struct event_hdr {
	__u64 ts_ns;
	__u64 cgroup_id;
	__u64 cap_effective;
	__u64 start_ns;
	__s64 ret;
	__u64 args[6];
	__u32 kind;
	__u32 nr;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 loginuid;
	__u32 sid;
	__u32 vpid;
	__u32 tty;
	__u32 flags;
	// fork: the new process; kill: the signal sent.
	__u32 aux;
	char comm[16];
};

// A socket's ends, read from the kernel's struct sock.
struct sock_tuple {
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport;
	__u16 rport;
	__u16 family;
	__u16 type;
	__u16 protocol;
	__u16 valid;
};

struct sys_event {
	struct event_hdr h;
	struct sock_tuple sock;
	__u32 salen;
	__u32 pad;
	__u8 sa[SA_LEN];
	char str1[STR_LEN];
	char str2[STR_LEN];
};

struct exec_event {
	struct event_hdr h;
	__u32 args_len;
	__u32 pad;
	char filename[STR_LEN];
	// Path components from the leaf up, each followed by a NUL (user space reverses them).
	char exe[WALK_LEN];
	char cwd[WALK_LEN];
	char args[ARGS_LEN];
};

// Names the record types in the object's BTF, for the generated TypeScript types.
const struct sys_event *unused_sys_event __attribute__((unused));
const struct exec_event *unused_exec_event __attribute__((unused));

struct pending {
	// Six arguments and two zeros, so an index masked with 7 stays inside.
	__u64 args[8];
	__u32 nr;
	__u32 flags;
};

struct connect_key {
	__u8 addr[16];
	__u16 port;
	__u16 family;
};

// Only this process's events, when set (tests and --pid).
const volatile __u32 target_tgid = 0;
// guard's own process: its calls would otherwise feed back into its rules.
const volatile __u32 self_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SYSCALL);
	__type(key, __u32);
	__type(value, struct syscall_spec);
} syscalls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pending);
} pendings SEC(".maps");

// Records the ring had no room for, per CPU: index 0 calls, 1 exec, 2 fork and exit.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

// Exec of this exact path (NUL padded) is stopped with the value's signal.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, char[STR_LEN]);
	__type(value, __u32);
} kill_exec SEC(".maps");

// Connect to this address and port (a zero address: any address; port 0: any port).
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct connect_key);
	__type(value, __u32);
} kill_connect SEC(".maps");

// Bind to this address and port, with the same wildcards.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct connect_key);
	__type(value, __u32);
} kill_bind SEC(".maps");

struct socket_key {
	__u32 family;
	// 0: any type.
	__u32 type;
};

// Socket creation of this family and type is refused (cgroup/sock_create); a non-zero value
// is also the signal sent at sys_enter.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct socket_key);
	__type(value, __u32);
} deny_socket SEC(".maps");

#define PREFIX_LEN 64

struct path_key {
	__u32 prefixlen;
	__u8 data[PREFIX_LEN];
};

// The path prefixes the rules can match (their first 64 bytes): a path that starts with none
// of them cannot match, so its call is not reported at all.
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__type(key, struct path_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} path_prefixes SEC(".maps");

// Scratch space: records are built here when a path walk or a lookup key needs room.
struct scratch {
	char path[STR_LEN];
	__u8 sa[SA_LEN];
	struct path_key key;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratches SEC(".maps");

static __always_inline void count_drop(__u32 index)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &index);
	if (n)
		*n += 1;
}

static __always_inline bool task_wanted(__u32 tgid)
{
	if (self_tgid != 0 && tgid == self_tgid)
		return false;
	return target_tgid == 0 || tgid == target_tgid;
}

static __always_inline void fill_hdr(struct event_hdr *h, struct task_struct *task, __u32 kind)
{
	h->ts_ns = bpf_ktime_get_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->kind = kind;
	h->pid = BPF_CORE_READ(task, tgid);
	h->tid = BPF_CORE_READ(task, pid);
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->uid = BPF_CORE_READ(task, cred, uid.val);
	h->gid = BPF_CORE_READ(task, cred, gid.val);
	h->euid = BPF_CORE_READ(task, cred, euid.val);
	h->cap_effective = BPF_CORE_READ(task, cred, cap_effective.val);
	h->loginuid = BPF_CORE_READ(task, loginuid.val);
	h->start_ns = BPF_CORE_READ(task, group_leader, start_time);
	h->sid = BPF_CORE_READ(task, signal, pids[PIDTYPE_SID], numbers[0].nr);
	struct pid *tp = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(tp, level);
	h->vpid = BPF_CORE_READ(task, group_leader, thread_pid, numbers[level & 7].nr);
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	if (tty) {
		int major = BPF_CORE_READ(tty, driver, major);
		int minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
		// The kernel's new_encode_dev, as /proc/PID/stat's tty_nr.
		h->tty = (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12);
	}
	BPF_CORE_READ_STR_INTO(&h->comm, task, comm);
}

// The path of `dentry` on `mnt` as components from the leaf up, each ending in a NUL; the
// walk crosses mount points and stops at the task's root (`root`), as d_path does, so a
// chrooted or containerised process's paths are the ones it sees. Returns the bytes written.
static __always_inline __u32 walk_path(char *buf, struct dentry *dentry, struct vfsmount *vfsmnt, const struct path *root)
{
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
	__u32 off = 0;
	for (int i = 0; i < WALK_DEPTH; i++) {
		if (dentry == root->dentry && vfsmnt == root->mnt)
			break;
		struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
		if (dentry == mnt_root) {
			struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
			if (up == mnt)
				break;
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = up;
			vfsmnt = &up->mnt;
			continue;
		}
		if (off > WALK_LEN - STR_LEN)
			break;
		const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
		long n = bpf_probe_read_kernel_str(&buf[off], STR_LEN, name);
		if (n <= 0)
			break;
		off += n;
		// A dentry that is its own parent is a root: "/" (which user space drops), or a
		// pseudo file's name (memfd:NAME), which is the whole path.
		if (dentry == parent)
			break;
		dentry = parent;
	}
	return off;
}

// The call's arguments. tp_btf hands a trusted pt_regs: plain loads, no helper calls.
static __always_inline void syscall_args(struct pt_regs *regs, __u64 *args)
{
	args[0] = regs->di;
	args[1] = regs->si;
	args[2] = regs->dx;
	args[3] = regs->r10;
	args[4] = regs->r8;
	args[5] = regs->r9;
}

// The socket behind fd `fd` of the current task, or NULL.
static __always_inline struct socket *socket_of_fd(struct task_struct *task, __u64 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if (fd >= max)
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	if (!file)
		return NULL;
	// A socket's file has socket_file_ops; its private_data is the socket. Other files are
	// told apart by their inode's mode.
	umode_t mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & 0170000) != 0140000)
		return NULL;
	return BPF_CORE_READ(file, private_data);
}

static __always_inline void read_sock(struct sock_tuple *t, struct socket *sock)
{
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return;
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->type = BPF_CORE_READ(sock, type);
	t->protocol = BPF_CORE_READ(sk, sk_protocol);
	t->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->rport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (t->family == AF_INET) {
		BPF_CORE_READ_INTO(&t->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO(&t->raddr, sk, __sk_common.skc_daddr);
	} else if (t->family == AF_INET6) {
		BPF_CORE_READ_INTO(&t->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&t->raddr, sk, __sk_common.skc_v6_daddr);
	}
	t->valid = 1;
}

static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratches, &zero);
}

// Enforcement at sys_enter: the caller is sent the signal before the call does anything.
// The signal is queued, not yet delivered: an exec then fails early (copying its arguments
// checks for a fatal signal), but a connect may complete, so connects are also refused by
// guard's cgroup hooks.
// The entry for an address and port: exact, any port, or any address.
static __always_inline __u32 *addr_lookup(void *map, struct connect_key *k)
{
	__u32 *v = bpf_map_lookup_elem(map, k);
	if (v)
		return v;
	__u16 port = k->port;
	k->port = 0;
	v = bpf_map_lookup_elem(map, k);
	if (v)
		return v;
	__builtin_memset(k->addr, 0, 16);
	k->port = port;
	return bpf_map_lookup_elem(map, k);
}

static __always_inline __u32 kill_check(const struct syscall_spec *spec, struct pending *p)
{
	struct scratch *s = get_scratch();
	if (!s)
		return 0;
	__u32 *sig = NULL;
	if (spec->flags & SPEC_KILL_EXEC) {
		__builtin_memset(s->path, 0, STR_LEN);
		if (spec->str1_arg > 5)
			return 0;
		bpf_probe_read_user_str(s->path, STR_LEN, (void *)p->args[spec->str1_arg & 7]);
		sig = bpf_map_lookup_elem(&kill_exec, s->path);
	} else if (spec->flags & (SPEC_KILL_CONNECT | SPEC_KILL_BIND)) {
		if (spec->sa_arg > 5)
			return 0;
		if (bpf_probe_read_user(s->sa, 28, (void *)p->args[spec->sa_arg & 7]) < 0)
			return 0;
		struct connect_key k = {};
		__u16 family = *(__u16 *)&s->sa[0];
		k.family = family;
		k.port = __builtin_bswap16(*(__u16 *)&s->sa[2]);
		if (family == AF_INET)
			__builtin_memcpy(k.addr, &s->sa[4], 4);
		else if (family == AF_INET6)
			__builtin_memcpy(k.addr, &s->sa[8], 16);
		else
			return 0;
		if (spec->flags & SPEC_KILL_BIND)
			sig = addr_lookup(&kill_bind, &k);
		else
			sig = addr_lookup(&kill_connect, &k);
	} else if (spec->flags & SPEC_KILL_SOCKET) {
		struct socket_key k = { .family = p->args[0], .type = p->args[1] & 0xf };
		sig = bpf_map_lookup_elem(&deny_socket, &k);
		if (!sig) {
			k.type = 0;
			sig = bpf_map_lookup_elem(&deny_socket, &k);
		}
	}
	// A zero signal: refused by a cgroup hook only, the caller lives.
	if (!sig || *sig == 0)
		return 0;
	bpf_send_signal(*sig);
	return *sig;
}

// Whether a call's path can match a rule: it is relative, or not normal ("/." or "//" in it:
// user space normalizes before matching), or it starts with a wanted prefix.
static __always_inline bool path_wanted(const struct syscall_spec *spec, struct pending *p)
{
	struct scratch *s = get_scratch();
	if (!s || spec->str1_arg > 5)
		return true;
	__builtin_memset(&s->key, 0, sizeof(s->key));
	long n = bpf_probe_read_user_str(s->key.data, PREFIX_LEN, (void *)p->args[spec->str1_arg & 7]);
	if (n <= 1 || s->key.data[0] != '/')
		return true;
	for (int i = 0; i < PREFIX_LEN - 1; i++) {
		if (s->key.data[i] == 0)
			break;
		if (s->key.data[i] == '/' && (s->key.data[i + 1] == '.' || s->key.data[i + 1] == '/'))
			return true;
	}
	s->key.prefixlen = (n - 1) * 8;
	return bpf_map_lookup_elem(&path_prefixes, &s->key) != NULL;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(guard_sys_enter, struct pt_regs *regs, long id)
{
	__u32 nr = id;
	struct syscall_spec *spec = bpf_map_lookup_elem(&syscalls, &nr);
	if (!spec || !(spec->flags & SPEC_TRACE))
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!task_wanted(pid_tgid >> 32))
		return 0;
	struct pending p = {};
	p.nr = nr;
	syscall_args(regs, p.args);
	if ((spec->flags & SPEC_PATH_FILTER) && !path_wanted(spec, &p))
		return 0;
	if (spec->flags & SPEC_KILL_ANY) {
		__u32 sig = kill_check(spec, &p);
		if (sig) {
			p.flags = FLAG_KILLED | (sig << 16);
			// The call may never return (a successful exec): report it now.
			struct sys_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
			if (!e) {
				count_drop(0);
			} else {
				__builtin_memset(&e->h, 0, sizeof(e->h));
				fill_hdr(&e->h, bpf_get_current_task_btf(), KIND_SYSCALL);
				e->h.nr = nr;
				e->h.flags = FLAG_KILLED;
				e->h.aux = sig;
				e->h.ret = 0;
				for (__u32 i = 0; i < 6; i++)
					e->h.args[i] = p.args[i];
				e->str1[0] = 0;
				e->str2[0] = 0;
				e->salen = 0;
				__builtin_memset(&e->sock, 0, sizeof(e->sock));
				if (spec->str1_arg <= 5)
					bpf_probe_read_user_str(e->str1, STR_LEN, (void *)p.args[spec->str1_arg & 7]);
				if (spec->sa_arg <= 5 && bpf_probe_read_user(e->sa, 28, (void *)p.args[spec->sa_arg & 7]) == 0)
					e->salen = 28;
				bpf_ringbuf_submit(e, 0);
			}
			return 0;
		}
	}
	__u32 tid = pid_tgid;
	bpf_map_update_elem(&pendings, &tid, &p, BPF_ANY);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(guard_sys_exit, struct pt_regs *regs, long ret)
{
	// Most calls are not traced: the array says so before the per-thread hash is searched.
	__u32 exit_nr = regs->orig_ax;
	struct syscall_spec *exit_spec = bpf_map_lookup_elem(&syscalls, &exit_nr);
	if (!exit_spec || !(exit_spec->flags & SPEC_TRACE))
		return 0;
	__u32 tid = bpf_get_current_pid_tgid();
	struct pending *p = bpf_map_lookup_elem(&pendings, &tid);
	if (!p)
		return 0;
	__u32 nr = p->nr;
	struct syscall_spec *spec = bpf_map_lookup_elem(&syscalls, &nr);
	if (!spec || ((spec->flags & SPEC_EXEC) && ret == 0)) {
		// A successful exec is sched_process_exec's to report.
		bpf_map_delete_elem(&pendings, &tid);
		return 0;
	}
	struct sys_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(0);
		bpf_map_delete_elem(&pendings, &tid);
		return 0;
	}
	struct task_struct *task = bpf_get_current_task_btf();
	__builtin_memset(&e->h, 0, sizeof(e->h));
	__builtin_memset(&e->sock, 0, sizeof(e->sock));
	fill_hdr(&e->h, task, KIND_SYSCALL);
	e->h.nr = nr;
	e->h.ret = ret;
	for (__u32 i = 0; i < 6; i++)
		e->h.args[i] = p->args[i];
	e->str1[0] = 0;
	e->str2[0] = 0;
	e->salen = 0;
	if (spec->str1_arg <= 5)
		bpf_probe_read_user_str(e->str1, STR_LEN, (void *)p->args[spec->str1_arg & 7]);
	if (spec->str2_arg <= 5)
		bpf_probe_read_user_str(e->str2, STR_LEN, (void *)p->args[spec->str2_arg & 7]);
	if (spec->sa_arg <= 5 && p->args[spec->sa_arg & 7] != 0) {
		__u64 len = SA_LEN;
		if (spec->salen_arg <= 5) {
			len = p->args[spec->salen_arg & 7];
			// accept's length argument is a pointer to the length.
			if (len > SA_LEN) {
				__u32 v = 0;
				bpf_probe_read_user(&v, sizeof(v), (void *)len);
				len = v;
			}
		}
		if (len > SA_LEN)
			len = SA_LEN;
		if (len > 0 && bpf_probe_read_user(e->sa, len, (void *)p->args[spec->sa_arg & 7]) == 0)
			e->salen = len;
	}
	struct socket *sock = NULL;
	if ((spec->flags & SPEC_SOCK_FD) && spec->sock_fd_arg <= 5)
		sock = socket_of_fd(task, p->args[spec->sock_fd_arg & 7]);
	else if ((spec->flags & SPEC_SOCK_RET) && ret >= 0)
		sock = socket_of_fd(task, ret);
	if (sock)
		read_sock(&e->sock, sock);
	bpf_map_delete_elem(&pendings, &tid);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(guard_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	if (!task_wanted(tgid))
		return 0;
	struct exec_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(1);
		return 0;
	}
	__builtin_memset(&e->h, 0, sizeof(e->h));
	fill_hdr(&e->h, task, KIND_EXEC);
	e->h.nr = 59;
	e->filename[0] = 0;
	bpf_probe_read_kernel_str(e->filename, STR_LEN, BPF_CORE_READ(bprm, filename));
	struct file *file = BPF_CORE_READ(bprm, file);
	struct path fpath = BPF_CORE_READ(file, f_path);
	struct path root = BPF_CORE_READ(task, fs, root);
	__builtin_memset(e->exe, 0, 8);
	walk_path(e->exe, fpath.dentry, fpath.mnt, &root);
	// memfd files are named "memfd:NAME" and have no directory.
	char head[8] = {};
	bpf_probe_read_kernel_str(head, sizeof(head), BPF_CORE_READ(fpath.dentry, d_name.name));
	if (head[0] == 'm' && head[1] == 'e' && head[2] == 'm' && head[3] == 'f' && head[4] == 'd' && head[5] == ':')
		e->h.flags |= FLAG_EXE_MEMFD;
	struct path pwd = BPF_CORE_READ(task, fs, pwd);
	__builtin_memset(e->cwd, 0, 8);
	walk_path(e->cwd, pwd.dentry, pwd.mnt, &root);
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	__u64 len = end - start;
	if (len > ARGS_LEN) {
		len = ARGS_LEN;
		e->h.flags |= FLAG_ARGS_TRUNCATED;
	}
	e->args_len = 0;
	if (len > 0 && bpf_probe_read_user(e->args, len, (void *)start) == 0)
		e->args_len = len;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(guard_fork, struct task_struct *parent, struct task_struct *child)
{
	// Threads share their process's entry in the table.
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	if (!task_wanted(BPF_CORE_READ(parent, tgid)) && !task_wanted(BPF_CORE_READ(child, tgid)))
		return 0;
	struct event_hdr *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(2);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	fill_hdr(e, child, KIND_FORK);
	e->aux = BPF_CORE_READ(parent, tgid);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(guard_exit, struct task_struct *task, bool group_dead)
{
	if (!group_dead)
		return 0;
	if (!task_wanted(BPF_CORE_READ(task, tgid)))
		return 0;
	struct event_hdr *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(2);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	fill_hdr(e, task, KIND_EXIT);
	e->aux = BPF_CORE_READ(task, exit_code);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

// cgroup hooks on the cgroup v2 root: a connect or datagram to an address in kill_connect, a
// bind to one in kill_bind, a socket of a family in deny_socket is refused (EPERM) before it
// happens; the sys_enter check has already sent the signal where the rule kills.
static __always_inline void v6_key(struct bpf_sock_addr *ctx, struct connect_key *k)
{
	// Each word of the context is read by its own constant offset, as the verifier requires.
	__u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1], w2 = ctx->user_ip6[2], w3 = ctx->user_ip6[3];
	__builtin_memcpy(&k->addr[0], &w0, 4);
	__builtin_memcpy(&k->addr[4], &w1, 4);
	__builtin_memcpy(&k->addr[8], &w2, 4);
	__builtin_memcpy(&k->addr[12], &w3, 4);
	k->port = __builtin_bswap16((__u16)ctx->user_port);
	k->family = AF_INET6;
}

static __always_inline void v4_key(struct bpf_sock_addr *ctx, struct connect_key *k)
{
	__u32 ip = ctx->user_ip4;
	__builtin_memcpy(k->addr, &ip, 4);
	k->port = __builtin_bswap16((__u16)ctx->user_port);
	k->family = AF_INET;
}

SEC("cgroup/connect4")
int guard_connect4(struct bpf_sock_addr *ctx)
{
	struct connect_key k = {};
	v4_key(ctx, &k);
	return addr_lookup(&kill_connect, &k) ? 0 : 1;
}

SEC("cgroup/connect6")
int guard_connect6(struct bpf_sock_addr *ctx)
{
	struct connect_key k = {};
	v6_key(ctx, &k);
	return addr_lookup(&kill_connect, &k) ? 0 : 1;
}

SEC("cgroup/sendmsg4")
int guard_sendmsg4(struct bpf_sock_addr *ctx)
{
	struct connect_key k = {};
	v4_key(ctx, &k);
	return addr_lookup(&kill_connect, &k) ? 0 : 1;
}

SEC("cgroup/sendmsg6")
int guard_sendmsg6(struct bpf_sock_addr *ctx)
{
	struct connect_key k = {};
	v6_key(ctx, &k);
	return addr_lookup(&kill_connect, &k) ? 0 : 1;
}

SEC("cgroup/bind4")
int guard_bind4(struct bpf_sock_addr *ctx)
{
	struct connect_key k = {};
	v4_key(ctx, &k);
	return addr_lookup(&kill_bind, &k) ? 0 : 1;
}

SEC("cgroup/bind6")
int guard_bind6(struct bpf_sock_addr *ctx)
{
	struct connect_key k = {};
	v6_key(ctx, &k);
	return addr_lookup(&kill_bind, &k) ? 0 : 1;
}

SEC("cgroup/sock_create")
int guard_sock_create(struct bpf_sock *ctx)
{
	struct socket_key k = { .family = ctx->family, .type = ctx->type };
	if (bpf_map_lookup_elem(&deny_socket, &k))
		return 0;
	k.type = 0;
	return bpf_map_lookup_elem(&deny_socket, &k) ? 0 : 1;
}

char LICENSE[] SEC("license") = "GPL";
