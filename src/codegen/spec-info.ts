// What a generated module needs to know about a BPF object, taken from its CollectionSpec: the
// loader's reading is the only one, so gen writes modules for exactly the objects that load.
import type { Btf } from '../btf/btf.js';
import { resolveType } from '../btf/query.js';
import type { CollectionSpec } from '../object/spec.js';
import type { MapType } from '../sys/types.js';
import { GenError } from './errors.js';

export interface MapInfo {
  readonly name: string;
  readonly type: MapType;
  /** BTF type ids of key and value, when the definition names them (`__type(key, ...)`). */
  readonly keyType?: number;
  readonly valueType?: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
}

export interface ProgramInfo {
  /** The function's name. */
  readonly name: string;
  /** The ELF section, which says the program type and where it attaches (`tp_btf/sched_process_exec`). */
  readonly section: string;
}

export interface VariableInfo {
  readonly name: string;
  /** `.rodata`, `.data`, `.bss`, or a named one (`.data.custom`). */
  readonly section: string;
  readonly offset: number;
  readonly size: number;
  readonly type: number;
  /** The initial bytes (zeros for `.bss`). */
  readonly initial: Uint8Array;
}

export interface ObjectInfo {
  readonly btf: Btf;
  readonly littleEndian: boolean;
  /** The object's own maps (BTF-defined, then legacy), without global data and `.kconfig`. */
  readonly maps: readonly MapInfo[];
  readonly programs: readonly ProgramInfo[];
  /** Global (non-static, non-pointer) variables of `.rodata*` sections: settable before load. */
  readonly constants: readonly VariableInfo[];
  /** Global (non-static, non-pointer) variables of `.data*` and `.bss*` sections: live after load. */
  readonly globals: readonly VariableInfo[];
}

/** The maps, programs and variables of a spec with their BTF types. */
export function objectInfo(spec: CollectionSpec, what = 'object'): ObjectInfo {
  const btf = spec.btf;
  if (btf === undefined) {
    throw new GenError(`${what} has no .BTF section: compile with -g (and strip DWARF with llvm-strip -g, which keeps BTF)`);
  }
  const maps: MapInfo[] = [];
  for (const m of Object.values(spec.maps)) {
    if (m.internal !== undefined) continue;
    maps.push({
      name: m.name,
      type: m.type,
      keySize: m.keySize,
      valueSize: m.valueSize,
      maxEntries: m.maxEntries,
      ...(m.keyType !== undefined ? { keyType: m.keyType.id } : {}),
      ...(m.valueType !== undefined ? { valueType: m.valueType.id } : {}),
    });
  }
  const programs = Object.values(spec.programs).map((p) => ({ name: p.name, section: p.sectionName }));
  return { btf, littleEndian: spec.byteOrder === 'little', maps, programs, ...variables(spec, btf) };
}

function variables(spec: CollectionSpec, btf: Btf): { constants: VariableInfo[]; globals: VariableInfo[] } {
  const constants: VariableInfo[] = [];
  const globals: VariableInfo[] = [];
  for (const m of Object.values(spec.maps)) {
    if (m.internal === undefined || m.internal === 'kconfig' || m.valueType?.kind !== 'DATASEC') continue;
    const initial = m.values.find((e) => e.key === 0)?.value;
    if (!(initial instanceof Uint8Array)) continue;
    const list = m.internal === 'rodata' ? constants : globals;
    for (const v of m.valueType.vars) {
      const variable = btf.type(v.type);
      if (variable.kind !== 'VAR' || variable.linkage !== 'global') continue;
      // A pointer global holds a kernel address; in practice it only names a type in BTF
      // (`const struct event *unused;`), so it stays out of the generated API.
      if (resolveType(btf, variable.type).kind === 'PTR') continue;
      list.push({ name: variable.name, section: m.name, offset: v.offset, size: v.size, type: variable.type, initial: initial.slice(v.offset, v.offset + v.size) });
    }
  }
  return { constants, globals };
}
