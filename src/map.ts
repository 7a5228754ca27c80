// Live BPF maps: creation, opening, element operations, iteration, batches, pinning, mmap.
import { readlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { bytes, isRawBytes, SLAB_MAX } from './codec/bytes.js';
import { atOffset, type Codec, type OffsetCodec } from './codec/codec.js';
import { perCpu } from './codec/percpu.js';
import { BpfError, InvalidArgumentError, NotSupportedError } from './errors.js';
import { getFdById, mapCreate, mapFreeze, objGet, objPin, type MapCreateAttr } from './sys/attrs.js';
import { FD } from './sys/fd.js';
import { mapInfo, type MapInfo } from './sys/info.js';
import { addressOf, MAP_SHARED, mmap, munmap, pageSize, PROT_READ, PROT_WRITE, type Mapped } from './sys/memory.js';
import { dupFd } from './sys/file.js';
import { Cmd, MapFlags, MapType, UpdateFlags } from './sys/types.js';
import { lookupBatch, updateBatch, deleteBatch, type BatchChunk, type BatchOptions, type BatchTarget, type UpdateBatchOptions } from './map/batch.js';
import { checkPinnedPath, preparePinPath, removePin } from './map/bpffs.js';
import { placeholderBtf, storageBtf } from './map/btf.js';
import { possibleCpus } from './sys/cpus.js';
import { isIndexed, isKnownMapType, isLocalStorage, isPerCpu } from './map/kinds.js';
import { mapTypeName } from './program/names.js';
import { structOpsValueType } from './map/vmlinux.js';
import { directSlab, ElemAttrs, type ElemAttr } from './sys/elem.js';
import { KeyWalker } from './map/walk.js';
import { mapCreateFault } from './map/create-fault.js';
import { MapCreateError } from './map/errors.js';
import { EACCES, ENOENT, ENOTSUPP, EPERM } from './sys/errno.js';

export { BatchChunk } from './map/batch.js';
export type { BatchOptions, UpdateBatchOptions } from './map/batch.js';
export { BatchError, BpffsError, IterationAbortedError } from './map/errors.js';
export { possibleCpus } from './sys/cpus.js';
export { structOpsValueType } from './map/vmlinux.js';

/** BTF describing a map's key and value, as BPF_MAP_CREATE takes it. */
export interface MapBtf {
  /** A loaded BTF object's fd (the caller keeps ownership). */
  fd: number;
  keyTypeId: number;
  valueTypeId: number;
  /** For struct_ops maps: the id of `struct bpf_struct_ops_<name>` in vmlinux BTF. */
  vmlinuxValueTypeId?: number;
}

/** Map types whose values are one slot per possible CPU. */
export type PerCpuMapType = MapType.PERCPU_HASH | MapType.PERCPU_ARRAY | MapType.LRU_PERCPU_HASH | MapType.PERCPU_CGROUP_STORAGE;

export interface MapCreateOptions<K, V> {
  type: MapType;
  /** Defaults to the key codec's size, else 0 (queues, stacks, bloom filters, ring buffers). */
  keySize?: number;
  /** Defaults to the value codec's size, else 0 (ring buffers, arenas). For per-CPU maps: one CPU's value. */
  valueSize?: number;
  maxEntries: number;
  /** map_flags: MapFlags.NO_PREALLOC, MMAPABLE, RDONLY_PROG, ... */
  flags?: number;
  /** Up to 15 characters of [A-Za-z0-9_.]. */
  name?: string;
  /** The template inner map of an ARRAY_OF_MAPS or HASH_OF_MAPS. */
  innerMap?: BpfMap<unknown, unknown>;
  /** NUMA node to allocate on (sets MapFlags.NUMA_NODE). */
  numaNode?: number;
  /** map_extra: hash count of a bloom filter (1-15), start address of an arena. */
  mapExtra?: bigint | number;
  /** Key/value BTF; local storage maps get a minimal one when it is omitted. */
  btf?: MapBtf;
  /** The key's codec; raw bytes when omitted. */
  key?: Codec<K>;
  /** The value's codec (one CPU's value for per-CPU maps); raw bytes when omitted. */
  value?: Codec<V>;
}

type Element<V> = V extends readonly (infer E)[] ? E : never;

export interface MapOpenOptions<K, V> {
  key?: Codec<K>;
  /** The value's codec; for per-CPU maps either one CPU's codec or the whole array's. */
  value?: Codec<V> | Codec<Element<V>>;
  /** BPF_F_RDONLY or BPF_F_WRONLY (OpenFlags) for BPF_OBJ_GET and MAP_GET_FD_BY_ID. */
  openFlags?: number;
}

const NAME_RE = /^[A-Za-z0-9_.]{0,15}$/;

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function checkSize(what: string, field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new InvalidArgumentError(`${what}: ${field} must be an integer from 0 to 2^32-1, got ${String(v)}`);
  return v;
}

function describeMap(name: string, type: number, id: number): string {
  return name ? `map ${name} (${mapTypeName(type, 'uapi')}, id ${id})` : `map id ${id} (${mapTypeName(type, 'uapi')})`;
}

/**
 * A live BPF map, owning its fd. Keys and values go through codecs: raw Uint8Arrays by
 * default. Per-CPU maps (PerCpuMapType) read and write arrays with one value per possible CPU
 * (`possibleCpus()`); `BpfMap.create` types them as `BpfMap<K, V[]>`. A map opened by fd, id or pin
 * is typed by the caller: pass `V[]` for per-CPU maps.
 *
 * Element operations reuse one key buffer, one value buffer and attrs whose addresses are
 * computed once, so they allocate only what they return. Raw values of up to 64 bytes are
 * copied by the kernel straight into the array returned, a view of a shared 16 KiB buffer
 * (as Node's pooled Buffers are): use its byteOffset and byteLength, not the whole .buffer.
 */
export class BpfMap<K = Uint8Array, V = Uint8Array> implements Disposable {
  readonly type: MapType;
  readonly keySize: number;
  /** The value size the map was created with (one CPU's value for per-CPU maps). */
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  /** map_extra: a bloom filter's hash count, an arena's fixed address (0 when unused). */
  readonly mapExtra: bigint;
  readonly name: string;
  readonly id: number;
  readonly #fd: FD;
  readonly keyCodec: OffsetCodec<K>;
  /** The codec of a whole value as the kernel copies it (all CPUs for per-CPU maps). */
  readonly valueCodec: OffsetCodec<V>;
  /** The number of values per element: possibleCpus() for per-CPU maps, else 1. */
  readonly cpus: number;
  /** Bytes per value in the kernel's user-space buffers (per-CPU: 8-byte slots times CPUs). */
  readonly valueStride: number;

  readonly #what: string;
  readonly #key: Uint8Array;
  readonly #value: Uint8Array;
  readonly #valueAddr: bigint;
  readonly #attrs: ElemAttrs;
  /** The buffer lookupInto() aimed attrs.keyOut at: kept alive while the attr points at it. */
  #lastOut: Uint8Array | undefined;
  /** Raw values small enough for the kernel to copy straight into the returned array: their size. */
  readonly #direct: number;
  #mapping: Mapped | undefined;
  #pinned: string | undefined;
  #batchTarget: BatchTarget<K, V> | undefined;

  private constructor(fd: FD, info: MapInfo, key: Codec<unknown> | undefined, value: Codec<unknown> | undefined) {
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.mapFlags;
    this.mapExtra = info.mapExtra;
    this.name = info.name;
    this.id = info.id;
    this.#what = describeMap(info.name, info.type, info.id);
    const perCpuMap = isPerCpu(info.type);
    this.cpus = perCpuMap ? possibleCpus() : 1;
    this.valueStride = perCpuMap ? roundUp(info.valueSize, 8) * this.cpus : info.valueSize;
    this.keyCodec = this.#keyCodec(key);
    this.valueCodec = this.#valueCodec(value, perCpuMap);
    this.#key = new Uint8Array(new ArrayBuffer(Math.max(this.keySize, 1)));
    this.#value = new Uint8Array(new ArrayBuffer(Math.max(this.valueStride, 1)));
    this.#valueAddr = addressOf(this.#value);
    this.#attrs = new ElemAttrs(fd.value, this.keySize === 0 ? 0n : addressOf(this.#key), this.#valueAddr);
    this.#direct = !perCpuMap && isRawBytes(this.valueCodec) && this.valueSize > 0 && this.valueSize <= SLAB_MAX ? this.valueSize : 0;
    // Last, so a constructor that throws leaves the fd with the caller.
    this.#fd = new FD(fd.release(), this.#what);
  }

  #keyCodec(key: Codec<unknown> | undefined): OffsetCodec<K> {
    if (key === undefined) return bytes(this.keySize, `key of ${this.#what}`) as unknown as OffsetCodec<K>;
    if (key.size !== this.keySize) throw new InvalidArgumentError(`${this.#what}: the key codec is ${key.size} bytes but the key size is ${this.keySize}`);
    return atOffset(key) as OffsetCodec<K>;
  }

  #valueCodec(value: Codec<unknown> | undefined, perCpuMap: boolean): OffsetCodec<V> {
    const element = value ?? bytes(this.valueSize, `value of ${this.#what}`);
    if (perCpuMap && element.size === this.valueStride && value !== undefined && element.size !== this.valueSize) return atOffset(element) as OffsetCodec<V>;
    if (element.size !== this.valueSize) {
      throw new InvalidArgumentError(`${this.#what}: the value codec is ${element.size} bytes but the value size is ${this.valueSize}${perCpuMap ? ` (or ${this.valueStride} for all CPUs)` : ''}`);
    }
    return (perCpuMap ? perCpu(element, this.cpus) : atOffset(element)) as OffsetCodec<V>;
  }

  /** Creates a map with BPF_MAP_CREATE. */
  static create<K = Uint8Array, V = Uint8Array>(opts: MapCreateOptions<K, V> & { type: PerCpuMapType }): BpfMap<K, V[]>;
  static create<K = Uint8Array, V = Uint8Array>(opts: MapCreateOptions<K, V>): BpfMap<K, V>;
  static create<K, V>(opts: MapCreateOptions<K, V>): BpfMap<K, V> {
    const label = `map${opts.name ? ` ${opts.name}` : ''}`;
    if (!isKnownMapType(opts.type)) throw new InvalidArgumentError(`${label}: unknown map type ${String(opts.type)}`);
    const typeName = mapTypeName(opts.type, 'uapi');
    const what = `${label} (${typeName})`;
    const name = opts.name ?? '';
    if (typeof name !== 'string' || !NAME_RE.test(name)) throw new InvalidArgumentError(`${what}: a map name has at most 15 characters of [A-Za-z0-9_.], got ${JSON.stringify(name)}`);
    const keySize = checkSize(what, 'keySize', opts.keySize ?? opts.key?.size ?? 0);
    const valueSize = checkSize(what, 'valueSize', opts.valueSize ?? opts.value?.size ?? 0);
    const maxEntries = checkSize(what, 'maxEntries', opts.maxEntries);
    let flags = checkSize(what, 'flags', opts.flags ?? 0);
    if (opts.key && opts.key.size !== keySize) throw new InvalidArgumentError(`${what}: the key codec is ${opts.key.size} bytes but keySize is ${keySize}`);
    if (opts.value && opts.value.size !== valueSize) throw new InvalidArgumentError(`${what}: the value codec is ${opts.value.size} bytes but valueSize is ${valueSize}`);
    if (opts.numaNode !== undefined) flags |= MapFlags.NUMA_NODE;
    if (opts.type === MapType.STRUCT_OPS && opts.btf?.vmlinuxValueTypeId === undefined) {
      throw new InvalidArgumentError(`${what}: a struct_ops map needs btf.vmlinuxValueTypeId (see structOpsValueType()); BpfMap.createStructOps() does it all`);
    }
    const attr: MapCreateAttr = {
      mapType: opts.type,
      keySize,
      valueSize,
      maxEntries,
      mapFlags: flags >>> 0,
      mapName: name,
      numaNode: opts.numaNode ?? 0,
      mapExtra: BigInt(opts.mapExtra ?? 0),
    };
    if (opts.innerMap !== undefined) {
      if (!(opts.innerMap instanceof BpfMap)) throw new InvalidArgumentError(`${what}: innerMap must be a BpfMap`);
      attr.innerMapFd = opts.innerMap.fd;
    }
    let ownBtf: FD | undefined;
    if (opts.btf) {
      attr.btfFd = opts.btf.fd;
      attr.btfKeyTypeId = opts.btf.keyTypeId;
      attr.btfValueTypeId = opts.btf.valueTypeId;
      attr.btfVmlinuxValueTypeId = opts.btf.vmlinuxValueTypeId ?? 0;
    } else if (isLocalStorage(opts.type) && valueSize > 0) {
      const b = storageBtf(valueSize, what);
      ownBtf = b.fd;
      attr.btfFd = b.fd.value;
      attr.btfKeyTypeId = b.keyTypeId;
      attr.btfValueTypeId = b.valueTypeId;
    }
    let fd: FD;
    try {
      fd = mapCreate(attr, what);
    } catch (err) {
      if (!(err instanceof BpfError) || err.code !== 'EINVAL') throw err;
      const fault = mapCreateFault({ type: opts.type, keySize, valueSize, maxEntries, mapExtra: attr.mapExtra ?? 0n, ...(opts.numaNode !== undefined ? { numaNode: opts.numaNode } : {}) }, typeName);
      if (fault === undefined) throw err;
      throw new MapCreateError(err.errno, what, fault, { cause: err });
    } finally {
      ownBtf?.close();
    }
    try {
      return new BpfMap<K, V>(fd, mapInfo(fd.value), opts.key, opts.value);
    } catch (err) {
      fd.close();
      throw err;
    }
  }

  /**
   * Creates a struct_ops map for the kernel's `struct <ops>` (e.g. "tcp_congestion_ops"):
   * key 4 bytes, value `struct bpf_struct_ops_<ops>` from vmlinux BTF, one entry.
   */
  static createStructOps(ops: string, opts: { name?: string } = {}): BpfMap {
    const vt = structOpsValueType(ops);
    const btf = placeholderBtf(`struct_ops map ${ops}`);
    try {
      return BpfMap.create({
        type: MapType.STRUCT_OPS,
        keySize: 4,
        valueSize: vt.size,
        maxEntries: 1,
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        btf: { fd: btf.value, keyTypeId: 0, valueTypeId: 0, vmlinuxValueTypeId: vt.id },
      });
    } finally {
      btf.close();
    }
  }

  /**
   * Wraps a map fd (a number or an FD), taking ownership of it on success; when this throws,
   * the fd stays open and the caller's.
   */
  static fromFd<K = Uint8Array, V = Uint8Array>(fd: number | FD, opts: MapOpenOptions<K, V> = {}): BpfMap<K, V> {
    const raw = typeof fd === 'number' ? fd : fd.value;
    let link = '';
    try {
      link = readlinkSync(`/proc/self/fd/${raw}`);
    } catch {
      throw new InvalidArgumentError(`fd ${raw} is not open`);
    }
    if (link !== 'anon_inode:bpf-map') throw new InvalidArgumentError(`fd ${raw} is not a BPF map (${link})`);
    const owner = typeof fd === 'number' ? new FD(fd, `map fd ${fd}`) : fd;
    try {
      return new BpfMap<K, V>(owner, mapInfo(raw), opts.key, opts.value as Codec<unknown> | undefined);
    } catch (err) {
      if (owner !== fd) owner.release();
      throw err;
    }
  }

  /**
   * The same kernel map seen through other codecs, on a duplicate of this map's fd: the new
   * BpfMap owns (and closes) its own fd, so either can be closed first. Needs no privileges
   * beyond holding this map.
   */
  withCodecs<K2 = Uint8Array, V2 = Uint8Array>(opts: MapOpenOptions<K2, V2> = {}): BpfMap<K2, V2> {
    const r = dupFd(this.#fd.value);
    if (r < 0) throw new BpfError('dup', -r, this.#what);
    const fd = new FD(r, this.#what);
    try {
      return BpfMap.fromFd<K2, V2>(fd, opts);
    } catch (err) {
      fd.close();
      throw err;
    }
  }

  /** Opens the map pinned at `path` on a bpffs. */
  static openPinned<K = Uint8Array, V = Uint8Array>(path: string, opts: MapOpenOptions<K, V> = {}): BpfMap<K, V> {
    let fd: FD;
    try {
      fd = objGet(path, opts.openFlags ?? 0, 'map');
    } catch (err) {
      checkPinnedPath(path);
      throw err;
    }
    try {
      const m = BpfMap.fromFd<K, V>(fd, opts);
      m.#pinned = resolve(path);
      return m;
    } catch (err) {
      fd.close();
      throw err;
    }
  }

  /** Opens a map by its kernel id (MAP_GET_FD_BY_ID). */
  static fromId<K = Uint8Array, V = Uint8Array>(id: number, opts: MapOpenOptions<K, V> = {}): BpfMap<K, V> {
    if (!Number.isInteger(id) || id <= 0) throw new InvalidArgumentError(`map id must be a positive integer, got ${id}`);
    const fd = getFdById(Cmd.MAP_GET_FD_BY_ID, id, opts.openFlags ?? 0);
    try {
      return BpfMap.fromFd<K, V>(fd, opts);
    } catch (err) {
      fd.close();
      throw err;
    }
  }

  /** The map's current info from the kernel. */
  info(): MapInfo {
    return mapInfo(this.#fd.value);
  }

  /** True when values are arrays of one value per possible CPU. */
  get perCpu(): boolean {
    return isPerCpu(this.type);
  }

  /** The path this map was pinned at by pin() or opened from, until unpin(). */
  get pinnedPath(): string | undefined {
    return this.#pinned;
  }

  /**
   * The raw file descriptor, for attr fields and other processes; the map owns it, so it stays
   * valid until close(), after which reading it throws ClosedError. A number, as on Program and
   * Link.
   */
  get fd(): number {
    return this.#fd.value;
  }

  get closed(): boolean {
    return this.#fd.closed;
  }

  // --- element operations -------------------------------------------------------------------

  // The attrs hold the fd number: refuse to use them once the fd is closed (ClosedError).
  #open(): void {
    if (this.#fd.closed) void this.#fd.value;
  }

  #encodeKey(key: K): void {
    try {
      this.keyCodec.encode(key, this.#key);
    } catch (err) {
      throw this.#badArgument('key', err);
    }
  }

  #encodeValue(value: V): void {
    try {
      this.valueCodec.encode(value, this.#value);
    } catch (err) {
      throw this.#badArgument('value', err);
    }
  }

  #badArgument(part: string, err: unknown): Error {
    if (err instanceof InvalidArgumentError && err.message.includes(this.#what)) return err;
    if (err instanceof InvalidArgumentError || err instanceof TypeError || err instanceof RangeError) {
      return new InvalidArgumentError(`${this.#what}: bad ${part}: ${err.message}`);
    }
    return err as Error;
  }

  // ENOTSUPP (524) is the kernel's "this map type has no such operation"; EOPNOTSUPP is left
  // as it is, because element commands use it to refuse a particular fd (XSKMAP, sockmaps).
  #fail(cmd: Cmd, r: number): Error {
    if (r === -ENOTSUPP) return new NotSupportedError(`BPF_${Cmd[cmd]} on ${mapTypeName(this.type, 'uapi')} maps`, this.#what);
    return new BpfError(`BPF_${Cmd[cmd]}`, -r, this.#what);
  }

  // A raw value copied by the kernel straight into the array returned (see DirectSlab).
  #takeDirect(attr: ElemAttr, cmd: Cmd, flags: number): V | undefined {
    const size = this.#direct;
    directSlab.aim(attr, size);
    const r = attr.run(cmd, flags);
    if (r !== 0) {
      if (r === -ENOENT) return undefined;
      throw this.#fail(cmd, r);
    }
    return directSlab.take(size) as V;
  }

  /** The value at `key`, or undefined when there is none. `flags`: BPF_F_LOCK. */
  lookup(key: K, flags = 0): V | undefined {
    this.#open();
    this.#encodeKey(key);
    if (this.#direct !== 0) return this.#takeDirect(this.#attrs.keyDirect, Cmd.MAP_LOOKUP_ELEM, flags);
    const r = this.#attrs.keyValue.run(Cmd.MAP_LOOKUP_ELEM, flags);
    if (r !== 0) {
      if (r === -ENOENT) return undefined;
      throw this.#fail(Cmd.MAP_LOOKUP_ELEM, r);
    }
    return this.valueCodec.decode(this.#value);
  }

  /**
   * Copies the raw value at `key` into `out` (at least valueStride bytes: valueSize, or one
   * 8-byte-aligned slot per possible CPU for per-CPU maps), as libbpf's bpf_map_lookup_elem
   * does: the kernel writes into `out` and nothing is allocated. False when there is no value
   * (`out` is left as it was). The map keeps a reference to the last `out` it wrote to, so
   * passing the same buffer again costs no address look-up.
   */
  lookupInto(key: K, out: Uint8Array, flags = 0): boolean {
    this.#open();
    if (!(out instanceof Uint8Array) || out.byteLength < this.valueStride) {
      throw new InvalidArgumentError(`${this.#what}: lookupInto needs a Uint8Array of at least ${this.valueStride} bytes`);
    }
    this.#encodeKey(key);
    const attr = this.#attrs.keyOut;
    if (out !== this.#lastOut) {
      const addr = addressOf(out);
      attr.aimValue(Number(addr & 0xffffffffn), Number(addr >> 32n));
      this.#lastOut = out;
    }
    const r = attr.run(Cmd.MAP_LOOKUP_ELEM, flags);
    if (r === 0) return true;
    if (r === -ENOENT) return false;
    throw this.#fail(Cmd.MAP_LOOKUP_ELEM, r);
  }

  /** Writes `value` at `key`. `flags`: UpdateFlags.ANY, NOEXIST, EXIST, optionally | F_LOCK. */
  update(key: K, value: V, flags: number = UpdateFlags.ANY): void {
    this.#open();
    this.#encodeKey(key);
    this.#encodeValue(value);
    const r = this.#attrs.keyValue.run(Cmd.MAP_UPDATE_ELEM, flags);
    if (r !== 0) throw this.#fail(Cmd.MAP_UPDATE_ELEM, r);
  }

  /** Deletes `key`; false when it was not there. */
  delete(key: K): boolean {
    this.#open();
    this.#encodeKey(key);
    const r = this.#attrs.keyOnly.run(Cmd.MAP_DELETE_ELEM, 0);
    if (r === 0) return true;
    if (r === -ENOENT) return false;
    throw this.#fail(Cmd.MAP_DELETE_ELEM, r);
  }

  /** Removes `key` and returns its value, atomically; undefined when it was not there. */
  lookupAndDelete(key: K, flags = 0): V | undefined {
    this.#open();
    this.#encodeKey(key);
    if (this.#direct !== 0) return this.#takeDirect(this.#attrs.keyDirect, Cmd.MAP_LOOKUP_AND_DELETE_ELEM, flags);
    const r = this.#attrs.keyValue.run(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, flags);
    if (r !== 0) {
      if (r === -ENOENT) return undefined;
      throw this.#fail(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, r);
    }
    return this.valueCodec.decode(this.#value);
  }

  #requireKeyless(op: string): void {
    if (this.keySize !== 0) throw new InvalidArgumentError(`${this.#what}: ${op}() is for QUEUE, STACK and BLOOM_FILTER maps`);
  }

  /**
   * Adds a value to a QUEUE, STACK or BLOOM_FILTER. On a full queue or stack, UpdateFlags.EXIST
   * replaces the oldest value instead of failing with E2BIG.
   */
  push(value: V, flags: number = UpdateFlags.ANY): void {
    this.#requireKeyless('push');
    this.#open();
    this.#encodeValue(value);
    const r = this.#attrs.valueOnly.run(Cmd.MAP_UPDATE_ELEM, flags);
    if (r !== 0) throw this.#fail(Cmd.MAP_UPDATE_ELEM, r);
  }

  /** Removes and returns the next value of a QUEUE (oldest) or STACK (newest); undefined when empty. */
  pop(): V | undefined {
    this.#requireKeyless('pop');
    this.#open();
    if (this.#direct !== 0) return this.#takeDirect(this.#attrs.direct, Cmd.MAP_LOOKUP_AND_DELETE_ELEM, 0);
    const r = this.#attrs.valueOnly.run(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, 0);
    if (r !== 0) {
      if (r === -ENOENT) return undefined;
      throw this.#fail(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, r);
    }
    return this.valueCodec.decode(this.#value);
  }

  /** The value pop() would return, without removing it. */
  peek(): V | undefined {
    this.#requireKeyless('peek');
    this.#open();
    if (this.#direct !== 0) return this.#takeDirect(this.#attrs.direct, Cmd.MAP_LOOKUP_ELEM, 0);
    const r = this.#attrs.valueOnly.run(Cmd.MAP_LOOKUP_ELEM, 0);
    if (r !== 0) {
      if (r === -ENOENT) return undefined;
      throw this.#fail(Cmd.MAP_LOOKUP_ELEM, r);
    }
    return this.valueCodec.decode(this.#value);
  }

  /** BLOOM_FILTER membership: false means never pushed; true means probably pushed. */
  contains(value: V): boolean {
    this.#requireKeyless('contains');
    this.#open();
    this.#encodeValue(value);
    const r = this.#attrs.valueOnly.run(Cmd.MAP_LOOKUP_ELEM, 0);
    if (r === 0) return true;
    if (r === -ENOENT) return false;
    throw this.#fail(Cmd.MAP_LOOKUP_ELEM, r);
  }

  // --- iteration ----------------------------------------------------------------------------

  #walker(): KeyWalker {
    return new KeyWalker({
      fd: this.#fd.value,
      valueAddr: this.#valueAddr,
      keySize: this.keySize,
      maxEntries: this.maxEntries,
      restarts: !isIndexed(this.type),
      what: this.#what,
      typeName: mapTypeName(this.type, 'uapi'),
    });
  }

  /**
   * The keys, walked with BPF_MAP_GET_NEXT_KEY one key ahead. Deleting the key just yielded is
   * safe; if another writer deletes the key the walk stands on, the kernel restarts the walk
   * and keys already yielded are skipped, so each key is yielded at most once and every key
   * present throughout is yielded. A map that keeps changing faster than it can be walked ends
   * the walk with IterationAbortedError. Array-like maps yield every index.
   */
  *keys(): Generator<K, void, undefined> {
    const w = this.#walker();
    for (;;) {
      this.#open();
      if (!w.next()) return;
      yield this.keyCodec.decode(w.key);
    }
  }

  /**
   * [key, value] pairs, by keys() and a lookup per key; keys deleted between the two are
   * skipped, as are the empty slots of fd arrays (devmap, sockmap, ...).
   */
  *entries(): Generator<[K, V], void, undefined> {
    const w = this.#walker();
    for (;;) {
      this.#open();
      if (!w.next()) return;
      const r = w.lookup();
      if (r === -ENOENT) continue;
      if (r !== 0) throw this.#fail(Cmd.MAP_LOOKUP_ELEM, r);
      const value = this.valueCodec.decode(this.#value);
      yield [this.keyCodec.decode(w.key), value];
    }
  }

  *values(): Generator<V, void, undefined> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): Generator<[K, V], void, undefined> {
    return this.entries();
  }

  // --- batches ------------------------------------------------------------------------------

  #batch(): BatchTarget<K, V> {
    if (this.#batchTarget) return this.#batchTarget;
    const fd = this.#fd;
    this.#batchTarget = {
      fd: () => fd.value,
      keySize: this.keySize,
      valueStride: this.valueStride,
      maxEntries: this.maxEntries,
      keyCodec: this.keyCodec,
      valueCodec: this.valueCodec,
      what: this.#what,
      typeName: mapTypeName(this.type, 'uapi'),
    };
    return this.#batchTarget;
  }

  /**
   * Every element, with BPF_MAP_LOOKUP_BATCH, as chunks of up to `chunkSize` elements. Each
   * yielded chunk is reused: read it before resuming. Hash maps are walked by bucket, so
   * concurrent deletes cannot restart the walk.
   */
  lookupBatch(opts?: BatchOptions): Generator<BatchChunk<K, V>, void, undefined> {
    void this.#fd.value;
    return lookupBatch(this.#batch(), Cmd.MAP_LOOKUP_BATCH, opts);
  }

  /** Like lookupBatch(), deleting what each chunk returns (hash maps only). */
  lookupAndDeleteBatch(opts?: BatchOptions): Generator<BatchChunk<K, V>, void, undefined> {
    void this.#fd.value;
    return lookupBatch(this.#batch(), Cmd.MAP_LOOKUP_AND_DELETE_BATCH, opts);
  }

  /**
   * Writes keys[i] → values[i] with BPF_MAP_UPDATE_BATCH, creating or replacing each element
   * (the kernel takes no NOEXIST/EXIST here, only BPF_F_LOCK); returns the count written. A
   * failure part way throws BatchError with `done` set.
   */
  updateBatch(keys: ArrayLike<K>, values: ArrayLike<V>, opts?: UpdateBatchOptions): number {
    void this.#fd.value;
    try {
      return updateBatch(this.#batch(), keys, values, opts);
    } catch (err) {
      throw this.#badArgument('batch element', err);
    }
  }

  /** Deletes `keys` with BPF_MAP_DELETE_BATCH, skipping missing ones; returns the count deleted. */
  deleteBatch(keys: ArrayLike<K>, opts?: BatchOptions): number {
    void this.#fd.value;
    try {
      return deleteBatch(this.#batch(), keys, opts);
    } catch (err) {
      throw this.#badArgument('batch key', err);
    }
  }

  // --- whole-map operations -----------------------------------------------------------------

  /** BPF_MAP_FREEZE: user space can no longer write the map (programs still can). */
  freeze(): void {
    mapFreeze(this.#fd.value, this.#what);
  }

  /**
   * Maps a BPF_F_MMAPABLE array (values at 8-byte aligned strides) or an arena into memory and
   * returns the mapping, shared with the kernel and unmapped on close(). Writable unless the
   * map is frozen or read-only to user space.
   */
  mmap(): ArrayBuffer {
    if (this.#mapping) return this.#mapping.buffer;
    const fd = this.#fd.value;
    const page = pageSize();
    let length: number;
    if (this.type === MapType.ARENA) {
      // An arena with a fixed address (map_extra) only maps when mmap() is asked for exactly
      // that address, which the native mmap() cannot express.
      if (this.mapExtra !== 0n) throw new NotSupportedError('mmap() of an arena created with mapExtra', `${this.#what} must be mapped at 0x${this.mapExtra.toString(16)}; create it without mapExtra to let the kernel choose`);
      length = this.maxEntries * page;
    }
    else if (this.type === MapType.ARRAY && (this.flags & MapFlags.MMAPABLE) !== 0) length = roundUp(roundUp(this.valueSize, 8) * this.maxEntries, page);
    else throw new InvalidArgumentError(`${this.#what}: only ARRAY maps created with MapFlags.MMAPABLE and ARENA maps can be mmap()ed`);
    const readOnly = (this.flags & MapFlags.RDONLY) !== 0;
    let m = mmap(fd, length, readOnly ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED, 0);
    if (typeof m === 'number' && (m === -EPERM || m === -EACCES) && !readOnly) m = mmap(fd, length, PROT_READ, MAP_SHARED, 0);
    if (typeof m === 'number') throw new BpfError('mmap', -m, this.#what);
    this.#mapping = m;
    return m.buffer;
  }

  /**
   * Pins the map at `path` on a bpffs, creating missing parent directories there. Throws
   * BpffsError (saying how to mount one) when `path` is not below a bpffs.
   */
  pin(path: string): void {
    const fd = this.#fd.value;
    const abs = preparePinPath(path);
    objPin(fd, abs);
    this.#pinned = abs;
  }

  /** Removes the pin made by pin() (or the one opened); false when it was already gone. */
  unpin(): boolean {
    const path = this.#pinned;
    if (path === undefined) return false;
    this.#pinned = undefined;
    return removePin(path);
  }

  /** Unmaps any mapping and closes the fd; safe to call more than once. Pins stay. */
  close(): void {
    if (this.#mapping) {
      munmap(this.#mapping);
      this.#mapping = undefined;
    }
    this.#fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return this.#fd.closed ? `${this.#what} (closed)` : this.#what;
  }
}
