// The help of `tsbpf gen`, apart from its implementation so that `--help` loads no library code.
export const HELP = `Usage: tsbpf gen <name> <src.bpf.c> [options] [-- clang flags]

Compiles BPF C with clang and writes, into the output directory:
  <name>.bpf.o   the object (BTF kept, DWARF stripped)
  <name>_bpf.ts  a typed module: load<Name>(options) returning the loaded object with typed
                 maps, programs, globals (.data/.bss), config (.rodata) and buffer readers

clang runs with -target bpfel -O2 -g -D__TARGET_ARCH_<arch>, includes from the source's
directory, libbpf's headers and /usr/include/<multiarch>. A source that includes "vmlinux.h"
uses the one given with --vmlinux, else one on the include path or beside the source, and only
otherwise one generated from the running kernel's BTF (/sys/kernel/btf/vmlinux, cached in
node_modules/.cache/tsbpf; said on stderr): the object then depends on the machine that built
it. Flags after -- go to clang (-I, -D, -W...).

Options:
  -o, --out <dir>       where to write (default: the source's directory)
  -t, --type <type>     also generate this struct, union, enum or typedef (repeatable);
                        TYPE:MAP also types the records of ring/perf buffer map MAP (a lone
                        --type binds to the object's only ring or perf buffer by itself)
      --vmlinux <file>  the vmlinux.h the source includes (commit one, for objects that
                        build the same on every machine)
      --runtime <spec>  the module generated code imports its support from, as written in
                        the import (default 'tsbpf/gen')
      --embed           embed the object in the module as base64 (default up to 4 MiB)
      --no-embed        read <name>.bpf.o from beside the module at run time
  -j, --json            print what was written as JSON
  -h, --help            this help

Example:
  tsbpf gen exec_stream exec_stream.bpf.c --type event
  → exec_stream.bpf.o, exec_stream_bpf.ts exporting loadExecStream() and interface Event

See docs/gen.md for the generated API and the naming rules.
`;
