// Finding what an object needs in the running kernel: kfuncs and variables by BTF id (in vmlinux
// or a module, whose BTF object then goes in fd_array), addresses in /proc/kallsyms, and the BTF
// ids that tracing programs attach to.
import { readFileSync } from 'node:fs';
import type { Btf } from '../btf/btf.js';
import type { BtfType } from '../btf/types.js';
import { skipModsAndTypedefs, typesCompatible } from '../core/compat.js';
import { targetIds, type CoreTargets, type TargetBtf } from '../core/targets.js';
import { allIds, getFdById } from '../sys/attrs.js';
import type { FD } from '../sys/fd.js';
import { btfInfo } from '../sys/info.js';
import { Cmd } from '../sys/types.js';
import { syscallPrefix } from '../sys/arch.js';
import { ObjectError } from '../object/errors.js';
import { readKernelConfig } from '../object/kconfig.js';

/** A kernel BTF type found for an extern or attach target. */
export interface KernelBtfId {
  readonly id: number;
  /** The module whose BTF holds it; undefined for vmlinux. */
  readonly module?: string;
}

/** The hint for kernels whose /proc/kallsyms lists functions only. */
export const KALLSYMS_DATA_HINT = "this kernel's /proc/kallsyms has no data symbols (CONFIG_KALLSYMS_ALL is off)";

/**
 * Resolves kernel symbols for one load. It opens module BTF objects as kfuncs and attach targets
 * need them; close() releases them once the programs are loaded.
 */
export class KernelResolver {
  readonly #targets: () => CoreTargets;
  readonly #moduleFds = new Map<string, FD>();
  readonly #fdArray: number[] = [0];
  #kallsyms: Map<string, bigint> | undefined;
  #kallsymsHasData = true;

  constructor(targets: () => CoreTargets) {
    this.#targets = targets;
  }

  /** fd_array for BPF_PROG_LOAD: index 0 unused, then module BTF fds kfunc calls refer to. */
  get fdArray(): readonly number[] {
    return this.#fdArray;
  }

  #find(kind: 'FUNC' | 'VAR' | 'TYPEDEF', name: string): { target: TargetBtf; type: BtfType } | undefined {
    const targets = this.#targets();
    for (const t of [targets.primary, ...(this.#inPrimary(targets, kind, name) ? [] : targets.modules)]) {
      const type = ownType(t, kind, name);
      if (type !== undefined) return { target: t, type };
    }
    return undefined;
  }

  #inPrimary(targets: CoreTargets, kind: BtfType['kind'], name: string): boolean {
    return ownType(targets.primary, kind, name) !== undefined;
  }

  /** The BTF object fd of a module's BTF, opened once per load. */
  moduleBtfFd(module: string): number {
    let fd = this.#moduleFds.get(module);
    if (fd === undefined) {
      for (const id of allIds(Cmd.BTF_GET_NEXT_ID)) {
        let candidate: FD;
        try {
          candidate = getFdById(Cmd.BTF_GET_FD_BY_ID, id);
        } catch {
          continue;
        }
        let keep = false;
        try {
          const info = btfInfo(candidate.value);
          keep = info.kernelBtf && info.name === module;
        } finally {
          if (!keep) candidate.close();
        }
        if (keep) {
          fd = candidate;
          break;
        }
      }
      if (fd === undefined) throw new ObjectError(`the BTF object of kernel module ${module} is not loaded`, {}, 'ENOENT');
      this.#moduleFds.set(module, fd);
    }
    return fd.value;
  }

