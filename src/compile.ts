// Compiling BPF C at run time, like BCC's BPF(text=...): C text in, a CollectionSpec out.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenError } from './codegen/errors.js';
import { compileFile, type CompileOptions } from './codegen/toolchain.js';
import { CollectionSpec } from './collection.js';

export { CompileError } from './codegen/errors.js';

export interface RuntimeCompileOptions extends Pick<CompileOptions, 'cflags' | 'includeDirs' | 'cacheDir' | 'kernelBtf' | 'clang' | 'strip'> {
  /** The file name clang's diagnostics and the spec's messages use. Default `program.bpf.c`. */
  name?: string;
}

/**
 * Compiles BPF C source text with the system clang, as `tsbpf gen` does (`-target bpfel -O2
 * -g`, the host's `__TARGET_ARCH_*`, libbpf's headers, a generated vmlinux.h when the source
 * includes one; DWARF stripped, BTF kept), and reads the object into a CollectionSpec.
 *
 * Relative includes (`#include "common.h"`) resolve against `includeDirs` and the current
 * directory. Throws CompileError with clang's diagnostics when the source does not compile, and
 * a GenError saying what to install when clang or libbpf's headers are missing.
 */
export async function compile(source: string, options: RuntimeCompileOptions = {}): Promise<CollectionSpec> {
  const object = await compileToObject(source, options);
  return CollectionSpec.fromBuffer(object, { name: options.name ?? 'program.bpf.c' });
}

/** Like compile(), returning the object's bytes. */
export async function compileToObject(source: string, options: RuntimeCompileOptions = {}): Promise<Uint8Array> {
  if (typeof source !== 'string') throw new GenError('compile(): the source must be C text');
  const name = options.name ?? 'program.bpf.c';
  if (name.includes('/') || name === '' || name === '.' || name === '..') throw new GenError(`compile(): name must be a file name, got '${name}'`);
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-compile-'));
  try {
    const file = join(dir, name);
    writeFileSync(file, source);
    const result = await compileFile(file, {
      ...options,
      includeDirs: [...(options.includeDirs ?? []), process.cwd()],
      cacheFrom: process.cwd(),
      diagnosticName: name,
    });
    return result.object;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
