// The fields a condition or an output can name, Falco's names and meanings, computed from a
// guard event, the process table and the event's fd.
import { hostname as osHostname } from 'node:os';
import { statSync } from 'node:fs';
import { posix } from 'node:path';
import type { ProcessInfo, ProcessTable } from '../common/process-table.js';
import { FLAG_KILLED, KIND_EXEC, KIND_EXIT, KIND_FORK, type GuardEvent } from './event.js';
import { SYSCALL_BY_NR, type ArgKind } from './syscalls.js';
import { fdInfo, resolvePath, type FdInfo } from './fdinfo.js';
import { account, capabilities, familyName, groupName, openFlags, ptraceRequest, resultName, sockTypeName } from './names.js';

export type FieldType = 'string' | 'number' | 'bool' | 'ipaddr' | 'ipnet' | 'port';
export type FieldValue = string | number | boolean | undefined;

/** One event as the rules see it; fields computed on first use are kept. */
export class EvalContext {
  readonly event: GuardEvent;
  readonly table: ProcessTable;
  readonly num: number;
  /** The epoch time of the event, nanoseconds. */
  readonly timeNs: bigint;
  #proc: ProcessInfo | undefined | null = null;
  #fd: FdInfo | undefined;
  #ancestors: ProcessInfo[] | undefined;

  /** `proc` stands for the event's process where the table's entry is not what rules should see. */
  constructor(event: GuardEvent, table: ProcessTable, num: number, bootEpochNs: bigint, proc?: ProcessInfo) {
    this.event = event;
    this.table = table;
    this.num = num;
    this.timeNs = event.tsNs + bootEpochNs;
    if (proc !== undefined) this.#proc = proc;
  }

