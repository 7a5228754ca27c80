// The directory `object load --pin DIR` fills: refusing a second load into it, and `object
// unload DIR`, which removes what the load pinned there.
import { existsSync, readdirSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TsbpfError } from '../errors.js';
import { isOnBpffs } from '../map/bpffs.js';

/**
 * Refuses to load into DIR when pins of the same names are there already (an earlier load that
 * was not unloaded), before anything is loaded: BPF_OBJ_PIN would fail with a bare EEXIST.
 */
export function checkPinDirFree(dir: string, programs: readonly string[], maps: readonly string[], pinName: (name: string) => string): void {
  const paths = [...programs.map((p) => join(dir, pinName(p))), ...maps.map((m) => join(dir, 'maps', pinName(m)))];
  const taken = paths.filter((p) => existsSync(p));
  if (taken.length === 0) return;
  const more = taken.length > 1 ? ` and ${taken.length - 1} more` : '';
  throw new TsbpfError('EEXIST', `${dir} is already used by an earlier load (it holds ${taken[0]}${more}); run \`tsbpf object unload ${dir}\` first, or pin elsewhere`);
}

export interface Unloaded {
  /** Every pin removed, in DIR and DIR/maps. */
  readonly pins: string[];
}

function entries(dir: string): { files: string[]; dirs: string[] } {
  const files: string[] = [];
  const dirs: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) (e.isDirectory() ? dirs : files).push(e.name);
  return { files, dirs };
}

/**
 * Removes what `object load --pin DIR` pinned: the pins in DIR (programs, and maps pinned by
 * name), those in DIR/maps, then the two directories. Checks the whole tree first and removes
 * nothing when DIR holds anything a load does not make there.
 */
export function unloadPinDir(dir: string): Unloaded {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new TsbpfError(code, code === 'ENOENT' ? `${dir}: no such directory (nothing is pinned there)` : `${dir}: ${(err as Error).message}`, { cause: err });
  }
  if (!isDir) throw new TsbpfError('ENOTDIR', `${dir} is not a directory; give the DIR of \`object load --pin DIR\``);
  if (!isOnBpffs(dir)) throw new TsbpfError('EINVAL', `${dir} is not on a BPF filesystem (bpffs), so object load pinned nothing there`);
  const top = entries(dir);
  const stray = top.dirs.filter((d) => d !== 'maps');
  const mapsDir = join(dir, 'maps');
  const maps = top.dirs.includes('maps') ? entries(mapsDir) : { files: [], dirs: [] };
  stray.push(...maps.dirs.map((d) => join('maps', d)));
  if (stray.length > 0) throw new TsbpfError('ENOTEMPTY', `${dir} holds ${join(dir, stray[0]!)}, which object load does not make; nothing was removed`);
  const pins = [...top.files.map((f) => join(dir, f)), ...maps.files.map((f) => join(mapsDir, f))];
  for (const p of pins) unlinkSync(p);
  if (top.dirs.includes('maps')) rmdirSync(mapsDir);
  rmdirSync(dir);
  return { pins };
}
