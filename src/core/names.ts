// Finding types by name in a large BTF blob without decoding every name into a JS string: the
// name offset of each type is kept in a typed array, and a name is looked up by searching the
// string section's bytes for it. CO-RE asks for a few dozen names against kernel BTF of 100k+
// types, where building a full name index would cost far more than the lookups.
import { Buffer } from 'node:buffer';
import { essentialName } from '../btf/query.js';
import { BTF_HEADER_SIZE, BTF_TYPE_SIZE, detectByteOrder, extraSize } from '../btf/wire.js';

export class RawNameIndex {
  /** Name offset of each type of this blob, in id order from `firstId`. */
  readonly #nameOffs: Uint32Array;
  readonly #strings: Buffer;
  /** The absolute offset of this blob's first string (the base's string size for split BTF). */
  readonly #strStart: number;
  readonly #base: RawNameIndex | undefined;
  /** Lookups already made: a kernel's BTF is read once per process and asked the same names. */
  readonly #cache = new Map<string, number[]>();
  readonly firstId: number;

  /** Indexes a BTF blob already validated by parseBtf (the same bytes). */
  constructor(bytes: Uint8Array, base?: RawNameIndex) {
    const le = detectByteOrder(bytes, 'BTF');
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const hdrLen = v.getUint32(4, le);
    const typeOff = hdrLen + v.getUint32(8, le);
    const typeLen = v.getUint32(12, le);
    const strOff = hdrLen + v.getUint32(16, le);
    const strLen = v.getUint32(20, le);
    if (hdrLen < BTF_HEADER_SIZE || typeOff + typeLen > bytes.length || strOff + strLen > bytes.length) {
      throw new RangeError('BTF header does not fit the blob');
    }
    const offs = new Uint32Array(Math.floor(typeLen / BTF_TYPE_SIZE));
    let count = 0;
    let pos = typeOff;
    const end = typeOff + typeLen;
    while (pos + BTF_TYPE_SIZE <= end) {
      offs[count++] = v.getUint32(pos, le);
      const info = v.getUint32(pos + 4, le);
      const extra = extraSize((info >>> 24) & 0x1f, info & 0xffff);
      if (extra < 0) break;
      pos += BTF_TYPE_SIZE + extra;
    }
    this.#nameOffs = offs.subarray(0, count);
    this.#strings = Buffer.from(bytes.buffer, bytes.byteOffset + strOff, strLen);
    this.#base = base;
    this.#strStart = base === undefined ? 0 : base.#strStart + base.#strings.length;
    this.firstId = base === undefined ? 1 : base.firstId + base.#nameOffs.length;
  }

  /**
   * Absolute offsets (here and in the base) of the strings equal to `name` and, with `flavours`,
   * of `name___suffix` strings whose essential name is `name`: one search of the string bytes.
   */
  #offsets(name: string, flavours: boolean): number[] {
    const out = this.#base !== undefined ? this.#base.#offsets(name, flavours) : [];
    const needle = Buffer.from(`\0${name}`, 'utf8');
    const s = this.#strings;
    const after = needle.length;
    for (let i = s.indexOf(needle); i >= 0; i = s.indexOf(needle, i + 1)) {
      const next = s[i + after];
      if (next === 0 || next === undefined) {
        out.push(this.#strStart + i + 1);
      } else if (flavours && next === 0x5f && s[i + after + 1] === 0x5f && s[i + after + 2] === 0x5f) {
        const endOfString = s.indexOf(0, i + 1);
        const full = s.toString('utf8', i + 1, endOfString < 0 ? s.length : endOfString);
        if (essentialName(full) === name) out.push(this.#strStart + i + 1);
      }
    }
    return out;
  }

  /** Ids of this blob's own types (not the base's) whose name is `name` or one of its flavours. */
  idsByEssentialName(name: string): number[] {
    if (name === '') return [];
    return this.#cached(`~${name}`, () => this.#typesNamed(this.#offsets(name, true)));
  }

  /** Ids of this blob's own types named exactly `name`. */
  idsByName(name: string): number[] {
    if (name === '') return [];
    return this.#cached(`=${name}`, () => this.#typesNamed(this.#offsets(name, false)));
  }

  #cached(key: string, compute: () => number[]): number[] {
    let hit = this.#cache.get(key);
    if (hit === undefined) {
      hit = compute();
      this.#cache.set(key, hit);
    }
    return hit;
  }

  #typesNamed(offsets: number[]): number[] {
    const out: number[] = [];
    const n = this.#nameOffs;
    const len = n.length;
    for (const off of offsets) {
      for (let i = 0; i < len; i++) if (n[i] === off) out.push(this.firstId + i);
    }
    return offsets.length > 1 ? out.sort((a, b) => a - b) : out;
  }
}
