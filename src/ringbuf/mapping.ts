// Ownership of one memory mapping of a kernel object: unmapped exactly once, by close or by GC.
import { BpfError } from '../errors.js';
import { MAP_SHARED, mmap, munmap, pageSize, type Mapped } from '../sys/memory.js';

export { PROT_READ, PROT_WRITE } from '../sys/memory.js';

/** The size of a page, the unit every ring buffer mapping is measured in (asked on first use). */
export { pageSize };

/**
 * A shared mapping of `length` bytes of `fd` at `offset`. `buffer` is detached by unmap(), so a
 * view kept past close() throws instead of reading unmapped memory.
 */
export class Mapping {
  readonly buffer: ArrayBuffer;
  #handle: Mapped | undefined;

  constructor(fd: number, length: number, prot: number, offset: number, what: string) {
    const m = mmap(fd, length, prot, MAP_SHARED, offset);
    if (typeof m === 'number') throw new BpfError('mmap', -m, `${what}: ${length} bytes at offset ${offset}`);
    this.buffer = m.buffer;
    this.#handle = m;
  }

  get mapped(): boolean {
    return this.#handle !== undefined;
  }

  unmap(): void {
    const h = this.#handle;
    if (h === undefined) return;
    this.#handle = undefined;
    munmap(h);
  }
}
