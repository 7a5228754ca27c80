// SPDX-License-Identifier: GPL-2.0
// CO-RE relocations of every kind against the running kernel's BTF.
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct task_struct___old {
	long state;
	int no_such_field;
} __attribute__((preserve_access_index));

struct task_struct___new {
	unsigned int __state;
} __attribute__((preserve_access_index));

struct type_not_in_kernel {
	int x;
};

enum bpf_map_type___local {
	BPF_MAP_TYPE_RINGBUF___local = 1,
	BPF_MAP_TYPE_NOT_IN_KERNEL___local = 2,
};

struct pid_args {
	int pid;
};

const volatile int target_tgid = 0;

__u64 off_pid, off_tgid, off_comm, off_real_parent;
__u64 size_comm, size_pid, size_state;
__u64 exists_pid, exists_state_old, exists_state_new, exists_fake;
__u64 signed_pid, signed_state;
__u64 lshift_in_execve, rshift_in_execve, size_in_execve, off_in_execve;
__u64 type_exists_task, type_exists_fake, type_size_task, type_matches_task;
__u64 type_id_local_task, type_id_target_task;
__u64 enum_exists_ringbuf, enum_exists_fake, enum_value_ringbuf, enum_value_flavoured;
__u64 array_elem_off;

int read_tgid = -1, read_pid = -1, read_parent_tgid = -1;
__u64 raw_tp_hits;
char comm[16];

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

SEC("syscall")
int core_values(struct pid_args *args)
{
	struct task_struct *t;

	off_pid = bpf_core_field_offset(struct task_struct, pid);
	off_tgid = bpf_core_field_offset(struct task_struct, tgid);
	off_comm = bpf_core_field_offset(struct task_struct, comm);
	off_real_parent = bpf_core_field_offset(struct task_struct, real_parent);
	size_comm = bpf_core_field_size(struct task_struct, comm);
	size_pid = bpf_core_field_size(struct task_struct, pid);
	size_state = bpf_core_field_size(struct task_struct___new, __state);
	exists_pid = bpf_core_field_exists(struct task_struct, pid);
	exists_state_old = bpf_core_field_exists(struct task_struct___old, state);
	exists_state_new = bpf_core_field_exists(struct task_struct___new, __state);
	exists_fake = bpf_core_field_exists(struct task_struct___old, no_such_field);
	signed_pid = __builtin_preserve_field_info(((struct task_struct *)0)->pid, BPF_FIELD_SIGNED);
	signed_state = __builtin_preserve_field_info(((struct task_struct___new *)0)->__state, BPF_FIELD_SIGNED);
	lshift_in_execve = __builtin_preserve_field_info(((struct task_struct *)0)->in_execve, BPF_FIELD_LSHIFT_U64);
	rshift_in_execve = __builtin_preserve_field_info(((struct task_struct *)0)->in_execve, BPF_FIELD_RSHIFT_U64);
	size_in_execve = __builtin_preserve_field_info(((struct task_struct *)0)->in_execve, BPF_FIELD_BYTE_SIZE);
	off_in_execve = __builtin_preserve_field_info(((struct task_struct *)0)->in_execve, BPF_FIELD_BYTE_OFFSET);
	type_exists_task = bpf_core_type_exists(struct task_struct);
	type_exists_fake = bpf_core_type_exists(struct type_not_in_kernel);
	type_size_task = bpf_core_type_size(struct task_struct);
	type_matches_task = bpf_core_type_matches(struct task_struct___new);
	type_id_local_task = bpf_core_type_id_local(struct task_struct);
	type_id_target_task = bpf_core_type_id_kernel(struct task_struct);
	enum_exists_ringbuf = bpf_core_enum_value_exists(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF);
	enum_exists_fake = bpf_core_enum_value_exists(enum bpf_map_type___local, BPF_MAP_TYPE_NOT_IN_KERNEL___local);
	enum_value_ringbuf = bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF);
	enum_value_flavoured = bpf_core_enum_value(enum bpf_map_type___local, BPF_MAP_TYPE_RINGBUF___local);
	array_elem_off = bpf_core_field_offset(struct task_struct, comm[3]);

	t = bpf_task_from_pid(args->pid);
	if (!t)
		return 1;
	read_tgid = t->tgid;
	read_pid = t->pid;
	read_parent_tgid = BPF_CORE_READ(t, real_parent, tgid);
	bpf_probe_read_kernel_str(comm, sizeof(comm), t->comm);
	bpf_task_release(t);
	return 0;
}

/* Run by BPF_PROG_TEST_RUN in the calling task: reads the caller's tgid through CO-RE. */
SEC("raw_tp/sys_enter")
int core_raw_tp(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	int tgid = BPF_CORE_READ(t, tgid);

	if (target_tgid && tgid != target_tgid)
		return 0;
	raw_tp_hits++;
	read_tgid = tgid;
	if (bpf_core_field_exists(struct task_struct___old, state))
		read_pid = BPF_CORE_READ((struct task_struct___old *)t, state);
	else
		read_pid = BPF_CORE_READ(t, pid);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(core_tp_btf, struct pt_regs *regs, long id)
{
	struct task_struct *t = bpf_get_current_task_btf();

	if (target_tgid && t->tgid != target_tgid)
		return 0;
	__sync_fetch_and_add(&raw_tp_hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
