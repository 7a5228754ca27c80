// One CPU's perf ring: the mapped metadata page and data area, read by the data_head/data_tail
// protocol (forward rings) or by snapshots from data_head (backward, overwritable rings).
import type { FD } from '../sys/fd.js';
import { Mapping, pageSize, PROT_READ, PROT_WRITE } from '../ringbuf/mapping.js';
import { Position64 } from '../ringbuf/position.js';
import { MMAP_DATA_HEAD, MMAP_DATA_OFFSET, MMAP_DATA_SIZE, MMAP_DATA_TAIL, PERF_EVENT_IOC_PAUSE_OUTPUT, PERF_RECORD_LOST, PERF_RECORD_SAMPLE, perfIoctl } from '../sys/perf.js';

/** What next() found. */
export const NOTHING = 0;
export const SAMPLE = 1;
export const LOST = 2;
export type RecordKind = typeof NOTHING | typeof SAMPLE | typeof LOST;

/** perf_event_header (8 bytes), then the u32 size of the raw data of a PERF_SAMPLE_RAW sample. */
const SAMPLE_RAW_SIZE = 8;
const SAMPLE_RAW_DATA = 12;
/** perf_event_header, u64 id, then the u64 count of a PERF_RECORD_LOST. */
const LOST_COUNT = 16;
/** The largest record: perf_event_header.size is a u16. */
const MAX_RECORD = 0x10000;

/**
 * The record next() found is `src[start, start + length)`: in the data area, or in a scratch
 * buffer when it wraps around the end (or comes from a snapshot). `lost` is set for LOST.
 */
export class PerfRing {
  readonly cpu: number;
  readonly fd: FD;
  readonly backward: boolean;
  /** The size of the data area in bytes. */
  readonly dataSize: number;
  src: Uint8Array;
  start = 0;
  length = 0;
  lost = 0;
  readonly #mapping: Mapping;
  readonly #head: Position64;
  readonly #tailPos: Position64;
  readonly #data: Uint8Array;
  readonly #view: DataView;
  readonly #mask: number;
  #tail: number;
  #end: number;
  #committed: number;
  #scratch: Uint8Array | undefined;
  /** Backward rings: the last snapshot, the record offsets in it, how many are left to hand out. */
  #snapshot: Uint8Array | undefined;
  #snapshotView: DataView | undefined;
  readonly #offsets: number[] = [];
  #left = 0;
  /** Backward rings: bytes copied out so far. */
  #snapshotted = 0;

