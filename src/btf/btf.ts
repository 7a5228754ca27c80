import { BtfError } from './errors.js';
import { BtfStrings } from './strings.js';
import {
  BTF_KIND,
  type BtfIntEncoding,
  type BtfKind,
  type BtfLinkage,
  type BtfMember,
  type BtfType,
  type BtfTypeInit,
  type BtfTypeOf,
  type BtfVoid,
} from './types.js';
import { hostLittleEndian } from './wire.js';

const VOID: BtfVoid = Object.freeze({ kind: 'VOID', id: 0, name: '' }) as BtfVoid;

/**
 * The undecoded type section of a parsed blob: records are decoded on first
 * access, so a 5 MB kernel BTF costs an offset table until types are used.
 */
export interface BtfRawTypes {
  readonly view: DataView;
  /** Byte offset of each type record in `view`, in id order. */
  readonly offsets: Uint32Array;
  /** Offset of `view` within the original blob, for error messages. */
  readonly blobOffset: number;
}

export interface BtfInit {
  readonly littleEndian?: boolean;
  readonly base?: Btf | undefined;
  /** String section; new strings are appended after it when marshalling. */
  readonly strings?: BtfStrings;
  readonly raw?: BtfRawTypes;
}

/**
 * A BTF type graph: ids 1..n (0 is void), decoded lazily and cached. A split
 * BTF (kernel module) has a `base` and continues its ids and string offsets.
 *
 * Types are plain mutable objects; changes to a returned object are what
 * {@link marshalBtf} encodes. The name index reflects names as parsed or added.
 */
export class Btf {
  readonly littleEndian: boolean;
  readonly base: Btf | undefined;
  readonly strings: BtfStrings;
  /** The id of this blob's first type: 1, or the base's next id for split BTF. */
  readonly firstTypeId: number;
  readonly #raw: BtfRawTypes | undefined;
  readonly #rawCount: number;
  readonly #types: (BtfType | undefined)[];
  #names: Map<string, number | number[]> | undefined;
  #nameOffs: Uint32Array | undefined;
  #scans = 0;

  constructor(init: BtfInit = {}) {
    this.base = init.base;
    this.littleEndian = init.littleEndian ?? init.base?.littleEndian ?? hostLittleEndian();
    this.strings = init.strings ?? new BtfStrings(new Uint8Array(init.base === undefined ? 1 : 0), init.base?.strings);
    if (this.strings.base !== this.base?.strings) {
      throw new BtfError('EINVAL', 'string table base does not match the BTF base');
    }
    this.firstTypeId = init.base === undefined ? 1 : init.base.nextTypeId;
    this.#raw = init.raw;
    this.#rawCount = init.raw?.offsets.length ?? 0;
    this.#types = new Array<BtfType | undefined>(this.#rawCount);
  }

  /** Builds a BTF from type descriptions; ids are assigned in order from `firstTypeId`. */
  static fromTypes(types: Iterable<BtfTypeInit>, init: Omit<BtfInit, 'raw'> = {}): Btf {
    const btf = new Btf(init);
    for (const t of types) btf.add(t);
    return btf;
  }

  /** Number of types in this blob (not counting the base or void). */
  get typeCount(): number {
    return this.#types.length;
  }

  /** One past the last type id. */
  get nextTypeId(): number {
    return this.firstTypeId + this.#types.length;
  }

  /** The type with this id (0 is void); ids below `firstTypeId` come from the base. */
  type(id: number): BtfType {
    if (id === 0) return VOID;
    const index = id - this.firstTypeId;
    if (index < 0) {
      if (this.base !== undefined && Number.isInteger(id) && id > 0) return this.base.type(id);
      throw new BtfError('ENOENT', `no type with id ${id}`, { typeId: id });
    }
    const cached = this.#types[index];
    if (cached !== undefined) return cached;
    if (!Number.isInteger(id) || index >= this.#types.length) {
      throw new BtfError('ENOENT', `no type with id ${id} (last is ${this.nextTypeId - 1})`, { typeId: id });
    }
    const decoded = this.#decode(id, index);
    this.#types[index] = decoded;
    return decoded;
  }