  #fdIndex(module: string): number {
    const fd = this.moduleBtfFd(module);
    let i = this.#fdArray.indexOf(fd);
    if (i < 0) {
      this.#fdArray.push(fd);
      i = this.#fdArray.length - 1;
    }
    if (i > 0x7fff) throw new ObjectError('too many kernel modules referenced by kfunc calls');
    return i;
  }

  /**
   * A kfunc by name, its prototype checked against the local declaration. Undefined when the
   * kernel lacks it (or has it with another prototype and the extern is weak).
   */
  kfunc(name: string, localBtf: Btf, localFunc: number, weak: boolean): (KernelBtfId & { fdIndex: number; btfFd: number }) | undefined {
    const found = this.#find('FUNC', name);
    if (found === undefined) return undefined;
    const local = localBtf.type(localFunc);
    const kernel = found.type;
    if (local.kind === 'FUNC' && kernel.kind === 'FUNC' && !typesCompatible(localBtf, local.type, found.target.btf, kernel.type)) {
      if (weak) return undefined;
      throw new ObjectError(`kfunc ${name}: the declaration does not match the kernel's prototype`, { symbol: name }, 'EINVAL');
    }
    if (!found.target.module) return { id: kernel.id, fdIndex: 0, btfFd: 0 };
    const fdIndex = this.#fdIndex(found.target.name);
    return { id: kernel.id, module: found.target.name, fdIndex, btfFd: this.#fdArray[fdIndex]! };
  }

  /** A typed kernel variable by name, its type checked against the local declaration. */
  ksym(name: string, localBtf: Btf, localVar: number, weak: boolean): (KernelBtfId & { btfFd: number }) | undefined {
    const found = this.#find('VAR', name);
    if (found === undefined) return undefined;
    const local = localBtf.type(localVar);
    const kernel = found.type;
    if (
      local.kind === 'VAR' &&
      kernel.kind === 'VAR' &&
      !typesCompatible(localBtf, skipModsAndTypedefs(localBtf, local.type).id, found.target.btf, skipModsAndTypedefs(found.target.btf, kernel.type).id)
    ) {
      if (weak) return undefined;
      throw new ObjectError(`__ksym ${name}: the declared type does not match the kernel's`, { symbol: name }, 'EINVAL');
    }
    return { id: kernel.id, ...(found.target.module ? { module: found.target.name } : {}), btfFd: found.target.module ? this.moduleBtfFd(found.target.name) : 0 };
  }

  /** The BTF type a tracing, LSM or iterator program attaches to. */
  attachTarget(kind: 'FUNC' | 'TYPEDEF', name: string): (KernelBtfId & { btfFd?: number }) | undefined {
    let module: string | undefined;
    let symbol = name;
    const colon = name.indexOf(':');
    if (colon > 0) {
      module = name.slice(0, colon);
      symbol = name.slice(colon + 1);
    }
    if (module !== undefined && module !== 'vmlinux') {
      const m = this.#targets().modules.find((x) => x.name === module);
      const t = m === undefined ? undefined : ownType(m, kind, symbol);
      if (m === undefined || t === undefined) return undefined;
      return { id: t.id, module, btfFd: this.moduleBtfFd(module) };
    }
    const found = this.#find(kind, symbol);
    if (found === undefined) return undefined;
    return found.target.module ? { id: found.type.id, module: found.target.name, btfFd: this.moduleBtfFd(found.target.name) } : { id: found.type.id };
  }

  /** A symbol's address from /proc/kallsyms; undefined when it is not listed. */
  kallsymsAddress(name: string): bigint | undefined {
    if (this.#kallsyms === undefined) this.#readKallsyms();
    return this.#kallsyms!.get(name);
  }

  /** Why a kallsyms lookup of a variable can fail on this kernel, if it is known. */
  kallsymsHint(): string | undefined {
    const all = readKernelConfig()?.get('CONFIG_KALLSYMS_ALL');
    if (all === 'n' || (all === undefined && readKernelConfig() !== undefined)) return KALLSYMS_DATA_HINT;
    if (this.#kallsyms === undefined) this.#readKallsyms();
    return this.#kallsymsHasData ? undefined : KALLSYMS_DATA_HINT;
  }

  #readKallsyms(): void {
    const map = new Map<string, bigint>();
    let text: string;
    try {
      text = readFileSync('/proc/kallsyms', 'utf8');
    } catch (err) {
      throw new ObjectError(`cannot read /proc/kallsyms: ${(err as Error).message}`, { cause: err }, 'EACCES');
    }
    let dataSymbols = 0;
    let nonZero = false;
    for (const line of text.split('\n')) {
      const a = line.indexOf(' ');
      const b = line.indexOf(' ', a + 1);
      if (a < 0 || b < 0) continue;
      const type = line[a + 1];
      if (type === 'd' || type === 'b') dataSymbols++;
      let end = line.indexOf('\t', b + 1);
      if (end < 0) end = line.length;
      const name = line.slice(b + 1, end);
      if (map.has(name)) continue;
      const addr = BigInt(`0x${line.slice(0, a)}`);
      if (addr !== 0n) nonZero = true;
      map.set(name, addr);
    }
    if (!nonZero && map.size > 0) throw new ObjectError('/proc/kallsyms shows no addresses (kernel.kptr_restrict, or not running as root)', {}, 'EPERM');
    this.#kallsyms = map;
    this.#kallsymsHasData = dataSymbols > 0;
  }

  /** Whether the kernel wraps system calls (`__<arch>_sys_bpf` exists), for LINUX_HAS_SYSCALL_WRAPPER. */
  hasSyscallWrapper(): boolean {
    const prefix = syscallPrefix();
    if (prefix === undefined) return false;
    try {
      return this.kallsymsAddress(`${prefix}bpf`) !== undefined;
    } catch {
      return false;
    }
  }

  close(): void {
    for (const fd of this.#moduleFds.values()) fd.close();
    this.#moduleFds.clear();
    this.#fdArray.length = 1;
  }
}

/** The first type of a target's own with this name and kind. */
function ownType(t: TargetBtf, kind: BtfType['kind'], name: string): BtfType | undefined {
  for (const id of targetIds(t, name, false)) {
    const type = t.btf.type(id);
    if (type.kind === kind) return type;
  }
  return undefined;
}