  /** Takes ownership of `fd` and maps 1 + `pages` pages of it. */
  constructor(cpu: number, fd: FD, pages: number, backward: boolean) {
    this.cpu = cpu;
    this.fd = fd;
    this.backward = backward;
    this.#mapping = new Mapping(fd.value, (1 + pages) * pageSize(), backward ? PROT_READ : PROT_READ | PROT_WRITE, 0, `perf ring of CPU ${cpu}`);
    const meta = new DataView(this.#mapping.buffer, 0, pageSize());
    const offset = Number(meta.getBigUint64(MMAP_DATA_OFFSET, true)) || pageSize();
    this.dataSize = Number(meta.getBigUint64(MMAP_DATA_SIZE, true)) || pages * pageSize();
    this.#mask = this.dataSize - 1;
    this.#head = new Position64(this.#mapping.buffer, MMAP_DATA_HEAD);
    this.#tailPos = new Position64(this.#mapping.buffer, MMAP_DATA_TAIL);
    this.#data = new Uint8Array(this.#mapping.buffer, offset, this.dataSize);
    this.#view = new DataView(this.#mapping.buffer, offset, this.dataSize);
    this.src = this.#data;
    this.#tail = backward ? this.#head.loadLow() : this.#tailPos.load();
    this.#end = this.#tail;
    this.#committed = this.#tail;
  }

  /** The read position: bytes consumed since the ring was created, for lap limits. */
  get position(): number {
    return this.backward ? this.#snapshotted : this.#tail;
  }

  /** Whether records may be waiting, without reading them. */
  get pending(): boolean {
    if (this.backward) return this.#left > 0 || this.#head.loadLow() !== this.#tail;
    return this.#tail !== this.#end || this.#head.loadAhead(this.#tail) !== this.#tail;
  }

  /** Finds the next record; NOTHING hands everything read back to the kernel first. */
  next(): RecordKind {
    return this.backward ? this.#nextBackward() : this.#nextForward();
  }

  /** Hands back what was read (stores data_tail), at most once per batch. */
  commit(): void {
    if (this.backward || this.#tail === this.#committed) return;
    this.#tailPos.store(this.#tail, this.#committed);
    this.#committed = this.#tail;
  }

  close(): void {
    this.#mapping.unmap();
    this.fd.close();
  }

  #nextForward(): RecordKind {
    const view = this.#view;
    const mask = this.#mask;
    for (;;) {
      if (this.#tail === this.#end) {
        this.commit();
        this.#end = this.#head.loadAhead(this.#tail);
        if (this.#tail === this.#end) return NOTHING;
      }
      const at = this.#tail & mask;
      const type = view.getUint32(at, true);
      const size = view.getUint16(at + 6, true);
      if (size < 8) {
        // A header the kernel cannot have written: drop what is there rather than loop.
        this.#tail = this.#end;
        continue;
      }
      this.#tail += size;
      if (type === PERF_RECORD_SAMPLE) {
        this.#place(view.getUint32((at + SAMPLE_RAW_SIZE) & mask, true), (at + SAMPLE_RAW_DATA) & mask);
        return SAMPLE;
      }
      if (type === PERF_RECORD_LOST) {
        const c = (at + LOST_COUNT) & mask;
        this.lost = view.getUint32(c, true) + view.getUint32(c + 4, true) * 0x100000000;
        return LOST;
      }
    }
  }

  /** Points src/start/length at `length` bytes from `start` in the data area, unwrapped. */
  #place(length: number, start: number): void {
    this.length = length;
    if (start + length <= this.dataSize) {
      this.src = this.#data;
      this.start = start;
      return;
    }
    const scratch = (this.#scratch ??= new Uint8Array(new ArrayBuffer(MAX_RECORD)));
    const first = this.dataSize - start;
    scratch.set(this.#data.subarray(start, this.dataSize), 0);
    scratch.set(this.#data.subarray(0, length - first), first);
    this.src = scratch;
    this.start = 0;
  }

  #nextBackward(): RecordKind {
    for (;;) {
      if (this.#left === 0 && !this.#takeSnapshot()) return NOTHING;
      const at = this.#offsets[--this.#left]!;
      const view = this.#snapshotView!;
      const type = view.getUint32(at, true);
      if (type === PERF_RECORD_SAMPLE) {
        this.src = this.#snapshot!;
        this.start = at + SAMPLE_RAW_DATA;
        this.length = view.getUint32(at + SAMPLE_RAW_SIZE, true);
        return SAMPLE;
      }
      if (type === PERF_RECORD_LOST) {
        this.lost = view.getUint32(at + LOST_COUNT, true) + view.getUint32(at + LOST_COUNT + 4, true) * 0x100000000;
        return LOST;
      }
    }
  }

  /**
   * Copies what was written since the last snapshot out of the paused ring, newest first as the
   * kernel lays it out, and lists the whole records in it; false when nothing is new.
   */
  #takeSnapshot(): boolean {
    const what = `perf ring of CPU ${this.cpu}`;
    perfIoctl(this.fd.value, PERF_EVENT_IOC_PAUSE_OUTPUT, 1, 'perf event ioctl', what);
    let bytes: number;
    let head: number;
    try {
      head = this.#head.loadLow();
      // data_head moves down; everything from it up to the previous head is new.
      bytes = Math.min((this.#tail - head) >>> 0, this.dataSize);
      if (bytes > 0) {
        const snapshot = (this.#snapshot ??= new Uint8Array(new ArrayBuffer(this.dataSize)));
        const at = head & this.#mask;
        const first = Math.min(bytes, this.dataSize - at);
        snapshot.set(this.#data.subarray(at, at + first), 0);
        if (first < bytes) snapshot.set(this.#data.subarray(0, bytes - first), first);
        this.#snapshotView ??= new DataView(snapshot.buffer);
      }
    } finally {
      perfIoctl(this.fd.value, PERF_EVENT_IOC_PAUSE_OUTPUT, 0, 'perf event ioctl', what);
    }
    this.#tail = head;
    this.#snapshotted += bytes;
    if (bytes === 0) return false;
    const view = this.#snapshotView!;
    const offsets = this.#offsets;
    offsets.length = 0;
    for (let at = 0; at + 8 <= bytes; ) {
      const size = view.getUint16(at + 6, true);
      // The oldest record may be cut by the overwriting; it ends the snapshot.
      if (size < 8 || at + size > bytes) break;
      offsets.push(at);
      at += size;
    }
    this.#left = offsets.length;
    return this.#left > 0;
  }
}
