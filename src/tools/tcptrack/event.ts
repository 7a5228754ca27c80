// The records of tcptrack.bpf.c and how they are shown: a live table or JSON lines.
import { formatAddress, type Family } from '../common/net.js';

/** struct event of tcptrack.bpf.c (120 bytes); the generated eventCodec has the same layout. */
export const EVENT_SIZE = 120;

export type EventKind = 'connect' | 'accept' | 'close';
export type Outcome = 'established' | 'refused' | 'timeout' | 'failed' | 'closed';

const kinds: readonly EventKind[] = ['connect', 'accept', 'close'];
const outcomes: readonly Outcome[] = ['established', 'refused', 'timeout', 'failed', 'closed'];

/** What is shown when the task of an inbound connection is not known. */
export const UNKNOWN_COMM = '?';

export interface ConnEvent {
  /** Wall-clock time of the event, ms since the epoch. */
  timeMs: number;
  /** The connecting task (outbound) or the accepting task (inbound); 0 when not known. */
  pid: number;
  tid: number;
  uid: number;
  comm: string;
  /** The inode number of the socket's network namespace. */
  netns: number;
  family: Family;
  /** The initiating end: the local end of outbound connections, the peer of inbound ones. */
  saddr: string;
  sport: number;
  daddr: string;
  dport: number;
  direction: 'out' | 'in';
  event: EventKind;
  state: Outcome;
  /** SYN_SENT to ESTABLISHED (or to the failure) of a connect; null for other events. */
  latencyMs: number | null;
  durationMs?: number;
  txBytes?: number;
  rxBytes?: number;
  /** The socket error of a failed connect (errno), 0 otherwise. */
  error: number;
}

const decoder = new TextDecoder();

/** A NUL-terminated string. */
function cstr(bytes: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && bytes[end] !== 0) end++;
  return decoder.decode(bytes.subarray(start, end));
}

/**
 * Values made from the same bytes again and again (a task's name, an address, as text or as
 * bytes) come from a small cache, so a busy trace does not make garbage for every event. The
 * key only picks the slot; the bytes decide.
 */
export class BytesCache<T> {
  readonly #entries = new Map<number, { bytes: Uint8Array; value: T }>();
  readonly #limit: number;

  constructor(limit = 4096) {
    this.#limit = limit;
  }

  /** The value kept for these bytes, or undefined. */
  find(key: number, bytes: Uint8Array, start: number, length: number): T | undefined {
    const hit = this.#entries.get(key);
    if (hit === undefined || hit.bytes.length !== length) return undefined;
    for (let i = 0; i < length; i++) if (hit.bytes[i] !== bytes[start + i]) return undefined;
    return hit.value;
  }

