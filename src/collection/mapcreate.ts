// What creating an object's maps needs beyond BpfMap.create: libbpf's adjustments, codecs from BTF,
// compatibility of maps the collection reuses.
import type { Btf } from '../btf/btf.js';
import type { BtfType } from '../btf/types.js';
import { btfCodec, type BtfValue } from '../btfcodec.js';
import type { Codec } from '../codec/codec.js';
import { possibleCpus, type BpfMap } from '../map.js';
import { pageSize } from '../sys/memory.js';
import { MapFlags, MapType } from '../sys/types.js';
import { ObjectError } from '../object/errors.js';
import type { MapSpec } from '../object/types.js';

/** A BTF-typed map of a collection: keys and values as BtfValues, raw bytes without BTF. */
export type CollectionMap = BpfMap<BtfValue, BtfValue>;

/** Map types whose key/value BTF the kernel refuses or libbpf leaves out. */
export const NO_BTF = new Set<MapType>([
  MapType.PERF_EVENT_ARRAY,
  MapType.CGROUP_ARRAY,
  MapType.STACK_TRACE,
  MapType.ARRAY_OF_MAPS,
  MapType.HASH_OF_MAPS,
  MapType.DEVMAP,
  MapType.DEVMAP_HASH,
  MapType.CPUMAP,
  MapType.XSKMAP,
  MapType.SOCKMAP,
  MapType.SOCKHASH,
  MapType.QUEUE,
  MapType.STACK,
  MapType.PROG_ARRAY,
  MapType.RINGBUF,
  MapType.USER_RINGBUF,
  MapType.ARENA,
]);

/** The BTF codec of a key or value type, when it has the size the map says. */
export function codecOf(btf: Btf | undefined, t: BtfType | undefined, size: number): Codec<BtfValue> | undefined {
  if (btf === undefined || t === undefined) return undefined;
  try {
    const c = btfCodec(btf, t.id);
    return c.size === size ? c : undefined;
  } catch {
    return undefined;
  }
}

/** A map the collection did not create must match the spec's description. */
export function checkCompatible(ms: MapSpec, m: BpfMap<unknown, unknown>, what: string): void {
  const diffs: string[] = [];
  if (m.type !== ms.type) diffs.push(`type ${m.type} != ${ms.type}`);
  if (m.keySize !== ms.keySize) diffs.push(`key size ${m.keySize} != ${ms.keySize}`);
  if (m.valueSize !== ms.valueSize) diffs.push(`value size ${m.valueSize} != ${ms.valueSize}`);
  const maxEntries = adjustedMaxEntries(ms);
  if (m.maxEntries !== maxEntries) diffs.push(`max entries ${m.maxEntries} != ${maxEntries}`);
  const relevant = ~MapFlags.MMAPABLE;
  if ((m.flags & relevant) !== (ms.flags & relevant)) diffs.push(`flags 0x${m.flags.toString(16)} != 0x${ms.flags.toString(16)}`);
  if (diffs.length > 0) throw new ObjectError(`${what} is incompatible: ${diffs.join(', ')}`, { map: ms.name }, 'EINVAL');
}

/**
 * max_entries as libbpf adjusts it: a perf event array without one gets a slot per possible
 * CPU, a ring buffer is rounded up to a power-of-two number of pages.
 */
export function adjustedMaxEntries(ms: MapSpec): number {
  if (ms.type === MapType.PERF_EVENT_ARRAY && ms.maxEntries === 0) return possibleCpus();
  if ((ms.type === MapType.RINGBUF || ms.type === MapType.USER_RINGBUF) && ms.maxEntries > 0) {
    const page = pageSize();
    let size = page;
    while (size < ms.maxEntries) size *= 2;
    return size;
  }
  return ms.maxEntries;
}

/** The kernel's name for a map: at most 15 characters of [A-Za-z0-9_.]. */
export function kernelName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
}

