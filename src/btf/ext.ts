import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { dataView, detectByteOrder } from './wire.js';

/** `struct bpf_func_info` as stored in `.BTF.ext`: `insnOff` is a byte offset in the section. */
export interface FuncInfo {
  insnOff: number;
  /** The FUNC type. */
  typeId: number;
}

/** `struct bpf_line_info` as stored in `.BTF.ext`, with its strings resolved. */
export interface LineInfo {
  /** Byte offset of the instruction in the section. */
  insnOff: number;
  /** Offsets into the BTF string section, kept so the records can be passed to the kernel as is. */
  fileNameOff: number;
  lineOff: number;
  fileName: string;
  /** The source line's text. */
  line: string;
  lineNumber: number;
  column: number;
}

/** `enum bpf_core_relo_kind`. */
export const CoreReloKind = {
  FIELD_BYTE_OFFSET: 0,
  FIELD_BYTE_SIZE: 1,
  FIELD_EXISTS: 2,
  FIELD_SIGNED: 3,
  FIELD_LSHIFT_U64: 4,
  FIELD_RSHIFT_U64: 5,
  TYPE_ID_LOCAL: 6,
  TYPE_ID_TARGET: 7,
  TYPE_EXISTS: 8,
  TYPE_SIZE: 9,
  ENUMVAL_EXISTS: 10,
  ENUMVAL_VALUE: 11,
  TYPE_MATCHES: 12,
} as const;

export type CoreReloKind = (typeof CoreReloKind)[keyof typeof CoreReloKind];

const coreReloKindNames = new Map<number, string>(Object.entries(CoreReloKind).map(([k, v]) => [v, k]));

/** The kernel's name for a CO-RE relocation kind, e.g. `FIELD_BYTE_OFFSET`; `UNKNOWN(n)` otherwise. */
export function coreReloKindName(kind: number): string {
  return coreReloKindNames.get(kind) ?? `UNKNOWN(${kind})`;
}

/** `struct bpf_core_relo` as stored in `.BTF.ext`. */
export interface CoreRelo {
  /** Byte offset of the instruction in the section. */
  insnOff: number;
  /** The local (object BTF) root type. */
  typeId: number;
  accessStrOff: number;
  /** Colon-separated indices such as `0:1:2`. */
  accessString: string;
  /** A {@link CoreReloKind} value; unknown values are passed through. */
  kind: number;
}

/** The contents of a `.BTF.ext` section, grouped by the ELF section (program) name. */
export interface BtfExt {
  readonly funcInfos: Map<string, FuncInfo[]>;
  readonly lineInfos: Map<string, LineInfo[]>;
  readonly coreRelos: Map<string, CoreRelo[]>;
  /** Record sizes as found in the file (the kernel needs them with func/line info). */
  readonly funcInfoRecordSize: number;
  readonly lineInfoRecordSize: number;
  readonly coreReloRecordSize: number;
}

const EXT_HEADER_MIN = 24;
const EXT_HEADER_CORE = 32;
const FUNC_INFO_MIN = 8;
const LINE_INFO_MIN = 16;
const CORE_RELO_MIN = 16;

