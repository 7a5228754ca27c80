// JSON lines of tcptrack events written as bytes straight from the ring record: the same text
// as eventJsonLine(decodeEventAt(...)), without the event object or any string per event.
import { formatAddress } from '../common/net.js';
import { addressKey, BytesCache, decodeEventAt, eventJsonLine, u64, UNKNOWN_COMM } from './event.js';

/** The longest line a record can give (a comm of 16 escaped bytes, two IPv6 addresses, u64s). */
export const MAX_LINE = 512;

const DIRECTIONS = ['out', 'in'] as const;
const KINDS = ['connect', 'accept', 'close'] as const;
const OUTCOMES = ['established', 'refused', 'timeout', 'failed', 'closed'] as const;

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

const SPORT_KEY = ascii('","sport":');
const LATENCY_NULL = ascii('null');
const DURATION_KEY = ascii(',"durationMs":');
const TX_KEY = ascii(',"txBytes":');
const RX_KEY = ascii(',"rxBytes":');

/** `Z","pid":..,"tid":..,"uid":..,"comm":"..","netns":..,"family":..,"saddr":"` of one task in one namespace. */
interface TaskText {
  tid: number;
  pid: number;
  uid: number;
  /** The 16 bytes of comm, as four little-endian u32s. */
  c0: number;
  c1: number;
  c2: number;
  c3: number;
  netns: number;
  family: number;
  /** Whether the task is unknown (an inbound connection nobody accepted yet). */
  unknown: boolean;
  /** null when the comm needs escaping or decoding: such lines take the slow path. */
  text: Uint8Array | null;
}

/** `","daddr":..,"dport":..,"direction":..,"event":..,"state":..,"latencyMs":` of one endpoint and outcome. */
interface EndpointText {
  address: Uint8Array;
  port: number;
  /** direction, kind and outcome in one number. */
  what: number;
  text: Uint8Array;
}

/** Slots of the task and endpoint caches: each is direct-mapped, a new entry replaces the slot's. */
const CACHE_SLOTS = 4096;

/**
 * Writes event records as JSON lines into a byte buffer. A line is made of a few runs of text
 * kept from earlier lines (the time up to the second; the task's pid, tid, uid and name; the
 * remote end with the event's kind and outcome) and the numbers that change from line to line,
 * written digit by digit. Anything unusual (a task name that is not plain printable ASCII)
 * goes through eventJsonLine, so the text is always the same.
 */
export class EventJsonWriter {
  readonly #monoToWallMs: number;
  readonly #addresses = new BytesCache<Uint8Array>();
  readonly #tasks = new Array<TaskText | undefined>(CACHE_SLOTS).fill(undefined);
  readonly #endpoints = new Array<EndpointText | undefined>(CACHE_SLOTS).fill(undefined);
  #second = Number.NaN;
  /** `{"time":"YYYY-MM-DDTHH:MM:SS` */
  #secondText: Uint8Array = new Uint8Array(0);
  #view: DataView | undefined;
  #bytes: Uint8Array | undefined;

  constructor(monoToWallMs: number) {
    this.#monoToWallMs = monoToWallMs;
  }

