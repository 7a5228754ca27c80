// SPDX-License-Identifier: GPL-2.0
// Kernel functions, kernel variables and kernel configuration from a syscall program, which
// BPF_PROG_TEST_RUN can run, and a tp_btf program that acquires the exec'ing task.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#ifndef bpf_ksym_exists
#define bpf_ksym_exists(sym) (!!(sym))
#endif

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;
extern void bpf_kfunc_this_kernel_lacks(void) __ksym __weak;

extern const int bpf_prog_active __ksym;
extern const struct rq runqueues __ksym;
extern const int ksym_this_kernel_lacks __ksym __weak;

extern int LINUX_KERNEL_VERSION __kconfig;
extern bool LINUX_HAS_SYSCALL_WRAPPER __kconfig;
extern int CONFIG_HZ __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern enum libbpf_tristate CONFIG_BPF_JIT __kconfig;
extern char CONFIG_LOCALVERSION[32] __kconfig __weak;
extern int CONFIG_THIS_OPTION_DOES_NOT_EXIST __kconfig __weak;

struct args {
	int pid;
};

int found_tgid = -1;
int found_pid = -1;
int kernel_version;
int has_syscall_wrapper;
int hz;
int bpf_syscall;
int bpf_jit;
int missing_option = -1;
int missing_kfunc = -1;
int missing_ksym = -1;
int rq_cpu = -1;
int prog_active = -1;
char localversion[32];
__u64 execs;
int last_exec_pid;

SEC("syscall")
int lookup_task(struct args *args)
{
	struct task_struct *t;

	kernel_version = LINUX_KERNEL_VERSION;
	has_syscall_wrapper = LINUX_HAS_SYSCALL_WRAPPER;
	hz = CONFIG_HZ;
	bpf_syscall = CONFIG_BPF_SYSCALL;
	bpf_jit = CONFIG_BPF_JIT;
	missing_option = CONFIG_THIS_OPTION_DOES_NOT_EXIST;
	__builtin_memcpy(localversion, CONFIG_LOCALVERSION, sizeof(localversion));
	missing_kfunc = bpf_ksym_exists(bpf_kfunc_this_kernel_lacks);
	missing_ksym = &ksym_this_kernel_lacks != 0;

	t = bpf_task_from_pid(args->pid);
	if (!t)
		return 1;
	bpf_rcu_read_lock();
	found_tgid = t->tgid;
	found_pid = t->pid;
	bpf_rcu_read_unlock();
	bpf_task_release(t);
	if (bpf_ksym_exists(bpf_kfunc_this_kernel_lacks))
		bpf_kfunc_this_kernel_lacks();
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *t = bpf_task_acquire(p);

	if (!t)
		return 0;
	last_exec_pid = t->tgid;
	__sync_fetch_and_add(&execs, 1);
	bpf_task_release(t);
	return 0;
}

/* Calls a weak kfunc this kernel lacks without checking for it first. */
SEC("syscall")
int unguarded_kfunc(void *ctx)
{
	bpf_kfunc_this_kernel_lacks();
	return 0;
}

/*
 * Per-CPU kernel variables by BTF type. The verifier looks their addresses up in kallsyms,
 * which lists variables only with CONFIG_KALLSYMS_ALL.
 */
SEC("syscall")
int percpu_ksym(void *ctx)
{
	struct rq *rq = bpf_this_cpu_ptr(&runqueues);
	const int *active = bpf_this_cpu_ptr(&bpf_prog_active);

	rq_cpu = rq->cpu;
	prog_active = *active;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
