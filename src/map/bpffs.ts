// Paths on a BPF filesystem: checks, parent directories, unpinning.
import { existsSync, mkdirSync, statfsSync, unlinkSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { BpffsError } from './errors.js';

/** statfs f_type of bpffs (BPF_FS_MAGIC). */
export const BPF_FS_MAGIC = 0xcafe4a11;

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

/** True when `path` (which must exist) lives on a BPF filesystem. */
export function isOnBpffs(path: string): boolean {
  try {
    return statfsSync(path).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * Makes `path` ready to pin at: absolute, below a mounted bpffs, its parent directories
 * created. Throws BpffsError (saying how to mount one) when no bpffs is there.
 */
export function preparePinPath(path: string): string {
  const abs = isAbsolute(path) ? path : resolve(path);
  const parent = dirname(abs);
  const base = existingAncestor(parent);
  if (!isOnBpffs(base)) {
    throw new BpffsError(abs, `${base} is not on a BPF filesystem (bpffs)`);
  }
  if (base !== parent) mkdirSync(parent, { recursive: true, mode: 0o700 });
  return abs;
}

/** Explains why BPF_OBJ_GET on `path` failed, when the reason is the filesystem. */
export function checkPinnedPath(path: string): void {
  const abs = isAbsolute(path) ? path : resolve(path);
  if (existsSync(abs) && !isOnBpffs(abs)) throw new BpffsError(abs, 'not on a BPF filesystem (bpffs)');
  const base = existingAncestor(dirname(abs));
  if (!existsSync(abs) && !isOnBpffs(base)) throw new BpffsError(abs, `${base} is not on a BPF filesystem (bpffs), so nothing can be pinned there`);
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
