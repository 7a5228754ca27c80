import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { isComposite, isQualifier, type BtfComposite, type BtfMember, type BtfType } from './types.js';

/** Longest chain of references followed before a type graph is declared cyclic. */
export const MAX_RESOLVE_DEPTH = 64;

export interface LayoutOptions {
  /** Size of a pointer in bytes; BTF does not record it. Default 8. */
  readonly pointerSize?: number | undefined;
}

/** Follows CONST, VOLATILE, RESTRICT and TYPE_TAG to the qualified type. */
export function skipQualifiers(btf: Btf, id: number): BtfType {
  let t = btf.type(id);
  for (let depth = 0; isQualifier(t); depth++) {
    if (depth >= MAX_RESOLVE_DEPTH) throw loop(id);
    t = btf.type(t.type);
  }
  return t;
}

/** Follows qualifiers and typedefs to the underlying type. */
export function resolveType(btf: Btf, id: number): BtfType {
  let t = btf.type(id);
  for (let depth = 0; isQualifier(t) || t.kind === 'TYPEDEF'; depth++) {
    if (depth >= MAX_RESOLVE_DEPTH) throw loop(id);
    t = btf.type(t.type);
  }
  return t;
}

/** `sizeof` in bytes. Throws `EINVAL` for types without a size (void, FWD, FUNC, FUNC_PROTO). */
export function sizeOf(btf: Btf, id: number, options: LayoutOptions = {}): number {
  return new BtfLayout(btf, options).sizeOf(id);
}

/**
 * Natural alignment in bytes as a C compiler for a 64-bit target would use.
 * A struct or union whose layout cannot come from natural alignment (it was
 * declared packed) has alignment 1.
 */
export function alignOf(btf: Btf, id: number, options: LayoutOptions = {}): number {
  return new BtfLayout(btf, options).alignOf(id);
}

/**
 * Size, alignment and packing of types, with alignments cached: use one
 * instance when asking about many types of the same BTF.
 */
export class BtfLayout {
  readonly btf: Btf;
  readonly pointerSize: number;
  readonly #aligns = new Map<number, number>();

  constructor(btf: Btf, options: LayoutOptions = {}) {
    this.btf = btf;
    this.pointerSize = options.pointerSize ?? 8;
  }

  sizeOf(id: number): number {
    const btf = this.btf;
    let multiplier = 1;
    let t = btf.type(id);
    for (let depth = 0; ; depth++) {
      if (depth >= MAX_RESOLVE_DEPTH) throw loop(id);
      switch (t.kind) {
        case 'INT':
        case 'ENUM':
        case 'ENUM64':
        case 'FLOAT':
        case 'STRUCT':
        case 'UNION':
        case 'DATASEC':
          return multiplier * t.size;
        case 'PTR':
          return multiplier * this.pointerSize;
        case 'ARRAY':
          multiplier *= t.nelems;
          t = btf.type(t.type);
          break;
        case 'TYPEDEF':
        case 'VOLATILE':
        case 'CONST':
        case 'RESTRICT':
        case 'TYPE_TAG':
        case 'VAR':
          t = btf.type(t.type);
          break;
        default:
          throw new BtfError('EINVAL', `${t.kind} has no size`, { typeId: t.id });
      }
    }
  }

  alignOf(id: number): number {
    return this.#align(id, 0);
  }

  /**
   * Whether a struct/union's recorded layout needs `__attribute__((packed))`:
   * its size is not a multiple of its members' alignment, a member sits at a
   * misaligned offset, or a bitfield straddles a storage unit of its type.
   */
  isPacked(t: BtfComposite): boolean {
    return this.#packed(t, 0);
  }

  #packed(t: BtfComposite, depth: number): boolean {
    let maxAlign = 1;
    for (const m of t.members) {
      const align = this.#align(m.type, depth + 1);
      maxAlign = Math.max(maxAlign, align);
      if (t.kind !== 'STRUCT') continue;
      if (m.bitfieldSize === 0) {
        if (m.bitOffset % (align * 8) !== 0) return true;
      } else {
        const unit = this.sizeOf(m.type) * 8;
        if (unit > 0 && Math.floor(m.bitOffset / unit) !== Math.floor((m.bitOffset + m.bitfieldSize - 1) / unit)) {
          return true;
        }
      }
    }
    return t.size % maxAlign !== 0;
  }

  #align(id: number, depth: number): number {
    if (depth >= MAX_RESOLVE_DEPTH) throw loop(id);
    const cached = this.#aligns.get(id);
    if (cached !== undefined) return cached;
    const t = resolveType(this.btf, id);
    let align: number;
    switch (t.kind) {
      case 'INT':
      case 'ENUM':
      case 'ENUM64':
      case 'FLOAT':
        align = Math.min(largestPowerOfTwoDividing(t.size), 16);
        break;
      case 'PTR':
        align = this.pointerSize;
        break;
      case 'ARRAY':
      case 'VAR':
        align = this.#align(t.type, depth + 1);
        break;
      case 'STRUCT':
      case 'UNION': {
        if (this.#packed(t, depth)) {
          align = 1;
          break;
        }
        align = 1;
        for (const m of t.members) align = Math.max(align, this.#align(m.type, depth + 1));
        break;
      }
      default:
        throw new BtfError('EINVAL', `${t.kind} has no alignment`, { typeId: t.id });
    }
    this.#aligns.set(id, align);
    return align;
  }
}

function largestPowerOfTwoDividing(n: number): number {
  if (n <= 0) return 1;
  let p = 1;
  while (n % (p * 2) === 0 && p < 1 << 20) p *= 2;
  return p;
}

