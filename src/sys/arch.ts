// How the running kernel names things per architecture.

/**
 * The prefix of the kernel's syscall wrappers on an architecture (`__x64_sys_` on x86-64, as in
 * `__x64_sys_openat`), or undefined where the kernel has none and names entries `sys_<name>`.
 */
export function syscallPrefix(arch: string = process.arch): string | undefined {
  switch (arch) {
    case 'x64':
      return '__x64_sys_';
    case 'ia32':
      return '__ia32_sys_';
    case 'arm64':
      return '__arm64_sys_';
    case 's390x':
      return '__s390x_sys_';
    case 'riscv64':
      return '__riscv_sys_';
    case 'ppc64':
      return '__powerpc_sys_';
    default:
      return undefined;
  }
}
