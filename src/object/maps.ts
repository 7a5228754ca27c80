// Map definitions: BTF-defined maps in `.maps` and `struct bpf_map_def` in the legacy `maps`.
import type { Btf } from '../btf/btf.js';
import { sizeOf } from '../btf/query.js';
import type { BtfMember, BtfType } from '../btf/types.js';
import { MapType } from '../sys/types.js';
import { ObjectError } from './errors.js';
import type { LoadProblem, MapSpec, PinType } from './types.js';

const MAX_DEPTH = 32;

function resolve(btf: Btf, id: number): BtfType {
  let t = btf.type(id);
  for (let i = 0; i < MAX_DEPTH; i++) {
    if (t.kind === 'TYPEDEF' || t.kind === 'CONST' || t.kind === 'VOLATILE' || t.kind === 'RESTRICT' || t.kind === 'TYPE_TAG') t = btf.type(t.type);
    else return t;
  }
  return t;
}

/**
 * An integer attribute: `__uint(name, value)` is `int (*name)[value]`, the array's length;
 * `__ulong(name, value)` is a member whose type is an enum of one value, for 64-bit values.
 */
function longMember(btf: Btf, m: BtfMember, map: string): bigint {
  const t = resolve(btf, m.type);
  if ((t.kind === 'ENUM' || t.kind === 'ENUM64') && t.values.length === 1) {
    const v = BigInt(t.values[0]!.value);
    return t.kind === 'ENUM' && !t.signed ? BigInt.asUintN(32, v) : BigInt.asUintN(64, v);
  }
  const a = t.kind === 'PTR' ? resolve(btf, t.type) : undefined;
  if (a?.kind !== 'ARRAY') throw new ObjectError(`attribute ${m.name} is neither a __uint() (a pointer to an array) nor a __ulong() (an enum of one value)`, { map, section: '.maps' });
  return BigInt(a.nelems);
}

/** An attribute the kernel takes as 32 bits. */
function uintMember(btf: Btf, m: BtfMember, map: string): number {
  const v = longMember(btf, m, map);
  if (v > 0xffffffffn) throw new ObjectError(`attribute ${m.name} is ${v}, more than 32 bits`, { map, section: '.maps' });
  return Number(v);
}

/** `__type(name, T)` is `T *name`: the pointed-to type. */
function typeMember(btf: Btf, m: BtfMember, map: string): BtfType {
  const p = resolve(btf, m.type);
  if (p.kind !== 'PTR') throw new ObjectError(`attribute ${m.name} is not a __type() (a pointer)`, { map, section: '.maps' });
  return btf.type(p.type);
}

export interface BtfMapDefinition {
  readonly spec: MapSpec;
  /** Byte offset of the `values` member in the definition, for `.rel.maps` initial values. */
  readonly valuesOffset?: number;
}

const LIBBPF_PIN_NONE = 0;
const LIBBPF_PIN_BY_NAME = 1;

/**
 * Reads a BTF map definition: a struct whose members are `__uint()`, `__type()` and
 * `__array()` attributes. `inner` is true for the template of a map-in-map's values.
 */