  /** Keeps `value` for these bytes. */
  set(key: number, bytes: Uint8Array, start: number, length: number, value: T): T {
    if (this.#entries.size >= this.#limit) this.#entries.clear();
    this.#entries.set(key, { bytes: bytes.slice(start, start + length), value });
    return value;
  }

  /** The value kept for these bytes, made and kept if there is none. */
  get(key: number, bytes: Uint8Array, start: number, length: number, make: () => T): T {
    return this.find(key, bytes, start, length) ?? this.set(key, bytes, start, length, make());
  }
}

const comms = new BytesCache<string>();
const addresses = new BytesCache<string>();

/** The cache slot for the address at `at` of a record (its 4 or 16 bytes decide the hit). */
export function addressKey(view: DataView, at: number, family: Family): number {
  return family === 4 ? view.getUint32(at, true) : view.getUint32(at + 12, true) ^ view.getUint32(at + 8, true) ^ 0x80000000;
}

function address(bytes: Uint8Array, view: DataView, at: number, family: Family): string {
  const width = family === 4 ? 4 : 16;
  const key = addressKey(view, at, family);
  return addresses.get(key, bytes, at, width, () => formatAddress(bytes.subarray(at, at + width), family));
}

/** A little-endian u64 as a Number (exact below 2^53: 104 days of nanoseconds, 8 PiB). */
export function u64(view: DataView, at: number): number {
  return view.getUint32(at + 4, true) * 4294967296 + view.getUint32(at, true);
}

/**
 * Decodes the record at `offset` of `bytes` (`view` is a DataView over the same bytes, made once
 * by the caller). `monoToWallMs` turns the kernel's CLOCK_MONOTONIC timestamps into wall-clock
 * time (see monotonicOffsetMs). The kernel reports v4-mapped IPv6 connections as IPv4 already.
 * Reads u64 fields as Numbers, not BigInts: nothing is allocated but what is returned.
 */
export function decodeEventAt(view: DataView, bytes: Uint8Array, offset: number, monoToWallMs: number): ConnEvent {
  const o = offset;
  const kind = kinds[bytes[o + 94]!] ?? 'connect';
  const outcome = outcomes[bytes[o + 95]!] ?? 'failed';
  const family: Family = bytes[o + 92] === 6 ? 6 : 4;
  const local = address(bytes, view, o + 56, family);
  const remote = address(bytes, view, o + 72, family);
  const localPort = view.getUint16(o + 88, true);
  const remotePort = view.getUint16(o + 90, true);
  const inbound = bytes[o + 93] === 1;
  const pid = view.getUint32(o + 40, true);
  const ev: ConnEvent = {
    timeMs: Math.floor(u64(view, o) / 1e6 + monoToWallMs),
    pid,
    tid: view.getUint32(o + 44, true),
    uid: view.getUint32(o + 48, true),
    comm: inbound && pid === 0 ? UNKNOWN_COMM : comms.get(pid, bytes, o + 96, 16, () => cstr(bytes, o + 96, 16)),
    netns: view.getUint32(o + 112, true),
    family,
    saddr: inbound ? remote : local,
    sport: inbound ? remotePort : localPort,
    daddr: inbound ? local : remote,
    dport: inbound ? localPort : remotePort,
    direction: inbound ? 'in' : 'out',
    event: kind,
    state: outcome,
    latencyMs: kind === 'connect' ? u64(view, o + 8) / 1e6 : null,
    error: view.getInt32(o + 52, true),
  };
  if (kind === 'close') {
    ev.durationMs = u64(view, o + 16) / 1e6;
    ev.txBytes = u64(view, o + 24);
    ev.rxBytes = u64(view, o + 32);
  }
  return ev;
}

/** decodeEventAt for one record on its own. */
export function decodeEvent(rec: Uint8Array, monoToWallMs: number): ConnEvent {
  return decodeEventAt(new DataView(rec.buffer, rec.byteOffset, rec.byteLength), rec, 0, monoToWallMs);
}

/** Milliseconds to add to a CLOCK_MONOTONIC time in milliseconds to get wall-clock time. */
export function monotonicOffsetMs(): number {
  // process.hrtime reads CLOCK_MONOTONIC on Linux, the clock of bpf_ktime_get_ns().
  return Date.now() - Number(process.hrtime.bigint()) / 1e6;
}

/** The keys of a JSON event line, in order; close events add CLOSE_KEYS. */
export const JSON_KEYS = ['time', 'pid', 'tid', 'uid', 'comm', 'netns', 'family', 'saddr', 'sport', 'daddr', 'dport', 'direction', 'event', 'state', 'latencyMs'] as const;
export const CLOSE_KEYS = ['durationMs', 'txBytes', 'rxBytes'] as const;

export type EventJson = Record<(typeof JSON_KEYS)[number], string | number | null> & Partial<Record<(typeof CLOSE_KEYS)[number], number>>;

/** The JSON object of an event, with exactly the documented keys. */
export function eventJson(e: ConnEvent): EventJson {
  const out: EventJson = {
    time: new Date(e.timeMs).toISOString(),
    pid: e.pid,
    tid: e.tid,
    uid: e.uid,
    comm: e.comm,
    netns: e.netns,
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

/** Formats times within one second from one Date: the part up to the seconds is kept. */
class SecondCache {
  #second = Number.NaN;
  #prefix = '';
  readonly #format: (d: Date) => string;

  constructor(format: (d: Date) => string) {
    this.#format = format;
  }

  /** The second's text (as `format` gives it) and the milliseconds, as ".mmm". */
  at(ms: number): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#prefix = this.#format(new Date(second * 1000));
    }
    const milli = ms - second * 1000;
    return `${this.#prefix}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}`;
  }
}

const isoSeconds = new SecondCache((d) => d.toISOString().slice(0, 19));

/** Printable ASCII without quote or backslash goes into JSON as it is. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function jsonString(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

/**
 * The JSON line of an event (without the newline): the same text as
 * JSON.stringify(eventJson(e)), built without the intermediate object.
 */
export function eventJsonLine(e: ConnEvent): string {
  const head = `{"time":"${isoSeconds.at(e.timeMs)}Z","pid":${e.pid},"tid":${e.tid},"uid":${e.uid},"comm":${jsonString(e.comm)},"netns":${e.netns},"family":${e.family},"saddr":"${e.saddr}","sport":${e.sport},"daddr":"${e.daddr}","dport":${e.dport},"direction":"${e.direction}","event":"${e.event}","state":"${e.state}","latencyMs":${e.latencyMs === null ? 'null' : round3(e.latencyMs)}`;
  if (e.event !== 'close') return `${head}}`;
  return `${head},"durationMs":${round3(e.durationMs ?? 0)},"txBytes":${e.txBytes ?? 0},"rxBytes":${e.rxBytes ?? 0}}`;
}

/** ADDR:PORT, with brackets around IPv6 addresses. */
export function endpoint(addr: string, port: number, family: Family): string {
  return family === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** 1023 B, 1.5 KiB, 2.0 MiB, 1.1 GiB */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(1)} GiB`;
}
