import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { parseBtf } from './parse.js';

/** Where the running kernel publishes its BTF. */
export const KERNEL_BTF_DIR = '/sys/kernel/btf';

let vmlinux: Btf | undefined;

/**
 * The running kernel's BTF from /sys/kernel/btf/vmlinux, read and parsed
 * once per process (or from `path`, uncached).
 */
export function readKernelBtf(path?: string): Btf {
  if (path !== undefined) return parseBtf(readBtfFile(path), { section: path });
  vmlinux ??= parseBtf(readBtfFile(join(KERNEL_BTF_DIR, 'vmlinux')), { section: 'vmlinux' });
  return vmlinux;
}

/** A kernel module's split BTF, whose ids and strings continue `base` (default: the kernel's). */
export function readModuleBtf(module: string, base: Btf = readKernelBtf()): Btf {
  if (module === '' || module.includes('/') || module === '.' || module === '..') {
    throw new BtfError('EINVAL', `invalid module name '${module}'`);
  }
  const path = join(KERNEL_BTF_DIR, module);
  return parseBtf(readBtfFile(path), { base, section: path });
}

function readBtfFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new BtfError('ENOENT', `no BTF at ${path} (kernel built without CONFIG_DEBUG_INFO_BTF?)`, { cause: e });
    }
    throw e;
  }
}
