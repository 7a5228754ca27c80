// System calls by process and number, counted in per-CPU maps: one the exporter sums over
// the CPUs, one it exports per CPU (its last label is `cpu`).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct syscall_key {
	u32 pid;
	u32 nr;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct syscall_key);
	__type(value, u64);
} syscalls_total SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct syscall_key);
	__type(value, u64);
} syscalls_by_cpu_total SEC(".maps");

static __always_inline void bump(void *map, struct syscall_key *key)
{
	u64 one = 1, *count = bpf_map_lookup_elem(map, key);

	/* Per-CPU values: this CPU's slot is ours alone, no atomic needed. */
	if (count)
		*count += 1;
	else
		bpf_map_update_elem(map, key, &one, BPF_NOEXIST);
}

SEC("tracepoint/raw_syscalls/sys_enter")
int count_syscall(struct trace_event_raw_sys_enter *ctx)
{
	struct syscall_key key = {
		.pid = (u32)(bpf_get_current_pid_tgid() >> 32),
		.nr = (u32)ctx->id,
	};

	bump(&syscalls_total, &key);
	bump(&syscalls_by_cpu_total, &key);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
