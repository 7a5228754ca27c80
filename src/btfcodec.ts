// Codecs derived from BTF: map keys and values, global variables, decoded as their C types say.
//
// Each type gets one codec, built once from closures over its layout and cached per BTF and type
// id, so encoding and decoding never walk the type graph again.
import type { Btf } from './btf/btf.js';
import { BtfError } from './btf/errors.js';
import type { BtfEnum, BtfEnum64, BtfInt, BtfMember, BtfType } from './btf/types.js';
import { describe } from './codec/bytes.js';
import type { OffsetCodec } from './codec/codec.js';
import { InvalidArgumentError } from './errors.js';

/** A value as a BTF codec reads and writes it. */
export type BtfValue = number | bigint | boolean | string | BtfValue[] | { [name: string]: BtfValue } | Uint8Array;

export interface BtfCodecOptions {
  /** Decode enums as the name of their value (falling back to the number). Default true. */
  readonly enumNames?: boolean;
  /** Decode `char` arrays as strings up to the first NUL. Default true. */
  readonly charStrings?: boolean;
}

/** A BTF codec: the type it was built from is kept for inspection. */
export interface BtfCodec<T = BtfValue> extends OffsetCodec<T> {
  readonly typeId: number;
}

const MAX_DEPTH = 64;
const utf8 = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

const caches = new WeakMap<Btf, Map<string, BtfCodec>>();

/**
 * The codec of a BTF type: structs become plain objects (anonymous members' fields are lifted
 * into the parent, as C names them), unions objects with every member decoded, arrays JS arrays,
 * `char` arrays strings, enums their names, 64-bit integers and pointers bigints, `bool` booleans,
 * bitfields numbers. Encoding a struct writes missing fields as zero; encoding a union writes the
 * first member present in the object.
 */
export function btfCodec(btf: Btf, typeId: number, options: BtfCodecOptions = {}): BtfCodec {
  const enumNames = options.enumNames !== false;
  const charStrings = options.charStrings !== false;
  const key = `${typeId}:${enumNames ? 1 : 0}${charStrings ? 1 : 0}`;
  let cache = caches.get(btf);
  if (cache === undefined) {
    cache = new Map();
    caches.set(btf, cache);
  }
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const builder = new Builder(btf, { enumNames, charStrings }, cache);
  return builder.build(typeId, 0);
}

interface Part {
  readonly size: number;
  readonly align: number;
  enc(v: unknown, out: Uint8Array, off: number): void;
  dec(b: Uint8Array, off: number): BtfValue;
}

class Builder {
  readonly #btf: Btf;
  readonly #le: boolean;
  readonly #opts: Required<BtfCodecOptions>;
  readonly #cache: Map<string, BtfCodec>;
  readonly #suffix: string;

  constructor(btf: Btf, opts: Required<BtfCodecOptions>, cache: Map<string, BtfCodec>) {
    this.#btf = btf;
    this.#le = btf.littleEndian;
    this.#opts = opts;
    this.#cache = cache;
    this.#suffix = `:${opts.enumNames ? 1 : 0}${opts.charStrings ? 1 : 0}`;
  }

  build(id: number, depth: number): BtfCodec {
    const key = `${id}${this.#suffix}`;
    const hit = this.#cache.get(key);
    if (hit !== undefined) return hit;
    if (depth > MAX_DEPTH) throw new BtfError('ELOOP', 'type nesting too deep for a codec', { typeId: id });
    const part = this.#part(this.#btf.type(id), depth);
    const name = typeLabel(this.#btf, id);
    const codec: BtfCodec = {
      typeId: id,
      size: part.size,
      align: part.align,
      encode: (v, out) => {
        checkRoom(out, 0, part.size, name);
        part.enc(v, out, 0);
      },
      decode: (b) => {
        checkRoom(b, 0, part.size, name);
        return part.dec(b, 0);
      },
      encodeAt: (v, out, off) => {
        checkRoom(out, off, part.size, name);
        part.enc(v, out, off);
      },
      decodeAt: (b, off) => {
        checkRoom(b, off, part.size, name);
        return part.dec(b, off);
      },
    };
    this.#cache.set(key, codec);
    return codec;
  }

  #sub(id: number, depth: number): Part {
    const c = this.build(id, depth + 1);
    return { size: c.size, align: c.align ?? 1, enc: c.encodeAt as Part['enc'], dec: c.decodeAt };
  }

