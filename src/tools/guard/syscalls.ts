// The system calls guard can trace (x86_64 numbers), what each argument is, and what the
// kernel side captures for it (struct syscall_spec in guard.bpf.c).

/** Bits of syscall_spec.flags, as guard.bpf.c defines them. */
export const SPEC_TRACE = 1;
export const SPEC_SOCK_FD = 2;
export const SPEC_SOCK_RET = 4;
export const SPEC_EXEC = 8;
export const SPEC_KILL_EXEC = 16;
export const SPEC_KILL_CONNECT = 32;
export const SPEC_PATH_FILTER = 64;
export const SPEC_KILL_BIND = 128;
export const SPEC_KILL_SOCKET = 256;
export const ARG_NONE = 0xff;

/** What an argument is, for decoding and for evt.arg.NAME. */
export type ArgKind = 'int' | 'fd' | 'dirfd' | 'path' | 'str' | 'sockaddr' | 'flags' | 'mode' | 'uid' | 'ptr' | 'signal' | 'ptrace_req';

export interface SyscallInfo {
  readonly name: string;
  readonly nr: number;
  /** Argument names (Falco's where it has one) and kinds, in order. */
  readonly args: ReadonlyArray<readonly [string, ArgKind]>;
  /** Arguments whose user memory the record carries: up to two strings and a sockaddr. */
  readonly str1?: number;
  readonly str2?: number;
  readonly sa?: number;
  readonly salen?: number;
  /** The socket described: of the fd argument at this index, or of the returned fd. */
  readonly sock?: number | 'ret';
  readonly exec?: boolean;
  /** The Falco category of the call, for evt.category (file, net, process, ...). */
  readonly category: string;
}

const A = (name: string, kind: ArgKind): readonly [string, ArgKind] => [name, kind];

