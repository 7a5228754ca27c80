import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { sanitizeBtf, type BtfFeatures } from './sanitize.js';
import { BtfStringsBuilder } from './strings.js';
import { BTF_KIND, type BtfIntEncoding, type BtfLinkage, type BtfType } from './types.js';
import {
  BTF_HEADER_SIZE,
  BTF_MAGIC,
  BTF_MAX_TYPE_ID,
  BTF_MAX_VLEN,
  BTF_TYPE_SIZE,
  BTF_VERSION,
  extraSize,
} from './wire.js';

export interface MarshalOptions {
  /** Byte order of the output; defaults to the BTF's own. */
  readonly littleEndian?: boolean;
  /**
   * What the target kernel supports; kinds it lacks are rewritten as
   * {@link sanitizeBtf} describes. Omitted: everything is supported.
   */
  readonly features?: BtfFeatures;
}

const INT_ENCODING: Record<BtfIntEncoding, number> = { NONE: 0, SIGNED: 1, CHAR: 2, BOOL: 4 };
const LINKAGE: Record<BtfLinkage, number> = { static: 0, global: 1, extern: 2 };

/**
 * Encodes a BTF blob (header, type section, string section) from this BTF's
 * own types. The existing string section is kept byte for byte and new
 * strings are appended, so string offsets held elsewhere (BTF.ext line
 * info) stay valid. Split BTF is encoded relative to its base.
 */
export function marshalBtf(btf: Btf, options: MarshalOptions = {}): Uint8Array {
  const source = options.features !== undefined ? sanitizeBtf(btf, options.features) : btf;
  const le = options.littleEndian ?? source.littleEndian;
  if (source.nextTypeId - 1 > BTF_MAX_TYPE_ID) {
    throw new BtfError('EINVAL', `type id ${source.nextTypeId - 1} exceeds the BTF limit of ${BTF_MAX_TYPE_ID}`);
  }
  const strings = new BtfStringsBuilder({ existing: source.strings, base: source.base?.strings });

  const types: BtfType[] = [];
  let typeLen = 0;
  for (const t of source.types()) {
    types.push(t);
    const extra = extraSize(BTF_KIND[kindOf(t)], vlenOf(t));
    typeLen += BTF_TYPE_SIZE + extra;
  }
  const typeBytes = new Uint8Array(typeLen);
  const v = new DataView(typeBytes.buffer);
  let pos = 0;
  for (const t of types) pos = encodeType(t, v, pos, le, strings);
  const strBytes = strings.finish();

  const out = new Uint8Array(BTF_HEADER_SIZE + typeLen + strBytes.length);
  const h = new DataView(out.buffer);
  h.setUint16(0, BTF_MAGIC, le);
  h.setUint8(2, BTF_VERSION);
  h.setUint8(3, 0);
  h.setUint32(4, BTF_HEADER_SIZE, le);
  h.setUint32(8, 0, le);
  h.setUint32(12, typeLen, le);
  h.setUint32(16, typeLen, le);
  h.setUint32(20, strBytes.length, le);
  out.set(typeBytes, BTF_HEADER_SIZE);
  out.set(strBytes, BTF_HEADER_SIZE + typeLen);
  return out;
}

function kindOf(t: BtfType): Exclude<BtfType['kind'], 'VOID'> {
  if (t.kind === 'VOID') throw new BtfError('EINVAL', 'void (type 0) cannot be encoded');
  return t.kind;
}

function vlenOf(t: BtfType): number {
  switch (t.kind) {
    case 'STRUCT':
    case 'UNION':
      return t.members.length;
    case 'ENUM':
    case 'ENUM64':
      return t.values.length;
    case 'FUNC_PROTO':
      return t.params.length;
    case 'DATASEC':
      return t.vars.length;
    case 'FUNC':
      return LINKAGE[t.linkage];
    default:
      return 0;
  }
}

