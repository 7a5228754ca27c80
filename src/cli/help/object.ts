// The help of `tsbpf object`, apart from its implementation so that `--help` loads no library code.
export const HELP = `Usage: tsbpf object <verb> FILE [options]

BPF ELF objects as clang compiles them (.bpf.o): what they hold, and whether and how they load.

Verbs:
  inspect FILE                      programs, maps, global variables, externs, CO-RE relocations
  load FILE                         load every map and program (and pin them with --pin)
  run FILE --program NAME           load, then run one program with BPF_PROG_TEST_RUN
  dump FILE --program NAME          a program's instructions with its C source interleaved
  attach FILE                       load, attach every program, print events and maps until stopped
  unload DIR                        remove what \`load FILE --pin DIR\` pinned, and DIR

Options:
  -j, --json             one JSON document
  -p, --pretty           indented JSON (implies --json)
      --set NAME=VALUE   set a global variable before load (repeatable); VALUE is a number,
                         true/false, a string, or JSON for arrays and structs
      --kernel-btf PATH  resolve CO-RE relocations against this BTF instead of the kernel's
      --map NAME.value_size=N,max_entries=M
                         size a map before it is created (repeatable): for objects that leave
                         a stack map's depth or a table's size to user space
      --type PROG=TYPE   the type of a program whose section names none (socket/1,
                         classifier/ingress): a section name (tc, xdp, socket,
                         cgroup_skb/ingress...) or a program type (sched_cls...) (repeatable)
  -h, --help             this help; \`tsbpf object <verb> --help\` for a verb
`;

export const INSPECT_HELP = `Usage: tsbpf object inspect FILE [--json] [--pretty]

Reads FILE without loading anything (no privileges needed) and lists its programs (section,
type, attach type, instructions), maps (type, key and value sizes and BTF types, max entries,
flags), global variables with their types and initial values, externs, and CO-RE relocations.
Programs and maps that cannot be loaded as the object has them (a static function in a program
section, a call of a function another object defines, ...) are listed with the reason, the one
loading fails with (JSON: "problem").
`;

export const LOAD_HELP = `Usage: tsbpf object load FILE [--set NAME=VALUE ...] [--map NAME.value_size=N,max_entries=M ...]
                          [--type PROG=TYPE ...] [--pin DIR] [--kernel-btf PATH] [--json]

Loads every map and program of FILE. Without --pin they are unloaded when the command exits;
with --pin DIR programs are pinned as DIR/<program> and maps as DIR/maps/<map> (periods in names
become underscores, as bpffs requires), and LIBBPF_PIN_BY_NAME maps live in DIR.
JSON: {"programs":[{"name","section","type","loaded","error"?}],"maps":[{"name","type","id"}]}.
On failure the exit status is 1 and stderr has the verifier's reason and the C source line.
--map sizes maps the object leaves to user space (bcc's profile: a stack map's value_size);
--type gives the type of a program whose section names none (socket/1, classifier/ingress):
a section name (tc, xdp, socket, cgroup_skb/ingress...) or a program type (sched_cls...).
A DIR that still holds the pins of an earlier load is refused before anything loads; remove
them with \`tsbpf object unload DIR\`.
`;

export const RUN_HELP = `Usage: tsbpf object run FILE --program NAME [--set NAME=VALUE ...] [--data FILE] [--ctx FILE]
                         [--map NAME.value_size=N,max_entries=M ...] [--type PROG=TYPE ...]
                         [--repeat N] [--kernel-btf PATH] [--json]

Loads FILE, then runs program NAME once (or N times) with BPF_PROG_TEST_RUN on the packet in
--data and the context in --ctx (raw bytes; packet programs get 64 zero bytes by default), and
prints its return value, the mean run time, and the data it left. JSON: {"program","retval","durationNs","dataOut"?} with dataOut in hex.
`;

export const DUMP_HELP = `Usage: tsbpf object dump FILE --program NAME [--json]

The program's instructions as the object has them (subprograms linked in, before relocation),
with C source lines interleaved as \`llvm-objdump -S\` shows them and references (maps, global
data, kernel functions, CO-RE relocations) named.
`;

export const ATTACH_HELP = `Usage: tsbpf object attach FILE [--set NAME=VALUE ...] [--iface NAME] [--cgroup PATH] [--pid PID]
                            [--netns NETNS] [--for DURATION] [--events MAP[:TYPE] ...]
                            [--dump-maps | --no-dump-maps] [--kernel-btf PATH] [--json]

Loads FILE and attaches every program where its section says: xdp, tc and netkit programs to
--iface, cgroup programs to --cgroup, sk_lookup and flow_dissector programs in --netns;
tracepoints, raw tracepoints, tp_btf, fentry/fexit, kprobes and uprobes (limited to --pid when
given) on their own. A program that needs --iface, --cgroup or --netns when it is not given is
an error; programs the command line cannot attach (socket filters, sk_msg, perf_event, xdp/devmap,
struct_ops...) are skipped with a note on stderr. All or nothing: if one attach fails, nothing
stays attached.

Once everything is attached, stderr has one line per link and then "attached N programs" (or
"attached 1 program"). Records of the ring buffers and perf event arrays named with --events are
printed as they come, one per line. It runs until Ctrl-C, SIGTERM or the end of --for; then it
detaches every program, prints the records still buffered and the contents of every map decoded
through BTF (ring buffers, perf event arrays and maps without keys left out), and exits 0.

Options:
      --iface NAME        the network interface (name or index) of xdp, tc and netkit programs
      --cgroup PATH       the cgroup v2 directory of cgroup programs
      --pid PID           limit uprobes (and task iterators) to this process
      --netns NETNS       the network namespace (path or \`ip netns\` name) of sk_lookup and
                          flow_dissector programs
      --for DURATION      stop after DURATION: 500ms, 2s, 1.5m, 1h; a bare number is seconds
      --events MAP[:TYPE] print the records of ring buffer or perf event array MAP (repeatable),
                          decoded as TYPE (a struct, union or typedef of the object's BTF:
                          \`event\` or \`struct event\`); in hex without TYPE
      --dump-maps         print every map's contents on exit (the default)
      --no-dump-maps      do not
      --set NAME=VALUE    set a global variable before load (repeatable)
      --map NAME.value_size=N,max_entries=M
                          size a map before it is created (repeatable)
      --type PROG=TYPE    the type of a program whose section names none (repeatable)
      --kernel-btf PATH   resolve CO-RE relocations against this BTF instead of the kernel's
  -j, --json              JSON lines: {"map","record"} per ring buffer record, {"map","cpu","record"}
                          per perf sample, {"map","cpu","lost"} for samples the kernel dropped,
                          and last {"maps":{"<name>":[{"key","value"}]}}
`;

export const UNLOAD_HELP = `Usage: tsbpf object unload DIR [--json]

Removes the pins \`tsbpf object load FILE --pin DIR\` made: programs and maps pinned by name in
DIR, maps in DIR/maps, then both directories. Programs and maps stay loaded while something
else holds them (an attachment, another pin, an open fd) and are freed when the last goes.
Nothing is removed when DIR holds a directory a load does not make there.
JSON: {"directory","removed":[paths]}.
`;

/** Each verb and its help text. */
export const verbs: Readonly<Record<string, string>> = { inspect: INSPECT_HELP, load: LOAD_HELP, run: RUN_HELP, dump: DUMP_HELP, attach: ATTACH_HELP, unload: UNLOAD_HELP };
