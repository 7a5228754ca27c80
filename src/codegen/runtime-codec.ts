// The helpers generated codecs call: DataView access to byte arrays, strings, byte arrays.
import type { OffsetCodec } from '../codec/codec.js';
import { InvalidArgumentError } from '../errors.js';

/** A generated read function: the value at byte `offset` of `view`. */
export type ReadFn<T> = (view: DataView, offset: number) => T;
/** A generated write function: all `size` bytes at `offset`, padding zeroed. */
export type WriteFn<T> = (view: DataView, offset: number, value: T) => void;

// Generated functions take a DataView over the whole ArrayBuffer and absolute offsets, so one
// view serves every record of a ring buffer or batch. The last one made is reused.
let lastBuffer: ArrayBufferLike | undefined;
let lastView: DataView | undefined;
/** The bytes of lastView's buffer, for loops over bytes (faster than DataView.getUint8). */
let lastBytes: Uint8Array | undefined;

function viewOf(bytes: Uint8Array): DataView {
  const buffer = bytes.buffer;
  if (buffer !== lastBuffer || lastView === undefined || lastView.byteLength !== buffer.byteLength) {
    lastView = new DataView(buffer);
    lastBytes = new Uint8Array(buffer);
    lastBuffer = buffer;
  }
  return lastView;
}

function bytesOf(v: DataView): Uint8Array {
  return v === lastView ? lastBytes! : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function tooShort(size: number, got: number): InvalidArgumentError {
  return new InvalidArgumentError(`a ${size}-byte value does not fit in ${got} bytes`);
}

/**
 * A codec from generated read and write functions. It implements OffsetCodec, so maps, batches
 * and ring buffer readers decode in place with decodeAt.
 */
export function codec<T>(size: number, read: ReadFn<T>, write: WriteFn<T>): OffsetCodec<T> {
  return {
    size,
    align: 1,
    decode(bytes: Uint8Array): T {
      if (bytes.byteLength < size) throw tooShort(size, bytes.byteLength);
      return read(viewOf(bytes), bytes.byteOffset);
    },
    encode(value: T, out: Uint8Array): void {
      if (out.byteLength < size) throw tooShort(size, out.byteLength);
      write(viewOf(out), out.byteOffset, value);
    },
    decodeAt(bytes: Uint8Array, offset: number): T {
      if (bytes.byteLength < offset + size) throw tooShort(size, bytes.byteLength - offset);
      return read(viewOf(bytes), bytes.byteOffset + offset);
    },
    encodeAt(value: T, out: Uint8Array, offset: number): void {
      if (out.byteLength < offset + size) throw tooShort(size, out.byteLength - offset);
      write(viewOf(out), out.byteOffset + offset, value);
    },
  };
}

const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

/** `char[size]` at `offset`: the text up to the first NUL (UTF-8; ASCII without a decoder). */
export function readChars(v: DataView, offset: number, size: number): string {
  const b = bytesOf(v);
  const end = offset + size;
  let s = '';
  for (let i = offset; i < end; i++) {
    const c = b[i]!;
    if (c === 0) return s;
    if (c >= 0x80) return readUtf8(b, offset, end);
    s += String.fromCharCode(c);
  }
  return s;
}

function readUtf8(b: Uint8Array, offset: number, end: number): string {
  const bytes = b.subarray(offset, end);
  const nul = bytes.indexOf(0);
  return utf8.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

/**
 * Writes `value` as UTF-8 into `char[size]`, NUL-padded; a string of exactly `size` bytes is
 * stored without a terminator, as C allows. Longer strings throw, naming `field`.
 */
export function writeChars(v: DataView, offset: number, size: number, value: string, field: string): void {
  if (typeof value !== 'string') throw new InvalidArgumentError(`${field}: expected a string, got ${typeof value}`);
  let i = 0;
  for (; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x80) break;
    if (i >= size) throw new InvalidArgumentError(`${field}: "${value}" is longer than ${size} bytes`);
    v.setUint8(offset + i, c);
  }
  if (i < value.length) {
    const encoded = utf8Encoder.encode(value);
    if (encoded.length > size) throw new InvalidArgumentError(`${field}: "${value}" is longer than ${size} bytes in UTF-8`);
    new Uint8Array(v.buffer, v.byteOffset + offset, size).set(encoded);
    i = encoded.length;
  }
  for (; i < size; i++) v.setUint8(offset + i, 0);
}

/** `size` bytes at `offset`, copied. */
export function readBytes(v: DataView, offset: number, size: number): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset + offset, size).slice();
}

/** Writes `value` into `size` bytes, zero-filling the rest; more than `size` bytes throw. */
export function writeBytes(v: DataView, offset: number, size: number, value: Uint8Array, field: string): void {
  if (!(value instanceof Uint8Array)) throw new InvalidArgumentError(`${field}: expected a Uint8Array, got ${typeof value}`);
  if (value.byteLength > size) throw new InvalidArgumentError(`${field}: ${value.byteLength} bytes do not fit in ${size}`);
  const target = new Uint8Array(v.buffer, v.byteOffset + offset, size);
  target.set(value);
  target.fill(0, value.byteLength);
}

/** A 128-bit integer as a bigint. */
export function readInt128(v: DataView, offset: number, signed: boolean, littleEndian: boolean): bigint {
  const lo = v.getBigUint64(offset + (littleEndian ? 0 : 8), littleEndian);
  const hi = v.getBigUint64(offset + (littleEndian ? 8 : 0), littleEndian);
  const n = (hi << 64n) | lo;
  return signed ? BigInt.asIntN(128, n) : n;
}

export function writeInt128(v: DataView, offset: number, value: bigint, signed: boolean, littleEndian: boolean): void {
  const n = signed ? BigInt.asUintN(128, value) : value;
  if (typeof value !== 'bigint' || BigInt.asUintN(128, n) !== n) throw new InvalidArgumentError(`${value} does not fit in 128 bits`);
  v.setBigUint64(offset + (littleEndian ? 0 : 8), BigInt.asUintN(64, n), littleEndian);
  v.setBigUint64(offset + (littleEndian ? 8 : 0), n >> 64n, littleEndian);
}

/** Zeroes `size` bytes (padding larger than a few stores). */
export function zero(v: DataView, offset: number, size: number): void {
  new Uint8Array(v.buffer, v.byteOffset + offset, size).fill(0);
}

/** Throws unless `value` is an array of exactly `length` elements. */
export function checkLength(value: readonly unknown[], length: number, field: string): void {
  if (!Array.isArray(value) || value.length !== length) {
    throw new InvalidArgumentError(`${field}: expected ${length} elements, got ${Array.isArray(value) ? value.length : typeof value}`);
  }
}
