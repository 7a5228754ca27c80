// Reading a BPF_MAP_TYPE_PERF_EVENT_ARRAY: one BPF output event and ring per CPU.
import type { Codec } from '../codec/index.js';
import { BpfError, InvalidArgumentError } from '../errors.js';
import { mapFdOpen, openMap, type MapSource } from '../ringbuf/map-source.js';
import { pageSize } from '../ringbuf/mapping.js';
import { recordMaker, type RecordMaker } from '../ringbuf/reader.js';
import { EventStream, NONE } from '../ringbuf/stream.js';
import { FD } from '../sys/fd.js';
import { mapElemRaw } from '../sys/attrs.js';
import { Cmd, MapType } from '../sys/types.js';
import { PERF_EVENT_IOC_ENABLE, bpfOutputAttr, perfEventOpenRaw, perfIoctl } from '../sys/perf.js';
import { possibleCpuIds } from '../sys/cpus.js';
import { LOST, NOTHING, PerfRing } from './ring.js';
import { ENODEV, ENOENT } from '../sys/errno.js';

export interface PerfReaderOptions<T> {
  /** Decodes each sample; the decoded value never aliases the ring. */
  codec?: Codec<T>;
  /** Gives each sample as a copy the caller may keep, instead of a view into the ring. */
  copy?: boolean;
  /** Aborting closes the reader, which ends iteration (done) and callbacks. */
  signal?: AbortSignal;
  /** Bytes of ring per CPU, rounded up to a power-of-two number of pages. Default 64 KiB. */
  bufferSize?: number;
  /** Wake the reader after this many samples on a CPU. Default 1. */
  wakeupEvents?: number;
  /** Wake the reader when a CPU's ring holds this many bytes instead. */
  watermark?: number;
  /**
   * Overwritable rings: the kernel writes backwards and overwrites the oldest records instead
   * of losing new ones. Each read takes what was written since the previous one (as much as
   * the ring still holds), oldest first.
   */
  overwritable?: boolean;
  /** Called with the samples the kernel dropped on a CPU because its ring was full. */
  onLost?: (lost: number, cpu: number) => void;
}

/** A sample and the CPU whose ring it was in. */
export interface PerfSample<T> {
  readonly cpu: number;
  readonly record: T;
  readonly lost?: undefined;
}

/** Samples the kernel dropped on a CPU because its ring was full. */
export interface PerfLost {
  readonly cpu: number;
  readonly lost: number;
  readonly record?: undefined;
}

export type PerfRecord<T> = PerfSample<T> | PerfLost;

export type PerfRecordCallback<T> = (record: T, cpu: number) => void;

/**
 * A sample without a view made for it: `data[offset, offset + length)`. `data` is the CPU's
 * data area, or a scratch buffer for a sample that wraps around its end.
 */
export type PerfRawCallback = (data: Uint8Array, offset: number, length: number, cpu: number) => void;

function roundPages(bytes: number): number {
  let pages = 1;
  while (pages * pageSize() < bytes) pages *= 2;
  return pages;
}

/**
 * Reads what BPF programs send with bpf_perf_event_output into a BPF_MAP_TYPE_PERF_EVENT_ARRAY.
 * Opens a PERF_COUNT_SW_BPF_OUTPUT event on every possible CPU the map has a slot for (offline
 * CPUs are skipped and listed in `offlineCpus`), maps its ring, stores its fd in the map at
 * the CPU's index and enables it.
 *
 * Samples come with their CPU, as views, copies or decoded values like RingBufReader's; the
 * raw data of a sample is padded by the kernel so that its u32 size and data end on 8 bytes,
 * so a view may be up to 7 bytes longer than what the program sent. A view is valid during
 * the callback, or until the next record is requested in `for await`.
 *
 * Samples the kernel dropped (PERF_RECORD_LOST) are counted in `lost` per CPU, passed to
 * `onLost`, and yielded as `{ cpu, lost }` items by `for await`.
 */
export class PerfReader<T = Uint8Array> extends EventStream<PerfRecord<T>> {
  readonly mapFd: number;
  readonly mapId: number;
  /** The CPUs with a ring, in the order of `rings`. */
  readonly cpus: readonly number[];
  /** Possible CPUs that were offline when the reader was made. */
  readonly offlineCpus: readonly number[];
  readonly #source: MapSource;
  readonly #rings: PerfRing[];
  readonly #lost: number[];
  readonly #make: RecordMaker<T>;
  readonly #onLost: ((lost: number, cpu: number) => void) | undefined;
  #callback: PerfRecordCallback<T> | undefined;
  #rawCallback: PerfRawCallback | undefined;
  #current = 0;
  #paused = false;

