// Special filesystems tsbpf relies on (bpffs, tracefs): telling whether a path is on one, and
// mounting one where it is missing, as bpftool and libbpf do when they run as root.
import { execFileSync } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { TsbpfError } from '../errors.js';

/** statfs f_type of bpffs (BPF_FS_MAGIC). */
export const BPF_FS_MAGIC = 0xcafe4a11;
/** statfs f_type of tracefs (TRACEFS_MAGIC). */
export const TRACEFS_MAGIC = 0x74726163;

/** The statfs type of the filesystem holding `path`, or undefined when it cannot be asked. */
export function fsMagic(path: string): number | undefined {
  try {
    return Number(statfsSync(path).type);
  } catch {
    return undefined;
  }
}

/** True when this process runs with an effective uid of 0 (and so may mount). */
export function isRoot(): boolean {
  return typeof process.geteuid === 'function' && process.geteuid() === 0;
}

/** Called after tsbpf mounted a filesystem by itself; the CLI says so on stderr. */
export type MountListener = (fstype: string, target: string) => void;
const listeners = new Set<MountListener>();

/** Registers `fn` to hear of every filesystem tsbpf mounts; returns a function removing it. */
export function onFilesystemMounted(fn: MountListener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * Mounts a filesystem of `fstype` at `target` with mount(8), which every Linux system has,
 * and tells the listeners. Throws a TsbpfError with mount's own reason when it fails.
 */
export function mountFilesystem(fstype: string, source: string, target: string): void {
  try {
    execFileSync('mount', ['-t', fstype, source, target], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (err) {
    const msg = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
    throw new TsbpfError('EPERM', `mounting ${fstype} at ${target} failed: ${msg}`, { cause: err });
  }
  for (const fn of listeners) fn(fstype, target);
}
