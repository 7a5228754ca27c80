// Global variables of a loaded collection, read and written by name in their maps.
import type { BtfType } from '../btf/types.js';
import type { BtfValue } from '../btfcodec.js';
import type { OffsetCodec } from '../codec/codec.js';
import { InvalidArgumentError } from '../errors.js';
import { MapFlags } from '../sys/types.js';
import { encodeKey, rawLookup, rawUpdate } from './elements.js';
import type { CollectionMap } from './mapcreate.js';

/**
 * A global variable of a loaded collection: read and written through the map's memory when it
 * is mmapable (`.data`, `.bss`), else with element lookups and updates.
 */
export class Variable {
  readonly name: string;
  readonly map: CollectionMap;
  readonly offset: number;
  readonly size: number;
  readonly type: BtfType | undefined;
  /** True for `.rodata` variables, frozen at load: reading only. */
  readonly constant: boolean;
  readonly #codec: OffsetCodec<BtfValue>;
  readonly #mmapable: boolean;
  #view: Uint8Array | undefined;

  constructor(init: { name: string; map: CollectionMap; offset: number; size: number; type?: BtfType; constant: boolean; codec: OffsetCodec<BtfValue> }) {
    this.name = init.name;
    this.map = init.map;
    this.offset = init.offset;
    this.size = init.size;
    this.type = init.type;
    this.constant = init.constant;
    this.#codec = init.codec;
    this.#mmapable = (init.map.flags & MapFlags.MMAPABLE) !== 0;
  }

  #mapped(): Uint8Array | undefined {
    if (!this.#mmapable) return undefined;
    if (this.#view === undefined || this.#view.buffer.byteLength === 0) {
      try {
        this.#view = new Uint8Array(this.map.mmap());
      } catch {
        return undefined;
      }
    }
    return this.#view;
  }

  /** The current value, decoded by the variable's BTF type. */
  get value(): BtfValue {
    const m = this.#mapped();
    if (m !== undefined) return this.#codec.decodeAt(m, this.offset);
    return this.#codec.decodeAt(rawLookup(this.map), this.offset);
  }

  /** The current bytes (a copy). */
  get bytes(): Uint8Array {
    const m = this.#mapped();
    const data = m ?? rawLookup(this.map);
    return data.slice(this.offset, this.offset + this.size);
  }

  /** Writes a new value (not for constants, which are frozen once loaded). */
  set(value: unknown): void {
    if (this.constant) throw new InvalidArgumentError(`variable ${this.name} is constant; set it in the CollectionSpec before load`);
    const m = this.#mapped();
    if (m !== undefined) {
      if (value instanceof Uint8Array) {
        if (value.length !== this.size) throw new InvalidArgumentError(`variable ${this.name}: ${value.length} bytes for a ${this.size}-byte variable`);
        m.set(value, this.offset);
      } else {
        this.#codec.encodeAt(value as BtfValue, m, this.offset);
      }
      return;
    }
    const data = rawLookup(this.map);
    if (value instanceof Uint8Array) data.set(value, this.offset);
    else this.#codec.encodeAt(value as BtfValue, data, this.offset);
    rawUpdate(this.map, encodeKey(0, this.map.keySize), data);
  }
}

