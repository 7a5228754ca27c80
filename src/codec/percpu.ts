// The value layout of per-CPU maps as user space sees it.
import { InvalidArgumentError } from '../errors.js';
import { describe } from './bytes.js';
import { atOffset, type Codec, type OffsetCodec } from './codec.js';

/**
 * One value per possible CPU, each in a slot of `element.size` rounded up to 8 bytes: the
 * layout of per-CPU map values in bpf(2) lookups, updates and batches. Slot padding is zeroed.
 */
export function perCpu<T>(element: Codec<T>, cpus: number): OffsetCodec<T[]> {
  if (!Number.isInteger(cpus) || cpus <= 0) throw new InvalidArgumentError(`perCpu(): cpus must be a positive integer, got ${cpus}`);
  const c = atOffset(element);
  const stride = Math.ceil(c.size / 8) * 8;
  const pad = stride - c.size;
  const encodeAt = (values: T[], out: Uint8Array, offset: number): void => {
    if (!Array.isArray(values) || values.length !== cpus) {
      throw new InvalidArgumentError(`per-CPU value: expected an array of ${cpus} values (one per possible CPU), got ${Array.isArray(values) ? `${values.length}` : describe(values)}`);
    }
    for (let i = 0; i < cpus; i++) {
      const at = offset + i * stride;
      c.encodeAt(values[i] as T, out, at);
      if (pad > 0) out.fill(0, at + c.size, at + stride);
    }
  };
  const decodeAt = (bytes: Uint8Array, offset: number): T[] => {
    const out = new Array<T>(cpus);
    for (let i = 0; i < cpus; i++) out[i] = c.decodeAt(bytes, offset + i * stride);
    return out;
  };
  return {
    size: stride * cpus,
    align: 8,
    encode: (values, out) => encodeAt(values, out, 0),
    decode: (bytes) => decodeAt(bytes, 0),
    encodeAt,
    decodeAt,
  };
}