  /**
   * Writes the record at `offset` of `bytes`, with a newline, into `out` at `at` (at least
   * MAX_LINE bytes must be free there). Returns the position after the newline.
   */
  write(bytes: Uint8Array, offset: number, out: Uint8Array, at: number): number {
    let view = this.#view;
    if (this.#bytes !== bytes || view === undefined) {
      // A reader hands the same array for every record of its ring: one view serves them all.
      view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.#view = view;
      this.#bytes = bytes;
    }
    const o = offset;
    const kind = bytes[o + 94]!;
    const outcome = bytes[o + 95]!;
    const direction = bytes[o + 93]!;
    // Numbers from 2^53 up, and values outside the enums, take the slow path: the text of
    // those is what JavaScript makes of them.
    const high = (view.getUint32(o + 4, true) | view.getUint32(o + 12, true) | view.getUint32(o + 20, true) | view.getUint32(o + 28, true) | view.getUint32(o + 36, true)) >>> 0;
    if (high >= 0x200000 || kind > 2 || outcome > 4 || direction > 1) return this.#slow(view, bytes, o, out, at);
    const family = bytes[o + 92] === 6 ? 6 : 4;
    const task = this.#task(view, bytes, o, family, direction);
    if (task === null) return this.#slow(view, bytes, o, out, at);
    const inbound = direction === 1;

    const timeMs = Math.floor(u64(view, o) / 1e6 + this.#monoToWallMs);
    const second = Math.floor(timeMs / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#secondText = ascii(`{"time":"${new Date(second * 1000).toISOString().slice(0, 19)}`);
    }
    out.set(this.#secondText, at);
    let p = at + this.#secondText.length;
    const milli = timeMs - second * 1000;
    const tens = (milli / 10) | 0;
    out[p] = 0x2e;
    out[p + 1] = 0x30 + ((milli / 100) | 0);
    out[p + 2] = 0x30 + tens - ((tens / 10) | 0) * 10;
    out[p + 3] = 0x30 + milli - tens * 10;
    out.set(task, p + 4);
    p += 4 + task.length;
    p = put(out, p, this.#address(bytes, view, inbound ? o + 72 : o + 56, family));
    p = put(out, p, SPORT_KEY);
    p = uint(out, p, view.getUint16(inbound ? o + 90 : o + 88, true));
    const endpoint = this.#endpoint(bytes, view, o, family, direction, kind, outcome);
    out.set(endpoint, p);
    p += endpoint.length;
    p = kind === 0 ? milli3(out, p, u64(view, o + 8) / 1e6) : put(out, p, LATENCY_NULL);
    if (kind === 2) {
      p = put(out, p, DURATION_KEY);
      p = milli3(out, p, u64(view, o + 16) / 1e6);
      p = put(out, p, TX_KEY);
      p = uint(out, p, u64(view, o + 24));
      p = put(out, p, RX_KEY);
      p = uint(out, p, u64(view, o + 32));
    }
    out[p] = 0x7d; // }
    out[p + 1] = 0x0a;
    return p + 2;
  }

  /** The task's run of text, or null when its name needs escaping or decoding. */
  #task(view: DataView, bytes: Uint8Array, o: number, family: number, direction: number): Uint8Array | null {
    const pid = view.getUint32(o + 40, true);
    const tid = view.getUint32(o + 44, true);
    const uid = view.getUint32(o + 48, true);
    const c0 = view.getUint32(o + 96, true);
    const c1 = view.getUint32(o + 100, true);
    const c2 = view.getUint32(o + 104, true);
    const c3 = view.getUint32(o + 108, true);
    const netns = view.getUint32(o + 112, true);
    const unknown = direction === 1 && pid === 0;
    const slot = (tid ^ (tid >>> 12)) & (CACHE_SLOTS - 1);
    const hit = this.#tasks[slot];
    if (hit !== undefined && hit.tid === tid && hit.pid === pid && hit.uid === uid && hit.c0 === c0 && hit.c1 === c1 && hit.c2 === c2 && hit.c3 === c3 && hit.netns === netns && hit.family === family && hit.unknown === unknown) return hit.text;
    let comm: string | null = UNKNOWN_COMM;
    if (!unknown) {
      let end = o + 96;
      while (end < o + 112 && bytes[end] !== 0) end++;
      comm = String.fromCharCode(...bytes.subarray(o + 96, end));
      for (let i = o + 96; i < end; i++) {
        const c = bytes[i]!;
        if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) comm = null;
      }
    }
    const text = comm === null ? null : ascii(`Z","pid":${pid},"tid":${tid},"uid":${uid},"comm":"${comm}","netns":${netns},"family":${family},"saddr":"`);
    this.#tasks[slot] = { tid, pid, uid, c0, c1, c2, c3, netns, family, unknown, text };
    return text;
  }

  /** The remote end's run of text (the local end for an inbound connection), with the kind and outcome. */
  #endpoint(bytes: Uint8Array, view: DataView, o: number, family: 4 | 6, direction: number, kind: number, outcome: number): Uint8Array {
    const at = direction === 1 ? o + 56 : o + 72;
    const port = view.getUint16(direction === 1 ? o + 88 : o + 90, true);
    const what = direction * 64 + kind * 8 + outcome;
    const width = family === 4 ? 4 : 16;
    const key = addressKey(view, at, family) ^ (port << 7) ^ what;
    const slot = (key ^ (key >>> 12) ^ (key >>> 24)) & (CACHE_SLOTS - 1);
    const hit = this.#endpoints[slot];
    if (hit !== undefined && hit.port === port && hit.what === what && hit.address.length === width) {
      const a = hit.address;
      let same = true;
      for (let i = 0; i < width; i++) if (a[i] !== bytes[at + i]) same = false;
      if (same) return hit.text;
    }
    const address = bytes.slice(at, at + width);
    const text = ascii(`,"daddr":"${formatAddress(address, family)}","dport":${port},"direction":"${DIRECTIONS[direction]}","event":"${KINDS[kind]}","state":"${OUTCOMES[outcome]}","latencyMs":`);
    this.#endpoints[slot] = { address, port, what, text };
    return text;
  }

