// SPDX-License-Identifier: GPL-2.0
// Not a program: its BTF is the custom target for core_local.bpf.o.
struct widget {
	long pad[3];
	char name[16];
	unsigned int spare: 5;
	unsigned int mode: 3;
	unsigned int flags: 4;
	int b;
	short a;
	unsigned long extra;
};

enum shade {
	SHADE_LIGHT = 20,
	SHADE_DARK = 10,
};

struct thing {
	int x;
	int y;
};

struct thing___v2 {
	int y;
	int x;
};

struct widget target_widget;
enum shade target_shade;
struct thing target_thing;
struct thing___v2 target_thing_v2;