/** A member found by name, possibly inside anonymous struct/union members. */
export interface FoundMember {
  readonly member: BtfMember;
  /** Offset from the start of the outer type, in bits. */
  readonly bitOffset: number;
  /** Member indices from the outer type down to the member (more than one through anonymous members). */
  readonly path: readonly number[];
}

/**
 * Looks up a struct/union member by name, descending into anonymous
 * struct/union members as C does. `id` may name a typedef or qualified type.
 */
export function findMember(btf: Btf, id: number, name: string): FoundMember | undefined {
  return findIn(btf, id, name, 0);
}

function findIn(btf: Btf, id: number, name: string, depth: number): FoundMember | undefined {
  if (depth >= MAX_RESOLVE_DEPTH) throw loop(id);
  const t = resolveType(btf, id);
  if (!isComposite(t)) throw new BtfError('EINVAL', `${t.kind} has no members`, { typeId: t.id });
  for (let i = 0; i < t.members.length; i++) {
    const m = t.members[i]!;
    if (m.name === name) return { member: m, bitOffset: m.bitOffset, path: [i] };
    if (m.name === '' && isComposite(resolveType(btf, m.type))) {
      const inner = findIn(btf, m.type, name, depth + 1);
      if (inner !== undefined) {
        return { member: inner.member, bitOffset: m.bitOffset + inner.bitOffset, path: [i, ...inner.path] };
      }
    }
  }
  return undefined;
}

/**
 * The name with a CO-RE flavour suffix removed: everything from the last
 * `___` that separates two non-underscore characters, so `task_struct___v2`
 * and `task_struct` both have the essential name `task_struct`.
 */
export function essentialName(name: string): string {
  for (let i = name.length - 4; i >= 1; i--) {
    if (
      name.charCodeAt(i) === 0x5f &&
      name.charCodeAt(i + 1) === 0x5f &&
      name.charCodeAt(i + 2) === 0x5f &&
      name.charCodeAt(i - 1) !== 0x5f &&
      name.charCodeAt(i + 3) !== 0x5f
    ) {
      return name.slice(0, i);
    }
  }
  return name;
}

/**
 * Types (base first) whose essential name equals `name`'s essential name,
 * optionally of one kind: the candidate set for matching a local CO-RE type.
 */
export function typesByEssentialName(btf: Btf, name: string, kind?: BtfType['kind']): BtfType[] {
  const essential = essentialName(name);
  const names = new Set<string>([essential]);
  for (let b: Btf | undefined = btf; b !== undefined; b = b.base) {
    for (const n of b.flavouredNames()) if (essentialName(n) === essential) names.add(n);
  }
  const out: BtfType[] = [];
  for (const n of names) out.push(...btf.typesByName(n, kind));
  return out.sort((a, b) => a.id - b.id);
}

/** Parses a CO-RE access string such as `0:1:2` into indices. */
export function parseAccessString(access: string): number[] {
  if (!/^\d+(:\d+)*$/.test(access)) throw new BtfError('EINVAL', `invalid access string '${access}'`);
  return access.split(':').map(Number);
}

/** One step of an access path: an array element or a struct/union member. */
export interface AccessStep {
  /** The (typedef- and qualifier-resolved) type being indexed. */
  readonly container: BtfType;
  readonly index: number;
  /** The member, when `container` is a struct or union. */
  readonly member: BtfMember | undefined;
  /** Type id of the element or member reached. */
  readonly type: number;
  /** Offset of the element or member from the root, in bits. */
  readonly bitOffset: number;
}

/**
 * Walks a CO-RE field access path from `rootId`: the first index is an
 * array index on the root (pointer arithmetic), the rest select struct/union
 * members by position or array elements. Returns every step; the last one
 * is the accessed field.
 */
export function walkAccessPath(
  btf: Btf,
  rootId: number,
  indices: readonly number[],
  options: LayoutOptions = {},
): AccessStep[] {
  if (indices.length === 0) throw new BtfError('EINVAL', 'empty access path', { typeId: rootId });
  const steps: AccessStep[] = [];
  const root = resolveType(btf, rootId);
  let bitOffset = indices[0]! * sizeOf(btf, rootId, options) * 8;
  steps.push({ container: root, index: indices[0]!, member: undefined, type: rootId, bitOffset });
  let current = rootId;
  for (let i = 1; i < indices.length; i++) {
    const index = indices[i]!;
    const t = resolveType(btf, current);
    if (isComposite(t)) {
      const m = t.members[index];
      if (m === undefined) {
        const message = `member index ${index} out of range (${t.members.length} members)`;
        throw new BtfError('EINVAL', message, { typeId: t.id });
      }
      bitOffset += m.bitOffset;
      steps.push({ container: t, index, member: m, type: m.type, bitOffset });
      current = m.type;
    } else if (t.kind === 'ARRAY') {
      if (index >= t.nelems && t.nelems !== 0) {
        throw new BtfError('EINVAL', `array index ${index} out of range (${t.nelems} elements)`, { typeId: t.id });
      }
      bitOffset += index * sizeOf(btf, t.type, options) * 8;
      steps.push({ container: t, index, member: undefined, type: t.type, bitOffset });
      current = t.type;
    } else {
      throw new BtfError('EINVAL', `cannot index into ${t.kind}`, { typeId: t.id });
    }
  }
  return steps;
}

function loop(id: number): BtfError {
  return new BtfError('ELOOP', `type reference chain deeper than ${MAX_RESOLVE_DEPTH}`, { typeId: id });
}
