import { Btf } from './btf.js';
import type { BtfType, BtfTypeInit } from './types.js';

/**
 * BTF features of a target kernel. A missing or `true` entry means the kernel
 * supports it; `false` makes {@link sanitizeBtf} rewrite the affected types.
 */
export interface BtfFeatures {
  /** FUNC with global (and extern) linkage; without it every FUNC becomes static (5.6). */
  readonly funcGlobal?: boolean;
  /** VAR and DATASEC kinds (5.2). */
  readonly datasec?: boolean;
  /** FLOAT kind (5.13). */
  readonly float?: boolean;
  /** DECL_TAG kind (5.16). */
  readonly declTag?: boolean;
  /** TYPE_TAG kind (5.17). */
  readonly typeTag?: boolean;
  /** ENUM64 kind and signed ENUM (6.0). */
  readonly enum64?: boolean;
}

/** Name of the INT appended to stand in for ENUM64 enumerators. */
export const ENUM64_PLACEHOLDER = 'enum64_placeholder';

/**
 * A copy of `btf` in which every kind the kernel lacks is replaced by one it
 * has, keeping type ids (and so every reference) stable:
 *
 * - VAR → INT of one byte (the name is kept)
 * - DATASEC → STRUCT whose members are its variables at their offsets,
 *   named after them; the section name gets non-identifier characters replaced
 * - FLOAT → anonymous STRUCT of the same size
 * - DECL_TAG → anonymous one-byte INT
 * - TYPE_TAG → CONST of the tagged type
 * - ENUM64 → UNION of the same size with one member per enumerator, each of
 *   an appended one-byte INT; signed ENUMs lose their signedness
 * - FUNC with global or extern linkage → static
 *
 * The string section is shared, so existing string offsets stay valid.
 */
export function sanitizeBtf(btf: Btf, features: BtfFeatures): Btf {
  const has = (f: keyof BtfFeatures): boolean => features[f] !== false;
  const out = new Btf({ littleEndian: btf.littleEndian, base: btf.base, strings: btf.strings });
  const enum64Ids: number[] = [];
  for (const t of btf.types()) {
    const replaced = replacement(btf, t, has);
    if (t.kind === 'ENUM64' && !has('enum64')) enum64Ids.push(t.id);
    out.add(replaced);
  }
  if (enum64Ids.length > 0) {
    const placeholder = out.add({
      kind: 'INT',
      name: ENUM64_PLACEHOLDER,
      size: 1,
      encoding: 'NONE',
      bitsOffset: 0,
      nrBits: 8,
    });
    for (const id of enum64Ids) {
      const u = out.type(id);
      if (u.kind === 'UNION') for (const m of u.members) m.type = placeholder;
    }
  }
  return out;
}

function replacement(btf: Btf, t: BtfType, has: (f: keyof BtfFeatures) => boolean): BtfTypeInit {
  const oneByteInt = (name: string): BtfTypeInit => ({
    kind: 'INT',
    name,
    size: 1,
    encoding: 'NONE',
    bitsOffset: 0,
    nrBits: 8,
  });
  switch (t.kind) {
    case 'VAR':
      return has('datasec') ? t : oneByteInt(t.name);
    case 'DATASEC':
      if (has('datasec')) return t;
      return {
        kind: 'STRUCT',
        name: t.name.replace(/[^A-Za-z0-9_]/g, '_'),
        size: t.size,
        members: t.vars.map((s) => ({
          name: btf.type(s.type).name,
          type: s.type,
          bitOffset: s.offset * 8,
          bitfieldSize: 0,
        })),
      };
    case 'FLOAT':
      return has('float') ? t : { kind: 'STRUCT', name: '', size: t.size, members: [] };
    case 'DECL_TAG':
      return has('declTag') ? t : oneByteInt('');
    case 'TYPE_TAG':
      return has('typeTag') ? t : { kind: 'CONST', name: '', type: t.type };
    case 'ENUM64':
      if (has('enum64')) return t;
      return {
        kind: 'UNION',
        name: t.name,
        size: t.size,
        members: t.values.map((e) => ({ name: e.name, type: 0, bitOffset: 0, bitfieldSize: 0 })),
      };
    case 'ENUM':
      if (has('enum64') || !t.signed) return t;
      return { ...t, signed: false, values: t.values.map((e) => ({ name: e.name, value: e.value >>> 0 })) };
    case 'FUNC':
      return has('funcGlobal') || t.linkage === 'static' ? t : { ...t, linkage: 'static' };
    default:
      return t as BtfTypeInit;
  }
}