function encodeType(t: BtfType, v: DataView, pos: number, le: boolean, strings: BtfStringsBuilder): number {
  const kind = kindOf(t);
  const vlen = vlenOf(t);
  const invalid = (message: string): BtfError => new BtfError('EINVAL', message, { typeId: t.id });
  if (vlen > BTF_MAX_VLEN) throw invalid(`${vlen} entries exceed the BTF limit of ${BTF_MAX_VLEN}`);
  const u32 = (value: number, what: string): number => {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw invalid(`${what} ${value} is not a u32`);
    return value;
  };
  let kflag = false;
  let sizeOrType = 0;
  switch (t.kind) {
    case 'INT':
    case 'FLOAT':
    case 'DATASEC':
      sizeOrType = t.size;
      break;
    case 'STRUCT':
    case 'UNION':
      sizeOrType = t.size;
      kflag = t.members.some((m) => m.bitfieldSize !== 0);
      break;
    case 'ENUM':
    case 'ENUM64':
      sizeOrType = t.size;
      kflag = t.signed;
      break;
    case 'FWD':
      kflag = t.fwdKind === 'union';
      break;
    case 'FUNC_PROTO':
      sizeOrType = t.returnType;
      break;
    case 'DECL_TAG':
    case 'TYPE_TAG':
      sizeOrType = t.type;
      kflag = t.attribute;
      break;
    case 'PTR':
    case 'ARRAY':
    case 'TYPEDEF':
    case 'VOLATILE':
    case 'CONST':
    case 'RESTRICT':
    case 'FUNC':
    case 'VAR':
      sizeOrType = t.kind === 'ARRAY' ? 0 : t.type;
      break;
  }
  v.setUint32(pos, strings.add(t.name), le);
  v.setUint32(pos + 4, ((kflag ? 0x80000000 : 0) | (BTF_KIND[kind] << 24) | vlen) >>> 0, le);
  v.setUint32(pos + 8, u32(sizeOrType, 'size/type'), le);
  let x = pos + BTF_TYPE_SIZE;
  switch (t.kind) {
    case 'INT': {
      if (t.bitsOffset > 0xff || t.nrBits > 0xff || t.bitsOffset < 0 || t.nrBits < 0) {
        throw invalid('INT bits_offset and nr_bits must fit in 8 bits');
      }
      v.setUint32(x, ((INT_ENCODING[t.encoding] << 24) | (t.bitsOffset << 16) | t.nrBits) >>> 0, le);
      x += 4;
      break;
    }
    case 'ARRAY':
      v.setUint32(x, u32(t.type, 'element type'), le);
      v.setUint32(x + 4, u32(t.indexType, 'index type'), le);
      v.setUint32(x + 8, u32(t.nelems, 'nelems'), le);
      x += 12;
      break;
    case 'STRUCT':
    case 'UNION':
      for (const m of t.members) {
        let offset = u32(m.bitOffset, `member '${m.name}' offset`);
        if (kflag) {
          if (m.bitOffset > 0xffffff || m.bitfieldSize > 0xff || m.bitfieldSize < 0) {
            throw invalid(`member '${m.name}' offset/bitfield size too large for a struct with bitfields`);
          }
          offset = ((m.bitfieldSize << 24) | m.bitOffset) >>> 0;
        }
        v.setUint32(x, strings.add(m.name), le);
        v.setUint32(x + 4, u32(m.type, `member '${m.name}' type`), le);
        v.setUint32(x + 8, offset, le);
        x += 12;
      }
      break;
    case 'ENUM':
      for (const e of t.values) {
        const lo = t.signed ? -0x80000000 : 0;
        const hi = t.signed ? 0x7fffffff : 0xffffffff;
        if (!Number.isInteger(e.value) || e.value < lo || e.value > hi) {
          const range = t.signed ? 'signed' : 'unsigned';
          throw invalid(`enumerator '${e.name}' value ${e.value} does not fit a ${range} 32-bit enum`);
        }
        v.setUint32(x, strings.add(e.name), le);
        v.setUint32(x + 4, e.value >>> 0, le);
        x += 8;
      }
      break;
    case 'ENUM64':
      for (const e of t.values) {
        const bits = BigInt.asUintN(64, e.value);
        if ((t.signed ? BigInt.asIntN(64, e.value) : bits) !== e.value) {
          throw invalid(`enumerator '${e.name}' value ${e.value} does not fit 64 bits`);
        }
        v.setUint32(x, strings.add(e.name), le);
        v.setUint32(x + 4, Number(bits & 0xffffffffn), le);
        v.setUint32(x + 8, Number(bits >> 32n), le);
        x += 12;
      }
      break;
    case 'FUNC_PROTO':
      for (const p of t.params) {
        v.setUint32(x, strings.add(p.name), le);
        v.setUint32(x + 4, u32(p.type, 'parameter type'), le);
        x += 8;
      }
      break;
    case 'VAR':
      v.setUint32(x, LINKAGE[t.linkage], le);
      x += 4;
      break;
    case 'DATASEC':
      for (const s of t.vars) {
        v.setUint32(x, u32(s.type, 'variable type'), le);
        v.setUint32(x + 4, u32(s.offset, 'variable offset'), le);
        v.setUint32(x + 8, u32(s.size, 'variable size'), le);
        x += 12;
      }
      break;
    case 'DECL_TAG':
      if (!Number.isInteger(t.componentIdx) || t.componentIdx < -1 || t.componentIdx > 0x7fffffff) {
        throw invalid(`component_idx ${t.componentIdx} is invalid`);
      }
      v.setInt32(x, t.componentIdx, le);
      x += 4;
      break;
    default:
      break;
  }
  return x;
}