  #part(t: BtfType, depth: number): Part {
    switch (t.kind) {
      case 'INT':
        return this.#int(t);
      case 'PTR':
        return uintPart(8, this.#le, 'pointer', true);
      case 'FLOAT':
        return floatPart(t.size, this.#le);
      case 'ENUM':
      case 'ENUM64':
        return this.#enum(t);
      case 'ARRAY':
        return this.#array(t.type, t.nelems, depth);
      case 'STRUCT':
      case 'UNION':
        return this.#composite(t.kind === 'UNION', t.size, t.members, typeLabel(this.#btf, t.id), depth);
      case 'DATASEC':
        return this.#datasec(t.size, t.vars, depth);
      case 'TYPEDEF':
      case 'CONST':
      case 'VOLATILE':
      case 'RESTRICT':
      case 'TYPE_TAG':
      case 'VAR':
        return this.#sub(t.type, depth);
      default:
        throw new BtfError('EINVAL', `a ${t.kind} has no value layout to encode`, { typeId: t.id });
    }
  }

  #int(t: BtfInt): Part {
    if (t.encoding === 'BOOL') return boolPart(t.size);
    const signed = t.encoding === 'SIGNED';
    const what = t.name || `${signed ? 's' : 'u'}${t.size * 8}`;
    if (t.size === 16) return int128Part(this.#le, signed, what);
    if (t.size === 8) return signed ? sintPart(8, this.#le, what) : uintPart(8, this.#le, what, true);
    if (t.size === 1 || t.size === 2 || t.size === 4) return signed ? sintPart(t.size, this.#le, what) : uintPart(t.size, this.#le, what, false);
    throw new BtfError('EINVAL', `INT of ${t.size} bytes has no codec`, { typeId: t.id });
  }

  #enum(t: BtfEnum | BtfEnum64): Part {
    const size = t.size;
    const big = t.kind === 'ENUM64' || size === 8;
    const raw = t.signed ? sintPart(size, this.#le, t.name || 'enum') : uintPart(size, this.#le, t.name || 'enum', big);
    const byValue = new Map<string, string>();
    const byName = new Map<string, number | bigint>();
    for (const e of t.values) {
      const v = big ? BigInt(e.value) : Number(e.value);
      const k = String(v);
      if (!byValue.has(k)) byValue.set(k, e.name);
      byName.set(e.name, v);
    }
    const names = this.#opts.enumNames;
    return {
      size,
      align: raw.align,
      enc(v, out, off) {
        if (typeof v === 'string') {
          const n = byName.get(v);
          if (n === undefined) throw new InvalidArgumentError(`${t.name || 'enum'}: no enumerator named ${JSON.stringify(v)}`);
          raw.enc(n, out, off);
        } else {
          raw.enc(big && typeof v === 'number' ? BigInt(v) : v, out, off);
        }
      },
      dec(b, off) {
        const v = raw.dec(b, off);
        if (!names) return v;
        return byValue.get(String(v)) ?? v;
      },
    };
  }

  #array(elemId: number, n: number, depth: number): Part {
    const elem = resolve(this.#btf, elemId);
    if (this.#opts.charStrings && elem.kind === 'INT' && elem.size === 1 && (elem.encoding === 'CHAR' || elem.name === 'char')) {
      return charsPart(n);
    }
    const e = this.#sub(elemId, depth);
    const size = e.size * n;
    return {
      size,
      align: e.align,
      enc(v, out, off) {
        if (v instanceof Uint8Array && v.length === size) {
          out.set(v, off);
          return;
        }
        if (!Array.isArray(v)) throw new InvalidArgumentError(`expected an array of ${n}, got ${describe(v)}`);
        if (v.length > n) throw new InvalidArgumentError(`array of ${v.length} elements does not fit ${n}`);
        for (let i = 0; i < v.length; i++) e.enc(v[i], out, off + i * e.size);
        if (v.length < n) out.fill(0, off + v.length * e.size, off + size);
      },
      dec(b, off) {
        const r = new Array<BtfValue>(n);
        for (let i = 0; i < n; i++) r[i] = e.dec(b, off + i * e.size);
        return r;
      },
    };
  }

  #composite(isUnion: boolean, size: number, members: readonly BtfMember[], label: string, depth: number): Part {
    const fields: Field[] = [];
    let align = 1;
    this.#collect(members, 0, fields, depth);
    for (const f of fields) align = Math.max(align, f.align);
    const n = fields.length;
    const names = fields.map((f) => f.name);
    const encs = fields.map((f) => f.enc);
    const decs = fields.map((f) => f.dec);
    const offs = fields.map((f) => f.off);
    if (isUnion) {
      return {
        size,
        align,
        enc(v, out, off) {
          const obj = asObject(v, label);
          out.fill(0, off, off + size);
          for (let i = 0; i < n; i++) {
            const x = obj[names[i]!];
            if (x !== undefined) {
              encs[i]!(x, out, off + offs[i]!);
              return;
            }
          }
        },
        dec(b, off) {
          const r: Record<string, BtfValue> = {};
          for (let i = 0; i < n; i++) r[names[i]!] = decs[i]!(b, off + offs[i]!);
          return r;
        },
      };
    }
    return {
      size,
      align,
      enc(v, out, off) {
        const obj = asObject(v, label);
        out.fill(0, off, off + size);
        for (let i = 0; i < n; i++) {
          const x = obj[names[i]!];
          if (x !== undefined) encs[i]!(x, out, off + offs[i]!);
        }
      },
      dec(b, off) {
        const r: Record<string, BtfValue> = {};
        for (let i = 0; i < n; i++) r[names[i]!] = decs[i]!(b, off + offs[i]!);
        return r;
      },
    };
  }

  /** Fields of members at `base` bits, lifting anonymous struct/union members' fields. */
  #collect(members: readonly BtfMember[], base: number, out: Field[], depth: number): void {
    for (const m of members) {
      const bit = base + m.bitOffset;
      if (m.name === '') {
        const t = resolve(this.#btf, m.type);
        if (t.kind === 'STRUCT' || t.kind === 'UNION') {
          if (depth > MAX_DEPTH) throw new BtfError('ELOOP', 'type nesting too deep for a codec', { typeId: t.id });
          this.#collect(t.members, bit, out, depth + 1);
        }
        continue;
      }
      if (m.bitfieldSize > 0) {
        out.push({ name: m.name, off: 0, align: 1, ...this.#bitfield(m.type, bit, m.bitfieldSize) });
        continue;
      }
      if (bit % 8 !== 0) throw new BtfError('EINVAL', `member ${m.name} is not byte aligned`);
      const p = this.#sub(m.type, depth);
      out.push({ name: m.name, off: bit / 8, align: p.align, enc: p.enc, dec: p.dec });
    }
  }

  #bitfield(typeId: number, bitOffset: number, bits: number): Pick<Part, 'enc' | 'dec'> {
    const t = resolve(this.#btf, typeId);
    const signed = (t.kind === 'INT' && t.encoding === 'SIGNED') || ((t.kind === 'ENUM' || t.kind === 'ENUM64') && t.signed);
    const isBool = t.kind === 'INT' && t.encoding === 'BOOL';
    const byteOff = Math.floor(bitOffset / 8);
    const shift = bitOffset - byteOff * 8;
    const span = Math.ceil((shift + bits) / 8);
    const le = this.#le;
    const mask = (1n << BigInt(bits)) - 1n;
    let toName: ((v: number | bigint) => BtfValue) | undefined;
    let fromName: ((v: string) => bigint) | undefined;
    if ((t.kind === 'ENUM' || t.kind === 'ENUM64') && this.#opts.enumNames) {
      const byValue = new Map<string, string>();
      const byName = new Map<string, bigint>();
      for (const e of t.values) {
        if (!byValue.has(String(e.value))) byValue.set(String(e.value), e.name);
        byName.set(e.name, BigInt(e.value));
      }
      toName = (v) => byValue.get(String(v)) ?? v;
      fromName = (s) => {
        const v = byName.get(s);
        if (v === undefined) throw new InvalidArgumentError(`no enumerator named ${JSON.stringify(s)}`);
        return v;
      };
    }
    const wide = bits > 32;
    const position = (): bigint => BigInt(le ? shift : span * 8 - shift - bits);
    const pos = position();
    const readWord = (b: Uint8Array, off: number): bigint => {
      let w = 0n;
      for (let i = 0; i < span; i++) {
        const byte = BigInt(b[off + byteOff + i] ?? 0);
        w |= le ? byte << BigInt(8 * i) : byte << BigInt(8 * (span - 1 - i));
      }
      return w;
    };
    return {
      enc(v, out, off) {
        let x: bigint;
        if (typeof v === 'boolean') x = v ? 1n : 0n;
        else if (typeof v === 'string' && fromName) x = fromName(v);
        else if (typeof v === 'number' && Number.isInteger(v)) x = BigInt(v);
        else if (typeof v === 'bigint') x = v;
        else throw new InvalidArgumentError(`bitfield: expected an integer, got ${describe(v)}`);
        const lo = signed ? -(1n << BigInt(bits - 1)) : 0n;
        const hi = signed ? (1n << BigInt(bits - 1)) - 1n : mask;
        if (x < lo || x > hi) throw new InvalidArgumentError(`bitfield of ${bits} bits: ${String(v)} does not fit`);
        let w = readWord(out, off);
        w = (w & ~(mask << pos)) | ((x & mask) << pos);
        for (let i = 0; i < span; i++) {
          const sh = BigInt(le ? 8 * i : 8 * (span - 1 - i));
          out[off + byteOff + i] = Number((w >> sh) & 0xffn);
        }
      },
      dec(b, off) {
        let x = (readWord(b, off) >> pos) & mask;
        if (signed && bits > 0 && (x >> BigInt(bits - 1)) & 1n) x -= 1n << BigInt(bits);
        if (isBool) return x !== 0n;
        const v = wide ? x : Number(x);
        return toName ? toName(v) : v;
      },
    };
  }

  #datasec(size: number, vars: readonly { type: number; offset: number; size: number }[], depth: number): Part {
    const fields: Field[] = [];
    for (const s of vars) {
      const v = this.#btf.type(s.type);
      if (v.kind !== 'VAR') continue;
      const p = this.#sub(v.type, depth);
      fields.push({ name: v.name, off: s.offset, align: p.align, enc: p.enc, dec: p.dec });
    }
    const n = fields.length;
    return {
      size,
      align: 8,
      enc(v, out, off) {
        const obj = asObject(v, 'section');
        out.fill(0, off, off + size);
        for (let i = 0; i < n; i++) {
          const f = fields[i]!;
          const x = obj[f.name];
          if (x !== undefined) f.enc(x, out, off + f.off);
        }
      },
      dec(b, off) {
        const r: Record<string, BtfValue> = {};
        for (let i = 0; i < n; i++) {
          const f = fields[i]!;
          r[f.name] = f.dec(b, off + f.off);
        }
        return r;
      },
    };
  }
}

interface Field {
  readonly name: string;
  readonly off: number;
  readonly align: number;
  enc(v: unknown, out: Uint8Array, off: number): void;
  dec(b: Uint8Array, off: number): BtfValue;
}

function resolve(btf: Btf, id: number): BtfType {
  let t = btf.type(id);
  for (let i = 0; i < MAX_DEPTH && (t.kind === 'TYPEDEF' || t.kind === 'CONST' || t.kind === 'VOLATILE' || t.kind === 'RESTRICT' || t.kind === 'TYPE_TAG'); i++) {
    t = btf.type(t.type);
  }
  return t;
}

/** A type as C spells it, for messages and listings: `struct point`, `const volatile __u32`, `char[16]`. */
export function typeLabel(btf: Btf, id: number, depth = 0): string {
  if (depth > MAX_DEPTH) return '...';
  const t = btf.type(id);
  const named = (kw: string): string => (t.name ? `${kw} ${t.name}` : `${kw} (anon)`);
  switch (t.kind) {
    case 'STRUCT':
      return named('struct');
    case 'UNION':
      return named('union');
    case 'ENUM':
    case 'ENUM64':
      return named('enum');
    case 'FWD':
      return named(t.fwdKind);
    case 'VOID':
      return 'void';
    case 'CONST':
      return `const ${typeLabel(btf, t.type, depth + 1)}`;
    case 'VOLATILE':
      return `volatile ${typeLabel(btf, t.type, depth + 1)}`;
    case 'RESTRICT':
      return `${typeLabel(btf, t.type, depth + 1)} restrict`;
    case 'TYPE_TAG':
      return typeLabel(btf, t.type, depth + 1);
    case 'PTR':
      return `${typeLabel(btf, t.type, depth + 1)} *`;
    case 'ARRAY':
      return `${typeLabel(btf, t.type, depth + 1)}[${t.nelems}]`;
    case 'FUNC_PROTO':
      return 'function';
    case 'VAR':
      return typeLabel(btf, t.type, depth + 1);
    case 'DATASEC':
      return `section ${t.name}`;
    default:
      return t.name || t.kind.toLowerCase();
  }
}

function checkRoom(b: Uint8Array, off: number, size: number, name: string): void {
  if (!(b instanceof Uint8Array)) throw new InvalidArgumentError(`${name}: expected a Uint8Array, got ${describe(b)}`);
  if (off < 0 || off + size > b.length) throw new InvalidArgumentError(`${name}: needs ${size} bytes at offset ${off}, the buffer has ${b.length}`);
}

function asObject(v: unknown, label: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) {
    throw new InvalidArgumentError(`${label}: expected an object, got ${describe(v)}`);
  }
  return v as Record<string, unknown>;
}

function readUint(b: Uint8Array, off: number, n: number, le: boolean): number {
  let x = 0;
  if (le) for (let i = n - 1; i >= 0; i--) x = x * 256 + (b[off + i] as number);
  else for (let i = 0; i < n; i++) x = x * 256 + (b[off + i] as number);
  return x;
}

function writeUint(out: Uint8Array, off: number, n: number, le: boolean, v: number): void {
  for (let i = 0; i < n; i++) {
    const byte = v % 256;
    out[le ? off + i : off + n - 1 - i] = byte;
    v = (v - byte) / 256;
  }
}

function toBigInt(v: unknown, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'boolean') return v ? 1n : 0n;
  throw new InvalidArgumentError(`${what}: expected an integer, got ${describe(v)}`);
}

function uintPart(size: number, le: boolean, what: string, big: boolean): Part {
  if (size === 8 || big) {
    const max = (1n << BigInt(size * 8)) - 1n;
    return {
      size,
      align: size,
      enc(v, out, off) {
        const x = toBigInt(v, what);
        if (x < 0n || x > max) throw new InvalidArgumentError(`${what}: ${String(v)} is out of range`);
        writeUint(out, off, 4, le, Number(x & 0xffffffffn));
        if (size === 8) writeUint(out, le ? off + 4 : off, 4, le, Number(x >> 32n));
      },
      dec(b, off) {
        if (size < 8) return BigInt(readUint(b, off, size, le));
        const lo = readUint(b, le ? off : off + 4, 4, le);
        const hi = readUint(b, le ? off + 4 : off, 4, le);
        return (BigInt(hi) << 32n) | BigInt(lo);
      },
    };
  }
  const max = 2 ** (size * 8) - 1;
  return {
    size,
    align: size,
    enc(v, out, off) {
      const x = typeof v === 'boolean' ? (v ? 1 : 0) : typeof v === 'bigint' ? Number(v) : v;
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > max) throw new InvalidArgumentError(`${what}: ${describe(v)} is out of range`);
      writeUint(out, off, size, le, x);
    },
    dec: (b, off) => readUint(b, off, size, le),
  };
}