  /** The type with this id, checked to be of `kind`. */
  typeOf<K extends BtfKind>(id: number, kind: K): BtfTypeOf<K> {
    const t = this.type(id);
    if (t.kind !== kind) throw new BtfError('EINVAL', `type is ${t.kind}, expected ${kind}`, { typeId: id });
    return t as BtfTypeOf<K>;
  }

  /** This blob's own types in id order (not the base's). */
  *types(): Generator<BtfType, void, undefined> {
    for (let id = this.firstTypeId; id < this.nextTypeId; id++) yield this.type(id);
  }

  /** Types (from the base first, then this blob) with exactly this name, optionally of one kind. */
  typesByName<K extends BtfKind>(name: string, kind?: K): BtfTypeOf<K>[] {
    const out: BtfTypeOf<K>[] = this.base?.typesByName(name, kind) ?? [];
    if (name === '') return out;
    for (const id of this.#idsNamed(name)) {
      const t = this.type(id);
      if (kind === undefined || t.kind === kind) out.push(t as BtfTypeOf<K>);
    }
    return out;
  }

  /** The first (lowest id) type with this name and kind; throws `ENOENT` if there is none. */
  typeByName<K extends BtfKind>(name: string, kind: K): BtfTypeOf<K> {
    const found = this.typesByName(name, kind)[0];
    if (found === undefined) throw new BtfError('ENOENT', `no ${kind} named '${name}'`);
    return found;
  }

