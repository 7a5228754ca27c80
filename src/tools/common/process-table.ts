// A table of the machine's processes, seeded from /proc and kept by exec, fork and exit
// events: the process, its parent and ancestors, and the container and Kubernetes pod its
// cgroup says it runs in. Shared by the tools that report on processes.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { CgroupPaths } from './cgroups.js';
import { containerOf, type ContainerInfo } from './container.js';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** The kernel's comm (up to 15 bytes). */
  name: string;
  /** argv[0] as the process was started. */
  exe: string;
  /** The executable's full path. */
  exepath: string;
  args: string[];
  cwd: string;
  uid: number;
  gid: number;
  loginuid: number;
  tty: number;
  sid: number;
  vpid: number;
  /** Start time, nanoseconds since boot. */
  startNs: bigint;
  exeFromMemfd: boolean;
  container: ContainerInfo | undefined;
  /** Set once the process has exited; the entry stays for events still in flight. */
  exitedAt?: number;
}

/** What an exec or fork event tells about a process. */
export interface ProcessUpdate {
  pid: number;
  ppid: number;
  name: string;
  uid: number;
  gid: number;
  loginuid: number;
  tty: number;
  sid: number;
  vpid: number;
  startNs: bigint;
  /** The cgroup v2 id (the inode number of its directory), which tells the container. */
  cgroupId?: bigint;
  exepath?: string;
  filename?: string;
  argv?: string[];
  cwd?: string;
  exeFromMemfd?: boolean;
}

/** How long an exited process's entry stays: events of it may still be in the ring. */
const EXITED_KEEP_MS = 5000;
const CLOCK_TICKS = 100;

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

function linkOr(path: string, fallback: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return fallback;
  }
}

