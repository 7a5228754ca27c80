// SPDX-License-Identifier: GPL-2.0
// Streams one event per exec() through a ring buffer, from the sched_process_exec BTF tracepoint.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16
#define FILENAME_LEN 24

/* One exec: 64 bytes. */
struct event {
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u64 timestamp_ns;
	char comm[TASK_COMM_LEN];
	char filename[FILENAME_LEN];
};

/* Names struct event in the object's BTF, for `tsbpf gen --type event`. */
const struct event *unused_event __attribute__((unused));

/* Report only children of this process; 0 reports every exec. */
const volatile __u32 parent_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Events the ring buffer had no room for. */
__u64 dropped;

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
	__u64 uid_gid = bpf_get_current_uid_gid();
	struct event *e;

	if (parent_pid != 0 && ppid != parent_pid)
		return 0;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->pid = BPF_CORE_READ(task, tgid);
	e->ppid = ppid;
	e->uid = (__u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->timestamp_ns = bpf_ktime_get_boot_ns();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
