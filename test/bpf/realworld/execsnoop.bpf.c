// SPDX-License-Identifier: GPL-2.0
// In the style of libbpf-tools/execsnoop: exec events into a ring buffer, filtered by rodata.
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define TASK_COMM_LEN 16
#define MAX_FILENAME_LEN 128
#define INVALID_UID ((uid_t)-1)

struct event {
	pid_t pid;
	pid_t ppid;
	uid_t uid;
	int retval;
	char comm[TASK_COMM_LEN];
	char filename[MAX_FILENAME_LEN];
};

const volatile uid_t targ_uid = INVALID_UID;
const volatile pid_t targ_ppid = 0;
const volatile bool filter_cg = false;

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} cgroup_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

__u64 dropped;

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	uid_t uid = (__u32)bpf_get_current_uid_gid();
	struct event *e;
	pid_t ppid;

	if (filter_cg && !bpf_current_task_under_cgroup(&cgroup_map, 0))
		return 0;
	if (targ_uid != INVALID_UID && targ_uid != uid)
		return 0;
	ppid = BPF_CORE_READ(p, real_parent, tgid);
	if (targ_ppid && targ_ppid != ppid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->pid = BPF_CORE_READ(p, tgid);
	e->ppid = ppid;
	e->uid = uid;
	e->retval = 0;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
