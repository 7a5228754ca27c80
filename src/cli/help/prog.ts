// The help of `tsbpf prog`, apart from its implementation so that `--help` loads no library code.
export const HELP = `Usage: tsbpf prog <verb> [arguments] [options]

Programs loaded in the kernel.

Verbs:
  list                    every loaded program (also: show with no argument)
  show PROG               one program, or those matching a name or tag
  dump xlated PROG        the program's instructions as the kernel rewrote them
  dump FILE.o --program NAME
                          a program of an object file, with its C source lines

PROG is an id or a pinned path: 42, id 42, /sys/fs/bpf/x, pinned /sys/fs/bpf/x,
or (show only) name NAME, tag TAG.

Options:
  -j, --json     one JSON document (field names as bpftool's)
  -p, --pretty   indented JSON (implies --json)
  -t, --table    one line per program (list)
  -h, --help     this help; \`tsbpf prog <verb> --help\` for a verb

Run counts and times appear while statistics are on (sysctl kernel.bpf_stats_enabled=1).
`;

export const LIST_HELP = `Usage: tsbpf prog list [--json] [--pretty] [--table]

Every program loaded in the kernel: id, type, name, tag, load time, sizes, maps.
`;

export const SHOW_HELP = `Usage: tsbpf prog show [PROG] [--json] [--pretty]

One program by id (42, id 42), pinned path (/sys/fs/bpf/x, pinned /sys/fs/bpf/x),
or the programs with a name (name NAME) or tag (tag TAG). Without PROG: every program.
`;

export const DUMP_HELP = `Usage: tsbpf prog dump xlated PROG [--json] [--pretty]

The instructions of a loaded program after the verifier's rewrites, disassembled.
Helper calls are named from /proc/kallsyms; map loads show map ids.
`;

/** Each verb and its help text. */
export const verbs: Readonly<Record<string, string>> = { list: LIST_HELP, show: SHOW_HELP, dump: DUMP_HELP };

/** Other names of verbs, as bpftool takes them. */
export const aliases: Readonly<Record<string, string>> = { ls: 'list' };