/** Parses `.BTF.ext`; names are resolved in the string section of `btf` (the object's `.BTF`). */
export function parseBtfExt(bytes: Uint8Array, btf: Btf): BtfExt {
  const le = detectByteOrder(bytes, 'BTF.ext');
  if (bytes.length < EXT_HEADER_MIN) {
    throw new BtfError('EBADBTF', `BTF.ext too short for a header (${bytes.length} bytes)`, { offset: 0 });
  }
  const v = dataView(bytes);
  const version = v.getUint8(2);
  if (version !== 1) throw new BtfError('EBADBTF', `unsupported BTF.ext version ${version}`, { offset: 2 });
  const hdrLen = v.getUint32(4, le);
  if (hdrLen < EXT_HEADER_MIN || hdrLen > bytes.length) {
    throw new BtfError('EBADBTF', `bad BTF.ext header length ${hdrLen} (blob is ${bytes.length} bytes)`, { offset: 4 });
  }
  const reader = { bytes, v, le, hdrLen, btf };
  const funcs = readInfo(reader, 8, 'func_info', FUNC_INFO_MIN, (o) => ({
    insnOff: v.getUint32(o, le),
    typeId: v.getUint32(o + 4, le),
  }));
  const lines = readInfo(reader, 16, 'line_info', LINE_INFO_MIN, (o, at) => {
    const fileNameOff = v.getUint32(o + 4, le);
    const lineOff = v.getUint32(o + 8, le);
    const lineCol = v.getUint32(o + 12, le);
    return {
      insnOff: v.getUint32(o, le),
      fileNameOff,
      lineOff,
      fileName: at(fileNameOff),
      line: at(lineOff),
      lineNumber: lineCol >>> 10,
      column: lineCol & 0x3ff,
    };
  });
  const relos =
    hdrLen >= EXT_HEADER_CORE
      ? readInfo(reader, 24, 'core_relo', CORE_RELO_MIN, (o, at) => {
          const accessStrOff = v.getUint32(o + 8, le);
          return {
            insnOff: v.getUint32(o, le),
            typeId: v.getUint32(o + 4, le),
            accessStrOff,
            accessString: at(accessStrOff),
            kind: v.getUint32(o + 12, le),
          };
        })
      : { records: new Map<string, CoreRelo[]>(), recordSize: 0 };
  return {
    funcInfos: funcs.records,
    lineInfos: lines.records,
    coreRelos: relos.records,
    funcInfoRecordSize: funcs.recordSize,
    lineInfoRecordSize: lines.recordSize,
    coreReloRecordSize: relos.recordSize,
  };
}

interface ExtReader {
  readonly bytes: Uint8Array;
  readonly v: DataView;
  readonly le: boolean;
  readonly hdrLen: number;
  readonly btf: Btf;
}

function readInfo<T>(
  r: ExtReader,
  headerField: number,
  what: string,
  minRecord: number,
  decode: (offset: number, string: (off: number) => string) => T,
): { records: Map<string, T[]>; recordSize: number } {
  const { v, le, hdrLen, bytes } = r;
  const off = v.getUint32(headerField, le);
  const len = v.getUint32(headerField + 4, le);
  const records = new Map<string, T[]>();
  if (len === 0) return { records, recordSize: 0 };
  const start = hdrLen + off;
  if (off > bytes.length - hdrLen || len > bytes.length - start) {
    throw new BtfError('EBADBTF', `${what} (offset ${off}, length ${len}) runs past the end of BTF.ext`, {
      section: what,
      offset: start,
    });
  }
  const end = start + len;
  if (len < 4) throw new BtfError('EBADBTF', `${what} has no record size`, { section: what, offset: start });
  const recordSize = v.getUint32(start, le);
  if (recordSize < minRecord || recordSize % 4 !== 0) {
    throw new BtfError('EBADBTF', `${what} record size ${recordSize} is invalid (minimum ${minRecord})`, {
      section: what,
      offset: start,
    });
  }
  let pos = start + 4;
  while (pos < end) {
    if (end - pos < 8) {
      throw new BtfError('EBADBTF', `truncated ${what} section header`, { section: what, offset: pos });
    }
    const string = (strOff: number): string => {
      try {
        return r.btf.strings.get(strOff);
      } catch (e) {
        throw new BtfError('EBADBTF', `${what}: ${(e as Error).message}`, { section: what, offset: pos, cause: e });
      }
    };
    const secName = string(v.getUint32(pos, le));
    const count = v.getUint32(pos + 4, le);
    pos += 8;
    if (count > Math.floor((end - pos) / recordSize)) {
      const message = `${what} for '${secName}' claims ${count} records of ${recordSize} bytes, more than remain`;
      throw new BtfError('EBADBTF', message, {
        section: what,
        offset: pos - 8,
      });
    }
    let list = records.get(secName);
    if (list === undefined) {
      list = [];
      records.set(secName, list);
    }
    for (let i = 0; i < count; i++, pos += recordSize) list.push(decode(pos, string));
  }
  return { records, recordSize };
}
