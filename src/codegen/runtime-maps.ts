// Typed views of a loaded object's maps, as generated modules expose them: Maps whose codecs
// are the generated ones, under the names of a JavaScript Map (get, set, delete, entries).
import type { BatchChunk, BatchOptions, BpfMap, UpdateBatchOptions } from '../map.js';
import { UpdateFlags } from '../sys/types.js';

/** A map used as the collection made it: ring and perf buffers (read with readers), arenas, struct_ops. */
export type RawMap = BpfMap<unknown, unknown>;

/** How set() and push() treat an existing element: BPF_ANY, BPF_NOEXIST, BPF_EXIST (or raw flags). */
export type UpdateMode = 'any' | 'noexist' | 'exist' | number;

function updateFlags(mode: UpdateMode | undefined): number {
  switch (mode) {
    case undefined:
    case 'any':
      return UpdateFlags.ANY;
    case 'noexist':
      return UpdateFlags.NOEXIST;
    case 'exist':
      return UpdateFlags.EXIST;
    default:
      return mode;
  }
}

/**
 * A map with keys and values typed by the object's BTF (hash, array, LRU, LPM trie, ...).
 * `map` is the typed BpfMap underneath, for what this view does not cover (pin, freeze, info).
 */
export class KeyedMap<K, V> {
  readonly map: BpfMap<K, V>;

  constructor(map: BpfMap<K, V>) {
    this.map = map;
  }

  /** The value at `key`, or undefined. */
  get(key: K): V | undefined {
    return this.map.lookup(key);
  }

  /** Writes `value` at `key`; `mode` 'noexist' only creates, 'exist' only replaces. */
  set(key: K, value: V, mode?: UpdateMode): void {
    this.map.update(key, value, updateFlags(mode));
  }

  /** Deletes `key`; false when it was not there. */
  delete(key: K): boolean {
    return this.map.delete(key);
  }

  has(key: K): boolean {
    return this.map.lookup(key) !== undefined;
  }

  /** Removes `key` and returns its value, atomically (hash maps). */
  take(key: K): V | undefined {
    return this.map.lookupAndDelete(key);
  }

  keys(): Generator<K, void, undefined> {
    return this.map.keys();
  }

  values(): Generator<V, void, undefined> {
    return this.map.values();
  }

  /** [key, value] pairs, one lookup per key (getBatch() reads large maps faster). */
  entries(): Generator<[K, V], void, undefined> {
    return this.map.entries();
  }

  [Symbol.iterator](): Generator<[K, V], void, undefined> {
    return this.map.entries();
  }

  /**
   * Every element in chunks read with BPF_MAP_LOOKUP_BATCH (`chunk.key(i)`, `chunk.value(i)`,
   * `chunk.entries()`); each chunk is reused, so read it before resuming.
   */
  getBatch(options?: BatchOptions): Generator<BatchChunk<K, V>, void, undefined> {
    return this.map.lookupBatch(options);
  }

  /** Like getBatch(), deleting what it returns (hash maps). */
  takeBatch(options?: BatchOptions): Generator<BatchChunk<K, V>, void, undefined> {
    return this.map.lookupAndDeleteBatch(options);
  }

  /** Writes keys[i] → values[i] with BPF_MAP_UPDATE_BATCH; returns how many were written. */
  setBatch(keys: ArrayLike<K>, values: ArrayLike<V>, options?: UpdateBatchOptions): number {
    return this.map.updateBatch(keys, values, options);
  }

  /** Deletes keys with BPF_MAP_DELETE_BATCH; returns how many were deleted. */
  deleteBatch(keys: ArrayLike<K>, options?: BatchOptions): number {
    return this.map.deleteBatch(keys, options);
  }
}

/**
 * A per-CPU map: each value is an array with one element per possible CPU (`cpus` of them);
 * set() takes such an array.
 */
export class PerCpuMap<K, V> extends KeyedMap<K, V[]> {
  /** The number of possible CPUs: the length of every value array. */
  get cpus(): number {
    return this.map.cpus;
  }
}

/** A QUEUE (first in, first out) or STACK (last in, first out) of typed values. */
export class QueueMap<V> {
  readonly map: BpfMap<Uint8Array, V>;

  constructor(map: BpfMap<Uint8Array, V>) {
    this.map = map;
  }

  /** Adds a value; on a full map, mode 'exist' drops the oldest instead of failing. */
  push(value: V, mode?: UpdateMode): void {
    this.map.push(value, updateFlags(mode));
  }

  /** Removes and returns the next value, or undefined when empty. */
  pop(): V | undefined {
    return this.map.pop();
  }

  /** The value pop() would return, left in place. */
  peek(): V | undefined {
    return this.map.peek();
  }
}

/** A BLOOM_FILTER of typed values: has() may say true for a value never added, never false for one that was. */
export class BloomFilterMap<V> {
  readonly map: BpfMap<Uint8Array, V>;

  constructor(map: BpfMap<Uint8Array, V>) {
    this.map = map;
  }

  add(value: V): void {
    this.map.push(value);
  }

  has(value: V): boolean {
    return this.map.contains(value);
  }
}
