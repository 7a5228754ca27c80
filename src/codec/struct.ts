// C structs, fixed arrays and char arrays described in TypeScript.
import { InvalidArgumentError } from '../errors.js';
import { describe } from './bytes.js';
import { atOffset, type Codec, type OffsetCodec } from './codec.js';

/** A field: a codec placed at the next offset its alignment allows, or `[codec, offset]`. */
export type FieldSpec = Codec<unknown> | readonly [Codec<unknown>, number];

type FieldValue<F> = F extends readonly [Codec<infer T>, number] ? T : F extends Codec<infer T> ? T : never;

/** The object type a struct codec reads and writes. */
export type StructValue<F extends Record<string, FieldSpec>> = { [K in keyof F]: FieldValue<F[K]> };

export interface StructOptions {
  /** The struct's total size; defaults to the end of the last field rounded up to the alignment. */
  size?: number;
  /** The struct's alignment; defaults to the largest field alignment (1 with `packed`). */
  align?: number;
  /** Place implicitly positioned fields with no padding, like `__attribute__((packed))`. */
  packed?: boolean;
}

interface Field {
  name: string;
  codec: OffsetCodec<unknown>;
  offset: number;
}

/** The layout a struct codec computed, for inspection and error messages. */
export interface StructField {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
}

export interface StructCodec<T> extends OffsetCodec<T> {
  readonly fields: readonly StructField[];
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/**
 * A C struct. Fields are laid out in the object's key order following C's rules (each at the
 * next multiple of its codec's `align`), unless given as `[codec, offset]`. Padding is written
 * as zeros, which matters for hash map keys. Field names must not be integer-like: JavaScript
 * orders those keys first.
 *
 *     const flow = struct({ saddr: u32be, daddr: u32be, sport: u16be, dport: u16be, proto: u8 });
 *     const stats = struct({ packets: u64, bytes: [u64, 8], comm: chars(16) });
 */
export function struct<F extends Record<string, FieldSpec>>(spec: F, opts: StructOptions = {}): StructCodec<StructValue<F>> {
  const fields: Field[] = [];
  let end = 0;
  let maxAlign = 1;
  for (const name of Object.keys(spec)) {
    const f = spec[name] as FieldSpec;
    const [c, explicit] = Array.isArray(f) ? (f as readonly [Codec<unknown>, number]) : [f as Codec<unknown>, undefined];
    if (typeof c?.size !== 'number' || typeof c.encode !== 'function') throw new InvalidArgumentError(`struct field ${name}: not a codec`);
    const align = opts.packed ? 1 : Math.max(1, c.align ?? 1);
    const offset = explicit ?? alignUp(end, align);
    if (!Number.isInteger(offset) || offset < 0) throw new InvalidArgumentError(`struct field ${name}: invalid offset ${offset}`);
    fields.push({ name, codec: atOffset(c), offset });
    end = Math.max(end, offset + c.size);
    maxAlign = Math.max(maxAlign, align);
  }
  const align = opts.align ?? maxAlign;
  const size = opts.size ?? alignUp(end, align);
  if (size < end) throw new InvalidArgumentError(`struct: size ${size} is smaller than its fields (${end} bytes)`);
  fields.sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < fields.length; i++) {
    const prev = fields[i - 1] as Field;
    const cur = fields[i] as Field;
    if (prev.offset + prev.codec.size > cur.offset) throw new InvalidArgumentError(`struct: fields ${prev.name} and ${cur.name} overlap`);
  }
  // Gaps between fields, zeroed on encode so equal values always give equal bytes.
  const gaps: number[] = [];
  let pos = 0;
  for (const f of fields) {
    if (f.offset > pos) gaps.push(pos, f.offset);
    pos = f.offset + f.codec.size;
  }
  if (size > pos) gaps.push(pos, size);
  const n = fields.length;

