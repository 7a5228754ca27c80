// The BTF that CO-RE relocations are resolved against: the running kernel's vmlinux and module
// BTF, or one custom BTF that replaces them. Candidates are found by essential name.
import { readdirSync } from 'node:fs';
import type { Btf } from '../btf/btf.js';
import { join } from 'node:path';
import { KERNEL_BTF_DIR } from '../btf/kernel.js';
import { BtfError } from '../btf/errors.js';
import { parseBtf } from '../btf/parse.js';
import { essentialName } from '../btf/query.js';
import type { BtfType } from '../btf/types.js';
import { SHT } from '../elf/constants.js';
import { ElfFile } from '../elf/file.js';
import { kindsCompatible } from './compat.js';
import { RawNameIndex } from './names.js';
import { readRegularFile } from '../sys/readfile.js';

/** A BTF types are resolved in: vmlinux, a kernel module, or a custom file. */
export interface TargetBtf {
  readonly btf: Btf;
  /** A name lookup over the raw blob, cheaper than the BTF's full name index. */
  readonly index?: RawNameIndex;
  /** `vmlinux`, the module's name, or the custom file's path. */
  readonly name: string;
  /** True for a kernel module's split BTF. */
  readonly module: boolean;
}

export interface Candidate {
  readonly target: TargetBtf;
  readonly id: number;
}

/** Reads a BTF file: raw BTF (as in /sys/kernel/btf) or an ELF object with a `.BTF` section. */
export function readBtfFile(path: string): Btf {
  return readTargetFile(path).btf;
}

// A FileError names the path and carries the errno of what went wrong (ENOENT, EISDIR...).
function readBytes(path: string): Uint8Array {
  return readRegularFile(path);
}

/** The BTF blob of a raw BTF file or of an ELF object's `.BTF` section. */
function btfBytes(bytes: Uint8Array, name: string): Uint8Array {
  if (bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    const elf = new ElfFile(bytes);
    const s = elf.sections.find((x) => x.name === '.BTF' && x.type !== SHT.NOBITS);
    if (s === undefined) throw new BtfError('ENOENT', `${name} has no .BTF section`);
    return elf.sectionData(s);
  }
  return bytes;
}

function target(blob: Uint8Array, name: string, base?: TargetBtf): TargetBtf {
  const btf = parseBtf(blob, { section: name, ...(base !== undefined ? { base: base.btf } : {}) });
  const index = new RawNameIndex(blob, base?.index);
  return { btf, index, name, module: base !== undefined };
}

function readTargetFile(path: string): TargetBtf {
  return target(btfBytes(readBytes(path), path), path);
}

let vmlinux: TargetBtf | undefined;

/** The running kernel's BTF, read once per process. */
function kernelTarget(): TargetBtf {
  if (vmlinux === undefined) {
    const t = target(readBytes(join(KERNEL_BTF_DIR, 'vmlinux')), 'vmlinux');
    vmlinux = { ...t, name: 'vmlinux' };
  }
  return vmlinux;
}

/** Ids of a target's own types with this name (or, with `essential`, any of its flavours). */
export function targetIds(t: TargetBtf, name: string, essential: boolean): number[] {
  if (t.index !== undefined) return essential ? t.index.idsByEssentialName(name) : t.index.idsByName(name);
  const own = (n: string): number[] => t.btf.typesByName(n).filter((x) => x.id >= t.btf.firstTypeId).map((x) => x.id);
  if (!essential) return own(name);
  const out = own(name);
  for (const n of t.btf.flavouredNames()) if (n !== name && essentialName(n) === name) out.push(...own(n));
  return out.sort((a, b) => a - b);
}

/**
 * Candidate lookup over a set of target BTFs. The first target (vmlinux or the custom BTF) is
 * searched first; module BTFs only when it has no candidate, as libbpf does.
 */
export class CoreTargets {
  readonly #primary: TargetBtf;
  readonly #loadModules: (() => TargetBtf[]) | undefined;
  #modules: TargetBtf[] | undefined;

  constructor(primary: TargetBtf, modules?: () => TargetBtf[]) {
    this.#primary = primary;
    this.#loadModules = modules;
  }

  /** The running kernel: vmlinux, then each module's BTF on demand. */
  static kernel(): CoreTargets {
    const k = kernelTarget();
    return new CoreTargets(k, () => kernelModules(k));
  }

  /** A custom BTF (raw or in an ELF file) replacing the kernel's, with no module search. */
  static fromFile(path: string): CoreTargets {
    return new CoreTargets(readTargetFile(path));
  }

  get primary(): TargetBtf {
    return this.#primary;
  }

  get modules(): TargetBtf[] {
    if (this.#modules === undefined) this.#modules = this.#loadModules ? this.#loadModules() : [];
    return this.#modules;
  }

  /** Target types with the essential name of `local` and a corresponding kind. */
  candidates(local: BtfType): Candidate[] {
    const found = this.#search(this.#primary, local);
    if (found.length > 0 || this.#loadModules === undefined) return found;
    for (const m of this.modules) found.push(...this.#search(m, local));
    return found;
  }

  #search(target: TargetBtf, local: BtfType): Candidate[] {
    const out: Candidate[] = [];
    for (const id of targetIds(target, essentialName(local.name), true)) {
      const t = target.btf.type(id);
      if (kindsCompatible(local, t)) out.push({ target, id });
    }
    return out;
  }
}

/** Every module BTF the running kernel publishes, each split on vmlinux. */
function kernelModules(base: TargetBtf): TargetBtf[] {
  let names: string[];
  try {
    names = readdirSync(KERNEL_BTF_DIR).filter((n) => n !== 'vmlinux');
  } catch {
    return [];
  }
  const out: TargetBtf[] = [];
  for (const name of names.sort()) {
    try {
      out.push({ ...target(readBytes(join(KERNEL_BTF_DIR, name)), name, base), name });
    } catch {
      // A module unloaded while listing, or BTF this parser rejects: it has no candidates.
    }
  }
  return out;
}
