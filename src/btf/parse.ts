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
  let count = 0;
  let pos = 0;
  while (pos < typeLen) {
    if (typeLen - pos < BTF_TYPE_SIZE) {
      throw new BtfError('EBADBTF', `truncated type record (${typeLen - pos} bytes left)`, {
        section,
        typeId: firstId + count,
        offset: blobOffset + pos,
      });
    }
    const info = view.getUint32(pos + 4, le);
    const extra = extraSize((info >>> 24) & 0x1f, info & 0xffff);
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
    raw: { view, offsets: offsets.slice(0, count), blobOffset },
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
