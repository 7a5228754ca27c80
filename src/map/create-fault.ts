// Which attribute of a BPF_MAP_CREATE the kernel refused with a bare EINVAL: the kernel's rules
// per map type, checked after the fact so the error can name the attribute at fault.
import { readFileSync } from 'node:fs';
import { pageSize } from '../sys/memory.js';
import { MapType } from '../sys/types.js';
import { isIndexed } from './kinds.js';

export interface MapCreateRequest {
  readonly type: MapType;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly numaNode?: number;
  readonly mapExtra: bigint;
}

/** Maps whose entries the kernel sizes itself: they take max_entries 0. */
const NO_MAX_ENTRIES = new Set<MapType>([
  MapType.CGROUP_STORAGE,
  MapType.PERCPU_CGROUP_STORAGE,
  MapType.SK_STORAGE,
  MapType.INODE_STORAGE,
  MapType.TASK_STORAGE,
  MapType.CGRP_STORAGE,
]);

/** Maps whose values are a u32 the kernel interprets (an fd, an index). */
const FD_VALUES = new Set<MapType>([MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.XSKMAP]);

const KEYED = new Set<MapType>([MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH, MapType.LPM_TRIE, MapType.HASH_OF_MAPS, MapType.DEVMAP_HASH, MapType.SOCKHASH]);

const KEYLESS = new Set<MapType>([MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER]);

/** The online NUMA nodes, from /sys; undefined when the file cannot be read. */
function onlineNodes(): string | undefined {
  try {
    return readFileSync('/sys/devices/system/node/online', 'utf8').trim();
  } catch {
    return undefined;
  }
}

function isOnline(node: number, list: string): boolean {
  return list.split(',').some((range) => {
    const [lo, hi] = range.split('-').map(Number);
    return lo !== undefined && node >= lo && node <= (hi ?? lo);
  });
}

/** The attribute the kernel refuses, in words, or undefined when none of its rules explains it. */
export function mapCreateFault(r: MapCreateRequest, typeName: string): string | undefined {
  const { type, keySize, valueSize, maxEntries } = r;
  if (r.numaNode !== undefined) {
    const nodes = onlineNodes();
    if (nodes !== undefined && !isOnline(r.numaNode, nodes)) return `numa_node ${r.numaNode} is not a NUMA node of this machine (online: ${nodes})`;
  }
  if (type === MapType.RINGBUF || type === MapType.USER_RINGBUF) {
    if (valueSize !== 0) return `value_size ${valueSize} on a ring buffer, which takes none (a record's size is given when it is reserved or output)`;
    if (keySize !== 0) return `key_size ${keySize} on a ring buffer, which takes none`;
    const page = pageSize();
    if (maxEntries === 0 || maxEntries % page !== 0 || (maxEntries & (maxEntries - 1)) !== 0) {
      return `max_entries ${maxEntries} of a ring buffer is its size in bytes: a power of 2 and a multiple of the page size (${page})`;
    }
  }
  if (type === MapType.ARENA && (keySize !== 0 || valueSize !== 0)) return `an arena takes no key or value size (got key_size ${keySize}, value_size ${valueSize})`;
  if (NO_MAX_ENTRIES.has(type)) {
    if (maxEntries !== 0) return `max_entries ${maxEntries}: ${typeName} maps have their entries allocated per object by the kernel and take 0`;
  } else if (maxEntries === 0) {
    return `max_entries 0: ${typeName} maps need room for at least one entry`;
  }
  if (type === MapType.STACK_TRACE) {
    if (keySize !== 4) return `key_size ${keySize}: stack trace maps have 4-byte stack ids as keys`;
    if (valueSize === 0 || valueSize % 8 !== 0) return `value_size ${valueSize} of a stack trace map is its depth times 8 bytes (one address per frame)`;
  }
  if (isIndexed(type) && keySize !== 4) return `key_size ${keySize}: ${typeName} maps are indexed by a 4-byte key`;
  if (FD_VALUES.has(type) && valueSize !== 4) return `value_size ${valueSize}: ${typeName} maps hold 4-byte values`;
  if (KEYED.has(type) && keySize === 0) return `key_size 0: ${typeName} maps need a key`;
  if (KEYLESS.has(type) && keySize !== 0) return `key_size ${keySize}: ${typeName} maps have no keys`;
  if ((KEYED.has(type) || KEYLESS.has(type) || type === MapType.ARRAY || type === MapType.PERCPU_ARRAY) && valueSize === 0) return `value_size 0: ${typeName} maps need a value`;
  if (type === MapType.BLOOM_FILTER && r.mapExtra > 15n) return `map_extra ${r.mapExtra}: a bloom filter takes its number of hash functions there, 0 to 15`;
  if (r.mapExtra !== 0n && type !== MapType.BLOOM_FILTER && type !== MapType.ARENA) return `map_extra ${r.mapExtra}: only bloom filters and arenas take one, not ${typeName} maps`;
  return undefined;
}
