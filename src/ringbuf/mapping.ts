// Ownership of one memory mapping of a kernel object: unmapped exactly once, by close or by GC.
import { BpfError } from '../errors.js';
import { native } from '../sys/native.js';

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;

/**
 * The size of a page, the unit every ring buffer mapping is measured in. Asked of the addon on
 * first use, not at import: importing tsbpf (parsing an object, `--help`) loads no native code.
 */
export function pageSize(): number {
  return native.constants.PAGE_SIZE;
}

/**
 * A shared mapping of `length` bytes of `fd` at `offset`. `buffer` is detached by unmap(), so a
 * view kept past close() throws instead of reading unmapped memory.
 */
export class Mapping {
  readonly buffer: ArrayBuffer;
  #handle: object | undefined;

  constructor(fd: number, length: number, prot: number, offset: number, what: string) {
    const m = native.mmap(fd, length, prot, MAP_SHARED, offset);
    if (typeof m === 'number') throw new BpfError('mmap', -m, `${what}: ${length} bytes at offset ${offset}`);
    this.buffer = m.buffer;
    this.#handle = m.handle;
  }

  get mapped(): boolean {
    return this.#handle !== undefined;
  }

  unmap(): void {
    const h = this.#handle;
    if (h === undefined) return;
    this.#handle = undefined;
    native.munmap(h, this.buffer);
  }
}