export const SYSCALLS: readonly SyscallInfo[] = [
  { name: 'open', nr: 2, args: [A('name', 'path'), A('flags', 'flags'), A('mode', 'mode')], str1: 0, category: 'file' },
  { name: 'creat', nr: 85, args: [A('name', 'path'), A('mode', 'mode')], str1: 0, category: 'file' },
  { name: 'openat', nr: 257, args: [A('dirfd', 'dirfd'), A('name', 'path'), A('flags', 'flags'), A('mode', 'mode')], str1: 1, category: 'file' },
  // The open_how struct (flags first) is carried where a sockaddr would be.
  { name: 'openat2', nr: 437, args: [A('dirfd', 'dirfd'), A('name', 'path'), A('how', 'ptr'), A('size', 'int')], str1: 1, sa: 2, salen: 3, category: 'file' },
  { name: 'execve', nr: 59, args: [A('filename', 'path'), A('argv', 'ptr'), A('envp', 'ptr')], str1: 0, exec: true, category: 'process' },
  { name: 'execveat', nr: 322, args: [A('dirfd', 'dirfd'), A('pathname', 'path'), A('argv', 'ptr'), A('envp', 'ptr'), A('flags', 'int')], str1: 1, exec: true, category: 'process' },
  { name: 'socket', nr: 41, args: [A('domain', 'int'), A('type', 'int'), A('proto', 'int')], sock: 'ret', category: 'net' },
  { name: 'connect', nr: 42, args: [A('fd', 'fd'), A('addr', 'sockaddr'), A('addrlen', 'int')], sa: 1, salen: 2, sock: 0, category: 'net' },
  { name: 'accept', nr: 43, args: [A('fd', 'fd'), A('addr', 'sockaddr'), A('addrlen', 'ptr')], sa: 1, salen: 2, sock: 'ret', category: 'net' },
  { name: 'accept4', nr: 288, args: [A('fd', 'fd'), A('addr', 'sockaddr'), A('addrlen', 'ptr'), A('flags', 'int')], sa: 1, salen: 2, sock: 'ret', category: 'net' },
  { name: 'bind', nr: 49, args: [A('fd', 'fd'), A('addr', 'sockaddr'), A('addrlen', 'int')], sa: 1, salen: 2, sock: 0, category: 'net' },
  { name: 'listen', nr: 50, args: [A('fd', 'fd'), A('backlog', 'int')], sock: 0, category: 'net' },
  { name: 'sendto', nr: 44, args: [A('fd', 'fd'), A('data', 'ptr'), A('size', 'int'), A('flags', 'int'), A('addr', 'sockaddr'), A('addrlen', 'int')], sa: 4, salen: 5, sock: 0, category: 'net' },
  { name: 'unlink', nr: 87, args: [A('path', 'path')], str1: 0, category: 'file' },
  { name: 'unlinkat', nr: 263, args: [A('dirfd', 'dirfd'), A('name', 'path'), A('flags', 'int')], str1: 1, category: 'file' },
  { name: 'rename', nr: 82, args: [A('oldpath', 'path'), A('newpath', 'path')], str1: 0, str2: 1, category: 'file' },
  { name: 'renameat', nr: 264, args: [A('olddirfd', 'dirfd'), A('oldpath', 'path'), A('newdirfd', 'dirfd'), A('newpath', 'path')], str1: 1, str2: 3, category: 'file' },
  { name: 'renameat2', nr: 316, args: [A('olddirfd', 'dirfd'), A('oldpath', 'path'), A('newdirfd', 'dirfd'), A('newpath', 'path'), A('flags', 'int')], str1: 1, str2: 3, category: 'file' },
  { name: 'link', nr: 86, args: [A('oldpath', 'path'), A('newpath', 'path')], str1: 0, str2: 1, category: 'file' },
  { name: 'linkat', nr: 265, args: [A('olddir', 'dirfd'), A('oldpath', 'path'), A('newdir', 'dirfd'), A('newpath', 'path'), A('flags', 'int')], str1: 1, str2: 3, category: 'file' },
  { name: 'symlink', nr: 88, args: [A('target', 'str'), A('linkpath', 'path')], str1: 0, str2: 1, category: 'file' },
  { name: 'symlinkat', nr: 266, args: [A('target', 'str'), A('linkdirfd', 'dirfd'), A('linkpath', 'path')], str1: 0, str2: 2, category: 'file' },
  { name: 'mkdir', nr: 83, args: [A('path', 'path'), A('mode', 'mode')], str1: 0, category: 'file' },
  { name: 'mkdirat', nr: 258, args: [A('dirfd', 'dirfd'), A('path', 'path'), A('mode', 'mode')], str1: 1, category: 'file' },
  { name: 'rmdir', nr: 84, args: [A('path', 'path')], str1: 0, category: 'file' },
  { name: 'chmod', nr: 90, args: [A('filename', 'path'), A('mode', 'mode')], str1: 0, category: 'file' },
  { name: 'fchmod', nr: 91, args: [A('fd', 'fd'), A('mode', 'mode')], category: 'file' },
  { name: 'fchmodat', nr: 268, args: [A('dirfd', 'dirfd'), A('filename', 'path'), A('mode', 'mode')], str1: 1, category: 'file' },
  { name: 'ptrace', nr: 101, args: [A('request', 'ptrace_req'), A('pid', 'int'), A('addr', 'ptr'), A('data', 'ptr')], category: 'process' },
  { name: 'memfd_create', nr: 319, args: [A('name', 'str'), A('flags', 'int')], str1: 0, category: 'memory' },
  { name: 'setuid', nr: 105, args: [A('uid', 'uid')], category: 'user' },
  { name: 'setgid', nr: 106, args: [A('gid', 'uid')], category: 'user' },
  { name: 'setreuid', nr: 113, args: [A('ruid', 'uid'), A('euid', 'uid')], category: 'user' },
  { name: 'setregid', nr: 114, args: [A('rgid', 'uid'), A('egid', 'uid')], category: 'user' },
  { name: 'setresuid', nr: 117, args: [A('ruid', 'uid'), A('euid', 'uid'), A('suid', 'uid')], category: 'user' },
  { name: 'setresgid', nr: 119, args: [A('rgid', 'uid'), A('egid', 'uid'), A('sgid', 'uid')], category: 'user' },
  { name: 'setfsuid', nr: 122, args: [A('uid', 'uid')], category: 'user' },
  { name: 'setfsgid', nr: 123, args: [A('gid', 'uid')], category: 'user' },
  { name: 'mount', nr: 165, args: [A('dev', 'path'), A('dir', 'path'), A('type', 'ptr'), A('flags', 'int'), A('data', 'ptr')], str1: 0, str2: 1, category: 'file' },
  { name: 'umount2', nr: 166, args: [A('name', 'path'), A('flags', 'int')], str1: 0, category: 'file' },
  { name: 'init_module', nr: 175, args: [A('img', 'ptr'), A('length', 'int'), A('uargs', 'str')], str2: 2, category: 'process' },
  { name: 'finit_module', nr: 313, args: [A('fd', 'fd'), A('uargs', 'str'), A('flags', 'int')], str2: 1, category: 'process' },
  // dup's fd is the one duplicated (a socket redirected onto stdin/stdout is the reverse shell).
  { name: 'dup', nr: 32, args: [A('fildes', 'fd')], sock: 0, category: 'net' },
  { name: 'dup2', nr: 33, args: [A('oldfd', 'fd'), A('newfd', 'fd')], sock: 0, category: 'net' },
  { name: 'dup3', nr: 292, args: [A('oldfd', 'fd'), A('newfd', 'fd'), A('flags', 'int')], sock: 0, category: 'net' },
  { name: 'kill', nr: 62, args: [A('pid', 'int'), A('sig', 'signal')], category: 'signal' },
];

export const SYSCALL_BY_NAME: ReadonlyMap<string, SyscallInfo> = new Map(SYSCALLS.map((s) => [s.name, s]));
export const SYSCALL_BY_NR: ReadonlyMap<number, SyscallInfo> = new Map(SYSCALLS.map((s) => [s.nr, s]));

/** The kernel's struct syscall_spec for a call, with the enforcement bits given. */
export function specOf(s: SyscallInfo, killBits = 0): { flags: number; str1_arg: number; str2_arg: number; sa_arg: number; salen_arg: number; sock_fd_arg: number } {
  let flags = SPEC_TRACE | killBits;
  if (s.sock === 'ret') flags |= SPEC_SOCK_RET;
  else if (s.sock !== undefined) flags |= SPEC_SOCK_FD;
  if (s.exec) flags |= SPEC_EXEC;
  return {
    flags,
    str1_arg: s.str1 ?? ARG_NONE,
    str2_arg: s.str2 ?? ARG_NONE,
    sa_arg: s.sa ?? ARG_NONE,
    salen_arg: s.salen ?? ARG_NONE,
    sock_fd_arg: typeof s.sock === 'number' ? s.sock : ARG_NONE,
  };
}
