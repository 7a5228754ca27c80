// Reading a BPF_MAP_TYPE_RINGBUF map in place, woken by the event loop.
import { isOffsetCodec, type Codec } from '../codec/index.js';
import { TsbpfError } from '../errors.js';
import { MapType } from '../sys/types.js';
import { openMap, type MapSource } from './map-source.js';
import { pageSize } from './mapping.js';
import { RingPages } from './pages.js';
import { RINGBUF_DISCARD_BIT, RINGBUF_HDR_SZ, RINGBUF_LEN_MASK, checkRingSize } from './layout.js';
import type { Position64 } from './position.js';
import { EventStream, NONE } from './stream.js';

/**
 * How often in a lap of the ring a long drain hands space back. A producer faster than one
 * batch would otherwise find the ring full until the batch ends.
 */
const COMMITS_PER_LAP = 16;

/** Lets a set drain a member to its own callback, a lap of the ring at most. */
export const drainLap: unique symbol = Symbol('drainLap');

export interface RingBufReaderOptions<T> {
  /** Decodes each record; the decoded value never aliases the ring. */
  codec?: Codec<T>;
  /** Gives each record as a copy the caller may keep, instead of a view into the ring. */
  copy?: boolean;
  /** Aborting closes the reader, which ends iteration (done) and callbacks. */
  signal?: AbortSignal;
}

export type RecordCallback<T> = (record: T) => void;

/**
 * A record without a view made for it: it is `data[offset, offset + length)`, where `data` is
 * the reader's whole data area (mapped twice, so every record is contiguous). Nothing is
 * allocated per record; read it with a DataView made once over `data`, or a codec's decodeAt.
 */
export type RawRecordCallback = (data: Uint8Array, offset: number, length: number) => void;

/** Makes the value handed out for the record at `start` (in the data area) of `length` bytes. */
export type RecordMaker<T> = (data: Uint8Array, start: number, length: number) => T;

/** The maker for a reader's options: views, copies or decoded values. */
export function recordMaker<T>(codec: Codec<T> | undefined, copy: boolean, what: () => string): RecordMaker<T> {
  if (codec === undefined) {
    const make: RecordMaker<Uint8Array> = copy
      ? (data, start, length) => data.slice(start, start + length)
      : (data, start, length) => data.subarray(start, start + length);
    return make as RecordMaker<T>;
  }
  const size = codec.size;
  const tooShort = (length: number): TsbpfError =>
    new TsbpfError('EMSGSIZE', `${what()}: a record of ${length} bytes is shorter than the ${size} bytes its codec reads`);
  if (isOffsetCodec(codec)) {
    return (data, start, length) => {
      if (length < size) throw tooShort(length);
      return codec.decodeAt(data, start);
    };
  }
  return (data, start, length) => {
    if (length < size) throw tooShort(length);
    return codec.decode(data.subarray(start, start + length));
  };
}

/**
 * Reads the records BPF programs write into a BPF_MAP_TYPE_RINGBUF map (bpf_ringbuf_output,
 * bpf_ringbuf_reserve + submit), in place from the mapped ring: no copy, no syscall per record.
 *
 * Records come as `Uint8Array` views into the ring, as copies with `{ copy: true }`, or
 * decoded with `{ codec }`. A view handed to a callback is valid during the call; a view from
 * `for await` is valid until the next record is requested (the space is handed back to the
 * kernel then). Keep a record past that by copying it (`record.slice()`).
 *
 * drain() and callbacks work in batches: every record ready when the reader wakes is read,
 * then the consumer position is stored once and the producer position checked again, so a
 * record committed in between is not left without a wake-up. A batch longer than a
 * sixteenth of the ring also stores the position each time it has read that much, so a
 * producer faster than the batch finds space freed as it goes. Iteration hands each record back
 * when the next is requested, so a slow loop body holds one record of the ring, not a batch.
 * A consumer position store is one 32-bit store (see Position64); nothing is allocated per
 * record beyond the view, and drainRaw()/startRaw() skip the view too.
 *
 * The map must stay open while the reader is; closing the reader unmaps the ring.
 */
export class RingBufReader<T = Uint8Array> extends EventStream<T> {
  readonly mapFd: number;
  readonly mapId: number;
  /** The size of the data area in bytes (the map's max_entries). */
  readonly size: number;
  readonly #mask: number;
  readonly #pages: RingPages;
  readonly #consumerPos: Position64;
  readonly #producerPos: Position64;
  /** The data area as 32-bit words, for the header loads. */
  readonly #words: Int32Array;
  /** The data area, twice. */
  readonly #data: Uint8Array;
  readonly #make: RecordMaker<T>;
  /** The position of the next record to read. */
  #cons: number;
  /** The producer position last read: records before it are committed or busy. */
  #end: number;
  /** The position last stored for the kernel. */
  #committed: number;
  /** Bytes read in one drain after which the position is stored before reading on. */
  readonly #commitEvery: number;
  #callback: RecordCallback<T> | undefined;
  #rawCallback: RawRecordCallback | undefined;

  constructor(source: MapSource, options: RingBufReaderOptions<T> = {}) {
    super();
    const { fd, info } = openMap(source, MapType.RINGBUF, 'RingBufReader');
    this.mapFd = fd;
    this.mapId = info.id;
    this.size = info.maxEntries;
    checkRingSize(this.size, this.describe());
    this.#mask = this.size - 1;
    this.#pages = new RingPages(fd, this.size, 'consumer', this.describe());
    this.#consumerPos = this.#pages.consumerPos;
    this.#producerPos = this.#pages.producerPos;
    this.#words = this.#pages.words;
    this.#data = this.#pages.data;
    this.#make = recordMaker(options.codec, options.copy === true, () => this.describe());
    this.#cons = this.#consumerPos.load();
    this.#end = this.#cons;
    this.#committed = this.#cons;
    this.#commitEvery = Math.max(this.size / COMMITS_PER_LAP, pageSize());
    this.watch([fd], options.signal);
  }

