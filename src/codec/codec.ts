// The contract between typed values and the bytes the kernel stores in maps.

/**
 * How a value of type `T` is laid out in a map's key or value bytes.
 *
 * - `encode` writes exactly `size` bytes at offset 0 of `out` (which may be longer) and throws
 *   an `InvalidArgumentError` if the value does not fit. Callers reuse `out` between calls, so
 *   an encoder allocates nothing.
 * - `decode` reads `size` bytes at offset 0 of `bytes` and returns a value that does not alias
 *   them: callers overwrite `bytes` on the next operation.
 * - `align` is the value's alignment inside a C struct (used by `struct()`); 1 when absent.
 *
 * Codecs built from BTF implement the same interface.
 */
export interface Codec<T> {
  readonly size: number;
  readonly align?: number;
  encode(value: T, out: Uint8Array): void;
  decode(bytes: Uint8Array): T;
}

/**
 * A codec that can also work at an offset, so composite codecs (structs, arrays, per-CPU
 * values, batches) reach their parts without creating subarrays. Every codec in this
 * directory implements it; foreign codecs are adapted by `atOffset`.
 */
export interface OffsetCodec<T> extends Codec<T> {
  encodeAt(value: T, out: Uint8Array, offset: number): void;
  decodeAt(bytes: Uint8Array, offset: number): T;
}

export function isOffsetCodec<T>(c: Codec<T>): c is OffsetCodec<T> {
  return typeof (c as Partial<OffsetCodec<T>>).encodeAt === 'function' && typeof (c as Partial<OffsetCodec<T>>).decodeAt === 'function';
}

/**
 * `c` with offset access. A foreign codec that lacks it is given a subarray view per call at a
 * non-zero offset; codecs that care about allocation (BTF-derived ones) implement OffsetCodec.
 */
export function atOffset<T>(c: Codec<T>): OffsetCodec<T> {
  if (isOffsetCodec(c)) return c;
  return {
    size: c.size,
    align: c.align ?? 1,
    encode: (value, out) => c.encode(value, out),
    decode: (bytes) => c.decode(bytes),
    encodeAt: (value, out, offset) => c.encode(value, offset === 0 ? out : out.subarray(offset, offset + c.size)),
    decodeAt: (bytes, offset) => c.decode(offset === 0 ? bytes : bytes.subarray(offset, offset + c.size)),
  };
}

/** The value type of a codec. */
export type CodecValue<C> = C extends Codec<infer T> ? T : never;