export function parseBtfMapDefinition(btf: Btf, name: string, typeId: number, inner = false, depth = 0): BtfMapDefinition {
  if (depth > 4) throw new ObjectError('maps of maps nest too deeply', { map: name, section: '.maps' });
  const def = resolve(btf, typeId);
  if (def.kind !== 'STRUCT') throw new ObjectError(`a BTF map definition must be a struct, not ${def.kind}`, { map: name, section: '.maps' });
  const spec: MapSpec = {
    name,
    type: MapType.UNSPEC,
    keySize: 0,
    valueSize: 0,
    maxEntries: 0,
    flags: 0,
    pinning: 'none',
    mapExtra: 0n,
    values: [],
    freeze: false,
  };
  let keySize: number | undefined;
  let valueSize: number | undefined;
  let valuesOffset: number | undefined;
  let innerDef: { typeId: number } | undefined;
  let valuesIsFunc = false;
  const unknown: string[] = [];
  for (const m of def.members) {
    switch (m.name) {
      case 'type':
        spec.type = uintMember(btf, m, name) as MapType;
        break;
      case 'max_entries':
        spec.maxEntries = uintMember(btf, m, name);
        break;
      case 'map_flags':
        spec.flags = uintMember(btf, m, name);
        break;
      case 'numa_node':
        spec.numaNode = uintMember(btf, m, name);
        break;
      case 'key_size':
        keySize = uintMember(btf, m, name);
        break;
      case 'value_size':
        valueSize = uintMember(btf, m, name);
        break;
      case 'map_extra':
        spec.mapExtra = longMember(btf, m, name);
        break;
      case 'pinning': {
        if (inner) throw new ObjectError('the inner map of a map-in-map cannot be pinned', { map: name, section: '.maps' });
        const p = uintMember(btf, m, name);
        if (p !== LIBBPF_PIN_NONE && p !== LIBBPF_PIN_BY_NAME) throw new ObjectError(`unknown pinning ${p}`, { map: name, section: '.maps' });
        spec.pinning = (p === LIBBPF_PIN_BY_NAME ? 'byName' : 'none') as PinType;
        break;
      }
      case 'key': {
        const t = typeMember(btf, m, name);
        spec.keyType = t;
        keySize = checkSize(btf, t, keySize, 'key', name);
        break;
      }
      case 'value': {
        const t = typeMember(btf, m, name);
        spec.valueType = t;
        valueSize = checkSize(btf, t, valueSize, 'value', name);
        break;
      }
      case 'values': {
        const a = resolve(btf, m.type);
        if (a.kind !== 'ARRAY' || a.nelems !== 0) throw new ObjectError('`values` must be an array of zero length (__array())', { map: name, section: '.maps' });
        const p = resolve(btf, a.type);
        if (p.kind !== 'PTR') throw new ObjectError('`values` must hold pointers', { map: name, section: '.maps' });
        const target = resolve(btf, p.type);
        if (target.kind === 'STRUCT') innerDef = { typeId: target.id };
        else if (target.kind === 'FUNC_PROTO') valuesIsFunc = true;
        else throw new ObjectError(`\`values\` must point to map definitions or functions, not ${target.kind}`, { map: name, section: '.maps' });
        if (m.bitOffset % 8 !== 0) throw new ObjectError('`values` is not byte aligned', { map: name, section: '.maps' });
        valuesOffset = m.bitOffset / 8;
        break;
      }
      default:
        // Newer libbpf may know it; the rest of the object can still be read and loaded.
        unknown.push(m.name);
    }
  }
  if (unknown.length > 0) {
    spec.problem = { code: 'ENOTSUP', message: `unknown map attribute${unknown.length === 1 ? '' : 's'} ${unknown.map((u) => `'${u}'`).join(', ')}` };
  }
  if (keySize !== undefined) spec.keySize = keySize;
  if (valueSize !== undefined) spec.valueSize = valueSize;
  if (innerDef !== undefined) {
    if (spec.type !== MapType.ARRAY_OF_MAPS && spec.type !== MapType.HASH_OF_MAPS) {
      throw new ObjectError('only ARRAY_OF_MAPS and HASH_OF_MAPS hold maps in `values`', { map: name, section: '.maps' });
    }
    spec.innerMap = parseBtfMapDefinition(btf, `${name}.inner`, innerDef.typeId, true, depth + 1).spec;
    if (valueSize !== undefined && valueSize !== 4) throw new ObjectError('a map of maps has 4-byte values', { map: name, section: '.maps' });
    spec.valueSize = 4;
  }
  if (valuesIsFunc) {
    if (spec.type !== MapType.PROG_ARRAY) throw new ObjectError('only PROG_ARRAY holds programs in `values`', { map: name, section: '.maps' });
    spec.valueSize = 4;
  }
  if ((spec.type === MapType.ARRAY_OF_MAPS || spec.type === MapType.HASH_OF_MAPS) && spec.innerMap === undefined) {
    throw new ObjectError('a map of maps needs an inner map definition (__array(values, ...))', { map: name, section: '.maps' });
  }
  // bpf2go-style objects name their records' type as a buffer map's value (`__type(value,
  // struct event)`), which the kernel does not take as a size: as cilium/ebpf, keep the type
  // (code generation types the records with it) and give the kernel the sizes it wants.
  if (spec.type === MapType.PERF_EVENT_ARRAY) {
    if (spec.keySize === 0) spec.keySize = 4;
    spec.valueSize = 4;
  } else if (spec.type === MapType.RINGBUF || spec.type === MapType.USER_RINGBUF || spec.type === MapType.ARENA) {
    spec.keySize = 0;
    spec.valueSize = 0;
  }
  return { spec, ...(valuesOffset !== undefined ? { valuesOffset } : {}) };
}

function checkSize(btf: Btf, t: BtfType, given: number | undefined, what: string, map: string): number {
  let size: number;
  try {
    size = sizeOf(btf, t.id);
  } catch (err) {
    throw new ObjectError(`the ${what} type has no size`, { map, section: '.maps', cause: err });
  }
  if (given !== undefined && given !== size) throw new ObjectError(`${what}_size ${given} conflicts with the ${what} type's size ${size}`, { map, section: '.maps' });
  return size;
}

