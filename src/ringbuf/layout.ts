// The ring buffer layout shared by the kernel and user space (include/uapi/linux/bpf.h and
// kernel/bpf/ringbuf.c): a consumer page, a producer page, then the data area mapped twice in
// a row so that a record crossing its end reads as one contiguous range.
import { InvalidArgumentError } from '../errors.js';
import { pageSize } from './mapping.js';

/** Set in a record's length word while the producer still writes it. */
export const RINGBUF_BUSY_BIT = 0x80000000;
/** Set in a record's length word when the producer dropped it. */
export const RINGBUF_DISCARD_BIT = 0x40000000;
/** A record's header: u32 length and flags, u32 page offset. */
export const RINGBUF_HDR_SZ = 8;
/** The length bits of the header word. */
export const RINGBUF_LEN_MASK = 0x3fffffff;

/** Where the consumer and producer positions are mapped from, and the data after them. */
export const CONSUMER_PAGE_OFFSET = 0;
/** The producer page follows the consumer page. */
export function producerPageOffset(): number {
  return pageSize();
}

/** The bytes a record of `length` takes in the ring: header and data, padded to 8. */
export function recordSpace(length: number): number {
  return (length + RINGBUF_HDR_SZ + 7) & ~7;
}

/** Checks the data area size the kernel reports as max_entries. */
export function checkRingSize(size: number, what: string): void {
  if (size < pageSize() || (size & (size - 1)) !== 0 || size > 0x40000000) {
    throw new InvalidArgumentError(`${what}: a data area of ${size} bytes is not a power of two between a page and 1 GiB`);
  }
}
