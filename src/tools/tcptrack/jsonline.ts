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

const HEAD = ascii('{"time":"');
const PID_KEY = ascii('Z","pid":');
const TID_KEY = ascii(',"tid":');
const UID_KEY = ascii(',"uid":');
const COMM_KEY = ascii(',"comm":"');
const FAMILY_KEY = ascii('","family":');
const SADDR_KEY = ascii(',"saddr":"');
const SPORT_KEY = ascii('","sport":');
const DADDR_KEY = ascii(',"daddr":"');
const DPORT_KEY = ascii('","dport":');
const LATENCY_NULL = ascii('null');
const DURATION_KEY = ascii(',"durationMs":');
const TX_KEY = ascii(',"txBytes":');
const RX_KEY = ascii(',"rxBytes":');

/** `,"direction":"..","event":"..","state":"..","latencyMs":` for each combination. */
const middles = new Map<number, Uint8Array>();

function middle(direction: number, kind: number, outcome: number): Uint8Array {
  const key = direction * 64 + kind * 8 + outcome;
  let m = middles.get(key);
  if (m === undefined) {
    m = ascii(`,"direction":"${DIRECTIONS[direction]}","event":"${KINDS[kind]}","state":"${OUTCOMES[outcome]}","latencyMs":`);
    middles.set(key, m);
  }
  return m;
}

/**
 * Writes event records as JSON lines into a byte buffer. Fields whose text depends only on
 * their bytes (addresses, task names) and the time up to the second are formatted once and
 * kept; numbers are written digit by digit. Anything unusual (a task name that is not plain
 * printable ASCII) goes through eventJsonLine, so the text is always the same.
 */
export class EventJsonWriter {
  readonly #monoToWallMs: number;
  readonly #addresses = new BytesCache<Uint8Array>();
  /** Task names as JSON string contents; null for those that need escaping or decoding. */
  readonly #comms = new BytesCache<Uint8Array | null>();
  #second = Number.NaN;
  #secondText: Uint8Array = new Uint8Array(0);
  #view: DataView | undefined;

  constructor(monoToWallMs: number) {
    this.#monoToWallMs = monoToWallMs;
  }

  /**
   * Writes the record at `offset` of `bytes`, with a newline, into `out` at `at` (at least
   * MAX_LINE bytes must be free there). Returns the position after the newline.
   */
  write(bytes: Uint8Array, offset: number, out: Uint8Array, at: number): number {
    let view = this.#view;
    if (view === undefined || view.buffer !== bytes.buffer || view.byteOffset !== bytes.byteOffset) {
      view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.#view = view;
    }
    const o = offset;
    const kind = bytes[o + 94]!;
    const outcome = bytes[o + 95]!;
    const direction = bytes[o + 93]!;
    // Numbers from 2^53 up, and values outside the enums, take the slow path: the text of
    // those is what JavaScript makes of them.
    const high = (view.getUint32(o + 4, true) | view.getUint32(o + 12, true) | view.getUint32(o + 20, true) | view.getUint32(o + 28, true) | view.getUint32(o + 36, true)) >>> 0;
    const comm = high < 0x200000 && kind <= 2 && outcome <= 4 && direction <= 1 ? this.#comm(bytes, o) : undefined;
    if (comm === undefined) return this.#slow(view, bytes, o, out, at);
    const family = bytes[o + 92] === 6 ? 6 : 4;
    const inbound = direction === 1;
    const local = this.#address(bytes, view, o + 56, family);
    const remote = this.#address(bytes, view, o + 72, family);
    const localPort = view.getUint16(o + 88, true);
    const remotePort = view.getUint16(o + 90, true);

    let p = put(out, at, HEAD);
    const timeMs = Math.floor(u64(view, o) / 1e6 + this.#monoToWallMs);
    const second = Math.floor(timeMs / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#secondText = ascii(new Date(second * 1000).toISOString().slice(0, 19));
    }
    p = put(out, p, this.#secondText);
    const milli = timeMs - second * 1000;
    out[p] = 0x2e;
    out[p + 1] = 0x30 + Math.floor(milli / 100);
    out[p + 2] = 0x30 + (Math.floor(milli / 10) % 10);
    out[p + 3] = 0x30 + (milli % 10);
    p = put(out, p + 4, PID_KEY);
    p = uint(out, p, view.getUint32(o + 40, true));
    p = put(out, p, TID_KEY);
    p = uint(out, p, view.getUint32(o + 44, true));
    p = put(out, p, UID_KEY);
    p = uint(out, p, view.getUint32(o + 48, true));
    p = put(out, p, COMM_KEY);
    p = put(out, p, comm);
    p = put(out, p, FAMILY_KEY);
    out[p++] = 0x30 + family;
    p = put(out, p, SADDR_KEY);
    p = put(out, p, inbound ? remote : local);
    p = put(out, p, SPORT_KEY);
    p = uint(out, p, inbound ? remotePort : localPort);
    p = put(out, p, DADDR_KEY);
    p = put(out, p, inbound ? local : remote);
    p = put(out, p, DPORT_KEY);
    p = uint(out, p, inbound ? localPort : remotePort);
    p = put(out, p, middle(direction, kind, outcome));
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

  /** The comm as JSON string contents, or undefined when it needs escaping or decoding. */
  #comm(bytes: Uint8Array, o: number): Uint8Array | undefined {
    const pid = bytes[o + 40]! | (bytes[o + 41]! << 8) | (bytes[o + 42]! << 16) | (bytes[o + 43]! << 24);
    if (bytes[o + 93] === 1 && pid === 0) return UNKNOWN;
    let end = o + 96;
    while (end < o + 112 && bytes[end] !== 0) end++;
    const length = end - (o + 96);
    let text = this.#comms.find(pid, bytes, o + 96, length);
    if (text === undefined) {
      text = bytes.slice(o + 96, end);
      for (let i = o + 96; i < end; i++) {
        const c = bytes[i]!;
        if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) text = null;
      }
      this.#comms.set(pid, bytes, o + 96, length, text);
    }
    return text ?? undefined;
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

const UNKNOWN = ascii(UNKNOWN_COMM);

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
  let digits = 1;
  for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
  let p = at + digits;
  for (let t = n; p > at; t = Math.floor(t / 10)) out[--p] = 0x30 + (t % 10);
  return at + digits;
}

/**
 * A non-negative number rounded to 3 decimals, as JavaScript prints Math.round(n * 1000) / 1000:
 * the integer part, then up to three decimals without trailing zeros.
 */
function milli3(out: Uint8Array, at: number, n: number): number {
  const v = Math.round(n * 1000);
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
