// Execs by command name and user: a tracepoint counter with a string and a uint label.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct exec_key {
	char comm[16];
	u32 uid;
	u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct exec_key);
	__type(value, u64);
} execs_total SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int count_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct exec_key key = {};
	u64 one = 1, *count;

	bpf_get_current_comm(key.comm, sizeof(key.comm));
	key.uid = (u32)bpf_get_current_uid_gid();
	count = bpf_map_lookup_elem(&execs_total, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&execs_total, &key, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
