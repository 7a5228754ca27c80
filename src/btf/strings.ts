import { Buffer } from 'node:buffer';
import { BtfError } from './errors.js';

/**
 * A BTF string section. Offsets are absolute: for split BTF they continue
 * after the base's string section, as in the kernel's encoding.
 */
export class BtfStrings {
  readonly base: BtfStrings | undefined;
  /** This section's own bytes (not including the base's). */
  readonly bytes: Uint8Array;
  readonly #buf: Buffer;
  #reverse: Map<string, number> | undefined;

  constructor(bytes: Uint8Array, base?: BtfStrings) {
    this.base = base;
    this.bytes = bytes;
    this.#buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Offset of this table's first byte: the base table's size, or 0. */
  get start(): number {
    return this.base === undefined ? 0 : this.base.end;
  }

  /** One past the last valid offset. */
  get end(): number {
    return this.start + this.bytes.length;
  }

  /** The string at an absolute offset. Offset 0 of a base table is always the empty string. */
  get(offset: number): string {
    const start = this.start;
    if (offset < start) {
      if (this.base === undefined) throw new BtfError('EBADBTF', `string offset ${offset} is negative`);
      return this.base.get(offset);
    }
    const rel = offset - start;
    if (rel >= this.bytes.length) {
      if (offset === 0) return '';
      throw new BtfError('EBADBTF', `string offset ${offset} out of range (string section ends at ${this.end})`);
    }
    const nul = this.#buf.indexOf(0, rel);
    if (nul < 0) throw new BtfError('EBADBTF', `unterminated string at offset ${offset}`);
    return this.#buf.toString('utf8', rel, nul);
  }

  /** Whether the string at absolute `offset` is exactly the UTF-8 bytes `needle`. */
  equalsAt(offset: number, needle: Uint8Array): boolean {
    const rel = offset - this.start;
    if (rel < 0) return this.base?.equalsAt(offset, needle) ?? false;
    const bytes = this.bytes;
    const n = needle.length;
    if (rel + n >= bytes.length) return false;
    for (let i = 0; i < n; i++) if (bytes[rel + i] !== needle[i]) return false;
    return bytes[rel + n] === 0;
  }

  /** The offset of an existing copy of `s` in this table or its base, if any. */
  find(s: string): number | undefined {
    if (s === '') return 0;
    const inBase = this.base?.find(s);
    if (inBase !== undefined) return inBase;
    if (this.#reverse === undefined) {
      const reverse = new Map<string, number>();
      const buf = this.#buf;
      let pos = 0;
      while (pos < buf.length) {
        let nul = buf.indexOf(0, pos);
        if (nul < 0) nul = buf.length;
        if (nul > pos) {
          const str = buf.toString('utf8', pos, nul);
          if (!reverse.has(str)) reverse.set(str, this.start + pos);
        }
        pos = nul + 1;
      }
      this.#reverse = reverse;
    }
    return this.#reverse.get(s);
  }
}

/**
 * Builds a string section for marshalling. It starts from an existing table
 * so every offset already in use (by BTF.ext line info, for instance) keeps
 * its meaning; new strings are appended.
 */
export class BtfStringsBuilder {
  readonly #prefix: BtfStrings | undefined;
  readonly #baseTable: BtfStrings | undefined;
  readonly #start: number;
  readonly #added = new Map<string, number>();
  readonly #chunks: Uint8Array[] = [];
  #size: number;

  constructor(options: { existing?: BtfStrings; base?: BtfStrings | undefined }) {
    this.#prefix = options.existing;
    this.#start = options.base?.end ?? 0;
    if (this.#prefix !== undefined) {
      this.#size = this.#prefix.bytes.length;
    } else if (options.base === undefined) {
      this.#chunks.push(new Uint8Array(1));
      this.#size = 1;
    } else {
      this.#size = 0;
    }
    this.#baseTable = options.base;
  }

  add(s: string): number {
    if (s === '') return 0;
    const existing = this.#prefix?.find(s) ?? this.#baseTable?.find(s) ?? this.#added.get(s);
    if (existing !== undefined) return existing;
    const encoded = Buffer.from(s, 'utf8');
    if (encoded.includes(0)) throw new BtfError('EINVAL', `string ${JSON.stringify(s)} contains a NUL byte`);
    const offset = this.#start + this.#size;
    this.#chunks.push(encoded, new Uint8Array(1));
    this.#size += encoded.length + 1;
    this.#added.set(s, offset);
    return offset;
  }

  get size(): number {
    return this.#size;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.#size);
    let pos = 0;
    if (this.#prefix !== undefined) {
      out.set(this.#prefix.bytes, 0);
      pos = this.#prefix.bytes.length;
    }
    for (const chunk of this.#chunks) {
      out.set(chunk, pos);
      pos += chunk.length;
    }
    return out;
  }
}
