// SPDX-License-Identifier: GPL-2.0
// A CO-RE relocation this kernel cannot satisfy: guarded (never reached) and unguarded.
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

struct task_struct___gone {
	int field_that_is_gone;
} __attribute__((preserve_access_index));

int value = -1;

SEC("raw_tp/sys_enter")
int guarded(void *ctx)
{
	struct task_struct___gone *t = (void *)bpf_get_current_task();

	if (bpf_core_field_exists(t->field_that_is_gone))
		value = BPF_CORE_READ(t, field_that_is_gone);
	else
		value = 0;
	return 0;
}

SEC("raw_tp/sys_enter")
int unguarded(void *ctx)
{
	struct task_struct___gone *t = (void *)bpf_get_current_task();

	value = BPF_CORE_READ(t, field_that_is_gone);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