/** The entry of a live process, from /proc; undefined if it is gone. */
export function readProc(pid: number, procRoot = '/proc'): ProcessInfo | undefined {
  const base = `${procRoot}/${pid}`;
  const stat = readOr(`${base}/stat`, '');
  if (stat === '') return undefined;
  // The name is in parentheses and may hold spaces or parentheses itself.
  const close = stat.lastIndexOf(')');
  const name = stat.slice(stat.indexOf('(') + 1, close);
  const rest = stat.slice(close + 2).split(' ');
  const status = readOr(`${base}/status`, '');
  const idLine = (key: string): number => Number(new RegExp(`^${key}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  const args = readOr(`${base}/cmdline`, '').replace(/\0$/, '').split('\0').filter((a, i) => i > 0 || a !== '');
  const nspid = /^NSpid:\s*(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/);
  const exepath = linkOr(`${base}/exe`, '').replace(/ \(deleted\)$/, '');
  return {
    pid,
    ppid: Number(rest[1] ?? 0),
    name,
    exe: args[0] ?? name,
    exepath,
    args: args.slice(1),
    cwd: linkOr(`${base}/cwd`, ''),
    uid: idLine('Uid'),
    gid: idLine('Gid'),
    loginuid: Number(readOr(`${base}/loginuid`, '4294967295').trim()),
    tty: Number(rest[4] ?? 0),
    sid: Number(rest[3] ?? 0),
    vpid: Number(nspid?.[nspid.length - 1] ?? pid),
    startNs: (BigInt(rest[19] ?? '0') * 1_000_000_000n) / BigInt(CLOCK_TICKS),
    exeFromMemfd: exepath.startsWith('/memfd:'),
    container: containerOf(readOr(`${base}/cgroup`, '')),
  };
}

export class ProcessTable {
  readonly #procs = new Map<number, ProcessInfo>();
  readonly #procRoot: string;
  /** Containers by cgroup id: a process that moves to another cgroup (and execs) changes container. */
  readonly #byCgroup = new Map<bigint, ContainerInfo | undefined>();
  readonly #cgroups = new CgroupPaths();

  constructor(procRoot = '/proc') {
    this.#procRoot = procRoot;
  }

  /** The container of cgroup `id`, learnt from process `pid`'s cgroup file or else the cgroup tree. */
  containerOfCgroup(id: bigint, pid: number): ContainerInfo | undefined {
    if (this.#byCgroup.has(id)) return this.#byCgroup.get(id);
    const text = readOr(`${this.#procRoot}/${pid}/cgroup`, '');
    const v2 = /^0::(.*)$/m.exec(text)?.[1];
    let info: ContainerInfo | undefined;
    if (v2 !== undefined) info = containerOf(text);
    else {
      const path = this.#cgroups.path(id);
      info = path === undefined ? undefined : containerOf(`0::${path}`);
    }
    this.#byCgroup.set(id, info);
    return info;
  }

  /** Fills the table with every process in /proc. */
  seed(): number {
    for (const d of readdirSync(this.#procRoot)) {
      if (!/^\d+$/.test(d)) continue;
      const p = readProc(Number(d), this.#procRoot);
      if (p !== undefined) this.#procs.set(p.pid, p);
    }
    return this.#procs.size;
  }

  get size(): number {
    return this.#procs.size;
  }

  /** The process, from the table or else (a process older than the table) from /proc. */
  get(pid: number): ProcessInfo | undefined {
    const known = this.#procs.get(pid);
    if (known !== undefined) return known;
    const read = readProc(pid, this.#procRoot);
    if (read !== undefined) this.#procs.set(pid, read);
    return read;
  }

  /** The parent, grandparent, ... up to `max` of them. */
  ancestors(pid: number, max = 16): ProcessInfo[] {
    const out: ProcessInfo[] = [];
    let p = this.get(pid);
    while (p !== undefined && out.length < max && p.ppid !== 0 && p.ppid !== p.pid) {
      p = this.get(p.ppid);
      if (p !== undefined) out.push(p);
    }
    return out;
  }

  /** A new process: a copy of its parent's entry, as fork makes it. */
  fork(u: ProcessUpdate): ProcessInfo {
    const parent = this.#procs.get(u.ppid);
    const p: ProcessInfo = {
      exe: parent?.exe ?? u.name,
      exepath: parent?.exepath ?? '',
      args: parent?.args ?? [],
      cwd: parent?.cwd ?? '',
      exeFromMemfd: parent?.exeFromMemfd ?? false,
      container: u.cgroupId !== undefined ? this.containerOfCgroup(u.cgroupId, u.pid) : (parent?.container ?? this.#containerFromProc(u.pid)),
      pid: u.pid,
      ppid: u.ppid,
      name: u.name,
      uid: u.uid,
      gid: u.gid,
      loginuid: u.loginuid,
      tty: u.tty,
      sid: u.sid,
      vpid: u.vpid,
      startNs: u.startNs,
    };
    this.#procs.set(p.pid, p);
    return p;
  }

  /** A process ran a new program. */
  exec(u: ProcessUpdate): ProcessInfo {
    const before = this.#procs.get(u.pid);
    const argv = u.argv ?? [];
    const p: ProcessInfo = {
      pid: u.pid,
      ppid: u.ppid,
      name: u.name,
      exe: argv[0] ?? u.filename ?? u.name,
      exepath: u.exepath ?? u.filename ?? '',
      args: argv.slice(1),
      cwd: u.cwd ?? before?.cwd ?? '',
      uid: u.uid,
      gid: u.gid,
      loginuid: u.loginuid,
      tty: u.tty,
      sid: u.sid,
      vpid: u.vpid,
      startNs: u.startNs,
      exeFromMemfd: u.exeFromMemfd ?? false,
      container: u.cgroupId !== undefined ? this.containerOfCgroup(u.cgroupId, u.pid) : (before?.container ?? this.#procs.get(u.ppid)?.container ?? this.#containerFromProc(u.pid)),
    };
    this.#procs.set(p.pid, p);
    return p;
  }

  /** The process ended; its entry is removed a little later. */
  exit(pid: number, now = Date.now()): void {
    const p = this.#procs.get(pid);
    if (p !== undefined) p.exitedAt = now;
  }

  /** Removes entries of processes that exited long enough ago. */
  sweep(now = Date.now()): void {
    for (const [pid, p] of this.#procs) if (p.exitedAt !== undefined && now - p.exitedAt > EXITED_KEEP_MS) this.#procs.delete(pid);
  }

  #containerFromProc(pid: number): ContainerInfo | undefined {
    return containerOf(readOr(`${this.#procRoot}/${pid}/cgroup`, ''));
  }
}
