// The BPF_MAP_*_BATCH commands: chunked lookups as generators, updates and deletes.
import { InvalidArgumentError, NotSupportedError } from '../errors.js';
import type { OffsetCodec } from '../codec/codec.js';
import { BatchOp } from '../sys/attrs.js';
import { addressOf } from '../sys/memory.js';
import { Cmd } from '../sys/types.js';
import { BatchError } from './errors.js';
import { ENOENT, ENOSPC, ENOTSUPP } from '../sys/errno.js';

/** Upper bound for one chunk's key plus value buffers. */
const MAX_CHUNK_BYTES = 32 << 20;
export const DEFAULT_CHUNK = 4096;

export interface BatchOptions {
  /** Elements per BPF_MAP_*_BATCH call; grown automatically when a hash bucket needs more. */
  chunkSize?: number;
  /** elem_flags: BPF_F_LOCK to copy values under their bpf_spin_lock. */
  elemFlags?: number;
}

/** What the batch functions need to know about a map. */
export interface BatchTarget<K, V> {
  fd(): number;
  readonly keySize: number;
  /** The size of one value in the kernel's buffers (all CPUs' slots for per-CPU maps). */
  readonly valueStride: number;
  readonly maxEntries: number;
  readonly keyCodec: OffsetCodec<K>;
  readonly valueCodec: OffsetCodec<V>;
  readonly what: string;
  readonly typeName: string;
}

class Buffers {
  keys: Uint8Array;
  values: Uint8Array;
  keysAddr: bigint;
  valuesAddr: bigint;
  constructor(
    readonly count: number,
    keySize: number,
    valueStride: number,
  ) {
    this.keys = new Uint8Array(new ArrayBuffer(Math.max(count * keySize, 1)));
    this.values = new Uint8Array(new ArrayBuffer(Math.max(count * valueStride, 1)));
    this.keysAddr = addressOf(this.keys);
    this.valuesAddr = addressOf(this.values);
  }
}

