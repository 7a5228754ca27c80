// SPDX-License-Identifier: GPL-2.0
// Kernel symbols without BTF types resolve through /proc/kallsyms: a function and a variable.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern const void bpf_prog_put __ksym;
extern const void bpf_prog_active __ksym;
extern const void ksym_untyped_absent __ksym __weak;

__u64 func_addr;
__u64 var_addr;
__u64 absent_addr = 1;

SEC("syscall")
int addresses(void *ctx)
{
	func_addr = (__u64)&bpf_prog_put;
	absent_addr = (__u64)&ksym_untyped_absent;
	return 0;
}

SEC("syscall")
int data_address(void *ctx)
{
	var_addr = (__u64)&bpf_prog_active;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