  const encodeAt = (value: StructValue<F>, out: Uint8Array, offset: number): void => {
    if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(`struct: expected an object, got ${describe(value)}`);
    const v = value as Record<string, unknown>;
    for (let i = 0; i < gaps.length; i += 2) out.fill(0, offset + (gaps[i] as number), offset + (gaps[i + 1] as number));
    for (let i = 0; i < n; i++) {
      const f = fields[i] as Field;
      const x = v[f.name];
      if (x === undefined) throw new InvalidArgumentError(`struct: missing field ${f.name}`);
      f.codec.encodeAt(x, out, offset + f.offset);
    }
  };
  const decodeAt = (bytes: Uint8Array, offset: number): StructValue<F> => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const f = fields[i] as Field;
      o[f.name] = f.codec.decodeAt(bytes, offset + f.offset);
    }
    return o as StructValue<F>;
  };
  return {
    size,
    align,
    fields: fields.map((f) => ({ name: f.name, offset: f.offset, size: f.codec.size })),
    encode: (value, out) => encodeAt(value, out, 0),
    decode: (bytes) => decodeAt(bytes, 0),
    encodeAt,
    decodeAt,
  };
}

/** A fixed-length array `T[length]`, read and written as a JavaScript array of that length. */
export function array<T>(element: Codec<T>, length: number): OffsetCodec<T[]> {
  if (!Number.isInteger(length) || length < 0) throw new InvalidArgumentError(`array(): length must be a non-negative integer, got ${length}`);
  const c = atOffset(element);
  const stride = c.size;
  const encodeAt = (value: T[], out: Uint8Array, offset: number): void => {
    if (!Array.isArray(value) || value.length !== length) {
      throw new InvalidArgumentError(`array: expected an array of ${length} elements, got ${Array.isArray(value) ? value.length : describe(value)}`);
    }
    for (let i = 0; i < length; i++) c.encodeAt(value[i] as T, out, offset + i * stride);
  };
  const decodeAt = (bytes: Uint8Array, offset: number): T[] => {
    const out = new Array<T>(length);
    for (let i = 0; i < length; i++) out[i] = c.decodeAt(bytes, offset + i * stride);
    return out;
  };
  return {
    size: stride * length,
    align: c.align ?? 1,
    encode: (value, out) => encodeAt(value, out, 0),
    decode: (bytes) => decodeAt(bytes, 0),
    encodeAt,
    decodeAt,
  };
}

const utf8 = new TextDecoder();
const utf8enc = new TextEncoder();

/**
 * `char[size]` as a string: UTF-8, NUL-padded on encode (a string of exactly `size` bytes is
 * stored without a terminator, as C allows), read up to the first NUL on decode.
 */
export function chars(size: number): OffsetCodec<string> {
  if (!Number.isInteger(size) || size <= 0) throw new InvalidArgumentError(`chars(): size must be a positive integer, got ${size}`);
  const encodeAt = (value: string, out: Uint8Array, offset: number): void => {
    if (typeof value !== 'string') throw new InvalidArgumentError(`chars(${size}): expected a string, got ${describe(value)}`);
    let i = 0;
    for (; i < value.length; i++) {
      const ch = value.charCodeAt(i);
      if (ch >= 0x80) break;
      if (i >= size) throw new InvalidArgumentError(`chars(${size}): "${value}" is longer than ${size} bytes`);
      out[offset + i] = ch;
    }
    if (i < value.length) {
      const enc = utf8enc.encode(value);
      if (enc.length > size) throw new InvalidArgumentError(`chars(${size}): "${value}" is longer than ${size} bytes in UTF-8`);
      out.set(enc, offset);
      i = enc.length;
    }
    out.fill(0, offset + i, offset + size);
  };
  const decodeAt = (bytes: Uint8Array, offset: number): string => {
    let end = offset;
    const limit = offset + size;
    let ascii = true;
    for (; end < limit; end++) {
      const b = bytes[end] as number;
      if (b === 0) break;
      if (b >= 0x80) ascii = false;
    }
    if (!ascii) return utf8.decode(bytes.subarray(offset, end));
    let s = '';
    for (let i = offset; i < end; i++) s += String.fromCharCode(bytes[i] as number);
    return s;
  };
  return {
    size,
    align: 1,
    encode: (value, out) => encodeAt(value, out, 0),
    decode: (bytes) => decodeAt(bytes, 0),
    encodeAt,
    decodeAt,
  };
}
