// Execs by cgroup: the key is bpf_get_current_cgroup_id(), which the exporter turns into the
// cgroup's path (and Kubernetes namespace, pod and container where the path names them).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u64);
	__type(value, u64);
} cgroup_execs_total SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int count_cgroup_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	u64 id = bpf_get_current_cgroup_id(), one = 1, *count;

	count = bpf_map_lookup_elem(&cgroup_execs_total, &id);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&cgroup_execs_total, &id, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
