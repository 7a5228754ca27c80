// BTF types as TypeScript value layouts: the model both the type and the codec emitters read.
import type { Btf } from '../btf/btf.js';
import { resolveType, skipQualifiers } from '../btf/query.js';
import type { BtfComposite, BtfEnum, BtfEnum64, BtfType } from '../btf/types.js';
import { isComposite } from '../btf/types.js';
import { GenError } from './errors.js';
import { memberNames } from './names.js';

/** Arrays of at most this many elements are typed as tuples; longer ones as `T[]`. */
export const MAX_TUPLE = 16;

export type Layout = IntLayout | FloatLayout | EnumLayout | CharsLayout | BytesLayout | ArrayLayout | NamedLayout | InlineLayout;

/** An integer; `bigEndian` for `__be16`/`__be32`/`__be64`, which hold network byte order. */
export interface IntLayout {
  readonly kind: 'int';
  readonly size: number;
  readonly signed: boolean;
  readonly bool: boolean;
  readonly bigEndian: boolean;
}

export interface FloatLayout {
  readonly kind: 'float';
  readonly size: 4 | 8;
}

export interface EnumLayout {
  readonly kind: 'enum';
  readonly decl: EnumDecl;
}

/** `char[n]`: a string up to the first NUL. */
export interface CharsLayout {
  readonly kind: 'chars';
  readonly size: number;
}

/** Unsigned byte arrays and anything without a JavaScript form (`long double`): a Uint8Array. */
export interface BytesLayout {
  readonly kind: 'bytes';
  readonly size: number;
}

export interface ArrayLayout {
  readonly kind: 'array';
  readonly element: Layout;
  readonly count: number;
  readonly stride: number;
}

/** A struct or union with a name: an interface and codec functions of its own. */
export interface NamedLayout {
  readonly kind: 'named';
  readonly decl: RecordDecl;
}

/** An anonymous struct or union used as a member's type, written inline. */
export interface InlineLayout {
  readonly kind: 'inline';
  readonly body: RecordBody;
}

export interface RecordBody {
  readonly size: number;
  readonly items: readonly RecordItem[];
}

export type RecordItem = FieldItem | UnionItem;

export interface FieldItem {
  readonly kind: 'field';
  /** The TypeScript property name. */
  readonly name: string;
  readonly cName: string;
  /** Byte offset from the start of the record; for bitfields, of the containing byte. */
  readonly offset: number;
  readonly layout: Layout;
  readonly bitfield?: Bitfield;
}

/** Bit position of a bitfield, in BTF's numbering, from the start of the record. */
export interface Bitfield {
  readonly bitOffset: number;
  readonly bits: number;
  readonly signed: boolean;
  readonly bool: boolean;
}

/**
 * Overlapping members (a union, or an anonymous union inside a struct): every alternative's
 * fields are read; on write the first alternative with a field present is written and the rest
 * of the union's bytes are zero.
 */
export interface UnionItem {
  readonly kind: 'union';
  readonly offset: number;
  readonly size: number;
  readonly alternatives: readonly (readonly RecordItem[])[];
}

export interface RecordDecl {
  readonly kind: 'record';
  readonly id: number;
  /** `struct event`, `union value`, or the typedef that names an anonymous struct. */
  readonly cName: string;
  /** Base for the TypeScript name (PascalCase is applied when names are assigned). */
  readonly baseName: string;
  /** Assigned once all declarations are known. */
  name: string;
  body: RecordBody;
}

export interface EnumMember {
  readonly name: string;
  readonly value: number | bigint;
}

export interface EnumDecl {
  readonly kind: 'enum';
  readonly id: number;
  readonly cName: string;
  readonly baseName: string;
  name: string;
  readonly size: number;
  readonly signed: boolean;
  readonly is64: boolean;
  readonly members: readonly EnumMember[];
}

export type Decl = RecordDecl | EnumDecl;

const BIG_ENDIAN_TYPEDEFS = new Set(['__be16', '__be32', '__be64']);

/**
 * Builds layouts from one BTF, collecting the named declarations they use. A named struct,
 * union or enum becomes one declaration however often it is reached.
 */
export class LayoutBuilder {
  readonly #btf: Btf;
  readonly #decls = new Map<number, Decl>();
  readonly #inProgress = new Set<number>();

  constructor(btf: Btf) {
    this.#btf = btf;
  }

