// What each map type is like, as far as user space operations are concerned.
import { MapType } from '../sys/types.js';

const perCpu = new Set<MapType>([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH, MapType.PERCPU_CGROUP_STORAGE]);

/** Maps whose keys are indices 0..max_entries-1: GET_NEXT_KEY never restarts on them. */
const indexed = new Set<MapType>([
  MapType.ARRAY,
  MapType.PERCPU_ARRAY,
  MapType.PROG_ARRAY,
  MapType.PERF_EVENT_ARRAY,
  MapType.CGROUP_ARRAY,
  MapType.ARRAY_OF_MAPS,
  MapType.DEVMAP,
  MapType.CPUMAP,
  MapType.XSKMAP,
  MapType.SOCKMAP,
  MapType.REUSEPORT_SOCKARRAY,
]);

const localStorage = new Set<MapType>([MapType.SK_STORAGE, MapType.INODE_STORAGE, MapType.TASK_STORAGE, MapType.CGRP_STORAGE]);

/** Maps without keys: the element commands take a NULL key. */
const keyless = new Set<MapType>([MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER, MapType.RINGBUF, MapType.USER_RINGBUF, MapType.ARENA]);

export function isPerCpu(t: MapType): boolean {
  return perCpu.has(t);
}

export function isIndexed(t: MapType): boolean {
  return indexed.has(t);
}

/** Task, socket, inode and cgroup local storage: keyed by an fd, typed by BTF. */
export function isLocalStorage(t: MapType): boolean {
  return localStorage.has(t);
}

export function isKeyless(t: MapType): boolean {
  return keyless.has(t);
}

export function isKnownMapType(t: unknown): t is MapType {
  return typeof t === 'number' && Number.isInteger(t) && t > MapType.UNSPEC && MapType[t] !== undefined;
}