  #address(bytes: Uint8Array, view: DataView, at: number, family: 4 | 6): Uint8Array {
    const width = family === 4 ? 4 : 16;
    const key = addressKey(view, at, family);
    return this.#addresses.find(key, bytes, at, width) ?? this.#addresses.set(key, bytes, at, width, ascii(formatAddress(bytes.subarray(at, at + width), family)));
  }

  #slow(view: DataView, bytes: Uint8Array, o: number, out: Uint8Array, at: number): number {
    const line = eventJsonLine(decodeEventAt(view, bytes, o, this.#monoToWallMs));
    const n = Buffer.from(out.buffer, out.byteOffset, out.byteLength).write(line, at, 'utf8');
    out[at + n] = 0x0a;
    return at + n + 1;
  }
}

function put(out: Uint8Array, at: number, src: Uint8Array): number {
  const n = src.length;
  for (let i = 0; i < n; i++) out[at + i] = src[i]!;
  return at + n;
}

/** The decimal digits of a non-negative integer below 2^53. */
function uint(out: Uint8Array, at: number, n: number): number {
  if (n < 10) {
    out[at] = 0x30 + n;
    return at + 1;
  }
  let digits = 2;
  for (let t = 100; t <= n; t *= 10) digits++;
  let p = at + digits;
  if (n < 0x80000000) {
    // Small integer arithmetic: no floating-point division.
    let t = n | 0;
    while (t >= 10) {
      const q = (t / 10) | 0;
      out[--p] = 0x30 + t - q * 10;
      t = q;
    }
    out[--p] = 0x30 + t;
  } else {
    for (let t = n; p > at; t = Math.floor(t / 10)) out[--p] = 0x30 + (t % 10);
  }
  return at + digits;
}

/**
 * A non-negative number rounded to 3 decimals, as JavaScript prints Math.round(n * 1000) / 1000:
 * the integer part, then up to three decimals without trailing zeros.
 */
function milli3(out: Uint8Array, at: number, n: number): number {
  const v = Math.round(n * 1000);
  if (v >= 0x80000000) return milli3Large(out, at, v);
  const whole = (v / 1000) | 0;
  const frac = v - whole * 1000;
  let p = uint(out, at, whole);
  if (frac === 0) return p;
  const d1 = (frac / 100) | 0;
  const d23 = frac - d1 * 100;
  const d2 = (d23 / 10) | 0;
  const d3 = d23 - d2 * 10;
  out[p] = 0x2e;
  out[p + 1] = 0x30 + d1;
  p += 2;
  if (d23 === 0) return p;
  out[p++] = 0x30 + d2;
  if (d3 !== 0) out[p++] = 0x30 + d3;
  return p;
}

/** milli3 of a value of 2^31 thousandths or more, in floating-point arithmetic. */
function milli3Large(out: Uint8Array, at: number, v: number): number {
  const whole = Math.floor(v / 1000);
  let frac = v - whole * 1000;
  let p = uint(out, at, whole);
  if (frac === 0) return p;
  out[p++] = 0x2e;
  let digits = 3;
  while (frac % 10 === 0) {
    frac /= 10;
    digits--;
  }
  for (let i = digits - 1; i >= 0; i--) {
    out[p + i] = 0x30 + (frac % 10);
    frac = Math.floor(frac / 10);
  }
  return p + digits;
}
