// CO-RE access specifications: what a relocation's access string means in the local BTF, and
// the same access found in a target type.
import type { Btf } from '../btf/btf.js';
import { essentialName, sizeOf } from '../btf/query.js';
import type { BtfType } from '../btf/types.js';
import { fieldsCompatible, isAnyEnum, isComposite, skipModsAndTypedefs } from './compat.js';
import { CoreReloKind } from '../btf/ext.js';
import { TsbpfError } from '../errors.js';

/** The relocation kinds that are about fields, about whole types, about enumerators. */
export function isFieldKind(kind: number): boolean {
  return kind <= CoreReloKind.FIELD_RSHIFT_U64;
}

export function isTypeKind(kind: number): boolean {
  return (
    kind === CoreReloKind.TYPE_ID_LOCAL ||
    kind === CoreReloKind.TYPE_ID_TARGET ||
    kind === CoreReloKind.TYPE_EXISTS ||
    kind === CoreReloKind.TYPE_SIZE ||
    kind === CoreReloKind.TYPE_MATCHES
  );
}

export function isEnumKind(kind: number): boolean {
  return kind === CoreReloKind.ENUMVAL_EXISTS || kind === CoreReloKind.ENUMVAL_VALUE;
}

/** One step of an access: a named member of `typeId` (a struct/union), or an index. */
export interface Accessor {
  /** The struct/union holding a named member; the element type for an array index. */
  readonly typeId: number;
  readonly index: number;
  /** The member's (or enumerator's) name; undefined for an array index. */
  readonly name?: string;
}

export interface AccessSpec {
  readonly btf: Btf;
  /** The relocation's type as given (for the local spec) or the candidate (for a target). */
  readonly rootId: number;
  readonly accessors: Accessor[];
  /** Every index walked, including anonymous members. */
  readonly raw: number[];
  bitOffset: number;
}

/** The deepest nesting a spec may have, as in libbpf. */
export const MAX_SPEC_LEN = 64;

/** A relocation whose access string does not fit its local type. */
export class SpecError extends TsbpfError {
  constructor(message: string) {
    super('EINVAL', message);
  }
}

/** Parses an access string such as `0:1:2` against the local root type. */
export function parseLocalSpec(btf: Btf, rootId: number, access: string, kind: number): AccessSpec {
  if (!/^\d+(:\d+)*$/.test(access)) throw new SpecError(`invalid access string '${access}'`);
  const raw = access.split(':').map(Number);
  if (raw.length > MAX_SPEC_LEN) throw new SpecError(`access string '${access}' is too deep`);
  const spec: AccessSpec = { btf, rootId, accessors: [], raw, bitOffset: 0 };
  if (isTypeKind(kind)) {
    if (access !== '0') throw new SpecError(`type relocation with access string '${access}' (expected '0')`);
    return spec;
  }
  const root = skipModsAndTypedefs(btf, rootId);
  const first = raw[0]!;
  if (isEnumKind(kind)) {
    if (!isAnyEnum(root) || raw.length > 1 || first >= root.values.length) {
      throw new SpecError(`enum relocation on ${root.kind} with access string '${access}'`);
    }
    spec.accessors.push({ typeId: root.id, index: first, name: root.values[first]!.name });
    return spec;
  }
  if (!isFieldKind(kind)) throw new SpecError(`unknown relocation kind ${kind}`);
  let id = root.id;
  spec.accessors.push({ typeId: id, index: first });
  spec.bitOffset = first * sizeOf(btf, id) * 8;
  for (let i = 1; i < raw.length; i++) {
    const t = skipModsAndTypedefs(btf, id);
    id = t.id;
    const idx = raw[i]!;
    if (isComposite(t)) {
      const m = t.members[idx];
      if (m === undefined) throw new SpecError(`member index ${idx} out of range for ${describeType(t)}`);
      spec.bitOffset += m.bitOffset;
      if (m.name !== '') spec.accessors.push({ typeId: id, index: idx, name: m.name });
      id = m.type;
    } else if (t.kind === 'ARRAY') {
      const elem = skipModsAndTypedefs(btf, t.type);
      const flex = isFlexArray(btf, spec.accessors[spec.accessors.length - 1], t.nelems);
      if (!flex && idx >= t.nelems) throw new SpecError(`array index ${idx} out of range (${t.nelems} elements)`);
      spec.accessors.push({ typeId: elem.id, index: idx });
      spec.bitOffset += idx * sizeOf(btf, elem.id) * 8;
      id = elem.id;
    } else {
      throw new SpecError(`access string '${access}' indexes into ${describeType(t)}`);
    }
  }
  return spec;
}

/** An array of no elements that is the last member of the struct holding it. */
function isFlexArray(btf: Btf, prev: Accessor | undefined, nelems: number): boolean {
  if (nelems > 0 || prev === undefined || prev.name === undefined) return false;
  const t = btf.type(prev.typeId);
  return isComposite(t) && prev.index === t.members.length - 1;
}

