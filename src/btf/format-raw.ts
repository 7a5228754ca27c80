import type { Btf } from './btf.js';
import type { BtfType } from './types.js';

/** One type as bpftool's `format raw` JSON shows it; ENUM64 values stay exact as bigint. */
export type RawTypeJson = Record<string, unknown> & { id: number; kind: string; name: string };

function label(name: string): string {
  return name === '' ? '(anon)' : name;
}

/**
 * The text of `bpftool btf dump ... format raw` for this blob's own types
 * (for split BTF, the ids after the base), one type per `[id]` line.
 */
export function formatRaw(btf: Btf): string {
  const out: string[] = [];
  for (const t of btf.types()) out.push(formatRawType(btf, t));
  return out.join('');
}

/** One type in bpftool's raw text form, including its trailing newline. */
export function formatRawType(btf: Btf, t: BtfType): string {
  let s = `[${t.id}] ${t.kind === 'VOID' ? 'UNKN' : t.kind} '${label(t.name)}'`;
  switch (t.kind) {
    case 'VOID':
      break;
    case 'INT':
      s += ` size=${t.size} bits_offset=${t.bitsOffset} nr_bits=${t.nrBits}`;
      s += ` encoding=${t.encoding === 'NONE' ? '(none)' : t.encoding}`;
      break;
    case 'PTR':
    case 'TYPEDEF':
    case 'VOLATILE':
    case 'CONST':
    case 'RESTRICT':
    case 'TYPE_TAG':
      s += ` type_id=${t.type}`;
      break;
    case 'ARRAY':
      s += ` type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
      break;
    case 'STRUCT':
    case 'UNION':
      s += ` size=${t.size} vlen=${t.members.length}`;
      for (const m of t.members) {
        s += `\n\t'${label(m.name)}' type_id=${m.type} bits_offset=${m.bitOffset}`;
        if (m.bitfieldSize !== 0) s += ` bitfield_size=${m.bitfieldSize}`;
      }
      break;
    case 'ENUM':
      s += ` encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`;
      for (const e of t.values) s += `\n\t'${label(e.name)}' val=${e.value}`;
      break;
    case 'ENUM64':
      s += ` encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`;
      for (const e of t.values) s += `\n\t'${label(e.name)}' val=${e.value}${t.signed ? 'LL' : 'ULL'}`;
      break;
    case 'FWD':
      s += ` fwd_kind=${t.fwdKind}`;
      break;
    case 'FUNC':
      s += ` type_id=${t.type} linkage=${t.linkage}`;
      break;
    case 'FUNC_PROTO':
      s += ` ret_type_id=${t.returnType} vlen=${t.params.length}`;
      for (const p of t.params) s += `\n\t'${label(p.name)}' type_id=${p.type}`;
      break;
    case 'VAR':
      s += ` type_id=${t.type}, linkage=${t.linkage}`;
      break;
    case 'DATASEC':
      s += ` size=${t.size} vlen=${t.vars.length}`;
      for (const v of t.vars) {
        const target = btf.type(v.type);
        s += `\n\ttype_id=${v.type} offset=${v.offset} size=${v.size} (${target.kind} '${label(target.name)}')`;
      }
      break;
    case 'FLOAT':
      s += ` size=${t.size}`;
      break;
    case 'DECL_TAG':
      s += ` type_id=${t.type} component_idx=${t.componentIdx}`;
      break;
  }
  return `${s}\n`;
}

/** One type as an object shaped like an entry of bpftool's `-j ... format raw` output. */
export function rawTypeJson(t: BtfType): RawTypeJson {
  const base = { id: t.id, kind: t.kind === 'VOID' ? 'UNKN' : t.kind, name: label(t.name) };
  switch (t.kind) {
    case 'VOID':
      return base;
    case 'INT':
      return {
        ...base,
        size: t.size,
        bits_offset: t.bitsOffset,
        nr_bits: t.nrBits,
        encoding: t.encoding === 'NONE' ? '(none)' : t.encoding,
      };
    case 'PTR':
    case 'TYPEDEF':
    case 'VOLATILE':
    case 'CONST':
    case 'RESTRICT':
    case 'TYPE_TAG':
      return { ...base, type_id: t.type };
    case 'ARRAY':
      return { ...base, type_id: t.type, index_type_id: t.indexType, nr_elems: t.nelems };
    case 'STRUCT':
    case 'UNION':
      return {
        ...base,
        size: t.size,
        vlen: t.members.length,
        members: t.members.map((m) => ({
          name: label(m.name),
          type_id: m.type,
          bits_offset: m.bitOffset,
          ...(m.bitfieldSize !== 0 ? { bitfield_size: m.bitfieldSize } : {}),
        })),
      };
    case 'ENUM':
    case 'ENUM64':
      return {
        ...base,
        encoding: t.signed ? 'SIGNED' : 'UNSIGNED',
        size: t.size,
        vlen: t.values.length,
        values: t.values.map((e) => ({ name: label(e.name), val: e.value })),
      };
    case 'FWD':
      return { ...base, fwd_kind: t.fwdKind };
    case 'FUNC':
      return { ...base, type_id: t.type, linkage: t.linkage };
    case 'FUNC_PROTO':
      return {
        ...base,
        ret_type_id: t.returnType,
        vlen: t.params.length,
        params: t.params.map((p) => ({ name: label(p.name), type_id: p.type })),
      };
    case 'VAR':
      return { ...base, type_id: t.type, linkage: t.linkage };
    case 'DATASEC':
      return {
        ...base,
        size: t.size,
        vlen: t.vars.length,
        vars: t.vars.map((v) => ({ type_id: v.type, offset: v.offset, size: v.size })),
      };
    case 'FLOAT':
      return { ...base, size: t.size };
    case 'DECL_TAG':
      return { ...base, type_id: t.type, component_idx: t.componentIdx };
  }
}

/**
 * The JSON document of `bpftool -j btf dump ... format raw`: `{"types":[...]}`.
 * 64-bit enum values are written as exact JSON numbers.
 */
export function formatRawJson(btf: Btf): string {
  const parts: string[] = [];
  for (const t of btf.types()) parts.push(stringifyExact(rawTypeJson(t)));
  return `{"types":[${parts.join(',')}]}`;
}

function stringifyExact(value: unknown): string {
  const marker = '\u0000bigint:';
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${marker}${v}` : v));
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}
