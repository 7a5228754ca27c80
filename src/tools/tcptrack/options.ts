// tcptrack's options: what the command line says, checked, and the rodata filters they become.
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync, statfsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { TsbpfError } from '../../index.js';
import { UsageError } from '../../cli/framework/index.js';
import { cgroup2Root } from '../common/cgroups.js';
import { formatDuration, MAX_TIMER_MS, parseDuration } from '../common/duration.js';
import { parsePortList } from '../common/net.js';
import type { TrackerConfig } from './hooks.js';

/** The most ports -P takes: the size of the object's ports[] filter. */
export const MAX_PORTS = 16;

/**
 * The ring buffer is drained every DRAIN_INTERVAL_MS, with no wake-up per record: at 25 ms a
 * full ring (RING_BYTES) takes over a million events a second to overflow, and a quiet trace
 * shows an event within 25 ms.
 */
export const DRAIN_INTERVAL_MS = 25;

/** table: a row per event; life: a row per closed connection (bcc's tcplife); json: JSON lines. */
export type OutputFormat = 'table' | 'life' | 'json';

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'life', 'json'];

export interface TcptrackOptions {
  /** Only connections of this process (inbound: of the accepting process). */
  pid?: number;
  /** Only connections of tasks running as this uid. */
  uid?: number;
  /** Only these ports: the remote port of outbound, the local port of inbound connections. */
  ports?: number[];
  family?: 4 | 6;
  /** Only tasks in this cgroup v2 directory (not its descendants). */
  cgroup?: string;
  /**
   * Only sockets of this network namespace: its inode number, a name under /run/netns, or the
   * path of a namespace file (/proc/PID/ns/net).
   */
  netns?: number | string;
  /** Print only the statistics at the end. */
  countOnly?: boolean;
  /** Stop after this many milliseconds. */
  durationMs?: number;
  /** Stop after this many events. */
  maxEvents?: number;
  /** Include inbound (accepted) connections. */
  accept?: boolean;
  /** Include close events, with duration and bytes. */
  close?: boolean;
  output?: OutputFormat;
  /** Tables: every column (NETNS too), addresses never shortened, whatever the terminal's width. */
  wide?: boolean;
  /** Tables: remote addresses by their DNS names (reverse lookups, each row waiting a second at most). */
  dns?: boolean;
  verbose?: boolean;
  /** Rows per section of the statistics. */
  top?: number;
}

/** Options with every default filled in and the filters checked against the system. */
export interface ResolvedOptions extends Required<Omit<TcptrackOptions, 'pid' | 'uid' | 'family' | 'cgroup' | 'netns' | 'durationMs' | 'maxEvents'>> {
  pid: number | undefined;
  uid: number | undefined;
  family: 4 | 6 | undefined;
  cgroup: string | undefined;
  /** The cgroup's id: the inode number of its directory. */
  cgroupId: bigint | undefined;
  /** The network namespace's inode number. */
  netns: number | undefined;
  durationMs: number | undefined;
  maxEvents: number | undefined;
}

const CGROUP2_SUPER_MAGIC = 0x63677270;
const NSFS_MAGIC = 0x6e736673;
/** Where `ip netns add NAME` mounts its namespaces. */
export const NETNS_RUN_DIR = '/run/netns';

function positiveInt(what: string, s: string, max = 0xffffffff): number {
  // As the shared duration parser says it of -t.
  if (/^-\.?\d/.test(s)) throw new UsageError(`${what} '${s}' must be positive`);
  if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > max) throw new UsageError(`${what}: invalid value '${s}' (a whole number from 1 to ${max})`);
  return Number(s);
}

/** -p PID */
export function parsePid(s: string): number {
  return positiveInt('-p', s, 0x3fffffff);
}

/** -u UID or a user name from /etc/passwd. */
export function parseUid(s: string, passwd = '/etc/passwd'): number {
  if (/^-\.?\d/.test(s)) throw new UsageError(`-u '${s}' must not be negative`);
  if (/^\d+$/.test(s)) {
    if (Number(s) > 0xfffffffe) throw new UsageError(`-u: invalid uid '${s}'`);
    return Number(s);
  }
  let text = '';
  try {
    text = readFileSync(passwd, 'utf8');
  } catch {
    // No passwd file: only numeric uids.
  }
  for (const line of text.split('\n')) {
    const [name, , uid] = line.split(':');
    if (name === s && uid !== undefined && /^\d+$/.test(uid)) return Number(uid);
  }
  throw new TsbpfError('ENOENT', `no such user '${s}'`);
}