  constructor(source: MapSource, options: PerfReaderOptions<T> = {}) {
    super();
    const { fd, info } = openMap(source, MapType.PERF_EVENT_ARRAY, 'PerfReader');
    this.mapFd = fd;
    this.mapId = info.id;
    this.#source = source;
    if (options.watermark !== undefined && options.wakeupEvents !== undefined) {
      throw new InvalidArgumentError(`${this.describe()}: give wakeupEvents or watermark, not both`);
    }
    const pages = roundPages(options.bufferSize ?? 65536);
    const attr = bpfOutputAttr({
      ...(options.wakeupEvents !== undefined ? { wakeupEvents: options.wakeupEvents } : {}),
      ...(options.watermark !== undefined ? { watermark: options.watermark } : {}),
      backward: options.overwritable === true,
    });
    const rings: PerfRing[] = [];
    const offline: number[] = [];
    try {
      for (const cpu of possibleCpuIds()) {
        if (cpu >= info.maxEntries) break;
        const r = perfEventOpenRaw(attr, -1, cpu);
        if (r === -ENODEV) {
          offline.push(cpu);
          continue;
        }
        if (r < 0) throw new BpfError('perf_event_open', -r, `BPF output event on CPU ${cpu}`);
        const owned = new FD(r, `perf event of CPU ${cpu}`);
        let ring: PerfRing;
        try {
          ring = new PerfRing(cpu, owned, pages, options.overwritable === true);
        } catch (err) {
          owned.close();
          throw err;
        }
        rings.push(ring);
        this.#setSlot(cpu, ring.fd.value);
        perfIoctl(ring.fd.value, PERF_EVENT_IOC_ENABLE, 0, 'perf event ioctl', `perf event of CPU ${cpu}`);
      }
    } catch (err) {
      for (const ring of rings) {
        clearSlotRaw(fd, ring.cpu);
        ring.close();
      }
      throw err;
    }
    this.#rings = rings;
    this.cpus = rings.map((r) => r.cpu);
    this.offlineCpus = offline;
    this.#lost = new Array<number>(rings.length === 0 ? 0 : Math.max(...this.cpus) + 1).fill(0);
    this.#make = recordMaker(options.codec, options.copy === true, () => this.describe());
    this.#onLost = options.onLost;
    this.watch(rings.map((r) => r.fd.value), options.signal);
  }

  protected describe(): string {
    return `perf event reader of map ${this.mapId}`;
  }

  /** Samples the kernel dropped, by CPU number (0 for CPUs without a ring). */
  get lost(): readonly number[] {
    return this.#lost;
  }