  /** All names in this blob that contain a CO-RE flavour separator (`___`). */
  flavouredNames(): string[] {
    const out: string[] = [];
    for (const name of this.#nameIndex().keys()) if (name.includes('___')) out.push(name);
    return out;
  }

  /** Appends a type and returns its id. The description is copied. */
  add(type: BtfTypeInit): number {
    const id = this.nextTypeId;
    const t = cloneType({ ...type, id } as BtfType);
    this.#types.push(t);
    if (this.#names !== undefined && t.name !== '') indexName(this.#names, t.name, id);
    return id;
  }

  /**
   * Ids of this blob's types named `name`. The first look-ups in parsed BTF search the string
   * table's bytes and the raw name offsets, so a few look-ups in vmlinux cost well under a
   * millisecond each without decoding 100,000 names; after SCAN_LOOKUPS the full index is built.
   */
  #idsNamed(name: string): number[] {
    if (this.#names === undefined && this.#raw !== undefined && this.#scans < SCAN_LOOKUPS) {
      this.#scans++;
      return this.#scanNamed(name);
    }
    const hit = this.#nameIndex().get(name);
    return hit === undefined ? [] : typeof hit === 'number' ? [hit] : hit;
  }

  #scanNamed(name: string): number[] {
    const raw = this.#raw!;
    const ids: number[] = [];
    if (this.#nameOffs === undefined) {
      const offs = new Uint32Array(this.#rawCount);
      const view = raw.view;
      const le = this.littleEndian;
      for (let i = 0; i < offs.length; i++) offs[i] = view.getUint32(raw.offsets[i]!, le);
      this.#nameOffs = offs;
    }
    // Name by name, as libbpf does, with the first byte of this table's strings checked inline:
    // nearly every type fails on it, so this reads 100,000 offsets and as many bytes.
    const offs = this.#nameOffs;
    const needle = utf8.encode(name);
    const first = needle[0]!;
    const strings = this.strings;
    const own = strings.bytes;
    const start = strings.start;
    for (let i = 0; i < offs.length; i++) {
      const o = offs[i]!;
      const rel = o - start;
      if (rel >= 0 ? own[rel] !== first : o === 0) continue;
      if (strings.equalsAt(o, needle)) ids.push(this.firstTypeId + i);
    }
    for (let i = this.#rawCount; i < this.#types.length; i++) if (this.#types[i]?.name === name) ids.push(this.firstTypeId + i);
    return ids;
  }

  #nameIndex(): Map<string, number | number[]> {
    if (this.#names !== undefined) return this.#names;
    const names = new Map<string, number | number[]>();
    const raw = this.#raw;
    for (let i = 0; i < this.#types.length; i++) {
      const id = this.firstTypeId + i;
      let name: string;
      if (raw !== undefined && i < this.#rawCount) {
        const nameOff = raw.view.getUint32(raw.offsets[i]!, this.littleEndian);
        if (nameOff === 0) continue;
        name = this.#string(nameOff, id, raw.offsets[i]!);
      } else {
        name = this.type(id).name;
      }
      if (name !== '') indexName(names, name, id);
    }
    this.#names = names;
    return names;
  }

  #string(offset: number, id: number, recordOffset: number): string {
    try {
      return this.strings.get(offset);
    } catch (e) {
      if (e instanceof BtfError) {
        const offset = this.#raw!.blobOffset + recordOffset;
        throw new BtfError('EBADBTF', e.message, { typeId: id, offset, cause: e });
      }
      throw e;
    }
  }

  #decode(id: number, index: number): BtfType {
    const raw = this.#raw!;
    const v = raw.view;
    const le = this.littleEndian;
    const off = raw.offsets[index]!;
    const lastId = this.firstTypeId + this.#rawCount - 1;
    const at = raw.blobOffset + off;

    const name = this.#string(v.getUint32(off, le), id, off);
    const info = v.getUint32(off + 4, le);
    const sizeOrType = v.getUint32(off + 8, le);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const x = off + 12;

    switch (kind) {
      case BTF_KIND.INT: {
        const data = v.getUint32(x, le);
        return {
          kind: 'INT',
          id,
          name,
          size: sizeOrType,
          encoding: intEncoding((data >>> 24) & 0xf, id, at),
          bitsOffset: (data >>> 16) & 0xff,
          nrBits: data & 0xff,
        };
      }
      case BTF_KIND.PTR:
        return { kind: 'PTR', id, name, type: checkRef(id, at, lastId, sizeOrType) };
      case BTF_KIND.ARRAY:
        return {
          kind: 'ARRAY',
          id,
          name,
          type: checkRef(id, at, lastId, v.getUint32(x, le)),
          indexType: checkRef(id, at, lastId, v.getUint32(x + 4, le)),
          nelems: v.getUint32(x + 8, le),
        };
      case BTF_KIND.STRUCT:
      case BTF_KIND.UNION: {
        const members = new Array<BtfMember>(vlen);
        for (let i = 0; i < vlen; i++) {
          const m = x + i * 12;
          const offset = v.getUint32(m + 8, le);
          members[i] = {
            name: this.#string(v.getUint32(m, le), id, off),
            type: checkRef(id, at, lastId, v.getUint32(m + 4, le)),
            bitOffset: kflag ? offset & 0xffffff : offset,
            bitfieldSize: kflag ? offset >>> 24 : 0,
          };
        }
        return { kind: kind === BTF_KIND.STRUCT ? 'STRUCT' : 'UNION', id, name, size: sizeOrType, members };
      }
      case BTF_KIND.ENUM: {
        const values = new Array<{ name: string; value: number }>(vlen);
        for (let i = 0; i < vlen; i++) {
          const e = x + i * 8;
          values[i] = {
            name: this.#string(v.getUint32(e, le), id, off),
            value: kflag ? v.getInt32(e + 4, le) : v.getUint32(e + 4, le),
          };
        }
        return { kind: 'ENUM', id, name, size: sizeOrType, signed: kflag, values };
      }
      case BTF_KIND.ENUM64: {
        const values = new Array<{ name: string; value: bigint }>(vlen);
        for (let i = 0; i < vlen; i++) {
          const e = x + i * 12;
          const bits = (BigInt(v.getUint32(e + 8, le)) << 32n) | BigInt(v.getUint32(e + 4, le));
          values[i] = {
            name: this.#string(v.getUint32(e, le), id, off),
            value: kflag ? BigInt.asIntN(64, bits) : bits,
          };
        }
        return { kind: 'ENUM64', id, name, size: sizeOrType, signed: kflag, values };
      }
      case BTF_KIND.FWD:
        return { kind: 'FWD', id, name, fwdKind: kflag ? 'union' : 'struct' };
      case BTF_KIND.TYPEDEF:
        return { kind: 'TYPEDEF', id, name, type: checkRef(id, at, lastId, sizeOrType) };
      case BTF_KIND.VOLATILE:
        return { kind: 'VOLATILE', id, name, type: checkRef(id, at, lastId, sizeOrType) };
      case BTF_KIND.CONST:
        return { kind: 'CONST', id, name, type: checkRef(id, at, lastId, sizeOrType) };
      case BTF_KIND.RESTRICT:
        return { kind: 'RESTRICT', id, name, type: checkRef(id, at, lastId, sizeOrType) };
      case BTF_KIND.FUNC:
        return { kind: 'FUNC', id, name, type: checkRef(id, at, lastId, sizeOrType), linkage: linkage(vlen, id, at) };
      case BTF_KIND.FUNC_PROTO: {
        const params = new Array<{ name: string; type: number }>(vlen);
        for (let i = 0; i < vlen; i++) {
          const p = x + i * 8;
          params[i] = {
            name: this.#string(v.getUint32(p, le), id, off),
            type: checkRef(id, at, lastId, v.getUint32(p + 4, le)),
          };
        }
        return { kind: 'FUNC_PROTO', id, name, returnType: checkRef(id, at, lastId, sizeOrType), params };
      }
      case BTF_KIND.VAR:
        return {
          kind: 'VAR',
          id,
          name,
          type: checkRef(id, at, lastId, sizeOrType),
          linkage: linkage(v.getUint32(x, le), id, at),
        };
      case BTF_KIND.DATASEC: {
        const vars = new Array<{ type: number; offset: number; size: number }>(vlen);
        for (let i = 0; i < vlen; i++) {
          const s = x + i * 12;
          vars[i] = {
            type: checkRef(id, at, lastId, v.getUint32(s, le)),
            offset: v.getUint32(s + 4, le),
            size: v.getUint32(s + 8, le),
          };
        }
        return { kind: 'DATASEC', id, name, size: sizeOrType, vars };
      }
      case BTF_KIND.FLOAT:
        return { kind: 'FLOAT', id, name, size: sizeOrType };
      case BTF_KIND.DECL_TAG:
        return {
          kind: 'DECL_TAG',
          id,
          name,
          type: checkRef(id, at, lastId, sizeOrType),
          componentIdx: v.getInt32(x, le),
          attribute: kflag,
        };
      case BTF_KIND.TYPE_TAG:
        return { kind: 'TYPE_TAG', id, name, type: checkRef(id, at, lastId, sizeOrType), attribute: kflag };
      default:
        throw new BtfError('EBADBTF', `unknown kind ${kind}`, { typeId: id, offset: at });
    }
  }
}

