// CollectionSpec: everything a BPF object declares, as data that can be inspected and changed
// before it is loaded.
import { basename } from 'node:path';
import type { Btf } from '../btf/btf.js';
import { InvalidArgumentError, TsbpfError } from '../errors.js';
import { FileError, readRegularFile } from '../sys/readfile.js';
import type { Collection, CollectionLoadOptions, RelocatedProgram } from '../collection.js';
import { ObjectError } from './errors.js';
import { readObject } from './reader.js';
import type { ExternSpec, MapEntry, MapSpec, ProgramSpec } from './types.js';
import { VariableSpec } from './variable-spec.js';

/**
 * What load() and relocate() need from the live side. collection.ts registers it when it is
 * first imported, so this module (and every parser under it) imports no syscall code: reading
 * an object works without the native addon, as aya-obj works without aya.
 */
export interface SpecLoader {
  load(spec: CollectionSpec, options: CollectionLoadOptions): Collection;
  relocate(spec: CollectionSpec, options: Pick<CollectionLoadOptions, 'kernelBtf' | 'programs'>): Record<string, RelocatedProgram>;
}

let loader: SpecLoader | undefined;

/** Called once by collection.ts; the public entry point imports it, so users never call this. */
export function registerSpecLoader(l: SpecLoader): void {
  loader = l;
}

function liveSide(): SpecLoader {
  if (loader === undefined) throw new TsbpfError('ENOLOADER', 'CollectionSpec: load() and relocate() need the loader: import CollectionSpec from the package root');
  return loader;
}

export interface ReadObjectOptions {
  /** A name for messages (defaults to the file's name). */
  name?: string;
}

export class CollectionSpec {
  /** Maps by name: BTF and legacy maps, global data (`.data`, `.rodata`, ...) and `.kconfig`. */
  maps: Record<string, MapSpec>;
  /** Programs by function name. Delete one to not load it. */
  programs: Record<string, ProgramSpec>;
  /** Global variables by name (static ones whose name repeats: `<section>.<name>`). */
  variables: Record<string, VariableSpec>;
  /** `__kconfig` and `__ksym` externs by name. */
  externs: Record<string, ExternSpec>;
  /** The object's BTF with data section sizes and offsets filled in; undefined without BTF. */
  btf: Btf | undefined;
  /** The `license` section's string. */
  license: string;
  /** The `version` section's value (LINUX_VERSION_CODE for old kprobe programs), or 0. */
  kernelVersion: number;
  readonly byteOrder: 'little' | 'big';
  /** The file or name the spec was read from, for messages. */
  readonly source: string | undefined;

  private constructor(init: {
    maps: Record<string, MapSpec>;
    programs: Record<string, ProgramSpec>;
    externs: Record<string, ExternSpec>;
    btf: Btf | undefined;
    license: string;
    kernelVersion: number;
    byteOrder: 'little' | 'big';
    source: string | undefined;
  }) {
    this.maps = init.maps;
    this.programs = init.programs;
    this.externs = init.externs;
    this.btf = init.btf;
    this.license = init.license;
    this.kernelVersion = init.kernelVersion;
    this.byteOrder = init.byteOrder;
    this.source = init.source;
    this.variables = {};
  }

  /** Reads an object file (needs no privileges). */
  static fromFile(path: string, options: ReadObjectOptions = {}): CollectionSpec {
    let bytes: Uint8Array;
    try {
      bytes = readRegularFile(path);
    } catch (err) {
      if (!(err instanceof FileError)) throw err;
      throw new ObjectError(`cannot read: ${err.reason}`, { file: path, cause: err }, err.code);
    }
    return CollectionSpec.fromBuffer(bytes, { name: options.name ?? basename(path) });
  }

  /** Reads an object from memory; the bytes are not kept. */
  static fromBuffer(bytes: Uint8Array, options: ReadObjectOptions = {}): CollectionSpec {
    const r = readObject(bytes, options.name);
    const spec = new CollectionSpec({
      maps: r.maps,
      programs: r.programs,
      externs: r.externs,
      btf: r.btf,
      license: r.license,
      kernelVersion: r.kernelVersion,
      byteOrder: r.littleEndian ? 'little' : 'big',
      source: options.name,
    });
    for (const v of r.variables) spec.variables[v.name] = new VariableSpec(spec, v);
    return spec;
  }

  /**
   * Sets `const volatile` variables (in `.rodata*`) by name, each value encoded by the
   * variable's BTF type. Every name must be a constant of the object.
   */
  rewriteConstants(values: Record<string, unknown>): void {
    const missing = Object.keys(values).filter((k) => this.variables[k]?.constant !== true);
    if (missing.length > 0) {
      const which = missing.map((k) => (this.variables[k] ? `${k} (not constant)` : k)).join(', ');
      throw new InvalidArgumentError(`rewriteConstants: no such constant: ${which}`);
    }
    for (const [k, v] of Object.entries(values)) this.variables[k]!.set(v);
  }

  /** A deep copy whose maps, programs and variables can change without affecting this one (the BTF is shared). */
  copy(): CollectionSpec {
    const maps: Record<string, MapSpec> = {};
    for (const [k, m] of Object.entries(this.maps)) maps[k] = copyMap(m);
    const programs: Record<string, ProgramSpec> = {};
    for (const [k, p] of Object.entries(this.programs)) programs[k] = { ...p, instructions: p.instructions.map((i) => ({ ...i })) };
    const spec = new CollectionSpec({
      maps,
      programs,
      externs: { ...this.externs },
      btf: this.btf,
      license: this.license,
      kernelVersion: this.kernelVersion,
      byteOrder: this.byteOrder,
      source: this.source,
    });
    for (const [k, v] of Object.entries(this.variables)) spec.variables[k] = v.rebind(spec);
    return spec;
  }

  /**
   * Every program relocated as load() would relocate it (CO-RE, kfuncs, kernel variables,
   * calls), without creating maps or loading anything; map fds are left 0.
   */
  relocate(options: Pick<CollectionLoadOptions, 'kernelBtf' | 'programs'> = {}): Record<string, RelocatedProgram> {
    return liveSide().relocate(this, options);
  }

  /** Creates the maps and loads the programs into the kernel; a failure leaves nothing behind. */
  load(options: CollectionLoadOptions = {}): Collection {
    return liveSide().load(this, options);
  }
}

function copyEntry(e: MapEntry): MapEntry {
  return { key: e.key instanceof Uint8Array ? e.key.slice() : e.key, value: e.value instanceof Uint8Array ? e.value.slice() : { ...e.value } };
}

function copyMap(m: MapSpec): MapSpec {
  return {
    ...m,
    values: m.values.map(copyEntry),
    ...(m.innerMap ? { innerMap: copyMap(m.innerMap) } : {}),
    ...(m.structOps ? { structOps: { type: m.structOps.type, programs: { ...m.structOps.programs } } } : {}),
  };
}
