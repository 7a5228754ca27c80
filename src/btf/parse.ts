import { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { BtfStrings } from './strings.js';
import { BTF_HEADER_SIZE, BTF_TYPE_SIZE, BTF_VERSION, dataView, detectByteOrder, extraSize } from './wire.js';

export interface ParseBtfOptions {
  /** For split BTF (kernel modules): the BTF whose ids and strings this one continues. */
  readonly base?: Btf;
  /** Name used in error messages, such as the ELF section or file path. */
  readonly section?: string;
}

/**
 * Parses a BTF blob (a `.BTF` section or a /sys/kernel/btf file). The byte
 * order comes from the magic. Only the header and an offset table are built
 * here; types decode on first access.
 */
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// extraSize() as two tables indexed by kind (-1: unknown), for the offset-table walk.
const FIXED_EXTRA = new Int32Array(32).fill(-1);
const PER_VLEN_EXTRA = new Int32Array(32);
for (let kind = 0; kind < 32; kind++) {
  const none = extraSize(kind, 0);
  if (none < 0) continue;
  FIXED_EXTRA[kind] = none;
  PER_VLEN_EXTRA[kind] = extraSize(kind, 1) - none;
}

export function parseBtf(bytes: Uint8Array, options: ParseBtfOptions = {}): Btf {
  const { base, section } = options;
  const le = detectByteOrder(bytes, 'BTF');
  if (bytes.length < BTF_HEADER_SIZE) {
    throw new BtfError('EBADBTF', `BTF too short for a header (${bytes.length} bytes)`, { section, offset: 0 });
  }
  const v = dataView(bytes);
  const version = v.getUint8(2);
  if (version !== BTF_VERSION) {
    throw new BtfError('EBADBTF', `unsupported BTF version ${version}`, { section, offset: 2 });
  }
  const hdrLen = v.getUint32(4, le);
  if (hdrLen < BTF_HEADER_SIZE || hdrLen > bytes.length) {
    throw new BtfError('EBADBTF', `bad BTF header length ${hdrLen} (blob is ${bytes.length} bytes)`, {
      section,
      offset: 4,
    });
  }
  const typeOff = v.getUint32(8, le);
  const typeLen = v.getUint32(12, le);
  const strOff = v.getUint32(16, le);
  const strLen = v.getUint32(20, le);
  const dataLen = bytes.length - hdrLen;
  const types = subsection(bytes, hdrLen, typeOff, typeLen, dataLen, 'type', section);
  const strBytes = subsection(bytes, hdrLen, strOff, strLen, dataLen, 'string', section);
  if (base === undefined && (strLen === 0 || strBytes[0] !== 0)) {
    throw new BtfError('EBADBTF', 'string section must start with an empty string', {
      section,
      offset: hdrLen + strOff,
    });
  }
  if (strLen > 0 && strBytes[strLen - 1] !== 0) {
    throw new BtfError('EBADBTF', 'string section is not NUL-terminated', {
      section,
      offset: hdrLen + strOff + strLen - 1,
    });
  }
  if (base !== undefined && base.littleEndian !== le) {
    throw new BtfError('EBADBTF', 'split BTF byte order differs from its base', { section, offset: 0 });
  }

  const view = dataView(types);
  const blobOffset = hdrLen + typeOff;
  const firstId = base === undefined ? 1 : base.nextTypeId;
  const offsets = new Uint32Array(Math.floor(typeLen / BTF_TYPE_SIZE));
  // Aligned host-order blobs (the kernel's) are walked through a Uint32Array: the offset table
  // of 100,000+ records is the whole cost of a lazy parse.
  const words = le === HOST_LE && types.byteOffset % 4 === 0 ? new Uint32Array(types.buffer, types.byteOffset, typeLen >>> 2) : undefined;
  let count = 0;
  let pos = 0;
  if (words !== undefined) {
    // The fast walk stops at anything irregular and leaves it to the checked walk below.
    const limit = typeLen - BTF_TYPE_SIZE;
    while (pos <= limit) {
      const info = words[(pos >>> 2) + 1]!;
      const kind = (info >>> 24) & 0x1f;
      const fixed = FIXED_EXTRA[kind]!;
      if (fixed < 0) break;
      const next = pos + BTF_TYPE_SIZE + fixed + PER_VLEN_EXTRA[kind]! * (info & 0xffff);
      if (next > typeLen) break;
      offsets[count++] = pos;
      pos = next;
    }
  }
  while (pos < typeLen) {
    if (typeLen - pos < BTF_TYPE_SIZE) {
      throw new BtfError('EBADBTF', `truncated type record (${typeLen - pos} bytes left)`, {
        section,
        typeId: firstId + count,
        offset: blobOffset + pos,
      });
    }
    const info = view.getUint32(pos + 4, le);
    const kind = (info >>> 24) & 0x1f;
    const fixed = FIXED_EXTRA[kind]!;
    const extra = fixed < 0 ? -1 : fixed + PER_VLEN_EXTRA[kind]! * (info & 0xffff);
    if (extra < 0) {
      throw new BtfError('EBADBTF', `unknown kind ${(info >>> 24) & 0x1f}`, {
        section,
        typeId: firstId + count,
        offset: blobOffset + pos,
      });
    }
    const next = pos + BTF_TYPE_SIZE + extra;
    if (next > typeLen) {
      throw new BtfError('EBADBTF', `type record of ${BTF_TYPE_SIZE + extra} bytes runs past the type section`, {
        section,
        typeId: firstId + count,
        offset: blobOffset + pos,
      });
    }
    offsets[count++] = pos;
    pos = next;
  }
  return new Btf({
    littleEndian: le,
    base,
    strings: new BtfStrings(strBytes, base?.strings),
    raw: { view, offsets: count === offsets.length ? offsets : offsets.slice(0, count), blobOffset },
  });
}

function subsection(
  bytes: Uint8Array,
  hdrLen: number,
  off: number,
  len: number,
  dataLen: number,
  what: string,
  section: string | undefined,
): Uint8Array {
  if (off > dataLen || len > dataLen - off) {
    throw new BtfError('EBADBTF', `${what} section (offset ${off}, length ${len}) runs past the end of the blob`, {
      section,
      offset: hdrLen + off,
    });
  }
  return bytes.subarray(hdrLen + off, hdrLen + off + len);
}
