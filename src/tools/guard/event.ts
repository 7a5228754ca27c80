// Ring buffer records of guard.bpf.c, decoded at the fixed offsets of its structs (the
// generated codecs give the same layout; reading fields directly skips the objects and
// strings a rule never asks for).
import { SYSCALL_BY_NR } from './syscalls.js';

export const KIND_SYSCALL = 1;
export const KIND_EXEC = 2;
export const KIND_FORK = 3;
export const KIND_EXIT = 4;

export const FLAG_KILLED = 1;
export const FLAG_EXE_MEMFD = 2;
export const FLAG_ARGS_TRUNCATED = 4;

/** Sizes of struct event_hdr, sys_event and exec_event. */
export const HDR_SIZE = 160;
export const SYS_EVENT_SIZE = 840;
export const EXEC_EVENT_SIZE = 2472;

/** A socket's ends as the kernel's struct sock has them. */
export interface SockTuple {
  family: number;
  type: number;
  protocol: number;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
}

/** A struct sockaddr from user memory. */
export interface SockAddr {
  family: number;
  addr: string;
  port: number;
}

export interface GuardEvent {
  kind: number;
  /** Syscall number (execve for exec records). */
  nr: number;
  /** The call's name ("execve", "openat"; "clone" for a fork record, "procexit" for an exit). */
  type: string;
  /** Nanoseconds since boot (CLOCK_MONOTONIC). */
  tsNs: bigint;
  cgroupId: bigint;
  capEffective: bigint;
  /** The process's start, nanoseconds since boot. */
  startNs: bigint;
  ret: number;
  args: bigint[];
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  gid: number;
  euid: number;
  loginuid: number;
  sid: number;
  vpid: number;
  tty: number;
  flags: number;
  /** fork: the parent; exit: the exit code; killed: the signal. */
  aux: number;
  comm: string;
  str1?: string;
  str2?: string;
  sa?: SockAddr | undefined;
  /** The raw bytes of the sockaddr slot (openat2 carries its open_how there). */
  saRaw?: Uint8Array;
  sock?: SockTuple;
  // Exec records:
  filename?: string;
  exePath?: string;
  cwd?: string;
  argv?: string[];
}

const decoder = new TextDecoder();

function cstr(data: Uint8Array, start: number, max: number): string {
  let end = start;
  const limit = start + max;
  while (end < limit && data[end] !== 0) end++;
  return decoder.decode(data.subarray(start, end));
}

/** A path walked from the leaf up ("c\0b\0a\0") as "/a/b/c". */
function walkedPath(data: Uint8Array, start: number, max: number): string {
  const parts: string[] = [];
  let at = start;
  const limit = start + max;
  while (at < limit && data[at] !== 0) {
    const s = cstr(data, at, limit - at);
    if (s !== '/') parts.push(s);
    at += Buffer.byteLength(s) + 1;
  }
  return `/${parts.reverse().join('/')}`;
}

export function ipString(bytes: Uint8Array, family: number): string {
  if (family === 2) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  const v4mapped = groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff';
  if (v4mapped) return `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  // The longest run of zero groups becomes "::".
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function sockAddr(data: Uint8Array, at: number, len: number): SockAddr | undefined {
  if (len < 2) return undefined;
  const family = data[at]! | (data[at + 1]! << 8);
  if (family === 2 && len >= 8) return { family, port: (data[at + 2]! << 8) | data[at + 3]!, addr: ipString(data.subarray(at + 4, at + 8), 2) };
  if (family === 10 && len >= 24) return { family, port: (data[at + 2]! << 8) | data[at + 3]!, addr: ipString(data.subarray(at + 8, at + 24), 10) };
  if (family === 1) {
    // An abstract socket's name starts with a NUL, shown as '@'.
    const abstract = len > 2 && data[at + 2] === 0;
    const path = abstract ? `@${cstr(data, at + 3, len - 3)}` : cstr(data, at + 2, len - 2);
    return { family, port: 0, addr: path };
  }
  return { family, port: 0, addr: '' };
}

/** The event in `data` at `offset` (a record of `length` bytes). */
export function decodeEvent(data: Uint8Array, offset: number, length: number): GuardEvent {
  const v = new DataView(data.buffer, data.byteOffset + offset, length);
  const kind = v.getUint32(88, true);
  const nr = v.getUint32(92, true);
  const args: bigint[] = [];
  for (let i = 0; i < 6; i++) args.push(v.getBigUint64(40 + i * 8, true));
  const e: GuardEvent = {
    kind,
    nr,
    type: kind === KIND_FORK ? 'clone' : kind === KIND_EXIT ? 'procexit' : (SYSCALL_BY_NR.get(nr)?.name ?? `syscall_${nr}`),
    tsNs: v.getBigUint64(0, true),
    cgroupId: v.getBigUint64(8, true),
    capEffective: v.getBigUint64(16, true),
    startNs: v.getBigUint64(24, true),
    ret: Number(v.getBigInt64(32, true)),
    args,
    pid: v.getUint32(96, true),
    tid: v.getUint32(100, true),
    ppid: v.getUint32(104, true),
    uid: v.getUint32(108, true),
    gid: v.getUint32(112, true),
    euid: v.getUint32(116, true),
    loginuid: v.getUint32(120, true),
    sid: v.getUint32(124, true),
    vpid: v.getUint32(128, true),
    tty: v.getUint32(132, true),
    flags: v.getUint32(136, true),
    aux: v.getUint32(140, true),
    comm: cstr(data, offset + 144, 16),
  };
  if (kind === KIND_SYSCALL && length >= SYS_EVENT_SIZE) {
    if (v.getUint16(202, true) !== 0) {
      const family = v.getUint16(196, true);
      e.sock = {
        family,
        type: v.getUint16(198, true),
        protocol: v.getUint16(200, true),
        laddr: family === 2 || family === 10 ? ipString(data.subarray(offset + 160, offset + 176), family) : '',
        raddr: family === 2 || family === 10 ? ipString(data.subarray(offset + 176, offset + 192), family) : '',
        lport: v.getUint16(192, true),
        rport: v.getUint16(194, true),
      };
    }
    const salen = v.getUint32(204, true);
    if (salen > 0) {
      e.saRaw = data.slice(offset + 212, offset + 212 + Math.min(salen, 112));
      e.sa = sockAddr(data, offset + 212, Math.min(salen, 112));
    }
    e.str1 = cstr(data, offset + 324, 256);
    e.str2 = cstr(data, offset + 580, 256);
  } else if (kind === KIND_EXEC && length >= EXEC_EVENT_SIZE) {
    e.filename = cstr(data, offset + 168, 256);
    e.exePath = walkedPath(data, offset + 424, 512);
    e.cwd = walkedPath(data, offset + 936, 512);
    const argsLen = v.getUint32(160, true);
    const raw = decoder.decode(data.subarray(offset + 1448, offset + 1448 + Math.min(argsLen, 1024)));
    e.argv = raw.replace(/\0$/, '').split('\0');
  }
  return e;
}