/**
 * The local field access found in the target type `targetId`: named members are looked up by
 * name (through anonymous members), array indices must be in range. Undefined when the target
 * does not have the field or its type is not compatible.
 */
export function matchFieldSpec(local: AccessSpec, tb: Btf, targetId: number): AccessSpec | undefined {
  const spec: AccessSpec = { btf: tb, rootId: targetId, accessors: [], raw: [], bitOffset: 0 };
  let id = targetId;
  for (let i = 0; i < local.accessors.length; i++) {
    const acc = local.accessors[i]!;
    const t = skipModsAndTypedefs(tb, id);
    id = t.id;
    if (acc.name !== undefined) {
      const next = matchMember(local, acc, tb, id, spec, 0);
      if (next === undefined) return undefined;
      id = next;
      continue;
    }
    if (i > 0) {
      if (t.kind !== 'ARRAY') return undefined;
      const flex = isFlexArray(tb, spec.accessors[spec.accessors.length - 1], t.nelems);
      if (!flex && acc.index >= t.nelems) return undefined;
      id = skipModsAndTypedefs(tb, t.type).id;
    }
    if (spec.raw.length >= MAX_SPEC_LEN) throw new SpecError('target access is too deep');
    spec.accessors.push({ typeId: id, index: acc.index });
    spec.raw.push(acc.index);
    spec.bitOffset += acc.index * sizeOf(tb, id) * 8;
  }
  return spec;
}

function matchMember(local: AccessSpec, acc: Accessor, tb: Btf, targetId: number, spec: AccessSpec, depth: number): number | undefined {
  const lt = local.btf.type(acc.typeId);
  if (!isComposite(lt)) return undefined;
  const lm = lt.members[acc.index]!;
  const t = skipModsAndTypedefs(tb, targetId);
  if (!isComposite(t)) return undefined;
  if (depth > MAX_SPEC_LEN) throw new SpecError('target access is too deep');
  for (let i = 0; i < t.members.length; i++) {
    const m = t.members[i]!;
    if (spec.raw.length >= MAX_SPEC_LEN) throw new SpecError('target access is too deep');
    spec.bitOffset += m.bitOffset;
    spec.raw.push(i);
    if (m.name === '') {
      const found = matchMember(local, acc, tb, m.type, spec, depth + 1);
      if (found !== undefined) return found;
    } else if (m.name === lm.name) {
      if (!fieldsCompatible(local.btf, lm.type, tb, m.type)) return undefined;
      spec.accessors.push({ typeId: t.id, index: i, name: m.name });
      return m.type;
    }
    spec.bitOffset -= m.bitOffset;
    spec.raw.pop();
  }
  return undefined;
}

/** The local enumerator found by (essential) name in the target enum `targetId`. */
export function matchEnumSpec(local: AccessSpec, tb: Btf, targetId: number): AccessSpec | undefined {
  const t = skipModsAndTypedefs(tb, targetId);
  if (!isAnyEnum(t)) return undefined;
  const want = essentialName(local.accessors[0]!.name ?? '');
  for (let i = 0; i < t.values.length; i++) {
    const v = t.values[i]!;
    if (essentialName(v.name) === want) {
      return { btf: tb, rootId: targetId, accessors: [{ typeId: t.id, index: i, name: v.name }], raw: [i], bitOffset: 0 };
    }
  }
  return undefined;
}

/** `struct task_struct`, `enum bpf_map_type`, `typedef pid_t` ... */
export function describeType(t: BtfType): string {
  switch (t.kind) {
    case 'STRUCT':
      return `struct ${t.name || '(anon)'}`;
    case 'UNION':
      return `union ${t.name || '(anon)'}`;
    case 'ENUM':
    case 'ENUM64':
      return `enum ${t.name || '(anon)'}`;
    case 'TYPEDEF':
      return `typedef ${t.name}`;
    case 'FWD':
      return `${t.fwdKind} ${t.name}`;
    case 'VOID':
      return 'void';
    default:
      return t.name ? `${t.kind.toLowerCase()} ${t.name}` : t.kind.toLowerCase();
  }
}

/** A spec as C-like text: `struct task_struct.real_parent->tgid` is shown as `struct task_struct.real_parent.tgid`. */
export function describeSpec(spec: AccessSpec, kind: number): string {
  const root = spec.btf.type(spec.rootId);
  const base = describeType(root);
  if (isTypeKind(kind)) return base;
  if (isEnumKind(kind)) return `${base}::${spec.accessors[0]?.name ?? '?'}`;
  let s = base;
  const first = spec.accessors[0];
  if (first !== undefined && first.index !== 0) s += `[${first.index}]`;
  for (let i = 1; i < spec.accessors.length; i++) {
    const a = spec.accessors[i]!;
    s += a.name !== undefined ? `.${a.name}` : `[${a.index}]`;
  }
  return s;
}