  /** Declarations found so far, in type-id order. */
  decls(): Decl[] {
    return [...this.#decls.values()].sort((a, b) => a.id - b.id);
  }

  /**
   * The layout of a type. `contextName` names an anonymous struct or union reached at the top
   * (a map's key, a variable), which would otherwise have no name for its interface.
   */
  layoutOf(id: number, contextName?: string): Layout {
    return this.#layout(id, contextName, []);
  }

  #layout(id: number, contextName: string | undefined, path: string[]): Layout {
    const btf = this.#btf;
    let typedefName: string | undefined;
    let bigEndian = false;
    let t: BtfType = btf.type(id);
    for (let depth = 0; ; depth++) {
      if (depth > 64) throw new GenError(`type [${id}]: reference chain too deep`);
      if (t.kind === 'TYPEDEF') {
        typedefName ??= t.name;
        if (BIG_ENDIAN_TYPEDEFS.has(t.name)) bigEndian = true;
        t = btf.type(t.type);
      } else if (t.kind === 'CONST' || t.kind === 'VOLATILE' || t.kind === 'RESTRICT' || t.kind === 'TYPE_TAG') {
        t = btf.type(t.type);
      } else {
        break;
      }
    }
    const where = (): string => (path.length > 0 ? ` (at ${path.join('.')})` : '');
    switch (t.kind) {
      case 'INT':
        if (t.nrBits !== t.size * 8 && t.encoding !== 'BOOL') {
          throw new GenError(`type [${t.id}] ${t.name}: integers narrower than their size are not supported${where()}`);
        }
        if (![1, 2, 4, 8, 16].includes(t.size)) throw new GenError(`type [${t.id}] ${t.name}: unsupported integer size ${t.size}${where()}`);
        return { kind: 'int', size: t.size, signed: t.encoding === 'SIGNED', bool: t.encoding === 'BOOL', bigEndian: bigEndian && t.size > 1 };
      case 'PTR':
        return { kind: 'int', size: 8, signed: false, bool: false, bigEndian: false };
      case 'FLOAT':
        return t.size === 4 || t.size === 8 ? { kind: 'float', size: t.size } : { kind: 'bytes', size: t.size };
      case 'ENUM':
      case 'ENUM64':
        if (t.name === '') {
          return { kind: 'int', size: t.size, signed: t.signed, bool: false, bigEndian: false };
        }
        return { kind: 'enum', decl: this.#enumDecl(t) };
      case 'ARRAY':
        return this.#array(t.type, t.nelems, path);
      case 'STRUCT':
      case 'UNION': {
        const name = t.name !== '' ? t.name : (typedefName ?? contextName);
        if (name === undefined) return { kind: 'inline', body: this.#body(t, path) };
        const cName = t.name !== '' ? `${t.kind === 'STRUCT' ? 'struct' : 'union'} ${t.name}` : name;
        return { kind: 'named', decl: this.#recordDecl(t, name, cName) };
      }
      case 'FWD':
        throw new GenError(`${t.fwdKind} ${t.name} is only declared, never defined, so its layout is unknown${where()}`);
      case 'VOID':
        throw new GenError(`void has no layout${where()}`);
      default:
        throw new GenError(`type [${t.id}] ${t.kind} ${t.name} cannot be a value${where()}`);
    }
  }

  #array(elementId: number, count: number, path: string[]): Layout {
    const btf = this.#btf;
    const el = resolveType(btf, elementId);
    if (el.kind === 'INT' && el.size === 1 && el.encoding !== 'BOOL') {
      if (el.name === 'char' || el.encoding === 'CHAR') return count > 0 ? { kind: 'chars', size: count } : { kind: 'bytes', size: 0 };
      if (el.encoding === 'NONE') return { kind: 'bytes', size: count };
    }
    const element = this.#layout(elementId, undefined, path);
    return { kind: 'array', element, count, stride: layoutSize(element) };
  }

  #enumDecl(t: BtfEnum | BtfEnum64): EnumDecl {
    const existing = this.#decls.get(t.id);
    if (existing !== undefined) return existing as EnumDecl;
    const decl: EnumDecl = {
      kind: 'enum',
      id: t.id,
      cName: `enum ${t.name}`,
      baseName: t.name,
      name: '',
      size: t.size,
      signed: t.signed,
      is64: t.kind === 'ENUM64' || t.size === 8,
      members: t.values.map((v) => ({ name: v.name, value: t.kind === 'ENUM64' || t.size !== 8 ? v.value : BigInt(v.value) })),
    };
    this.#decls.set(t.id, decl);
    return decl;
  }

  #recordDecl(t: BtfComposite, baseName: string, cName: string): RecordDecl {
    const existing = this.#decls.get(t.id);
    if (existing !== undefined) return existing as RecordDecl;
    if (this.#inProgress.has(t.id)) throw new GenError(`${cName} contains itself`);
    const decl: RecordDecl = { kind: 'record', id: t.id, cName, baseName, name: '', body: { size: t.size, items: [] } };
    this.#decls.set(t.id, decl);
    this.#inProgress.add(t.id);
    try {
      decl.body = this.#body(t, [cName]);
    } finally {
      this.#inProgress.delete(t.id);
    }
    return decl;
  }

  #body(t: BtfComposite, path: string[]): RecordBody {
    const items = this.#items(t, 0, path);
    // C names are unique in a struct even across anonymous members, but TypeScript spellings
    // (keywords get `_`) can collide; they are settled over all fields at once.
    const fields: FieldItem[][] = [];
    collectFields(items, fields);
    const flat = fields.flat();
    const names = memberNames(flat.map((f) => f.cName));
    const renamed = new Map<FieldItem, string>(flat.map((f, i) => [f, names[i]!]));
    return { size: t.size, items: rename(items, renamed) };
  }

