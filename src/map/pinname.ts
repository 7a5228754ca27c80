// Names of pins and pin directories. bpffs refuses every name that contains a '.' (its lookup
// returns EPERM, so mkdir and BPF_OBJ_PIN fail), while map sections (.rodata, .bss) and
// interface names (eth0.100, the VLAN convention) often hold one.

/** `name` as a bpffs file or directory name: each '.' becomes '_'. */
export function pinName(name: string): string {
  return name.replace(/\./g, '_');
}
