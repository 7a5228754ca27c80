// Fixed-width numbers in host byte order (as the kernel stores them) and network byte order.
import { endianness } from 'node:os';
import { InvalidArgumentError } from '../errors.js';
import { describe } from './bytes.js';
import type { OffsetCodec } from './codec.js';

const scratch = new ArrayBuffer(8);
const sb = new Uint8Array(scratch);
const su64 = new BigUint64Array(scratch);
const ss64 = new BigInt64Array(scratch);
const sf32 = new Float32Array(scratch);
const sf64 = new Float64Array(scratch);
const hostLE = endianness() === 'LE';

function rangeError(name: string, v: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${name}: ${describe(v)} is not a valid ${name}`);
}

// Copies between `b` and the scratch buffer; `swap` reverses byte order relative to the host.
function load(b: Uint8Array, o: number, n: number, swap: boolean): void {
  if (swap) for (let i = 0; i < n; i++) sb[i] = b[o + n - 1 - i] as number;
  else for (let i = 0; i < n; i++) sb[i] = b[o + i] as number;
}

function store(b: Uint8Array, o: number, n: number, swap: boolean): void {
  if (swap) for (let i = 0; i < n; i++) b[o + n - 1 - i] = sb[i] as number;
  else for (let i = 0; i < n; i++) b[o + i] = sb[i] as number;
}

function codec<T>(size: number, enc: (v: T, b: Uint8Array, o: number) => void, dec: (b: Uint8Array, o: number) => T): OffsetCodec<T> {
  return {
    size,
    align: size,
    encode: (v, out) => enc(v, out, 0),
    decode: (b) => dec(b, 0),
    encodeAt: enc,
    decodeAt: dec,
  };
}

function le8(name: string, signed: boolean): OffsetCodec<number> {
  return codec(
    1,
    (v, b, o) => {
      if (signed ? (v << 24) >> 24 !== v : (v & 0xff) !== v) throw rangeError(name, v);
      b[o] = v & 0xff;
    },
    signed ? (b, o) => ((b[o] as number) << 24) >> 24 : (b, o) => b[o] as number,
  );
}

function int16(name: string, signed: boolean, little: boolean): OffsetCodec<number> {
  const lo = little ? 0 : 1;
  const hi = little ? 1 : 0;
  return codec(
    2,
    (v, b, o) => {
      if (signed ? (v << 16) >> 16 !== v : (v & 0xffff) !== v) throw rangeError(name, v);
      b[o + lo] = v & 0xff;
      b[o + hi] = (v >>> 8) & 0xff;
    },
    (b, o) => {
      const x = (b[o + lo] as number) | ((b[o + hi] as number) << 8);
      return signed ? (x << 16) >> 16 : x;
    },
  );
}

function int32(name: string, signed: boolean, little: boolean): OffsetCodec<number> {
  const i0 = little ? 0 : 3;
  const i1 = little ? 1 : 2;
  const i2 = little ? 2 : 1;
  const i3 = little ? 3 : 0;
  return codec(
    4,
    (v, b, o) => {
      if (signed ? (v | 0) !== v : v >>> 0 !== v) throw rangeError(name, v);
      b[o + i0] = v & 0xff;
      b[o + i1] = (v >>> 8) & 0xff;
      b[o + i2] = (v >>> 16) & 0xff;
      b[o + i3] = (v >>> 24) & 0xff;
    },
    (b, o) => {
      const x = (b[o + i0] as number) | ((b[o + i1] as number) << 8) | ((b[o + i2] as number) << 16) | ((b[o + i3] as number) << 24);
      return signed ? x : x >>> 0;
    },
  );
}

function int64(name: string, signed: boolean, little: boolean): OffsetCodec<bigint> {
  const swap = little !== hostLE;
  return codec(
    8,
    (v, b, o) => {
      if (typeof v !== 'bigint' || (signed ? BigInt.asIntN(64, v) : BigInt.asUintN(64, v)) !== v) throw rangeError(name, v);
      if (signed) ss64[0] = v;
      else su64[0] = v;
      store(b, o, 8, swap);
    },
    (b, o) => {
      load(b, o, 8, swap);
      return signed ? (ss64[0] as bigint) : (su64[0] as bigint);
    },
  );
}

function float(name: string, size: 4 | 8): OffsetCodec<number> {
  const swap = !hostLE;
  return codec(
    size,
    (v, b, o) => {
      if (typeof v !== 'number') throw rangeError(name, v);
      if (size === 4) sf32[0] = v;
      else sf64[0] = v;
      store(b, o, size, swap);
    },
    (b, o) => {
      load(b, o, size, swap);
      return size === 4 ? (sf32[0] as number) : (sf64[0] as number);
    },
  );
}

/** Unsigned and signed integers in host byte order; 64-bit ones are bigints. */
export const u8 = le8('u8', false);
export const s8 = le8('s8', true);
export const u16 = int16('u16', false, hostLE);
export const s16 = int16('s16', true, hostLE);
export const u32 = int32('u32', false, hostLE);
export const s32 = int32('s32', true, hostLE);
export const u64 = int64('u64', false, hostLE);
export const s64 = int64('s64', true, hostLE);
/** IEEE 754 floats in host byte order. */
export const f32 = float('f32', 4);
export const f64 = float('f64', 8);
/** Integers in network (big-endian) byte order: ports, addresses, protocol fields. */
export const u16be = int16('u16be', false, false);
export const u32be = int32('u32be', false, false);
export const u64be = int64('u64be', false, false);