function sintPart(size: number, le: boolean, what: string): Part {
  if (size === 8) {
    const u = uintPart(8, le, what, true);
    return {
      size,
      align: 8,
      enc(v, out, off) {
        const x = toBigInt(v, what);
        if (x < -(1n << 63n) || x >= 1n << 63n) throw new InvalidArgumentError(`${what}: ${String(v)} is out of range`);
        u.enc(BigInt.asUintN(64, x), out, off);
      },
      dec: (b, off) => BigInt.asIntN(64, u.dec(b, off) as bigint),
    };
  }
  const bits = size * 8;
  const half = 2 ** (bits - 1);
  return {
    size,
    align: size,
    enc(v, out, off) {
      const x = typeof v === 'boolean' ? (v ? 1 : 0) : typeof v === 'bigint' ? Number(v) : v;
      if (typeof x !== 'number' || !Number.isInteger(x) || x < -half || x >= half) throw new InvalidArgumentError(`${what}: ${describe(v)} is out of range`);
      writeUint(out, off, size, le, x < 0 ? x + 2 * half : x);
    },
    dec(b, off) {
      const x = readUint(b, off, size, le);
      return x >= half ? x - 2 * half : x;
    },
  };
}

function int128Part(le: boolean, signed: boolean, what: string): Part {
  return {
    size: 16,
    align: 16,
    enc(v, out, off) {
      let x = toBigInt(v, what);
      if (signed) x = BigInt.asUintN(128, x);
      if (x < 0n || x >= 1n << 128n) throw new InvalidArgumentError(`${what}: ${String(v)} is out of range`);
      for (let i = 0; i < 16; i++) out[le ? off + i : off + 15 - i] = Number((x >> BigInt(8 * i)) & 0xffn);
    },
    dec(b, off) {
      let x = 0n;
      for (let i = 0; i < 16; i++) x |= BigInt(b[le ? off + i : off + 15 - i] as number) << BigInt(8 * i);
      return signed ? BigInt.asIntN(128, x) : x;
    },
  };
}