/** How many name look-ups scan before the name index is built. */
const SCAN_LOOKUPS = 32;
const utf8 = new TextEncoder();

function indexName(names: Map<string, number | number[]>, name: string, id: number): void {
  const hit = names.get(name);
  if (hit === undefined) names.set(name, id);
  else if (typeof hit === 'number') names.set(name, [hit, id]);
  else hit.push(id);
}

function checkRef(id: number, at: number, lastId: number, target: number): number {
  if (target > lastId) {
    const message = `refers to type ${target}, beyond the last type ${lastId}`;
    throw new BtfError('EBADBTF', message, { typeId: id, offset: at });
  }
  return target;
}

function intEncoding(bits: number, id: number, at: number): BtfIntEncoding {
  switch (bits) {
    case 0:
      return 'NONE';
    case 1:
      return 'SIGNED';
    case 2:
      return 'CHAR';
    case 4:
      return 'BOOL';
    default:
      throw new BtfError('EBADBTF', `invalid INT encoding 0x${bits.toString(16)}`, { typeId: id, offset: at });
  }
}

function linkage(value: number, id: number, at: number): BtfLinkage {
  switch (value) {
    case 0:
      return 'static';
    case 1:
      return 'global';
    case 2:
      return 'extern';
    default:
      throw new BtfError('EBADBTF', `invalid linkage ${value}`, { typeId: id, offset: at });
  }
}

/** A deep copy of a type description (its member/param/value arrays are copied too). */
export function cloneType<T extends BtfType>(t: T): T {
  const c = { ...t };
  if ('members' in c) c.members = c.members.map((m) => ({ ...m }));
  if ('values' in c) (c as { values: unknown[] }).values = c.values.map((e) => ({ ...e }));
  if ('params' in c) c.params = c.params.map((p) => ({ ...p }));
  if ('vars' in c) c.vars = c.vars.map((s) => ({ ...s }));
  return c;
}
