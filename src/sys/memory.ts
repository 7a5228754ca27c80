// Memory the kernel reads or writes through pointers, and mappings of kernel objects (mmap(2)).
import { native, type NativeMapping } from './native.js';

export type { NativeMapping as Mapped } from './native.js';

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const MAP_PRIVATE = 2;

/** The address of a buffer, for a pointer field of a kernel struct; keep the buffer alive past the call. */
export function addressOf(buf: ArrayBufferView | ArrayBuffer): bigint {
  return native.addressOf(buf);
}

/** The size of a page. */
export function pageSize(): number {
  return native.constants.PAGE_SIZE;
}

/** mmap(2) of `length` bytes of `fd` at `offset`: the mapping, or -errno. */
export function mmap(fd: number, length: number, prot: number, flags: number, offset = 0): NativeMapping | number {
  return native.mmap(fd, length, prot, flags, offset);
}

/** munmap(2) of a mapping mmap() returned; its buffer is detached. */
export function munmap(m: NativeMapping): void {
  native.munmap(m.handle, m.buffer);
}