function boolPart(size: number): Part {
  return {
    size,
    align: size,
    enc(v, out, off) {
      if (typeof v !== 'boolean' && v !== 0 && v !== 1) throw new InvalidArgumentError(`bool: expected a boolean, got ${describe(v)}`);
      out.fill(0, off, off + size);
      out[off] = v === true || v === 1 ? 1 : 0;
    },
    dec(b, off) {
      for (let i = 0; i < size; i++) if (b[off + i] !== 0) return true;
      return false;
    },
  };
}

function floatPart(size: number, le: boolean): Part {
  if (size !== 4 && size !== 8) return bytesPart(size);
  return {
    size,
    align: size,
    enc(v, out, off) {
      if (typeof v !== 'number') throw new InvalidArgumentError(`float: expected a number, got ${describe(v)}`);
      const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
      if (size === 4) dv.setFloat32(off, v, le);
      else dv.setFloat64(off, v, le);
    },
    dec(b, off) {
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      return size === 4 ? dv.getFloat32(off, le) : dv.getFloat64(off, le);
    },
  };
}

function charsPart(n: number): Part {
  return {
    size: n,
    align: 1,
    enc(v, out, off) {
      if (v instanceof Uint8Array) {
        if (v.length > n) throw new InvalidArgumentError(`char[${n}]: ${v.length} bytes do not fit`);
        out.fill(0, off, off + n);
        out.set(v, off);
        return;
      }
      if (typeof v !== 'string') throw new InvalidArgumentError(`char[${n}]: expected a string, got ${describe(v)}`);
      const enc = utf8Encoder.encode(v);
      if (enc.length > n) throw new InvalidArgumentError(`char[${n}]: ${JSON.stringify(v)} is ${enc.length} bytes`);
      out.fill(0, off, off + n);
      out.set(enc, off);
    },
    dec(b, off) {
      let end = off;
      while (end < off + n && b[end] !== 0) end++;
      return utf8.decode(b.subarray(off, end));
    },
  };
}

function bytesPart(n: number): Part {
  return {
    size: n,
    align: 1,
    enc(v, out, off) {
      if (!(v instanceof Uint8Array) || v.length !== n) throw new InvalidArgumentError(`expected ${n} bytes, got ${describe(v)}`);
      out.set(v, off);
    },
    dec: (b, off) => b.slice(off, off + n),
  };
}