  get lostTotal(): number {
    let n = 0;
    for (const l of this.#lost) n += l;
    return n;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Takes the rings out of the map: bpf_perf_event_output fails (-ENOENT) until resume().
   * Samples already in the rings can still be read.
   */
  pause(): void {
    this.checkOpen();
    if (this.#paused) return;
    for (const ring of this.#rings) this.#clearSlot(ring.cpu);
    this.#paused = true;
  }

  /** Puts the rings back into the map. */
  resume(): void {
    this.checkOpen();
    if (!this.#paused) return;
    for (const ring of this.#rings) this.#setSlot(ring.cpu, ring.fd.value);
    this.#paused = false;
  }

  /** Delivers samples to `callback` as the kernel signals them, until stop() or close(). */
  start(callback: PerfRecordCallback<T>): this {
    this.#callback = callback;
    this.#rawCallback = undefined;
    this.startCallbacks();
    return this;
  }

  /** The same as start(). */
  onRecord(callback: PerfRecordCallback<T>): this {
    return this.start(callback);
  }

  /** start() without a view per sample: see PerfRawCallback. */
  startRaw(callback: PerfRawCallback): this {
    this.#rawCallback = callback;
    this.#callback = undefined;
    this.startCallbacks();
    return this;
  }

  /** Reads every sample ready now on every CPU, synchronously; returns how many were delivered. */
  drain(callback: PerfRecordCallback<T>): number {
    this.checkOpen();
    let n = 0;
    for (const ring of this.#rings) n += this.#drainRing(ring, callback, undefined, Infinity);
    return n;
  }

  /** drain() without a view per sample: see PerfRawCallback. */
  drainRaw(callback: PerfRawCallback): number {
    this.checkOpen();
    let n = 0;
    for (const ring of this.#rings) n += this.#drainRing(ring, undefined, callback, Infinity);
    return n;
  }

  /** Delivers what is ready, or waits for a signal (at most `timeoutMs`) and delivers what came. */
  async poll(callback: PerfRecordCallback<T>, timeoutMs?: number): Promise<number> {
    const n = this.drain(callback);
    if (n > 0) return n;
    if (!(await this.waitReady(timeoutMs)) || this.closed) return 0;
    return this.drain(callback);
  }

  protected dispatch(index: number): void {
    const rings = this.#rings;
    if (index >= 0) {
      const ring = rings[index]!;
      this.#drainRing(ring, this.#callback, this.#rawCallback, ring.dataSize);
      return;
    }
    for (const ring of rings) this.#drainRing(ring, this.#callback, this.#rawCallback, ring.dataSize);
  }

  #drainRing(ring: PerfRing, callback: PerfRecordCallback<T> | undefined, raw: PerfRawCallback | undefined, limit: number): number {
    const make = this.#make;
    const cpu = ring.cpu;
    const first = ring.position;
    let n = 0;
    try {
      while (ring.position - first < limit) {
        const kind = ring.next();
        if (kind === NOTHING) break;
        if (kind === LOST) {
          this.#countLost(cpu, ring.lost);
          continue;
        }
        n++;
        if (raw !== undefined) raw(ring.src, ring.start, ring.length, cpu);
        else if (callback !== undefined) callback(make(ring.src, ring.start, ring.length), cpu);
      }
    } finally {
      ring.commit();
    }
    return n;
  }

  /** Iteration: hands back the record given out before, then finds the next. */
  protected take(): PerfRecord<T> | typeof NONE {
    const rings = this.#rings;
    rings[this.#current]?.commit();
    for (let k = 0; k < rings.length; k++) {
      const i = (this.#current + k) % rings.length;
      const ring = rings[i]!;
      const kind = ring.next();
      if (kind === NOTHING) continue;
      this.#current = i;
      if (kind === LOST) {
        this.#countLost(ring.cpu, ring.lost);
        return { cpu: ring.cpu, lost: ring.lost };
      }
      return { cpu: ring.cpu, record: this.#make(ring.src, ring.start, ring.length) };
    }
    return NONE;
  }

  protected pending(): boolean {
    return this.#rings.some((ring) => ring.pending);
  }

  protected release(): void {
    for (const ring of this.#rings) ring.commit();
  }

  protected teardown(): void {
    // A map closed first has let go of the rings already (and its fd number may be reused).
    const clear = !this.#paused && mapFdOpen(this.#source);
    for (const ring of this.#rings) {
      if (clear) clearSlotRaw(this.mapFd, ring.cpu);
      ring.close();
    }
  }

  #countLost(cpu: number, lost: number): void {
    this.#lost[cpu] = (this.#lost[cpu] ?? 0) + lost;
    this.#onLost?.(lost, cpu);
  }

  #setSlot(cpu: number, perfFd: number): void {
    const r = mapElemRaw(Cmd.MAP_UPDATE_ELEM, this.mapFd, u32(cpu), u32(perfFd));
    if (r < 0) throw new BpfError('BPF_MAP_UPDATE_ELEM', -r, `${this.describe()}, CPU ${cpu}`);
  }

  #clearSlot(cpu: number): void {
    const r = clearSlotRaw(this.mapFd, cpu);
    if (r < 0 && r !== -ENOENT) throw new BpfError('BPF_MAP_DELETE_ELEM', -r, `${this.describe()}, CPU ${cpu}`);
  }
}

function u32(value: number): Uint32Array {
  return Uint32Array.of(value);
}

/** Empties the perf event array's slot of `cpu`: 0 or -errno. */
function clearSlotRaw(mapFd: number, cpu: number): number {
  return mapElemRaw(Cmd.MAP_DELETE_ELEM, mapFd, u32(cpu));
}
