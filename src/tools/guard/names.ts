// Names of numbers Falco shows as names: users, groups, open flags, errnos, capabilities,
// ptrace requests, socket families.
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';

interface Account {
  name: string;
  home: string;
  shell: string;
}

let users: Map<number, Account> | undefined;
let groups: Map<number, string> | undefined;

function readDb(path: string): string[][] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(':'));
  } catch {
    return [];
  }
}

/** The account of a uid, from /etc/passwd (read again once when a uid is not found). */
export function account(uid: number): Account | undefined {
  const find = (): Account | undefined => users?.get(uid);
  if (users === undefined || find() === undefined) {
    users = new Map(readDb('/etc/passwd').map((f) => [Number(f[2]), { name: f[0] ?? '', home: f[5] ?? '', shell: f[6] ?? '' }]));
  }
  return find();
}

export function groupName(gid: number): string | undefined {
  if (groups === undefined || !groups.has(gid)) groups = new Map(readDb('/etc/group').map((f) => [Number(f[2]), f[0] ?? '']));
  return groups.get(gid);
}

const OPEN_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [0o100, 'O_CREAT'],
  [0o200, 'O_EXCL'],
  [0o400, 'O_NOCTTY'],
  [0o1000, 'O_TRUNC'],
  [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'],
  [0o10000, 'O_DSYNC'],
  [0o40000, 'O_DIRECT'],
  [0o200000, 'O_DIRECTORY'],
  [0o400000, 'O_NOFOLLOW'],
  [0o2000000, 'O_CLOEXEC'],
  [0o10000000, 'O_PATH'],
];

/** "O_RDONLY|O_CLOEXEC" for open flags. */
export function openFlags(flags: number): string {
  const acc = flags & 3;
  const out = [acc === 0 ? 'O_RDONLY' : acc === 1 ? 'O_WRONLY' : 'O_RDWR'];
  for (const [bit, name] of OPEN_FLAGS) if (flags & bit) out.push(name);
  return out.join('|');
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

/** Falco's evt.res: SUCCESS, or the errno's name for a negative return. */
export function resultName(ret: number): string {
  if (ret >= 0) return 'SUCCESS';
  return ERRNO_NAMES.get(-ret) ?? `E${-ret}`;
}

const CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** "CAP_CHOWN CAP_KILL ..." of a capability mask, as Falco's thread.cap_* fields. */
export function capabilities(mask: bigint): string {
  const out: string[] = [];
  for (let i = 0; i < CAPS.length; i++) if ((mask >> BigInt(i)) & 1n) out.push(CAPS[i]!);
  return out.join(' ');
}

const PTRACE = new Map<number, string>([
  [0, 'PTRACE_TRACEME'], [1, 'PTRACE_PEEKTEXT'], [2, 'PTRACE_PEEKDATA'], [3, 'PTRACE_PEEKUSR'], [4, 'PTRACE_POKETEXT'], [5, 'PTRACE_POKEDATA'],
  [6, 'PTRACE_POKEUSR'], [7, 'PTRACE_CONT'], [8, 'PTRACE_KILL'], [9, 'PTRACE_SINGLESTEP'], [12, 'PTRACE_GETREGS'], [13, 'PTRACE_SETREGS'],
  [16, 'PTRACE_ATTACH'], [17, 'PTRACE_DETACH'], [24, 'PTRACE_SYSCALL'], [0x4200, 'PTRACE_SETOPTIONS'], [0x4206, 'PTRACE_SEIZE'],
  [0x4207, 'PTRACE_INTERRUPT'],
]);

export function ptraceRequest(req: number): string {
  return PTRACE.get(req) ?? String(req);
}

const FAMILIES = new Map<number, string>([[1, 'AF_UNIX'], [2, 'AF_INET'], [10, 'AF_INET6'], [16, 'AF_NETLINK'], [17, 'AF_PACKET']]);

export function familyName(f: number): string {
  return FAMILIES.get(f) ?? String(f);
}

const SOCK_TYPES = new Map<number, string>([[1, 'SOCK_STREAM'], [2, 'SOCK_DGRAM'], [3, 'SOCK_RAW'], [5, 'SOCK_SEQPACKET']]);

export function sockTypeName(t: number): string {
  return SOCK_TYPES.get(t & 0xf) ?? String(t);
}
