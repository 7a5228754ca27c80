// The help of `tsbpf compile`, apart from its implementation so that `--help` loads no library code.
export const HELP = `Usage: tsbpf compile <src.bpf.c> -o <out.o> [-- clang flags]

Compiles BPF C with clang -target bpfel -O2 -g -D__TARGET_ARCH_<arch>, includes from the
source's directory, libbpf's headers and /usr/include/<multiarch> (and a vmlinux.h generated
from the kernel's BTF when the source includes one that is not on the include path), then
strips DWARF keeping BTF. Flags after -- go to clang.

Options:
  -o, --out <file>  the object to write (required)
  -h, --help        this help

On a compile error clang's diagnostics are printed and nothing is written.
`;
