// SPDX-License-Identifier: GPL-2.0
// Counts exec() calls per command name from the sched:sched_process_exec tracepoint.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define TASK_COMM_LEN 16

/* Count only processes of this user; (u32)-1 counts everyone. */
const volatile __u32 target_uid = -1;

/* Executions per command name (the name after exec). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, char[TASK_COMM_LEN]);
	__type(value, __u64);
} counts SEC(".maps");

/* Executions seen on each CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} per_cpu SEC(".maps");

/* Every exec seen, and the pid of the latest. */
__u64 total_execs;
__u32 last_pid;

SEC("tracepoint/sched/sched_process_exec")
int count_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	char comm[TASK_COMM_LEN] = {};
	__u32 zero = 0;
	__u64 one = 1, *count, *cpu_count;

	if (target_uid != (__u32)-1 && (__u32)bpf_get_current_uid_gid() != target_uid)
		return 0;

	bpf_get_current_comm(comm, sizeof(comm));
	count = bpf_map_lookup_elem(&counts, comm);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&counts, comm, &one, BPF_NOEXIST);

	cpu_count = bpf_map_lookup_elem(&per_cpu, &zero);
	if (cpu_count)
		*cpu_count += 1;

	__sync_fetch_and_add(&total_execs, 1);
	last_pid = ctx->pid;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
