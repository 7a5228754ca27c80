// When a local type and a target type are the "same" for CO-RE: names without flavours, kinds
// that correspond, and the recursive rules of field compatibility, type compatibility and
// type matching as libbpf documents them.
import type { Btf } from '../btf/btf.js';
import { essentialName } from '../btf/query.js';
import type { BtfType } from '../btf/types.js';

const MAX_DEPTH = 32;

/** Follows CONST, VOLATILE, RESTRICT, TYPE_TAG and TYPEDEF to the underlying type. */
export function skipModsAndTypedefs(btf: Btf, id: number): BtfType {
  let t = btf.type(id);
  for (let i = 0; i < MAX_DEPTH; i++) {
    switch (t.kind) {
      case 'CONST':
      case 'VOLATILE':
      case 'RESTRICT':
      case 'TYPE_TAG':
      case 'TYPEDEF':
        t = btf.type(t.type);
        break;
      default:
        return t;
    }
  }
  return t;
}

export function isComposite(t: BtfType): t is Extract<BtfType, { kind: 'STRUCT' | 'UNION' }> {
  return t.kind === 'STRUCT' || t.kind === 'UNION';
}

export function isAnyEnum(t: BtfType): t is Extract<BtfType, { kind: 'ENUM' | 'ENUM64' }> {
  return t.kind === 'ENUM' || t.kind === 'ENUM64';
}

/** Same kind, where ENUM and ENUM64 count as one. */
export function kindsCompatible(a: BtfType, b: BtfType): boolean {
  return a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));
}

/** Both anonymous, or the same name once flavours (`___suffix`) are dropped. */
export function namesMatch(local: string, target: string): boolean {
  if (target === '') return local === '';
  return essentialName(local) === essentialName(target);
}

function intOffset(t: BtfType): number {
  return t.kind === 'INT' ? t.bitsOffset : 0;
}

/**
 * Whether a local field's type can be read as the target field's type: composites always,
 * integers of any size (not legacy bitfield-like ones), pointers and floats, enums and
 * forward declarations of the same essential name (or anonymous), arrays of compatible elements.
 */
export function fieldsCompatible(lb: Btf, lid: number, tb: Btf, tid: number): boolean {
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const l = skipModsAndTypedefs(lb, lid);
    const t = skipModsAndTypedefs(tb, tid);
    if (isComposite(l) && isComposite(t)) return true;
    if (!kindsCompatible(l, t)) return false;
    switch (l.kind) {
      case 'PTR':
      case 'FLOAT':
        return true;
      case 'FWD':
      case 'ENUM':
      case 'ENUM64': {
        const ln = essentialName(l.name);
        const tn = essentialName(t.name);
        return ln === '' || tn === '' || ln === tn;
      }
      case 'INT':
        return intOffset(l) === 0 && intOffset(t) === 0;
      case 'ARRAY':
        lid = l.type;
        tid = (t as Extract<BtfType, { kind: 'ARRAY' }>).type;
        continue;
      default:
        return false;
    }
  }
  return false;
}

/**
 * Whether a local type and a same-named target type are compatible for the type-based
 * relocations (exists, size, target id): kinds correspond, integers are not bitfield-like,
 * pointers and arrays have compatible targets and function prototypes compatible parameters.
 */
export function typesCompatible(lb: Btf, lid: number, tb: Btf, tid: number, depth = 0): boolean {
  if (!kindsCompatible(lb.type(lid), tb.type(tid))) return false;
  for (; depth < MAX_DEPTH; depth++) {
    const l = skipModsAndTypedefs(lb, lid);
    const t = skipModsAndTypedefs(tb, tid);
    if (!kindsCompatible(l, t)) return false;
    switch (l.kind) {
      case 'VOID':
      case 'STRUCT':
      case 'UNION':
      case 'ENUM':
      case 'ENUM64':
      case 'FWD':
        return true;
      case 'INT':
        return intOffset(l) === 0 && intOffset(t) === 0;
      case 'PTR':
        lid = l.type;
        tid = (t as Extract<BtfType, { kind: 'PTR' }>).type;
        continue;
      case 'ARRAY':
        lid = l.type;
        tid = (t as Extract<BtfType, { kind: 'ARRAY' }>).type;
        continue;
      case 'FUNC_PROTO': {
        const tp = t as Extract<BtfType, { kind: 'FUNC_PROTO' }>;
        if (l.params.length !== tp.params.length) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (!typesCompatible(lb, l.params[i]!.type, tb, tp.params[i]!.type, depth + 1)) return false;
        }
        lid = l.returnType;
        tid = tp.returnType;
        continue;
      }
      default:
        return false;
    }
  }
  return false;
}

/**
 * The stricter TYPE_MATCHES relation: names match (flavours aside), integers have the same size
 * and signedness, arrays the same length, structs and unions have every local member in the
 * target with a matching type (behind a pointer only the kind and name count), enums have every
 * local enumerator in the target, function prototypes match parameter by parameter.
 */
export function typesMatch(lb: Btf, lid: number, tb: Btf, tid: number, behindPtr = false, level = MAX_DEPTH): boolean {
  for (; level > 0; level--) {
    const l = skipModsAndTypedefs(lb, lid);
    const t = skipModsAndTypedefs(tb, tid);
    if (!namesMatch(l.name, t.name)) return false;
    switch (l.kind) {
      case 'VOID':
        return t.kind === 'VOID';
      case 'FWD': {
        const localUnion = l.fwdKind === 'union';
        if (t.kind === 'FWD') return localUnion === (t.fwdKind === 'union');
        if (!behindPtr) return false;
        return (t.kind === 'STRUCT' && !localUnion) || (t.kind === 'UNION' && localUnion);
      }
      case 'ENUM':
      case 'ENUM64': {
        if (!isAnyEnum(t)) return false;
        if (l.size !== t.size) return false;
        for (const e of l.values) {
          if (!t.values.some((x: { name: string }) => namesMatch(e.name, x.name))) return false;
        }
        return true;
      }
      case 'STRUCT':
      case 'UNION': {
        if (behindPtr) {
          if (l.kind === t.kind) return true;
          if (t.kind !== 'FWD') return false;
          return (l.kind === 'UNION') === (t.fwdKind === 'union');
        }
        if (l.kind !== t.kind) return false;
        const tc = t as Extract<BtfType, { kind: 'STRUCT' | 'UNION' }>;
        if (l.members.length > tc.members.length) return false;
        for (const m of l.members) {
          let found = false;
          for (const x of tc.members) {
            if (!namesMatch(m.name, x.name)) continue;
            if (typesMatch(lb, m.type, tb, x.type, behindPtr, level - 1)) {
              found = true;
              break;
            }
          }
          if (!found) return false;
        }
        return true;
      }
      case 'INT': {
        if (t.kind !== 'INT') return false;
        return l.size === t.size && (l.encoding === 'SIGNED') === (t.encoding === 'SIGNED');
      }
      case 'PTR':
        if (t.kind !== 'PTR') return false;
        behindPtr = true;
        lid = l.type;
        tid = t.type;
        continue;
      case 'ARRAY':
        if (t.kind !== 'ARRAY' || l.nelems !== t.nelems) return false;
        lid = l.type;
        tid = t.type;
        continue;
      case 'FUNC_PROTO': {
        if (t.kind !== 'FUNC_PROTO' || l.params.length !== t.params.length) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (!typesMatch(lb, l.params[i]!.type, tb, t.params[i]!.type, behindPtr, level - 1)) return false;
        }
        lid = l.returnType;
        tid = t.returnType;
        continue;
      }
      default:
        return false;
    }
  }
  return false;
}
