import { BpfError } from '../errors.js';
import { keepAlive, native } from './native.js';
import { Cmd } from './types.js';
import { EINTR } from './errno.js';

/**
 * A zeroed bpf_attr (or other syscall struct) with little helpers to set fields at the
 * kernel's offsets. Pointer fields take buffers, whose addresses the addon provides.
 */
export class Attr {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** The buffers ptr() put addresses of: alive as long as the attr is. */
  #refs: Array<ArrayBufferView | ArrayBuffer> | undefined;

  constructor(size: number) {
    this.bytes = new Uint8Array(new ArrayBuffer(size));
    this.view = new DataView(this.bytes.buffer);
  }

  reset(): this {
    this.bytes.fill(0);
    return this;
  }

  u8(off: number, v: number): this {
    this.view.setUint8(off, v);
    return this;
  }

  u16(off: number, v: number): this {
    this.view.setUint16(off, v, true);
    return this;
  }

  u32(off: number, v: number): this {
    this.view.setUint32(off, v >>> 0, true);
    return this;
  }

  s32(off: number, v: number): this {
    this.view.setInt32(off, v, true);
    return this;
  }

  u64(off: number, v: bigint | number): this {
    this.view.setBigUint64(off, BigInt.asUintN(64, BigInt(v)), true);
    return this;
  }

  /** A pointer to a buffer; null/undefined or an empty buffer leave the field zero. */
  ptr(off: number, buf: ArrayBufferView | ArrayBuffer | null | undefined): this {
    if (buf && buf.byteLength > 0) {
      this.view.setBigUint64(off, native.addressOf(buf), true);
      (this.#refs ??= []).push(buf);
    }
    return this;
  }

  /** The address of a buffer a pointer elsewhere (an array of pointers) names, kept alive as long as the attr is. */
  hold(buf: ArrayBufferView | ArrayBuffer): bigint {
    (this.#refs ??= []).push(buf);
    return native.addressOf(buf);
  }

  /** A fixed-size NUL-padded char array. */
  str(off: number, s: string, size: number): this {
    const enc = new TextEncoder().encode(s);
    this.bytes.set(enc.subarray(0, size - 1), off);
    return this;
  }

  getU32(off: number): number {
    return this.view.getUint32(off, true);
  }

  getS32(off: number): number {
    return this.view.getInt32(off, true);
  }

  getU64(off: number): bigint {
    return this.view.getBigUint64(off, true);
  }
}

/** bpf(2) returning the raw result or -errno, retrying EINTR. */
export function bpfRaw(cmd: Cmd, attr: Attr | ArrayBufferView): number {
  const bytes = attr instanceof Attr ? attr.bytes : attr;
  for (;;) {
    const r = native.bpf(cmd, bytes);
    if (r !== -EINTR) {
      // The attr holds the buffers its pointer fields name: keep it until the kernel is done.
      keepAlive(attr);
      return r;
    }
  }
}

/** bpf(2) that throws a BpfError naming the command and the context on failure. */
export function bpf(cmd: Cmd, attr: Attr | ArrayBufferView, context?: string): number {
  const r = bpfRaw(cmd, attr);
  if (r < 0) throw new BpfError(`BPF_${Cmd[cmd]}`, -r, context);
  return r;
}

/** Encode a string as a NUL-terminated buffer for pointer fields. */
export function cString(s: string): Uint8Array {
  const enc = new TextEncoder().encode(s);
  const out = new Uint8Array(new ArrayBuffer(enc.length + 1));
  out.set(enc);
  return out;
}

/** Decode a NUL-terminated string from a fixed-size field. */
export function fromCString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}
