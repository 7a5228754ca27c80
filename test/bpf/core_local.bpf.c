// SPDX-License-Identifier: GPL-2.0
// CO-RE against a custom BTF (core_target.bpf.o): local layouts that differ from the target's.
#include <linux/bpf.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

struct widget {
	int a;
	int b;
	char name[8];
	unsigned int flags: 4;
	unsigned int mode: 3;
} __attribute__((preserve_access_index));

struct widget___v1 {
	int removed_in_target;
} __attribute__((preserve_access_index));

enum shade {
	SHADE_DARK = 1,
	SHADE_LIGHT = 2,
};

struct thing {
	int x;
	int y;
} __attribute__((preserve_access_index));

__u64 off_a, off_b, off_name, size_a, size_name, exists_removed, enum_light, enum_dark;
__u64 widget_size, mode_lshift, mode_rshift, mode_off, mode_size;

SEC("socket")
int local_core(struct __sk_buff *skb)
{
	off_a = bpf_core_field_offset(struct widget, a);
	off_b = bpf_core_field_offset(struct widget, b);
	off_name = bpf_core_field_offset(struct widget, name);
	size_a = bpf_core_field_size(struct widget, a);
	size_name = bpf_core_field_size(struct widget, name);
	exists_removed = bpf_core_field_exists(struct widget___v1, removed_in_target);
	enum_light = bpf_core_enum_value(enum shade, SHADE_LIGHT);
	enum_dark = bpf_core_enum_value(enum shade, SHADE_DARK);
	widget_size = bpf_core_type_size(struct widget);
	mode_lshift = __builtin_preserve_field_info(((struct widget *)0)->mode, BPF_FIELD_LSHIFT_U64);
	mode_rshift = __builtin_preserve_field_info(((struct widget *)0)->mode, BPF_FIELD_RSHIFT_U64);
	mode_off = __builtin_preserve_field_info(((struct widget *)0)->mode, BPF_FIELD_BYTE_OFFSET);
	mode_size = __builtin_preserve_field_info(((struct widget *)0)->mode, BPF_FIELD_BYTE_SIZE);
	return bpf_core_field_offset(struct widget, b);
}

/* The target has two `thing` flavours that disagree about y: no unique answer. */
SEC("socket")
int ambiguous(struct __sk_buff *skb)
{
	return bpf_core_field_offset(struct thing, y);
}

char LICENSE[] SEC("license") = "GPL";
