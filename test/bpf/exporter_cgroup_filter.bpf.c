// For test/exporter.test.ts: execs counted only in the cgroups the exporter puts into
// cgroup_id_map (those whose path matches the config's regexps).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u64);
	__type(value, u64);
} cgroup_id_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u64);
	__type(value, u64);
} filtered_execs_total SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int count_filtered_exec(void *ctx)
{
	u64 id = bpf_get_current_cgroup_id(), one = 1, *count;

	if (!bpf_map_lookup_elem(&cgroup_id_map, &id))
		return 0;
	count = bpf_map_lookup_elem(&filtered_execs_total, &id);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&filtered_execs_total, &id, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