  /** Items of a struct or union that starts `baseBits` into the outermost record. */
  #items(t: BtfComposite, baseBits: number, path: string[]): RecordItem[] {
    if (t.kind === 'UNION') {
      const alternatives: RecordItem[][] = [];
      for (const m of t.members) alternatives.push(this.#memberItems(m, baseBits, path));
      const nonEmpty = alternatives.filter((a) => a.length > 0);
      return nonEmpty.length === 0 ? [] : [{ kind: 'union', offset: baseBits / 8, size: t.size, alternatives: nonEmpty }];
    }
    const out: RecordItem[] = [];
    for (const m of t.members) out.push(...this.#memberItems(m, baseBits, path));
    return out;
  }

  #memberItems(m: { name: string; type: number; bitOffset: number; bitfieldSize: number }, baseBits: number, path: string[]): RecordItem[] {
    const btf = this.#btf;
    const bits = baseBits + m.bitOffset;
    if (m.name === '') {
      const inner = resolveType(btf, m.type);
      if (isComposite(inner)) {
        if (bits % 8 !== 0) throw new GenError(`anonymous member at bit ${bits} is not byte-aligned (at ${path.join('.')})`);
        return this.#items(inner, bits, path);
      }
      // An unnamed bitfield only pads.
      return [];
    }
    const here = [...path, m.name];
    const resolved = skipQualifiers(btf, m.type);
    if (m.bitfieldSize > 0 || bits % 8 !== 0) {
      const base = resolveType(btf, m.type);
      const width = m.bitfieldSize > 0 ? m.bitfieldSize : base.kind === 'INT' ? base.nrBits : 0;
      if (!(base.kind === 'INT' || base.kind === 'ENUM' || base.kind === 'ENUM64') || width === 0) {
        throw new GenError(`member ${here.join('.')} is not byte-aligned`);
      }
      const signed = base.kind === 'INT' ? base.encoding === 'SIGNED' : base.signed;
      const bool = base.kind === 'INT' && base.encoding === 'BOOL';
      const layout: IntLayout = { kind: 'int', size: width > 32 ? 8 : 4, signed, bool, bigEndian: false };
      return [{ kind: 'field', name: m.name, cName: m.name, offset: Math.floor(bits / 8), layout, bitfield: { bitOffset: bits, bits: width, signed, bool } }];
    }
    if (resolved.kind === 'ARRAY' && resolved.nelems === 0) return [];
    const layout = this.#layout(m.type, undefined, here);
    return [{ kind: 'field', name: m.name, cName: m.name, offset: bits / 8, layout }];
  }
}

function collectFields(items: readonly RecordItem[], out: FieldItem[][]): void {
  const mine: FieldItem[] = [];
  out.push(mine);
  for (const it of items) {
    if (it.kind === 'field') mine.push(it);
    else for (const alt of it.alternatives) collectFields(alt, out);
  }
}

function rename(items: readonly RecordItem[], names: Map<FieldItem, string>): RecordItem[] {
  return items.map((it) =>
    it.kind === 'field' ? { ...it, name: names.get(it)! } : { ...it, alternatives: it.alternatives.map((a) => rename(a, names)) },
  );
}

/** The size in bytes of a value with this layout. */
export function layoutSize(l: Layout): number {
  switch (l.kind) {
    case 'int':
    case 'float':
    case 'chars':
    case 'bytes':
      return l.size;
    case 'enum':
      return l.decl.size;
    case 'array':
      return l.count * l.stride;
    case 'named':
      return l.decl.body.size;
    case 'inline':
      return l.body.size;
  }
}
