// The loader side of generated modules: a CollectionSpec from the object's bytes, constants set
// by name, then the Collection whose maps, programs and variables the typed parts wrap.
import { Collection, CollectionSpec } from '../collection.js';
import { bytes } from '../codec/bytes.js';
import type { OffsetCodec } from '../codec/codec.js';
import { InvalidArgumentError } from '../errors.js';
import type { BpfMap } from '../map.js';
import type { Program } from '../program.js';
import { MapFlags } from '../sys/types.js';

export { Collection };

/** The spec of a generated module's object, before load. */
export interface ObjectSpec {
  readonly spec: CollectionSpec;
  /** Sets a variable's initial bytes (a .rodata constant). */
  setVariable(section: string, name: string, bytes: Uint8Array): void;
}

function variableSpec(spec: CollectionSpec, section: string, name: string): { offset: number; size: number } {
  const v = spec.variables[name] ?? spec.variables[`${section}.${name}`];
  if (v === undefined || v.section !== section) throw new InvalidArgumentError(`${spec.source ?? 'object'}: no variable ${name} in ${section}; regenerate the module`);
  return v;
}

export function openSpec(bytes: Uint8Array, file: string): ObjectSpec {
  const spec = CollectionSpec.fromBuffer(bytes, { name: file });
  return {
    spec,
    setVariable(section, name, value) {
      variableSpec(spec, section, name);
      (spec.variables[name] ?? spec.variables[`${section}.${name}`])!.set(value);
    },
  };
}

/** A global variable in the kernel's copy of its section. */
export interface VariableMemory {
  readonly size: number;
  /** Decodes the current value. */
  get<T>(codec: OffsetCodec<T>): T;
  /** Encodes and stores a new value. */
  set<T>(codec: OffsetCodec<T>, value: T): void;
}

export interface LoadedCollection {
  readonly collection: Collection;
  /** The collection's map. */
  map(name: string): BpfMap<unknown, unknown>;
  /** The map with the generated codecs; closed with the object. */
  typedMap<K, V>(name: string, key: OffsetCodec<K> | undefined, value: OffsetCodec<unknown>): BpfMap<K, V>;
  program(name: string): { program: Program; section: string };
  variable(section: string, name: string): VariableMemory;
  close(): void;
}


/**
 * `rawValues`: maps whose value size the caller set, so the generated value codec no longer
 * fits: their values are raw bytes of the new size.
 */
export function loadCollection(
  o: ObjectSpec,
  options: { pinPath?: string | undefined; btfPath?: string | undefined; rawValues?: ReadonlySet<string> },
): LoadedCollection {
  const { spec } = o;
  const what = spec.source ?? 'object';
  const collection = spec.load({ ...(options.pinPath !== undefined ? { pinPath: options.pinPath } : {}), ...(options.btfPath !== undefined ? { kernelBtf: options.btfPath } : {}) });
  const views: BpfMap<unknown, unknown>[] = [];
  const map = (name: string): BpfMap<unknown, unknown> => {
    const m = collection.maps[name];
    if (m === undefined) throw new InvalidArgumentError(`${what}: no map ${name}; regenerate the module`);
    return m as BpfMap<unknown, unknown>;
  };
  return {
    collection,
    map,
    typedMap<K, V>(name: string, key: OffsetCodec<K> | undefined, generated: OffsetCodec<unknown>): BpfMap<K, V> {
      const m = map(name);
      const value = options.rawValues?.has(name) === true && generated.size !== m.valueSize ? bytes(m.valueSize, `value of map ${name}`) : generated;
      if (key !== undefined && key.size !== m.keySize) throw new InvalidArgumentError(`map ${name}: the generated key codec is ${key.size} bytes, the map's keys ${m.keySize}; regenerate the module`);
      if (value.size !== m.valueSize) throw new InvalidArgumentError(`map ${name}: the generated value codec is ${value.size} bytes, the map's values ${m.valueSize}; regenerate the module`);
      // A second fd on the same map, owned by the view: the collection's maps keep their BTF codecs.
      const view = m.withCodecs<K, V>({ ...(key !== undefined ? { key } : {}), value: value as OffsetCodec<never> });
      views.push(view as BpfMap<unknown, unknown>);
      return view;
    },
    program(name) {
      const p = collection.programs[name];
      const s = spec.programs[name];
      if (p === undefined || s === undefined) throw new InvalidArgumentError(`${what}: no program ${name}; regenerate the module`);
      return { program: p, section: s.sectionName };
    },
    variable(section, name) {
      const { offset, size } = variableSpec(spec, section, name);
      const m = map(section);
      let mapped: Uint8Array | undefined;
      if ((m.flags & MapFlags.MMAPABLE) !== 0) {
        try {
          mapped = new Uint8Array(m.mmap());
        } catch {
          mapped = undefined;
        }
      }
      if (mapped !== undefined) {
        const bytes = mapped;
        return { size, get: (c) => c.decodeAt(bytes, offset), set: (c, value) => c.encodeAt(value, bytes, offset) };
      }
      const v = collection.variables[name] ?? collection.variables[`${section}.${name}`];
      if (v === undefined) throw new InvalidArgumentError(`${what}: no variable ${name} in ${section}; regenerate the module`);
      return {
        size,
        get: (c) => c.decodeAt(v.bytes, 0),
        set: (c, value) => {
          const bytes = new Uint8Array(size);
          c.encodeAt(value, bytes, 0);
          v.set(bytes);
        },
      };
    },
    close() {
      for (const v of views.splice(0)) v.close();
      collection.close();
    },
  };
}