function chunkSize<K, V>(t: BatchTarget<K, V>, requested: number | undefined): number {
  const n = requested ?? Math.min(DEFAULT_CHUNK, Math.max(t.maxEntries, 1));
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${t.what}: chunkSize must be a positive integer, got ${n}`);
  return Math.max(1, Math.min(n, Math.floor(MAX_CHUNK_BYTES / Math.max(t.keySize + t.valueStride, 1))));
}

function failure(cmd: Cmd, errno: number, t: BatchTarget<unknown, unknown>, done: number): Error {
  if (errno === ENOTSUPP) return new NotSupportedError(`BPF_${Cmd[cmd]} on ${t.typeName} maps`, t.what);
  return new BatchError(`BPF_${Cmd[cmd]}`, errno, t.what, done);
}

/**
 * One chunk of a batch lookup. The generator that yields it reuses it: its bytes and count
 * are valid until the generator resumes. `key(i)`/`value(i)` decode (and copy) one element;
 * `keyBytes`/`valueBytes` give the raw element bytes without copying.
 */
export class BatchChunk<K, V> {
  count = 0;
  #b: Buffers;
  readonly #t: BatchTarget<K, V>;

  constructor(t: BatchTarget<K, V>, b: Buffers) {
    this.#t = t;
    this.#b = b;
  }

  /** @internal */
  reset(b: Buffers, count: number): void {
    this.#b = b;
    this.count = count;
  }

  /** count * keySize bytes of keys, back to back. */
  get keyBytes(): Uint8Array {
    return this.#b.keys.subarray(0, this.count * this.#t.keySize);
  }

  /** count values of `valueStride` bytes each, back to back. */
  get valueBytes(): Uint8Array {
    return this.#b.values.subarray(0, this.count * this.#t.valueStride);
  }

  key(i: number): K {
    this.#check(i);
    return this.#t.keyCodec.decodeAt(this.#b.keys, i * this.#t.keySize);
  }

  value(i: number): V {
    this.#check(i);
    return this.#t.valueCodec.decodeAt(this.#b.values, i * this.#t.valueStride);
  }

  *entries(): Generator<[K, V]> {
    for (let i = 0; i < this.count; i++) yield [this.key(i), this.value(i)];
  }

  #check(i: number): void {
    if (!(i >= 0 && i < this.count)) throw new RangeError(`batch element ${i} is outside 0..${this.count - 1}`);
  }
}

/**
 * BPF_MAP_LOOKUP_BATCH or BPF_MAP_LOOKUP_AND_DELETE_BATCH over the whole map, one chunk per
 * call. The kernel's ENOENT marks the last chunk; ENOSPC (a hash bucket larger than the
 * chunk) doubles the chunk and retries from the same position.
 */
export function* lookupBatch<K, V>(t: BatchTarget<K, V>, cmd: Cmd.MAP_LOOKUP_BATCH | Cmd.MAP_LOOKUP_AND_DELETE_BATCH, opts: BatchOptions = {}): Generator<BatchChunk<K, V>, void, undefined> {
  let size = chunkSize(t, opts.chunkSize);
  let b = new Buffers(size, t.keySize, t.valueStride);
  // in_batch/out_batch tokens: a u32 bucket for hashes, a key for the generic implementation.
  const tokSize = Math.max(t.keySize, 8);
  const tokIn = new Uint8Array(new ArrayBuffer(tokSize));
  const tokOut = new Uint8Array(new ArrayBuffer(tokSize));
  const tokInAddr = addressOf(tokIn);
  const tokOutAddr = addressOf(tokOut);
  const op = new BatchOp();
  const chunk = new BatchChunk<K, V>(t, b);
  let first = true;
  let done = 0;
  for (;;) {
    const [r, n] = op.run(cmd, {
      inBatch: first ? 0n : tokInAddr,
      outBatch: tokOutAddr,
      keys: b.keysAddr,
      values: b.valuesAddr,
      count: size,
      mapFd: t.fd(),
      elemFlags: opts.elemFlags ?? 0,
    });
    if (r < 0 && r !== -ENOENT) {
      if (r === -ENOSPC && n === 0) {
        if (size >= Math.max(t.maxEntries, 1)) throw failure(cmd, ENOSPC, t, done);
        size = Math.min(size * 2, Math.max(t.maxEntries, 1));
        b = new Buffers(size, t.keySize, t.valueStride);
        continue;
      }
      throw failure(cmd, -r, t, done);
    }
    if (n > 0) {
      done += n;
      chunk.reset(b, n);
      yield chunk;
    }
    if (r === -ENOENT) return;
    tokIn.set(tokOut);
    first = false;
  }
}

/** Batch updates always create or replace (the kernel allows only BPF_F_LOCK in elem_flags). */
export type UpdateBatchOptions = BatchOptions;

function checkLengths(t: BatchTarget<unknown, unknown>, keys: ArrayLike<unknown>, values: ArrayLike<unknown>): void {
  if (keys.length !== values.length) throw new InvalidArgumentError(`${t.what}: updateBatch got ${keys.length} keys but ${values.length} values`);
}

/** BPF_MAP_UPDATE_BATCH of keys[i] → values[i]; returns the number of elements written. */
export function updateBatch<K, V>(t: BatchTarget<K, V>, keys: ArrayLike<K>, values: ArrayLike<V>, opts: UpdateBatchOptions = {}): number {
  checkLengths(t, keys, values);
  const total = keys.length;
  if (total === 0) return 0;
  const size = Math.min(chunkSize(t, opts.chunkSize), total);
  const b = new Buffers(size, t.keySize, t.valueStride);
  const op = new BatchOp();
  const elemFlags = opts.elemFlags ?? 0;
  let done = 0;
  while (done < total) {
    const n = Math.min(size, total - done);
    for (let i = 0; i < n; i++) {
      t.keyCodec.encodeAt(keys[done + i] as K, b.keys, i * t.keySize);
      t.valueCodec.encodeAt(values[done + i] as V, b.values, i * t.valueStride);
    }
    const [r, count] = op.run(Cmd.MAP_UPDATE_BATCH, { inBatch: 0n, outBatch: 0n, keys: b.keysAddr, values: b.valuesAddr, count: n, mapFd: t.fd(), elemFlags });
    if (r < 0) throw failure(Cmd.MAP_UPDATE_BATCH, -r, t, done + count);
    done += n;
  }
  return done;
}

/**
 * BPF_MAP_DELETE_BATCH of `keys`. The kernel stops at the first missing key; that key is
 * skipped and the rest deleted. Returns the number of keys deleted.
 */
export function deleteBatch<K, V>(t: BatchTarget<K, V>, keys: ArrayLike<K>, opts: BatchOptions = {}): number {
  const total = keys.length;
  if (total === 0) return 0;
  const size = Math.min(chunkSize(t, opts.chunkSize), total);
  const b = new Buffers(size, t.keySize, 0);
  const op = new BatchOp();
  let deleted = 0;
  for (let base = 0; base < total; base += size) {
    const n = Math.min(size, total - base);
    for (let i = 0; i < n; i++) t.keyCodec.encodeAt(keys[base + i] as K, b.keys, i * t.keySize);
    let at = 0;
    while (at < n) {
      const [r, count] = op.run(Cmd.MAP_DELETE_BATCH, {
        inBatch: 0n,
        outBatch: 0n,
        keys: b.keysAddr + BigInt(at * t.keySize),
        values: 0n,
        count: n - at,
        mapFd: t.fd(),
        elemFlags: opts.elemFlags ?? 0,
      });
      deleted += count;
      if (r === 0) break;
      if (r === -ENOENT) {
        at += count + 1;
        continue;
      }
      throw failure(Cmd.MAP_DELETE_BATCH, -r, t, deleted);
    }
  }
  return deleted;
}