  protected describe(): string {
    return `ring buffer reader of map ${this.mapId}`;
  }

  /** Bytes the producers have reserved that this reader has not handed back yet. */
  get pendingBytes(): number {
    this.checkOpen();
    return this.#producerPos.loadAhead(this.#committed) - this.#committed;
  }

  /**
   * Delivers records to `callback` as the kernel signals them, until stop() or close(). The
   * callback's record is only valid during the call. A callback that throws stops the batch
   * (the record it threw on counts as read) and the error goes to the process as uncaught.
   */
  start(callback: RecordCallback<T>): this {
    this.#callback = callback;
    this.#rawCallback = undefined;
    this.startCallbacks();
    return this;
  }

  /** start() without a view per record: see RawRecordCallback. */
  startRaw(callback: RawRecordCallback): this {
    this.#rawCallback = callback;
    this.#callback = undefined;
    this.startCallbacks();
    return this;
  }

  /** The same as start(). */
  onRecord(callback: RecordCallback<T>): this {
    return this.start(callback);
  }

  /** Reads every record ready now, synchronously; returns how many were delivered. */
  drain(callback: RecordCallback<T>): number {
    this.checkOpen();
    return this.#drain(callback, undefined, Infinity);
  }

  /** drain() without a view per record: see RawRecordCallback. */
  drainRaw(callback: RawRecordCallback): number {
    this.checkOpen();
    return this.#drain(undefined, callback, Infinity);
  }

  /**
   * Delivers what is ready; when nothing is, waits for the kernel's signal (at most
   * `timeoutMs`) and delivers what came. Resolves with the number delivered.
   */
  async poll(callback: RecordCallback<T>, timeoutMs?: number): Promise<number> {
    const n = this.drain(callback);
    if (n > 0) return n;
    if (!(await this.waitReady(timeoutMs)) || this.closed) return 0;
    return this.drain(callback);
  }

  [drainLap](callback: RecordCallback<T>): number {
    return this.#drain(callback, undefined, this.size);
  }

  protected dispatch(): void {
    // One lap of the ring per wake-up keeps a fast producer from starving the event loop.
    this.#drain(this.#callback, this.#rawCallback, this.size);
  }

  #drain(callback: RecordCallback<T> | undefined, raw: RawRecordCallback | undefined, limit: number): number {
    const words = this.#words;
    const data = this.#data;
    const mask = this.#mask;
    const make = this.#make;
    const commitEvery = this.#commitEvery;
    const first = this.#cons;
    let cons = first;
    let end = this.#end;
    let n = 0;
    // Where the next store is due, kept in a local: the check runs once per record.
    let commitAt = this.#committed + commitEvery;
    try {
      for (;;) {
        if (cons === end) {
          this.#cons = cons;
          this.#commit();
          commitAt = cons + commitEvery;
          if (cons - first >= limit) break;
          end = this.#producerPos.loadAhead(cons);
          if (cons === end) break;
        }
        const at = cons & mask;
        const header = Atomics.load(words, at >> 2);
        if (header < 0) break;
        const length = header & RINGBUF_LEN_MASK;
        cons += (length + RINGBUF_HDR_SZ + 7) & ~7;
        if ((header & RINGBUF_DISCARD_BIT) !== 0) continue;
        n++;
        if (raw !== undefined) raw(data, at + RINGBUF_HDR_SZ, length);
        else if (callback !== undefined) callback(make(data, at + RINGBUF_HDR_SZ, length));
        if (cons >= commitAt) {
          this.#cons = cons;
          this.#commit();
          commitAt = cons + commitEvery;
        }
      }
    } finally {
      this.#cons = cons;
      this.#end = end;
      this.#commit();
    }
    return n;
  }

  /** Iteration: hands back the record given out before, then finds the next. */
  protected take(): T | typeof NONE {
    const words = this.#words;
    let cons = this.#cons;
    this.#commit();
    for (;;) {
      if (cons === this.#end) {
        this.#cons = cons;
        this.#commit();
        this.#end = this.#producerPos.loadAhead(cons);
        if (cons === this.#end) return NONE;
      }
      const at = cons & this.#mask;
      const header = Atomics.load(words, at >> 2);
      if (header < 0) {
        this.#cons = cons;
        this.#commit();
        return NONE;
      }
      const length = header & RINGBUF_LEN_MASK;
      cons += (length + RINGBUF_HDR_SZ + 7) & ~7;
      if ((header & RINGBUF_DISCARD_BIT) !== 0) continue;
      this.#cons = cons;
      return this.#make(this.#data, at + RINGBUF_HDR_SZ, length);
    }
  }

  protected pending(): boolean {
    return this.#cons !== this.#end || this.#producerPos.loadAhead(this.#cons) !== this.#cons;
  }

  protected release(): void {
    this.#commit();
  }

  protected teardown(): void {
    this.#pages.unmap();
  }

  #commit(): void {
    const cons = this.#cons;
    if (cons === this.#committed) return;
    this.#consumerPos.store(cons, this.#committed);
    this.#committed = cons;
  }
}
