// For test/exporter.test.ts: the exporter writes the address of `schedule` into kaddr_schedule
// (the config's kaddrs), and the program counts execs under that address, which the ksym
// decoder turns back into the name.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile u64 kaddr_schedule = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, u64);
	__type(value, u64);
} kaddr_execs_total SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int count_by_kaddr(void *ctx)
{
	u64 key = kaddr_schedule, one = 1, *count;

	count = bpf_map_lookup_elem(&kaddr_execs_total, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&kaddr_execs_total, &key, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