/**
 * The words of a legacy definition: libbpf's `struct bpf_map_def` has the first five;
 * iproute2's `struct bpf_elf_map` (tc objects) adds id, pinning, inner_id and inner_idx.
 */
const LEGACY_FIELDS = ['type', 'keySize', 'valueSize', 'maxEntries', 'flags', 'id', 'pinning', 'innerId', 'innerIdx'] as const;

/** iproute2's pinning values: PIN_GLOBAL_NS maps live in <bpffs>/tc/globals, shared by every object. */
const PIN_NONE = 0;
const PIN_OBJECT_NS = 1;
const PIN_GLOBAL_NS = 2;

/** What of iproute2's definition tsbpf cannot do, or fields nobody defines that are not zero. */
function legacyProblem(f: Record<(typeof LEGACY_FIELDS)[number], number>, unknownNonZero: number | undefined): LoadProblem | undefined {
  if (unknownNonZero !== undefined) {
    return { code: 'EINVAL', message: `the definition has a non-zero field at byte ${unknownNonZero}, beyond iproute2's struct bpf_elf_map (36 bytes): unknown to tsbpf and to libbpf` };
  }
  if (f.pinning === PIN_OBJECT_NS) {
    return { code: 'ENOTSUP', message: "iproute2's pinning PIN_OBJECT_NS (1), a directory per object, is not supported by tsbpf (PIN_GLOBAL_NS is)" };
  }
  if (f.pinning !== PIN_NONE && f.pinning !== PIN_GLOBAL_NS) {
    return { code: 'ENOTSUP', message: `pinning ${f.pinning} (iproute2's custom pinning through /etc/iproute2/bpf_pinning) is not supported by tsbpf` };
  }
  if (f.innerId !== 0 || f.innerIdx !== 0) {
    return { code: 'ENOTSUP', message: `iproute2's map-in-map fields (inner_id ${f.innerId}, inner_idx ${f.innerIdx}) are not supported by tsbpf; declare the map in .maps with __array(values, ...)` };
  }
  return undefined;
}

/** A map definition's symbol in the legacy `maps` section; `size` is its st_size (0: unknown). */
export interface LegacyMapSymbol {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
}

/**
 * `struct bpf_map_def` entries of the legacy `maps` section, each at its symbol's offset and as
 * long as its symbol says: objects linked together may hold definitions of different sizes.
 * Only symbols without a size share the section evenly, as compilers that gave none did.
 */
export function parseLegacyMaps(data: Uint8Array, littleEndian: boolean, symbols: readonly LegacyMapSymbol[]): MapSpec[] {
  if (symbols.length === 0) return [];
  if (data.length === 0) throw new ObjectError('the maps section has symbols but no data', { section: 'maps' });
  const evenSize = Math.floor(data.length / symbols.length);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return symbols.map(({ name, offset, size }) => {
    const defSize = size > 0 ? size : evenSize;
    if (size === 0 && (data.length % symbols.length !== 0 || offset % evenSize !== 0)) {
      throw new ObjectError(`cannot divide ${data.length} bytes among ${symbols.length} map definitions without sizes`, { section: 'maps', map: name });
    }
    if (defSize < 4 * 5 || defSize % 4 !== 0) throw new ObjectError(`a map definition of ${defSize} bytes is not a struct bpf_map_def`, { section: 'maps', map: name });
    if (offset < 0 || offset + defSize > data.length) throw new ObjectError(`map definition at offset ${offset} is misplaced`, { section: 'maps', map: name });
    const f: Record<(typeof LEGACY_FIELDS)[number], number> = { type: 0, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0, id: 0, pinning: 0, innerId: 0, innerIdx: 0 };
    for (let i = 0; i < LEGACY_FIELDS.length && i * 4 < defSize; i++) f[LEGACY_FIELDS[i]!] = view.getUint32(offset + i * 4, littleEndian);
    let unknownNonZero: number | undefined;
    for (let o = LEGACY_FIELDS.length * 4; o < defSize && unknownNonZero === undefined; o++) if (data[offset + o] !== 0) unknownNonZero = o;
    const problem = legacyProblem(f, unknownNonZero);
    return {
      name,
      type: f.type as MapType,
      keySize: f.keySize,
      valueSize: f.valueSize,
      maxEntries: f.maxEntries,
      flags: f.flags,
      pinning: f.pinning === PIN_GLOBAL_NS ? 'globalNs' : 'none',
      mapExtra: 0n,
      values: [],
      freeze: false,
      ...(problem !== undefined ? { problem } : {}),
    } satisfies MapSpec;
  });
}
