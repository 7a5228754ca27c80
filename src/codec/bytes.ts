// Raw bytes: the default codec of a map whose layout the caller handles.
import { InvalidArgumentError } from '../errors.js';
import type { OffsetCodec } from './codec.js';

// Small copies are carved out of a shared slab, as Node's Buffer pool does: one typed array
// object per copy instead of an array plus its own backing store, which halves the cost of
// returning a looked-up value. Slots are 8-byte aligned so wider typed-array views of a copy
// work (new BigUint64Array(v.buffer, v.byteOffset, n)).
const SLAB_SIZE = 16 * 1024;
export const SLAB_MAX = 64;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabBytes = new Uint8Array(slab);
let slabUsed = 0;

/**
 * Copies `size` bytes at `offset` into a new Uint8Array. Copies of up to 64 bytes are views
 * into a shared 16 KiB ArrayBuffer (use byteOffset/byteLength, not the whole .buffer); larger
 * ones own their buffer.
 */
export function copyBytes(bytes: Uint8Array, offset: number, size: number): Uint8Array {
  if (size > SLAB_MAX) {
    const own = new Uint8Array(size);
    own.set(bytes.subarray(offset, offset + size));
    return own;
  }
  if (slabUsed + size > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabBytes = new Uint8Array(slab);
    slabUsed = 0;
  }
  const at = slabUsed;
  slabUsed += (size + 7) & ~7;
  const s = slabBytes;
  for (let i = 0; i < size; i++) s[at + i] = bytes[offset + i] as number;
  return new Uint8Array(slab, at, size);
}

// Below this size a plain loop beats TypedArray.prototype.set (measured on map keys/values).
const SMALL = 64;

/** Uint8Array passthrough of a fixed size; the default codec of map keys and values. */
class RawBytes implements OffsetCodec<Uint8Array> {
  readonly align = 1;
  constructor(
    readonly size: number,
    readonly what: string,
  ) {}

  encode(value: Uint8Array, out: Uint8Array): void {
    const n = this.size;
    if (!(value instanceof Uint8Array) || value.length !== n) throw this.#bad(value);
    if (n <= SMALL) {
      for (let i = 0; i < n; i++) out[i] = value[i] as number;
    } else {
      out.set(value);
    }
  }

  decode(b: Uint8Array): Uint8Array {
    return copyBytes(b, 0, this.size);
  }

  encodeAt(value: Uint8Array, out: Uint8Array, offset: number): void {
    const n = this.size;
    if (!(value instanceof Uint8Array) || value.length !== n) throw this.#bad(value);
    if (n <= SMALL) {
      for (let i = 0; i < n; i++) out[offset + i] = value[i] as number;
    } else {
      out.set(value, offset);
    }
  }

  decodeAt(b: Uint8Array, offset: number): Uint8Array {
    return copyBytes(b, offset, this.size);
  }

  #bad(value: unknown): InvalidArgumentError {
    if (!(value instanceof Uint8Array)) return new InvalidArgumentError(`${this.what} must be a Uint8Array of ${this.size} bytes, got ${describe(value)}`);
    return new InvalidArgumentError(`${this.what} must be ${this.size} bytes, got ${value.length}`);
  }
}

/** True for codecs made by bytes(): values are the bytes themselves. */
export function isRawBytes(c: unknown): boolean {
  return c instanceof RawBytes;
}

/**
 * Uint8Array passthrough of exactly `size` bytes. Encoding anything of another length throws;
 * `what` names the thing in that error ("key of map counts"). Decoding copies; copies of up to
 * 64 bytes share a larger ArrayBuffer (see copyBytes), like Node's pooled Buffers.
 */
export function bytes(size: number, what = 'value'): OffsetCodec<Uint8Array> {
  if (!Number.isInteger(size) || size < 0) throw new InvalidArgumentError(`bytes(): size must be a non-negative integer, got ${size}`);
  return new RawBytes(size, what);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}
