// SPDX-License-Identifier: GPL-2.0
// Collection.attach corpus: hooks that attach on their own, hooks that need a target, and
// sections with no attach point, in this order.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 execs;
__u64 packets;
__u64 sent;

SEC("tracepoint/sched/sched_process_exec")
int mixed_exec(void *ctx)
{
	__sync_fetch_and_add(&execs, 1);
	return 0;
}

SEC("socket")
int mixed_socket(struct __sk_buff *skb)
{
	return 0;
}

SEC("xdp/devmap")
int mixed_devmap(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("cgroup_skb/egress")
int mixed_egress(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&sent, 1);
	return 1;
}

SEC("xdp")
int mixed_xdp(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&packets, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