  get proc(): ProcessInfo | undefined {
    if (this.#proc === null) this.#proc = this.table.get(this.event.pid);
    return this.#proc;
  }

  get fd(): FdInfo {
    this.#fd ??= fdInfo(this.event, this.proc);
    return this.#fd;
  }

  /** Ancestor n: 0 is the process, 1 its parent, ... */
  ancestor(n: number): ProcessInfo | undefined {
    if (n === 0) return this.proc;
    this.#ancestors ??= this.table.ancestors(this.event.pid);
    return this.#ancestors[n - 1];
  }
}

type ArgMode = 'none' | 'index' | 'optional-index' | 'name';

interface FieldDef {
  type: FieldType;
  arg: ArgMode;
  desc: string;
  get(ctx: EvalContext, arg: string | undefined): FieldValue;
  /** Every value the field has, for fields with more than one (a comparison matches any). */
  all?(ctx: EvalContext): FieldValue[];
}

const host = osHostname();

function cmdline(p: ProcessInfo | undefined): string | undefined {
  return p === undefined ? undefined : [p.name, ...p.args].join(' ');
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** "HH:MM:SS.nnnnnnnnn" in local time, as Falco's evt.time. */
function clockTime(ns: bigint): string {
  const d = new Date(Number(ns / 1_000_000n));
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
}

export function isoTime(ns: bigint): string {
  const d = new Date(Number(ns / 1_000_000n));
  return `${d.toISOString().slice(0, 19)}.${String(ns % 1_000_000_000n).padStart(9, '0')}Z`;
}

function argIndex(e: GuardEvent, name: string): [number, ArgKind] | undefined {
  const info = SYSCALL_BY_NR.get(e.nr);
  if (info === undefined) return undefined;
  if (/^\d+$/.test(name)) {
    const i = Number(name);
    const a = info.args[i];
    return a === undefined ? undefined : [i, a[1]];
  }
  const i = info.args.findIndex(([n]) => n === name);
  return i < 0 ? undefined : [i, info.args[i]![1]];
}

function argString(e: GuardEvent, i: number): string | undefined {
  const info = SYSCALL_BY_NR.get(e.nr);
  if (info === undefined) return undefined;
  if (info.str1 === i) return e.str1 ?? e.filename;
  if (info.str2 === i) return e.str2;
  return undefined;
}

function rawArg(e: GuardEvent, i: number): number {
  return Number(BigInt.asIntN(64, e.args[i] ?? 0n));
}

/** The open flags of an open-family event (openat2 carries them in its open_how). */
function openFlagsOf(e: GuardEvent): number | undefined {
  const name = SYSCALL_BY_NR.get(e.nr)?.name;
  if (name === 'open') return rawArg(e, 1);
  if (name === 'openat') return rawArg(e, 2);
  if (name === 'creat') return 0o1101;
  if (name === 'openat2' && e.saRaw !== undefined && e.saRaw.length >= 8) return Number(new DataView(e.saRaw.buffer, e.saRaw.byteOffset).getBigUint64(0, true) & 0xffffffffn);
  return undefined;
}

/** evt.arg.NAME as Falco renders it: names for flags, paths resolved, addresses. */
function argValue(ctx: EvalContext, name: string, raw: boolean): FieldValue {
  const e = ctx.event;
  if (name === 'res') return raw ? e.ret : resultName(e.ret);
  if (e.kind === KIND_EXEC) {
    if (name === 'filename' || name === 'exe' || name === 'pathname') return e.filename;
    if (name === 'args') return e.argv?.slice(1).join(' ');
    if (name === 'cwd') return e.cwd;
    return undefined;
  }
  if (name === 'flags' && openFlagsOf(e) !== undefined) return raw ? openFlagsOf(e) : openFlags(openFlagsOf(e)!);
  const found = argIndex(e, name);
  if (found === undefined) return undefined;
  const [i, kind] = found;
  if (raw) return rawArg(e, i);
  switch (kind) {
    case 'path': {
      const s = argString(e, i);
      if (s === undefined) return undefined;
      const info = SYSCALL_BY_NR.get(e.nr)!;
      const dirfd = info.args.findIndex(([, k], j) => k === 'dirfd' && j < i && (j === i - 1 || !info.args.slice(j + 1, i).some(([, kk]) => kk === 'dirfd')));
      return resolvePath(e, ctx.proc, s, dirfd >= 0 ? dirfd : undefined);
    }
    case 'str':
      return argString(e, i);
    case 'sockaddr':
      return e.sa === undefined ? undefined : e.sa.family === 1 ? e.sa.addr : `${e.sa.addr}:${e.sa.port}`;
    case 'ptrace_req':
      return ptraceRequest(rawArg(e, i));
    case 'mode':
      return `0${rawArg(e, i).toString(8)}`;
    case 'int':
      if (SYSCALL_BY_NR.get(e.nr)?.name === 'socket') return i === 0 ? familyName(rawArg(e, 0)) : i === 1 ? sockTypeName(rawArg(e, 1)) : rawArg(e, i);
      return rawArg(e, i);
    case 'uid':
      return Number(e.args[i] ?? 0n) & 0xffffffff;
    default:
      return rawArg(e, i);
  }
}

function exeIno(ctx: EvalContext): { ino: number; ctimeNs: bigint; mtimeNs: bigint } | undefined {
  const path = ctx.proc?.exepath;
  if (path === undefined || path === '') return undefined;
  try {
    const s = statSync(path, { bigint: true });
    return { ino: Number(s.ino), ctimeNs: s.ctimeNs, mtimeNs: s.mtimeNs };
  } catch {
    return undefined;
  }
}

function isOpen(e: GuardEvent): boolean {
  const name = SYSCALL_BY_NR.get(e.nr)?.name;
  return name === 'open' || name === 'openat' || name === 'openat2' || name === 'creat';
}

const anc = (pick: (p: ProcessInfo, ctx: EvalContext) => FieldValue, desc: string): FieldDef => ({
  type: 'string',
  arg: 'optional-index',
  desc,
  get: (ctx, arg) => {
    if (arg === undefined) {
      // Without an index: any ancestor's value matches; the parent's is shown.
      const p = ctx.ancestor(1);
      return p === undefined ? undefined : pick(p, ctx);
    }
    const p = ctx.ancestor(Number(arg));
    return p === undefined ? undefined : pick(p, ctx);
  },
});

const s = (desc: string, get: (ctx: EvalContext) => FieldValue): FieldDef => ({ type: 'string', arg: 'none', desc, get });
const n = (desc: string, get: (ctx: EvalContext) => FieldValue): FieldDef => ({ type: 'number', arg: 'none', desc, get });
const b = (desc: string, get: (ctx: EvalContext) => FieldValue): FieldDef => ({ type: 'bool', arg: 'none', desc, get });
const ip = (desc: string, get: (ctx: EvalContext) => FieldValue): FieldDef => ({ type: 'ipaddr', arg: 'none', desc, get });
const net = (desc: string, get: (ctx: EvalContext) => FieldValue): FieldDef => ({ type: 'ipnet', arg: 'none', desc, get });

const container = (ctx: EvalContext) => ctx.proc?.container;

const FIELDS: ReadonlyMap<string, FieldDef> = new Map<string, FieldDef>([
  ['evt.num', n('event number', (c) => c.num)],
  ['evt.type', s('the system call (or clone, procexit)', (c) => c.event.type)],
  [
    'evt.dir',
    {
      type: 'string',
      arg: 'none',
      desc: "'<' (calls are reported at exit, with their enter's arguments: evt.dir = > matches them too; a call stopped at entry is '>' only)",
      get: (c) => (c.event.flags & FLAG_KILLED ? '>' : '<'),
      all: (c) => (c.event.flags & FLAG_KILLED ? ['>'] : ['<', '>']),
    },
  ],
  ['evt.res', s('SUCCESS or the errno name', (c) => (c.event.kind === KIND_FORK || c.event.kind === KIND_EXIT ? undefined : resultName(c.event.ret)))],
  ['evt.rawres', n('the return value', (c) => c.event.ret)],
  ['evt.failed', b('the call failed', (c) => c.event.ret < 0)],
  ['evt.time', s('HH:MM:SS.nanoseconds', (c) => clockTime(c.timeNs))],
  ['evt.time.s', s('HH:MM:SS', (c) => clockTime(c.timeNs).slice(0, 8))],
  ['evt.time.iso8601', s('ISO 8601 time', (c) => isoTime(c.timeNs))],
  ['evt.datetime', s('YYYY-MM-DD HH:MM:SS.ns', (c) => `${isoTime(c.timeNs).slice(0, 10)} ${clockTime(c.timeNs)}`)],
  ['evt.rawtime', n('nanoseconds since the epoch', (c) => Number(c.timeNs))],
  ['evt.rawtime.s', n('seconds since the epoch', (c) => Number(c.timeNs / 1_000_000_000n))],
  ['evt.category', s('file, net, process, user, memory, signal', (c) => (c.event.kind === KIND_EXEC ? 'process' : (SYSCALL_BY_NR.get(c.event.nr)?.category ?? 'process')))],
  ['evt.hostname', s('the host name', () => host)],
  ['evt.source', s('syscall', () => 'syscall')],
  ['evt.is_open_read', b('an open for reading', (c) => isOpen(c.event) && ((openFlagsOf(c.event) ?? 0) & 3) !== 1)],
  ['evt.is_open_write', b('an open for writing', (c) => isOpen(c.event) && ((openFlagsOf(c.event) ?? 0) & 3) !== 0)],
  ['evt.is_open_create', b('an open that may create', (c) => isOpen(c.event) && ((openFlagsOf(c.event) ?? 0) & 0o100) !== 0)],
  ['evt.is_open_exec', b('an open for execution (never: guard does not see O_EXEC)', () => false)],
  ['evt.args', s('the arguments as name=value', (c) => argsText(c))],
  ['evt.info', s('the arguments as name=value', (c) => argsText(c))],
  ['evt.arg', { type: 'string', arg: 'name', desc: 'an argument by name or index, rendered', get: (c, a) => argValue(c, a!, false) }],
  ['evt.rawarg', { type: 'string', arg: 'name', desc: 'an argument by name or index, raw', get: (c, a) => argValue(c, a!, true) }],
  ['evt.abspath', s('the path of a file call, absolute', (c) => c.fd.name)],
  ['fs.path.name', s('the path of a file call, absolute', (c) => c.fd.name)],
  ['fs.path.source', s('the source of rename, link, symlink', (c) => pathSource(c))],
  ['fs.path.target', s('the target of rename, link, symlink', (c) => pathTarget(c))],
  ['fs.path.nameraw', s('the path of a file call as given', (c) => c.fd.nameraw)],
  ['fs.path.sourceraw', s('the source as given', (c) => c.event.str1)],
  ['fs.path.targetraw', s('the target as given', (c) => c.event.str2)],

  ['proc.pid', n('process id', (c) => c.event.pid)],
  ['proc.ppid', n('parent process id', (c) => c.proc?.ppid ?? c.event.ppid)],
  ['proc.vpid', n('process id in its pid namespace', (c) => c.event.vpid)],
  ['proc.pvpid', n('parent id in its pid namespace', (c) => c.ancestor(1)?.vpid)],
  ['proc.sid', n('session id', (c) => c.event.sid)],
  ['proc.is_sid_leader', b('the process leads its session', (c) => c.event.sid === c.event.vpid || c.event.sid === c.event.pid)],
  ['proc.vpgid', n('process group id', (c) => c.event.sid)],
  ['proc.sname', s('the session leader\'s name', (c) => c.table.get(c.event.sid)?.name)],
  ['proc.name', s('the process name (comm)', (c) => (c.event.kind === KIND_EXEC ? c.event.comm : (c.proc?.name ?? c.event.comm)))],
  ['proc.exe', s('argv[0]', (c) => c.proc?.exe)],
  ['proc.exepath', s('the executable\'s full path', (c) => c.proc?.exepath)],
  ['proc.args', s('the arguments', (c) => c.proc?.args.join(' '))],
  ['proc.cmdline', s('name and arguments', (c) => cmdline(c.proc))],
  ['proc.cwd', s('working directory', (c) => (c.proc?.cwd ? `${c.proc.cwd.replace(/\/$/, '')}/` : undefined))],
  ['proc.tty', n('controlling terminal (0: none)', (c) => c.event.tty)],
  ['proc.loginshellid', n('pid of the login shell ancestor', (c) => loginShell(c))],
  ['proc.duration', n('nanoseconds since the process started', (c) => Number(c.event.tsNs - (c.proc?.startNs ?? c.event.startNs)))],
  ['proc.start_ts', n('start time, nanoseconds since boot', (c) => Number(c.proc?.startNs ?? c.event.startNs))],
  ['proc.is_exe_from_memfd', b('the executable is a memfd', (c) => (c.event.kind === KIND_EXEC ? (c.event.flags & 2) !== 0 : (c.proc?.exeFromMemfd ?? false)))],
  ['proc.is_exe_upper_layer', b('the executable is in a container\'s upper layer (not detected: false)', () => false)],
  ['proc.is_exe_writable', b('the executable is writable by the process\'s user (not detected: false)', () => false)],
  ['proc.is_container_healthcheck', b('a container health check (false)', () => false)],
  ['proc.is_container_liveness_probe', b('a liveness probe (false)', () => false)],
  ['proc.is_container_readiness_probe', b('a readiness probe (false)', () => false)],
  ['proc.exe_ino', n('inode of the executable', (c) => exeIno(c)?.ino)],
  ['proc.exe_ino.ctime', n('ctime of the executable', (c) => Number(exeIno(c)?.ctimeNs ?? 0n) || undefined)],
  ['proc.exe_ino.mtime', n('mtime of the executable', (c) => Number(exeIno(c)?.mtimeNs ?? 0n) || undefined)],
  ['proc.exe_ino.ctime_duration_proc_start', n('ns from the executable\'s ctime to the process start', (c) => {
    const i = exeIno(c);
    return i === undefined ? undefined : Number(c.timeNs - (c.event.tsNs - (c.proc?.startNs ?? c.event.startNs)) - i.ctimeNs);
  })],
  ['proc.exe_ino.ctime_duration_pidns_start', n('ns from the executable\'s ctime to the pid namespace start (not tracked)', () => undefined)],
  ['proc.pname', s('parent name', (c) => c.ancestor(1)?.name)],
  ['proc.pexe', s('parent argv[0]', (c) => c.ancestor(1)?.exe)],
  ['proc.pexepath', s('parent executable path', (c) => c.ancestor(1)?.exepath)],
  ['proc.pcmdline', s('parent command line', (c) => cmdline(c.ancestor(1)))],
  ['proc.pid.ts', n('start time', (c) => Number(c.proc?.startNs ?? 0n))],
  ['proc.aname', anc((p) => p.name, 'name of ancestor n (0: the process)')],
  ['proc.apid', { ...anc((p) => p.pid, 'pid of ancestor n'), type: 'number' }],
  ['proc.aexe', anc((p) => p.exe, 'argv[0] of ancestor n')],
  ['proc.aexepath', anc((p) => p.exepath, 'executable of ancestor n')],
  ['proc.acmdline', anc((p) => cmdline(p), 'command line of ancestor n')],
  ['proc.env', s('environment (not collected)', () => undefined)],
  ['proc.stdin.type', s('not collected', () => undefined)],
  ['proc.stdout.type', s('not collected', () => undefined)],
  ['proc.stdin.name', s('not collected', () => undefined)],
  ['proc.stdout.name', s('not collected', () => undefined)],
  ['thread.tid', n('thread id', (c) => c.event.tid)],
  ['thread.vtid', n('thread id in its namespace', (c) => c.event.tid)],
  ['thread.cap_effective', s('effective capabilities', (c) => capabilities(c.event.capEffective))],
  ['thread.cap_permitted', s('permitted capabilities (as effective)', (c) => capabilities(c.event.capEffective))],
  ['thread.cap_inheritable', s('inheritable capabilities (not collected)', () => '')],

  ['user.uid', n('user id', (c) => c.event.uid)],
  ['user.name', s('user name', (c) => account(c.event.uid)?.name ?? String(c.event.uid))],
  ['user.homedir', s('home directory', (c) => account(c.event.uid)?.home)],
  ['user.shell', s('login shell', (c) => account(c.event.uid)?.shell)],
  ['user.loginuid', n('audit login uid (-1: none)', (c) => (c.event.loginuid === 0xffffffff ? -1 : c.event.loginuid))],
  ['user.loginname', s('login user name', (c) => (c.event.loginuid === 0xffffffff ? '<NA>' : (account(c.event.loginuid)?.name ?? String(c.event.loginuid))))],
  ['group.gid', n('group id', (c) => c.event.gid)],
  ['group.name', s('group name', (c) => groupName(c.event.gid) ?? String(c.event.gid))],

  ['fd.num', n('fd number', (c) => c.fd.num)],
  ['fd.name', s('file path or connection', (c) => c.fd.name)],
  ['fd.nameraw', s('the name as given', (c) => c.fd.nameraw)],
  ['fd.directory', s('directory of the file', (c) => (c.fd.type === 'file' && c.fd.name ? posix.dirname(c.fd.name) : undefined))],
  ['fd.filename', s('base name of the file', (c) => (c.fd.type === 'file' && c.fd.name ? posix.basename(c.fd.name) : undefined))],
  ['fd.type', s('file, ipv4, ipv6, unix, memfd, ...', (c) => c.fd.type)],
  ['fd.typechar', s('f, 4, 6, u, m', (c) => c.fd.typechar)],
  ['fd.l4proto', s('tcp, udp, icmp, raw', (c) => c.fd.l4proto)],
  ['fd.sockfamily', s('ip, unix', (c) => c.fd.sockfamily)],
  ['fd.is_server', b('the process is the server end', (c) => c.fd.isServer)],
  ['fd.connected', b('the socket has a remote end', (c) => c.fd.connected)],
  ['fd.name_changed', b('the fd name changed with this event (never: guard reports whole calls)', () => false)],
  ['fd.dev', n('device of the file (not collected)', () => undefined)],
  ['fd.ino', n('inode of the file (not collected)', () => undefined)],
  ['fd.sip', ip('server address', (c) => c.fd.sip)],
  ['fd.cip', ip('client address', (c) => c.fd.cip)],
  ['fd.lip', ip('local address', (c) => c.fd.lip)],
  ['fd.rip', ip('remote address', (c) => c.fd.rip)],
  ['fd.sport', { type: 'port', arg: 'none', desc: 'server port', get: (c) => c.fd.sport }],
  ['fd.cport', { type: 'port', arg: 'none', desc: 'client port', get: (c) => c.fd.cport }],
  ['fd.lport', { type: 'port', arg: 'none', desc: 'local port', get: (c) => c.fd.lport }],
  ['fd.rport', { type: 'port', arg: 'none', desc: 'remote port', get: (c) => c.fd.rport }],
  ['fd.port', { type: 'port', arg: 'none', desc: 'either port', get: (c) => c.fd.sport }],
  ['fd.net', net('either address, for CIDR matches', (c) => c.fd.sip)],
  ['fd.snet', net('server address, for CIDR matches', (c) => c.fd.sip)],
  ['fd.cnet', net('client address, for CIDR matches', (c) => c.fd.cip)],
  ['fd.lnet', net('local address, for CIDR matches', (c) => c.fd.lip)],
  ['fd.rnet', net('remote address, for CIDR matches', (c) => c.fd.rip)],
  ['fd.ip', ip('either address', (c) => c.fd.sip)],
  ['fd.sip.name', s('server name (not resolved)', () => undefined)],
  ['fd.cip.name', s('client name (not resolved)', () => undefined)],
  ['fd.rip.name', s('remote name (not resolved)', () => undefined)],
  ['fd.lip.name', s('local name (not resolved)', () => undefined)],

  ['container.id', s('container id (12 digits), "host" on the host', (c) => container(c)?.id ?? 'host')],
  ['container.full_id', s('container id', (c) => container(c)?.fullId ?? 'host')],
  ['container.name', s('container name', (c) => (container(c) === undefined ? 'host' : container(c)?.name))],
  ['container.type', s('docker, containerd, cri-o, podman', (c) => container(c)?.runtime ?? 'host')],
  ['container.image', s('image', (c) => container(c)?.image)],
  ['container.image.repository', s('image repository', (c) => imageParts(container(c)?.image)[0])],
  ['container.image.tag', s('image tag', (c) => imageParts(container(c)?.image)[1])],
  ['container.image.id', s('image id (not collected)', () => undefined)],
  ['container.privileged', b('privileged container (not collected: false)', () => false)],
  ['container.start_ts', n('container start (not collected)', () => undefined)],
  ['container.info', s('container summary', (c) => (container(c) === undefined ? 'host' : `container_id=${container(c)!.id} container_name=${container(c)!.name ?? '<NA>'}`))],
  ['container.mounts', s('mounts (not collected)', () => undefined)],
  ['container.mount.dest', s('mount destination (not collected)', () => undefined)],
  ['k8s.ns.name', s('Kubernetes namespace', (c) => container(c)?.podNamespace)],
  ['k8s.pod.name', s('Kubernetes pod', (c) => container(c)?.podName)],
  ['k8s.pod.uid', s('Kubernetes pod uid', (c) => container(c)?.podUid)],
]);

function imageParts(image: string | undefined): [string | undefined, string | undefined] {
  if (image === undefined) return [undefined, undefined];
  const at = image.indexOf('@');
  const base = at >= 0 ? image.slice(0, at) : image;
  const colon = base.lastIndexOf(':');
  if (colon > base.lastIndexOf('/')) return [base.slice(0, colon), base.slice(colon + 1)];
  return [base, 'latest'];
}

function pathSource(c: EvalContext): string | undefined {
  const info = SYSCALL_BY_NR.get(c.event.nr);
  if (info?.str1 === undefined || info.str2 === undefined || info.name === 'mount') return undefined;
  // A symlink's target is stored as given; the others' first path resolves like any path.
  if (info.name.startsWith('symlink')) return c.event.str1;
  const dirfd = info.args.findIndex(([, k]) => k === 'dirfd');
  return resolvePath(c.event, c.proc, c.event.str1 ?? '', dirfd >= 0 && dirfd < info.str1 ? dirfd : undefined);
}

function pathTarget(c: EvalContext): string | undefined {
  const info = SYSCALL_BY_NR.get(c.event.nr);
  if (info?.str2 === undefined || info.name === 'mount') return undefined;
  return c.fd.name;
}

function loginShell(c: EvalContext): number | undefined {
  let found: number | undefined;
  for (let i = 0; i < 16; i++) {
    const p = c.ancestor(i);
    if (p === undefined) break;
    if (/sh$/.test(p.name)) found = p.pid;
  }
  return found;
}

function argsText(c: EvalContext): string {
  const e = c.event;
  if (e.kind === KIND_EXEC) return `filename=${e.filename ?? ''} args=${e.argv?.slice(1).join(' ') ?? ''}`;
  const info = SYSCALL_BY_NR.get(e.nr);
  const parts = [`res=${e.ret}`];
  if (info !== undefined) for (const [name] of info.args) parts.push(`${name}=${argValue(c, name, false) ?? ''}`);
  return parts.join(' ');
}

export interface ResolvedField {
  def: FieldDef;
  arg: string | undefined;
}

/** The field a name (and argument) denotes, or a message why not. */
export function resolveField(name: string, arg: string | undefined): ResolvedField | string {
  let def = FIELDS.get(name);
  let a = arg;
  if (def === undefined) {
    for (const prefix of ['evt.arg', 'evt.rawarg']) {
      if (name.startsWith(`${prefix}.`)) {
        def = FIELDS.get(prefix);
        a = name.slice(prefix.length + 1);
      }
    }
  }
  if (def === undefined) return `unknown field '${name}${arg !== undefined ? `[${arg}]` : ''}'`;
  if (def.arg === 'none' && a !== undefined) return `field '${name}' takes no argument`;
  if (def.arg === 'index' && (a === undefined || !/^\d+$/.test(a))) return `field '${name}' needs an index, as ${name}[1]`;
  if (def.arg === 'optional-index' && a !== undefined && !/^\d+$/.test(a)) return `field '${name}' takes a number, not '${a}'`;
  if (def.arg === 'name' && (a === undefined || a === '')) return `field '${name}' needs an argument name, as ${name}.name or ${name}[0]`;
  return { def, arg: a };
}

/** Every field with its type and description (for `--list-fields`). */
export function fieldList(): Array<{ name: string; type: FieldType; desc: string }> {
  return [...FIELDS].map(([name, d]) => ({ name: d.arg === 'name' ? `${name}.NAME` : d.arg === 'none' ? name : `${name}[N]`, type: d.type, desc: d.desc }));
}

export function readField(ctx: EvalContext, f: ResolvedField): FieldValue {
  return f.def.get(ctx, f.arg);
}

