// The help of `tsbpf btf`, apart from its implementation so that `--help` loads no library code.
export const HELP = `Usage: tsbpf btf dump [--file PATH] [--base PATH] [--format raw|c|json]

The types of a BTF blob: the running kernel's (/sys/kernel/btf/vmlinux) by default, a kernel
module's (/sys/kernel/btf/<module>, read on top of vmlinux), a raw BTF file, or the .BTF section
of an ELF object.

Options:
      --file PATH        the BTF to dump (default /sys/kernel/btf/vmlinux)
      --base PATH        the base BTF of a split BTF file (default: vmlinux for module BTF)
      --format FORMAT    raw: one line per type as \`bpftool btf dump\` prints them (default);
                         c: a C header of every type, as \`bpftool btf dump ... format c\`
                         (what BPF programs include as vmlinux.h); json: \`bpftool -j\` output
  -j, --json             same as --format json
  -h, --help             this help
`;

/** Each verb and its help text. */
export const verbs: Readonly<Record<string, string>> = { dump: HELP };
