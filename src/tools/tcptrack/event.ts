// The records of tcptrack.bpf.c and how they are shown: a live table or JSON lines.
import { formatAddress, isV4Mapped, type Family } from '../common/net.js';

/** struct event of tcptrack.bpf.c (112 bytes). */
export const EVENT_SIZE = 112;

export type EventKind = 'connect' | 'accept' | 'close';
export type Outcome = 'established' | 'refused' | 'timeout' | 'failed' | 'closed';

const kinds: readonly EventKind[] = ['connect', 'accept', 'close'];
const outcomes: readonly Outcome[] = ['established', 'refused', 'timeout', 'failed', 'closed'];

export interface ConnEvent {
  /** Wall-clock time of the event, ms since the epoch. saddr/sport is the initiating end. */
  timeMs: number;
  pid: number;
  tid: number;
  uid: number;
  comm: string;
  family: Family;
  saddr: string;
  sport: number;
  daddr: string;
  dport: number;
  direction: 'out' | 'in';
  event: EventKind;
  state: Outcome;
  latencyMs: number | null;
  durationMs?: number;
  txBytes?: number;
  rxBytes?: number;
  /** The socket error of a failed connect (errno), 0 otherwise. */
  error: number;
}

const decoder = new TextDecoder();

function cstr(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return decoder.decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/**
 * Decodes one record. `monoToWallNs` converts the kernel's CLOCK_MONOTONIC timestamps
 * to wall-clock time (see monotonicOffsetNs).
 */
export function decodeEvent(rec: Uint8Array, monoToWallNs: bigint): ConnEvent {
  const v = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
  const ts = v.getBigUint64(0, true);
  const latency = v.getBigUint64(8, true);
  const kind = kinds[rec[94]!] ?? 'connect';
  const outcome = outcomes[rec[95]!] ?? 'failed';
  let family = (rec[92] === 6 ? 6 : 4) as Family;
  let saddr = rec.subarray(56, 72);
  let daddr = rec.subarray(72, 88);
  // A v4-mapped IPv6 connection is an IPv4 connection to the user.
  if (family === 6 && isV4Mapped(daddr) && (isV4Mapped(saddr) || saddr.every((b) => b === 0))) {
    family = 4;
    saddr = saddr.subarray(12, 16);
    daddr = daddr.subarray(12, 16);
  }
  // The kernel reports local then remote; an inbound connection's source is the remote end.
  const inbound = rec[93] === 1;
  const local = { addr: formatAddress(saddr, family), port: v.getUint16(88, true) };
  const remote = { addr: formatAddress(daddr, family), port: v.getUint16(90, true) };
  const [src, dst] = inbound ? [remote, local] : [local, remote];
  const ev: ConnEvent = {
    timeMs: Number((ts + monoToWallNs) / 1_000_000n),
    pid: v.getUint32(40, true),
    tid: v.getUint32(44, true),
    uid: v.getUint32(48, true),
    error: v.getInt32(52, true),
    comm: cstr(rec.subarray(96, 112)),
    family,
    saddr: src.addr,
    sport: src.port,
    daddr: dst.addr,
    dport: dst.port,
    direction: inbound ? 'in' : 'out',
    event: kind,
    state: outcome,
    latencyMs: kind === 'connect' ? Number(latency) / 1e6 : null,
  };
  if (kind === 'close') {
    ev.durationMs = Number(v.getBigUint64(16, true)) / 1e6;
    ev.txBytes = Number(v.getBigUint64(24, true));
    ev.rxBytes = Number(v.getBigUint64(32, true));
  }
  return ev;
}

/** Nanoseconds to add to a CLOCK_MONOTONIC timestamp to get wall-clock time. */
export function monotonicOffsetNs(): bigint {
  // process.hrtime reads CLOCK_MONOTONIC on Linux, the clock of bpf_ktime_get_ns().
  return BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
}

/** The JSON line of an event, with exactly the documented keys. */
export function eventJson(e: ConnEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {
    time: new Date(e.timeMs).toISOString(),
    pid: e.pid,
    tid: e.tid,
    uid: e.uid,
    comm: e.comm,
    family: e.family,
    saddr: e.saddr,
    sport: e.sport,
    daddr: e.daddr,
    dport: e.dport,
    direction: e.direction,
    event: e.event,
    state: e.state,
    latencyMs: e.latencyMs === null ? null : round3(e.latencyMs),
  };
  if (e.event === 'close') {
    out.durationMs = round3(e.durationMs ?? 0);
    out.txBytes = e.txBytes ?? 0;
    out.rxBytes = e.rxBytes ?? 0;
  }
  return out;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function endpoint(addr: string, port: number, family: Family): string {
  return family === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

export const TABLE_HEADER = `${'TIME'.padEnd(12)} ${'PID'.padStart(7)} ${'COMM'.padEnd(16)} ${'SOURCE'.padEnd(26)} ${'DESTINATION'.padEnd(26)} ${'LAT(ms)'.padStart(8)}  STATE`;

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** One row of the live table. */
export function tableRow(e: ConnEvent): string {
  const time = new Date(e.timeMs).toISOString().slice(11, 23);
  const pid = e.pid === 0 ? '-' : String(e.pid);
  const comm = e.pid === 0 ? '?' : e.comm;
  const lat = e.latencyMs === null ? '-' : e.latencyMs.toFixed(3);
  let state: string = e.state;
  if (e.event === 'accept') state = 'accepted';
  if (e.event === 'close') state = `closed after ${((e.durationMs ?? 0) / 1000).toFixed(3)}s, tx ${bytes(e.txBytes ?? 0)}, rx ${bytes(e.rxBytes ?? 0)}`;
  const src = endpoint(e.saddr, e.sport, e.family);
  const dst = endpoint(e.daddr, e.dport, e.family);
  return `${time.padEnd(12)} ${pid.padStart(7)} ${comm.padEnd(16)} ${src.padEnd(26)} ${dst.padEnd(26)} ${lat.padStart(8)}  ${state}`;
}
