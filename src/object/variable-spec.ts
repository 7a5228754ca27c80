// Global variables of an object: a name, a place in a global data map, a BTF type, a value.
import type { Btf } from '../btf/btf.js';
import type { BtfType } from '../btf/types.js';
import { btfCodec, type BtfValue } from '../btfcodec.js';
import { bytes as rawBytes } from '../codec/bytes.js';
import type { OffsetCodec } from '../codec/codec.js';
import { InvalidArgumentError } from '../errors.js';
import type { MapSpec } from './types.js';

/** Where a VariableSpec finds the map holding it; the collection spec it belongs to. */
export interface VariableHost {
  readonly maps: Record<string, MapSpec>;
  readonly btf: Btf | undefined;
}

/**
 * A global variable before load: its initial value lives in the global data map's contents
 * (`maps[section].values[0]`), so setting it changes what the map is created with.
 */
export class VariableSpec {
  readonly name: string;
  /** The map (named after its ELF section) that holds the variable. */
  readonly section: string;
  readonly offset: number;
  readonly size: number;
  /** The variable's type in the object's BTF; undefined for objects without BTF. */
  readonly type: BtfType | undefined;
  /** True for `const` data (`.rodata*`): set before load, read-only to programs. */
  readonly constant: boolean;
  readonly #host: VariableHost;
  #codec: OffsetCodec<BtfValue> | undefined;

  constructor(host: VariableHost, init: { name: string; section: string; offset: number; size: number; type?: BtfType; constant: boolean }) {
    this.#host = host;
    this.name = init.name;
    this.section = init.section;
    this.offset = init.offset;
    this.size = init.size;
    this.type = init.type;
    this.constant = init.constant;
  }

  /** The codec of the variable's type (raw bytes without BTF). */
  get codec(): OffsetCodec<BtfValue> {
    if (this.#codec === undefined) {
      const btf = this.#host.btf;
      let c: OffsetCodec<BtfValue> | undefined;
      if (btf !== undefined && this.type !== undefined) {
        try {
          c = btfCodec(btf, this.type.id);
        } catch {
          c = undefined;
        }
      }
      this.#codec = c !== undefined && c.size === this.size ? c : (rawBytes(this.size, `variable ${this.name}`) as OffsetCodec<BtfValue>);
    }
    return this.#codec;
  }

  /** The bytes of the variable inside the map's initial value (a view: writes go through). */
  get bytes(): Uint8Array {
    const data = this.#data();
    return data.subarray(this.offset, this.offset + this.size);
  }

  /** The initial value, decoded by the variable's BTF type. */
  get value(): BtfValue {
    return this.codec.decodeAt(this.#data(), this.offset);
  }

  /** Sets the initial value: numbers, bigints, booleans, strings, arrays, objects by BTF type. */
  set(value: unknown): void {
    const data = this.#data();
    if (value instanceof Uint8Array) {
      if (value.length !== this.size) throw new InvalidArgumentError(`variable ${this.name}: ${value.length} bytes given for a ${this.size}-byte variable`);
      data.set(value, this.offset);
      return;
    }
    try {
      this.codec.encodeAt(value as BtfValue, data, this.offset);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new InvalidArgumentError(`variable ${this.name}: ${err.message}`);
      throw err;
    }
  }

  #data(): Uint8Array {
    const map = this.#host.maps[this.section];
    const entry = map?.values.find((e) => e.key === 0);
    if (map === undefined || entry === undefined || !(entry.value instanceof Uint8Array)) {
      throw new InvalidArgumentError(`variable ${this.name}: its map ${this.section} is gone from the spec`);
    }
    if (entry.value.length < this.offset + this.size) {
      throw new InvalidArgumentError(`variable ${this.name}: its map ${this.section} is smaller than the variable's place`);
    }
    return entry.value;
  }

  /** The same variable in another collection spec (for copies). */
  rebind(host: VariableHost): VariableSpec {
    return new VariableSpec(host, {
      name: this.name,
      section: this.section,
      offset: this.offset,
      size: this.size,
      ...(this.type !== undefined ? { type: this.type } : {}),
      constant: this.constant,
    });
  }
}
