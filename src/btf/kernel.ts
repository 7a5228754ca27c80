import { closeSync, fstatSync, openSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { MAP_PRIVATE, mmap, PROT_READ } from '../sys/memory.js';
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { parseBtf } from './parse.js';

/** Where the running kernel publishes its BTF. */
export const KERNEL_BTF_DIR = '/sys/kernel/btf';

let vmlinux: Btf | undefined;

/**
 * The running kernel's BTF from /sys/kernel/btf/vmlinux, read and parsed
 * once per process (or from `path`, uncached). Its bytes may be a read-only mapping of the
 * file: nothing may write into them (btf.strings.bytes, for one).
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

/**
 * The file's bytes, mapped where the kernel allows it (vmlinux since Linux 6.16): a read of a
 * sysfs BTF file is a system call per page, 1,300 of them for vmlinux. The mapping is private
 * and read-only, and is unmapped when the bytes are collected. Only the kernel's own files are
 * mapped: a regular file truncated under a mapping would fault on access; others are read.
 */
function mapFile(path: string): Uint8Array | undefined {
  if (!path.startsWith(`${KERNEL_BTF_DIR}/`) || !realpathSync(path).startsWith(`${KERNEL_BTF_DIR}/`)) return undefined;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return undefined;
    const m = mmap(fd, size, PROT_READ, MAP_PRIVATE, 0);
    return typeof m === 'number' ? undefined : new Uint8Array(m.buffer);
  } catch {
    // A runtime without external buffers, for one: the file is read instead.
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function readBtfFile(path: string): Uint8Array {
  try {
    return mapFile(path) ?? readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new BtfError('ENOENT', `no BTF at ${path} (kernel built without CONFIG_DEBUG_INFO_BTF?)`, { cause: e });
    }
    throw e;
  }
}
