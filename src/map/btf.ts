// A minimal BTF writer for the types maps need when nothing else describes them: the int key
// and opaque value of local storage maps, and a placeholder blob for struct_ops maps.
import { BpfError } from '../errors.js';
import { btfLoadRaw } from '../sys/attrs.js';
import { FD } from '../sys/fd.js';

const BTF_MAGIC = 0xeb9f;
const KIND_INT = 1;
const KIND_ARRAY = 3;
const KIND_STRUCT = 4;
const INT_SIGNED = 1;

export interface BtfMember {
  name: string;
  type: number;
  /** Offset in bytes. */
  offset: number;
}

/** Builds a BTF blob type by type; each add* returns the new type's id. */
export class BtfBuilder {
  readonly #types: number[] = [];
  readonly #strings: string[] = [''];
  #strLen = 1;
  readonly #strOffsets = new globalThis.Map<string, number>([['', 0]]);
  #count = 0;

  #str(s: string): number {
    const known = this.#strOffsets.get(s);
    if (known !== undefined) return known;
    const off = this.#strLen;
    this.#strings.push(s);
    this.#strLen += Buffer.byteLength(s) + 1;
    this.#strOffsets.set(s, off);
    return off;
  }

  #type(words: number[]): number {
    this.#types.push(...words);
    return ++this.#count;
  }

  /** An integer of `size` bytes. */
  addInt(name: string, size: number, signed: boolean): number {
    return this.#type([this.#str(name), KIND_INT << 24, size, (signed ? INT_SIGNED << 24 : 0) | (size * 8)]);
  }

  addArray(elementType: number, indexType: number, length: number): number {
    return this.#type([0, KIND_ARRAY << 24, 0, elementType, indexType, length]);
  }

  addStruct(name: string, size: number, members: BtfMember[]): number {
    const words = [this.#str(name), (KIND_STRUCT << 24) | members.length, size];
    for (const m of members) words.push(this.#str(m.name), m.type, m.offset * 8);
    return this.#type(words);
  }

  build(): Uint8Array {
    const typeLen = this.#types.length * 4;
    const out = new Uint8Array(new ArrayBuffer(24 + typeLen + this.#strLen));
    const v = new DataView(out.buffer);
    v.setUint16(0, BTF_MAGIC, true);
    v.setUint8(2, 1);
    v.setUint8(3, 0);
    v.setUint32(4, 24, true);
    v.setUint32(8, 0, true);
    v.setUint32(12, typeLen, true);
    v.setUint32(16, typeLen, true);
    v.setUint32(20, this.#strLen, true);
    this.#types.forEach((w, i) => v.setUint32(24 + i * 4, w >>> 0, true));
    let off = 24 + typeLen;
    for (const s of this.#strings) {
      const enc = Buffer.from(s, 'utf8');
      out.set(enc, off);
      off += enc.length + 1;
    }
    return out;
  }

  /** Loads the blob with BPF_BTF_LOAD; a rejection carries the kernel's log. */
  load(what: string): FD {
    const btf = this.build();
    let r = btfLoadRaw({ btf });
    if (r.result >= 0) return new FD(r.result, `BTF for ${what}`);
    const logBuf = new Uint8Array(new ArrayBuffer(64 * 1024));
    r = btfLoadRaw({ btf, logBuf, logLevel: 1 });
    if (r.result >= 0) return new FD(r.result, `BTF for ${what}`);
    const log = Buffer.from(logBuf).toString('utf8').replace(/\0.*$/s, '').trim().split('\n').slice(-3).join('; ');
    throw new BpfError('BPF_BTF_LOAD', -r.result, `${what}${log ? `: ${log}` : ''}`);
  }
}

export interface StorageBtf {
  fd: FD;
  keyTypeId: number;
  valueTypeId: number;
}

/**
 * BTF for a local storage map (task, socket, inode, cgroup): an `int` key (the fd of the
 * object) and an opaque `struct { unsigned char data[valueSize]; }` value.
 */
export function storageBtf(valueSize: number, what: string): StorageBtf {
  const b = new BtfBuilder();
  const int = b.addInt('int', 4, true);
  const uchar = b.addInt('unsigned char', 1, false);
  const arr = b.addArray(uchar, int, valueSize);
  const value = b.addStruct('tsbpf_storage_value', valueSize, [{ name: 'data', type: arr, offset: 0 }]);
  return { fd: b.load(what), keyTypeId: int, valueTypeId: value };
}

/** The smallest valid BTF (one int), for commands that only need some BTF fd. */
export function placeholderBtf(what: string): FD {
  const b = new BtfBuilder();
  b.addInt('int', 4, true);
  return b.load(what);
}
