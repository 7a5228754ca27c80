// Paths on a BPF filesystem: checks, the one place directories are made there, unpinning.
// Every check happens before anything is created: on sysfs (where /sys/fs/bpf is an empty
// directory until a bpffs is mounted on it) Node's recursive mkdir never returns, and a
// half-made directory tree on the wrong filesystem is worse than an error.
import { existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { TsbpfError } from '../errors.js';
import { BPF_FS_MAGIC, fsMagic, isRoot, mountFilesystem } from '../sys/mounts.js';
import { BpffsError } from './errors.js';

export { BPF_FS_MAGIC };

/** Where bpffs is mounted by convention, and where tsbpf mounts one when it is missing. */
export const BPFFS_ROOT = '/sys/fs/bpf';

/** The nearest existing directory at or above `dir`. */
function existingAncestor(dir: string): string {
  let d = dir;
  while (!existsSync(d)) {
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  return d;
}

function underRoot(abs: string): boolean {
  return abs === BPFFS_ROOT || abs.startsWith(BPFFS_ROOT + sep);
}

/** True when `path` (which must exist) lives on a BPF filesystem. */
export function isOnBpffs(path: string): boolean {
  return fsMagic(path) === BPF_FS_MAGIC;
}

/**
 * Makes sure `path` (a pin or a directory to be, or one that exists) is below a bpffs. When
 * it is below /sys/fs/bpf and no bpffs is mounted there, root mounts one (as bpftool does;
 * listeners of onFilesystemMounted hear of it); anyone else gets a BpffsError saying how to
 * mount it. A path on any other filesystem is a BpffsError. Nothing is created.
 */
export function ensureBpffs(path: string): string {
  const abs = resolve(path);
  const base = existingAncestor(abs);
  if (isOnBpffs(base)) return abs;
  if (underRoot(abs) && existsSync(BPFFS_ROOT) && !isOnBpffs(BPFFS_ROOT)) {
    if (!isRoot()) throw new BpffsError(abs, `${BPFFS_ROOT} is not a BPF filesystem (bpffs is not mounted), and mounting one needs root`);
    try {
      mountFilesystem('bpf', 'bpf', BPFFS_ROOT);
    } catch (err) {
      throw new BpffsError(abs, `${BPFFS_ROOT} is not a BPF filesystem, and ${(err as Error).message}`);
    }
    if (isOnBpffs(existingAncestor(abs))) return abs;
  }
  throw new BpffsError(abs, `${base} is not on a BPF filesystem (bpffs), so nothing can be pinned there`);
}

/**
 * Creates the directory `dir` on a bpffs, with its missing parents, after ensureBpffs: the one
 * function through which tsbpf makes directories there. Directories are made one level at a
 * time (never with Node's recursive mkdir); one that exists already is fine.
 */
export function makeBpffsDir(dir: string, mode = 0o700): string {
  const abs = ensureBpffs(dir);
  const missing: string[] = [];
  for (let d = abs; !existsSync(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) {
    try {
      mkdirSync(d, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return abs;
}

/**
 * Makes `path` ready to pin at: absolute, below a bpffs (mounted at /sys/fs/bpf if need be),
 * its parent directories created. Throws BpffsError (saying how to mount one) otherwise.
 */
export function preparePinPath(path: string): string {
  const abs = ensureBpffs(path);
  makeBpffsDir(dirname(abs));
  return abs;
}

/**
 * Explains why BPF_OBJ_GET on `path` failed, when the reason is the path: nothing there
 * ("no such pin"), or a file that is not on a bpffs.
 */
export function checkPinnedPath(path: string): void {
  const abs = resolve(path);
  if (!existsSync(abs)) {
    const hint = underRoot(abs) && existsSync(BPFFS_ROOT) && !isOnBpffs(BPFFS_ROOT) ? ` (${BPFFS_ROOT} is not a BPF filesystem: bpffs is not mounted)` : '';
    throw new TsbpfError('ENOENT', `no such pin: ${path}${hint}`);
  }
  if (!isOnBpffs(abs)) throw new BpffsError(abs, 'not on a BPF filesystem (bpffs)');
}

/** Removes a pin; a pin that is already gone is not an error. */
export function removePin(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
