// Execs sent to user space through a perf event array: the exporter counts the events by
// their bytes (the command name), and counts the events the kernel dropped.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct exec_event {
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} exec_events_total SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int send_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct exec_event e = {};

	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_perf_event_output(ctx, &exec_events_total, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
