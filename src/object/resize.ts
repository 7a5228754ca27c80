// Sizing a map from user space before load, as libbpf's bpf_map__set_value_size and
// bpf_map__set_max_entries do: for objects that leave a stack map's depth or a table's size to
// the program that loads them.
import type { Btf } from '../btf/btf.js';
import { sizeOf } from '../btf/query.js';
import { InvalidArgumentError } from '../errors.js';
import type { MapSpec } from './types.js';

export interface MapSizes {
  /** Bytes per value (for a ring buffer, none: its size is maxEntries). */
  valueSize?: number;
  /** Entries, or bytes for ring buffers. */
  maxEntries?: number;
}

/** A spec's maps and BTF, as CollectionSpec has them. */
interface SpecMaps {
  readonly maps: Record<string, MapSpec>;
  readonly btf: Btf | undefined;
}

function checkSize(what: string, n: number, min: number): void {
  if (!Number.isInteger(n) || n < min || n > 0xffffffff) throw new InvalidArgumentError(`${what}: ${n} is not a size (an integer from ${min} to 2^32-1)`);
}

/**
 * Sets a map's value size and/or max entries. A value type that no longer has the new size is
 * dropped, so the map is created without BTF for it rather than refused; global data keeps its
 * size, which its variables' offsets depend on.
 */
export function resizeMap(spec: SpecMaps, name: string, sizes: MapSizes): void {
  const m = spec.maps[name];
  if (m === undefined) throw new InvalidArgumentError(`no map ${name} in the object (it has: ${Object.keys(spec.maps).join(', ') || 'none'})`);
  if (sizes.maxEntries !== undefined) checkSize(`map ${name}: max_entries`, sizes.maxEntries, 1);
  if (sizes.valueSize !== undefined) {
    checkSize(`map ${name}: value_size`, sizes.valueSize, 0);
    if (m.internal !== undefined) throw new InvalidArgumentError(`map ${name} holds global data: its value size is the section's, set its variables instead`);
  }
  if (sizes.maxEntries !== undefined) m.maxEntries = sizes.maxEntries;
  if (sizes.valueSize !== undefined && sizes.valueSize !== m.valueSize) {
    m.valueSize = sizes.valueSize;
    if (m.valueType !== undefined && spec.btf !== undefined && typeSize(spec.btf, m.valueType.id) !== sizes.valueSize) delete m.valueType;
  }
}

function typeSize(btf: Btf, id: number): number | undefined {
  try {
    return sizeOf(btf, id);
  } catch {
    return undefined;
  }
}
