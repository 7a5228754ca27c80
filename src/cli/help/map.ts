// The help of `tsbpf map`, apart from its implementation so that `--help` loads no library code.
export const HELP = `Usage: tsbpf map <command> [options]

Commands:
  list [--json]                          every map in the kernel
  show MAP [--json]                      one map's attributes
  dump MAP [--json] [--hex]              every element, decoded through the map's BTF when it
                                         has one (as bpftool), else in hex (--hex: always)
  update MAP key BYTES value BYTES [any|noexist|exist]
                                         write one element (default: any)
  update MAP key BYTES value id ID|pinned PATH [any|noexist|exist]
                                         put a program (prog arrays) or a map (maps of
                                         maps) in the element, by id or pinned path
  delete MAP key BYTES                   delete one element
  pin MAP PATH                           pin a map on a bpffs (parent directories are created)

MAP is a map id (\`12\` or \`id 12\`) or the path of a pin (\`/sys/fs/bpf/x\` or \`pinned /sys/fs/bpf/x\`).

BYTES, as in bpftool, is one token per byte: \`0x0a\` (hex) or \`10\` (decimal), for example
\`key 0x01 0x00 0x00 0x00\`. After the word \`hex\`, tokens are hex digits without a prefix and
may hold several bytes each: \`key hex 01 00 00 00\` or \`key hex 01000000\`. The count must
match the map's key or value size. Values of per-CPU maps are given once and written to every CPU.

Options:
  -j, --json     one JSON document (bpftool's layout for dump: arrays of "0x.." strings,
                 and "formatted" with the decoded key and value when the map has BTF)
      --hex      dump: keys and values as bytes only
  -p, --pretty   indented JSON (implies --json)
  -h, --help     this text

Exit status: 0 on success, 1 on failure (reason on stderr), 2 on usage errors.
`;

/** Each verb and its help text. */
export const verbs: Readonly<Record<string, string>> = { list: HELP, show: HELP, dump: HELP, update: HELP, delete: HELP, pin: HELP };

/** Other names of verbs. */
export const aliases: Readonly<Record<string, string>> = { ls: 'list' };