/** Every -P list, merged: at most MAX_PORTS distinct ports. */
export function parsePorts(lists: readonly string[]): number[] {
  const ports: number[] = [];
  for (const list of lists) {
    let parsed: number[];
    try {
      parsed = parsePortList(list);
    } catch (err) {
      throw new UsageError(`-P: ${(err as Error).message}`);
    }
    for (const p of parsed) if (!ports.includes(p)) ports.push(p);
  }
  if (ports.length > MAX_PORTS) throw new UsageError(`-P: at most ${MAX_PORTS} ports, got ${ports.length}`);
  return ports;
}

export function parseTop(s: string): number {
  return positiveInt('--top', s, 10_000);
}

export function parseMaxEvents(s: string): number {
  return positiveInt('-n', s, Number.MAX_SAFE_INTEGER);
}

/** -t TIME, by the parser every duration option shares: at most MAX_TIMER_MS (24.8 days). */
export function parseDurationOption(s: string): number {
  try {
    return parseDuration(s, { name: '-t' });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A cgroup v2 directory, absolute or relative to the cgroup v2 mount, and its id. */
export function resolveCgroup(path: string): { path: string; id: bigint } {
  const candidates = isAbsolute(path) ? [path] : [join(cgroup2Root(), path), path];
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) throw new TsbpfError('ENOENT', `no such cgroup: ${path}`);
  const st = statSync(found, { bigint: true });
  if (!st.isDirectory()) throw new TsbpfError('ENOTDIR', `${found} is not a cgroup directory`);
  if (Number(statfsSync(found).type) !== CGROUP2_SUPER_MAGIC) throw new TsbpfError('EINVAL', `${found} is not on a cgroup v2 file system`);
  // The id bpf_get_current_cgroup_id() returns is the directory's inode number.
  return { path: found, id: st.ino };
}

/**
 * --netns: an inode number as it is, or the inode number of a namespace file: a name under
 * /run/netns (`ip netns add NAME`), or a path (/proc/PID/ns/net).
 */
export function resolveNetns(s: string, runDir = NETNS_RUN_DIR): number {
  if (/^-\.?\d/.test(s)) throw new UsageError(`--netns '${s}' must be positive`);
  if (/^\d+$/.test(s)) {
    if (Number(s) < 1 || Number(s) > 0xffffffff) throw new UsageError(`--netns: invalid inode number '${s}'`);
    return Number(s);
  }
  if (s === '' || s === '.' || s === '..') throw new UsageError('--netns needs a namespace name, path or inode number');
  const path = s.includes('/') ? s : join(runDir, s);
  if (!existsSync(path)) throw new TsbpfError('ENOENT', `no network namespace '${s}'${s.includes('/') ? '' : ` in ${runDir}`}`);
  if (Number(statfsSync(path).type) !== NSFS_MAGIC) throw new TsbpfError('EINVAL', `${path} is not a namespace file (like /proc/PID/ns/net or ${runDir}/NAME)`);
  // /proc/PID/ns/* are links that name their type ("net:[4026531840]"); a bind mount in
  // /run/netns is not a link, and ip netns puts only network namespaces there.
  if (lstatSync(path).isSymbolicLink()) {
    const type = /^(\w+):/.exec(readlinkSync(path))?.[1];
    if (type !== undefined && type !== 'net') throw new TsbpfError('EINVAL', `${path} is a ${type} namespace, not a network namespace`);
  }
  return Number(statSync(path).ino);
}

/** Throws unless /proc/<pid> exists. */
export function checkPid(pid: number, proc = '/proc'): void {
  if (!existsSync(join(proc, String(pid)))) throw new TsbpfError('ESRCH', `no process with pid ${pid}`);
}

/** Checks the filters against the running system and fills in the defaults. */
export function resolveOptions(o: TcptrackOptions): ResolvedOptions {
  if (o.pid !== undefined) {
    if (!Number.isInteger(o.pid) || o.pid < 1) throw new UsageError(`invalid pid ${o.pid}`);
    checkPid(o.pid);
  }
  if (o.uid !== undefined && (!Number.isInteger(o.uid) || o.uid < 0 || o.uid > 0xfffffffe)) throw new UsageError(`invalid uid ${o.uid}`);
  const ports = o.ports ?? [];
  if (ports.length > MAX_PORTS) throw new UsageError(`at most ${MAX_PORTS} ports, got ${ports.length}`);
  for (const p of ports) if (!Number.isInteger(p) || p < 1 || p > 65535) throw new UsageError(`invalid port ${p} (1-65535)`);
  if (o.family !== undefined && o.family !== 4 && o.family !== 6) throw new UsageError(`invalid family ${String(o.family)} (4 or 6)`);
  const cgroup = o.cgroup === undefined ? undefined : resolveCgroup(o.cgroup);
  let netns: number | undefined;
  if (typeof o.netns === 'string') netns = resolveNetns(o.netns);
  else if (o.netns !== undefined) {
    if (!Number.isInteger(o.netns) || o.netns < 1 || o.netns > 0xffffffff) throw new UsageError(`invalid network namespace inode ${o.netns}`);
    netns = o.netns;
  }
  if (o.durationMs !== undefined && !(o.durationMs > 0)) throw new UsageError(`invalid duration ${o.durationMs} ms`);
  // A longer timer would fire at once (Node takes it for 1 ms).
  if (o.durationMs !== undefined && o.durationMs > MAX_TIMER_MS) throw new UsageError(`duration ${o.durationMs} ms is too long: the longest is ${formatDuration(MAX_TIMER_MS)}`);
  if (o.maxEvents !== undefined && !(Number.isInteger(o.maxEvents) && o.maxEvents > 0)) throw new UsageError(`invalid event count ${o.maxEvents}`);
  const output = o.output ?? 'table';
  if (!OUTPUT_FORMATS.includes(output)) throw new UsageError(`invalid output format '${String(output)}' (${OUTPUT_FORMATS.join(', ')})`);
  if (o.dns === true && output === 'json') throw new UsageError('-d names addresses in the tables; JSON lines keep the addresses');
  return {
    pid: o.pid,
    uid: o.uid,
    ports: [...new Set(ports)],
    family: o.family,
    cgroup: cgroup?.path,
    cgroupId: cgroup?.id,
    netns,
    countOnly: o.countOnly ?? false,
    durationMs: o.durationMs,
    maxEvents: o.maxEvents,
    accept: o.accept ?? false,
    // A row per closed connection needs the close events.
    close: (o.close ?? false) || output === 'life',
    output,
    wide: o.wide ?? false,
    dns: o.dns ?? false,
    verbose: o.verbose ?? false,
    top: o.top ?? 10,
  };
}

/** The rodata of the object for these options. */
export function trackerConfig(o: ResolvedOptions): TrackerConfig {
  const ports = new Array<number>(MAX_PORTS).fill(0);
  o.ports.forEach((p, i) => (ports[i] = p));
  return {
    target_pid: o.pid ?? 0,
    target_uid: o.uid ?? 0,
    filter_uid: o.uid === undefined ? 0 : 1,
    target_family: o.family ?? 0,
    include_accept: o.accept ? 1 : 0,
    include_close: o.close ? 1 : 0,
    count_only: o.countOnly ? 1 : 0,
    target_cgroup: o.cgroupId ?? 0n,
    target_netns: o.netns ?? 0,
    nports: o.ports.length,
    ports: ports as TrackerConfig['ports'],
    timer_reader: 1,
  };
}

const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

/** The effective capabilities of this process, from /proc/self/status. */
function effectiveCaps(): bigint {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m?.[1] !== undefined ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}

/** Throws EPERM unless this process may load and attach tracing programs. */
export function checkPrivileges(caps = effectiveCaps()): void {
  const has = (c: number): boolean => ((caps >> BigInt(c)) & 1n) === 1n;
  if (has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))) return;
  throw new TsbpfError('EPERM', 'tcptrack needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN) to load and attach its BPF programs');
}
