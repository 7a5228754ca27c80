// What an event's file descriptor is (Falco's fd.* fields): the file an open names, resolved
// against the process's working directory, or the socket of a network call.
import { readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import type { ProcessInfo } from '../common/process-table.js';
import type { GuardEvent } from './event.js';
import { SYSCALL_BY_NR } from './syscalls.js';

export interface FdInfo {
  num: number | undefined;
  /** The full name (an absolute path, or "cip:cport->sip:sport" for a connected socket). */
  name: string | undefined;
  /** The name as the call gave it. */
  nameraw: string | undefined;
  type: string | undefined;
  typechar: string | undefined;
  l4proto: string | undefined;
  sockfamily: string | undefined;
  lip?: string | undefined;
  rip?: string | undefined;
  lport?: number | undefined;
  rport?: number | undefined;
  /** Server and client ends: the remote end of a connect is the server, the local of an accept. */
  sip?: string | undefined;
  cip?: string | undefined;
  sport?: number | undefined;
  cport?: number | undefined;
  isServer?: boolean | undefined;
  /** A socket with a remote end (a connect that succeeded or is in progress, an accept). */
  connected?: boolean | undefined;
}

const AT_FDCWD = -100;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_RAW = 3;

function dirOfFd(pid: number, fd: number, proc: ProcessInfo | undefined): string {
  if (fd === AT_FDCWD) return proc?.cwd || '/';
  try {
    return readlinkSync(`/proc/${pid}/fd/${fd}`);
  } catch {
    return proc?.cwd || '/';
  }
}

/** `raw` made absolute: relative to the directory fd argument `dirfdArg` (or the cwd). */
export function resolvePath(e: GuardEvent, proc: ProcessInfo | undefined, raw: string, dirfdArg: number | undefined): string {
  if (raw.startsWith('/')) return posix.normalize(raw);
  if (raw === '') return raw;
  const dirfd = dirfdArg === undefined ? AT_FDCWD : Number(BigInt.asIntN(32, e.args[dirfdArg] ?? 0n));
  return posix.normalize(posix.join(dirOfFd(e.pid, dirfd, proc), raw));
}

function l4(type: number, protocol: number): string | undefined {
  if (protocol === 6 || (protocol === 0 && type === SOCK_STREAM)) return 'tcp';
  if (protocol === 17 || (protocol === 0 && type === SOCK_DGRAM)) return 'udp';
  if (protocol === 1 || protocol === 58) return 'icmp';
  if (type === SOCK_RAW) return 'raw';
  if (type === SOCK_STREAM) return 'tcp';
  if (type === SOCK_DGRAM) return 'udp';
  return undefined;
}

function endpoint(ip: string, port: number, family: number): string {
  return family === 10 ? `${ip}:${port}` : `${ip}:${port}`;
}

/** Falco's fd.type and fd.typechar of an address family. */
function familyType(family: number): [string, string, string] {
  if (family === 2) return ['ipv4', '4', 'ip'];
  if (family === 10) return ['ipv6', '6', 'ip'];
  if (family === 1) return ['unix', 'u', 'unix'];
  if (family === 16) return ['netlink', 's', 'netlink'];
  return ['unknown', 'o', 'unknown'];
}

/** The fd of an event; undefined fields where the event has none. */
export function fdInfo(e: GuardEvent, proc: ProcessInfo | undefined): FdInfo {
  const info = SYSCALL_BY_NR.get(e.nr);
  const none: FdInfo = { num: undefined, name: undefined, nameraw: undefined, type: undefined, typechar: undefined, l4proto: undefined, sockfamily: undefined };
  if (info === undefined) return none;
  if (info.category === 'file' || info.name === 'memfd_create' || info.exec) {
    const pathArg = info.args.findIndex(([, k]) => k === 'path' || (info.name === 'memfd_create' && k === 'str'));
    const raw = info.exec ? (e.str1 ?? e.filename ?? '') : pathArg === info.str2 ? (e.str2 ?? '') : (e.str1 ?? '');
    if (info.name === 'memfd_create') return { ...none, num: e.ret >= 0 ? e.ret : undefined, name: `memfd:${raw}`, nameraw: raw, type: 'memfd', typechar: 'm' };
    if (pathArg < 0) return { ...none, num: Number(e.args[0] ?? -1n) };
    const dirfd = info.args.findIndex(([, k]) => k === 'dirfd');
    // For two-path calls Falco's fd.name is the second (the new name).
    const usesSecond = info.str2 !== undefined && ['rename', 'renameat', 'renameat2', 'link', 'linkat', 'symlink', 'symlinkat', 'mount'].includes(info.name);
    const nameraw = usesSecond ? (e.str2 ?? '') : raw;
    const dirArg = usesSecond ? info.args.findIndex(([, k], i) => k === 'dirfd' && i > (info.str1 ?? 0)) : dirfd;
    const name = resolvePath(e, proc, nameraw, dirArg >= 0 ? dirArg : undefined);
    const isOpen = info.name.startsWith('open') || info.name === 'creat';
    // O_DIRECTORY opens a directory (Falco's typechar d); a failed open's fd is -1.
    const dir = isOpen && info.name !== 'creat' && (Number(e.args[info.name === 'open' ? 1 : 2] ?? 0n) & 0o200000) !== 0;
    return { ...none, num: isOpen ? (e.ret >= 0 ? e.ret : -1) : undefined, name, nameraw, type: dir ? 'directory' : 'file', typechar: dir ? 'd' : 'f' };
  }
  if (info.category !== 'net') return none;
  const s = e.sock;
  const family = s?.family ?? e.sa?.family ?? 0;
  const [type, typechar, sockfamily] = familyType(family);
  const fd: FdInfo = {
    ...none,
    num: info.sock === 'ret' ? (e.ret >= 0 ? e.ret : undefined) : Number(e.args[0] ?? -1n),
    type,
    typechar,
    sockfamily,
    l4proto: s !== undefined ? l4(s.type, s.protocol) : info.name === 'socket' ? l4(Number(e.args[1] ?? 0n) & 0xf, Number(e.args[2] ?? 0n)) : undefined,
  };
  if (family === 1) {
    fd.name = e.sa?.addr ?? '';
    fd.nameraw = fd.name;
    return fd;
  }
  if (family !== 2 && family !== 10) return fd;
  fd.lip = s?.laddr;
  fd.lport = s?.lport;
  // A refused or in-progress connect may have no remote end in the socket yet: the sockaddr has it.
  const remoteFromArgs = (info.name === 'connect' || info.name === 'sendto') && e.sa !== undefined;
  fd.rip = s !== undefined && s.rport !== 0 ? s.raddr : remoteFromArgs ? e.sa!.addr : s?.raddr;
  fd.rport = s !== undefined && s.rport !== 0 ? s.rport : remoteFromArgs ? e.sa!.port : s?.rport;
  if (info.name === 'bind' && e.sa !== undefined) {
    fd.lip = e.sa.addr;
    fd.lport = e.sa.port;
  }
  const server = info.name === 'accept' || info.name === 'accept4' || info.name === 'bind' || info.name === 'listen';
  fd.isServer = server;
  fd.connected = (fd.rport ?? 0) !== 0 && (e.ret >= 0 || e.ret === -115);
  if (server) {
    [fd.sip, fd.sport, fd.cip, fd.cport] = [fd.lip, fd.lport, fd.rip, fd.rport];
  } else {
    [fd.sip, fd.sport, fd.cip, fd.cport] = [fd.rip, fd.rport, fd.lip, fd.lport];
  }
  if (fd.cip !== undefined && fd.sip !== undefined && info.name !== 'bind' && info.name !== 'listen' && info.name !== 'socket') {
    fd.name = `${endpoint(fd.cip, fd.cport ?? 0, family)}->${endpoint(fd.sip, fd.sport ?? 0, family)}`;
  } else if (fd.lip !== undefined) fd.name = endpoint(fd.lip, fd.lport ?? 0, family);
  fd.nameraw = fd.name;
  return fd;
}
