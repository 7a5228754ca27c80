import { BtfError } from './errors.js';
import { BTF_KIND } from './types.js';

/** Wire-format facts shared by the parser and the marshaller. */
export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;
export const BTF_HEADER_SIZE = 24;
/** `struct btf_type`: name_off, info, size/type. */
export const BTF_TYPE_SIZE = 12;
export const BTF_MAX_VLEN = 0xffff;
export const BTF_MAX_TYPE_ID = 0xfffff;

/** Bytes that follow `struct btf_type` for a kind with `vlen` entries, or -1 for an unknown kind. */
export function extraSize(kind: number, vlen: number): number {
  switch (kind) {
    case BTF_KIND.INT:
    case BTF_KIND.VAR:
    case BTF_KIND.DECL_TAG:
      return 4;
    case BTF_KIND.PTR:
    case BTF_KIND.FWD:
    case BTF_KIND.TYPEDEF:
    case BTF_KIND.VOLATILE:
    case BTF_KIND.CONST:
    case BTF_KIND.RESTRICT:
    case BTF_KIND.FUNC:
    case BTF_KIND.FLOAT:
    case BTF_KIND.TYPE_TAG:
      return 0;
    case BTF_KIND.ARRAY:
      return 12;
    case BTF_KIND.STRUCT:
    case BTF_KIND.UNION:
    case BTF_KIND.DATASEC:
    case BTF_KIND.ENUM64:
      return 12 * vlen;
    case BTF_KIND.ENUM:
    case BTF_KIND.FUNC_PROTO:
      return 8 * vlen;
    default:
      return -1;
  }
}

/** Reads the byte order from a BTF or BTF.ext magic at the start of `bytes`. */
export function detectByteOrder(bytes: Uint8Array, what: string): boolean {
  if (bytes.length < 2) {
    throw new BtfError('EBADBTF', `${what} too short for a header (${bytes.length} bytes)`, { offset: 0 });
  }
  if (bytes[0] === 0x9f && bytes[1] === 0xeb) return true;
  if (bytes[0] === 0xeb && bytes[1] === 0x9f) return false;
  const hex = (b: number | undefined): string => (b ?? 0).toString(16).padStart(2, '0');
  throw new BtfError('EBADBTF', `${what} has bad magic 0x${hex(bytes[0])}${hex(bytes[1])}`, { offset: 0 });
}

export function hostLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

export function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
