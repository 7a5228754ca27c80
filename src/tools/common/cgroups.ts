// The cgroup v2 hierarchy, for every tool that names a cgroup: where it is mounted, and its
// directories by id. A cgroup's id, as bpf_get_current_cgroup_id() and a socket's cgroup give
// it, is the inode number of its directory, so the path of an id is found by walking the tree.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The usual mount point, taken when the mount table cannot be read. */
const DEFAULT_ROOT = '/sys/fs/cgroup';

/**
 * Where the cgroup v2 hierarchy is mounted in this mount namespace (/sys/fs/cgroup, or
 * /sys/fs/cgroup/unified on hybrid systems), or undefined when none is.
 */
export function findCgroup2Root(mounts = '/proc/self/mounts'): string | undefined {
  let table: string;
  try {
    table = readFileSync(mounts, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of table.split('\n')) {
    const [, dir, type] = line.split(' ');
    // The mount table escapes blanks in paths as \040.
    if (type === 'cgroup2' && dir !== undefined) return dir.replace(/\\040/g, ' ');
  }
  return undefined;
}

/** findCgroup2Root(), or /sys/fs/cgroup where the mount table says nothing. */
export function cgroup2Root(mounts = '/proc/self/mounts'): string {
  return findCgroup2Root(mounts) ?? DEFAULT_ROOT;
}

/**
 * Every cgroup below `root` (to `maxDepth` levels) by id, with its path as /proc/PID/cgroup
 * writes it: relative to the root, starting with '/'. Directories removed while walking are
 * left out.
 */
export function cgroupsById(root: string, maxDepth = 16): Map<bigint, string> {
  const found = new Map<bigint, string>();
  const walk = (dir: string, rel: string, depth: number): void => {
    try {
      found.set(statSync(dir, { bigint: true }).ino, rel === '' ? '/' : rel);
      if (depth >= maxDepth) return;
      for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) walk(join(dir, d.name), `${rel}/${d.name}`, depth + 1);
    } catch {
      // Removed while walking.
    }
  };
  walk(root, '', 0);
  return found;
}

/**
 * The path of a cgroup id, from a walk of the hierarchy kept until an id is not in it; the
 * tree is walked again for a new id at most once per `rescanMs`.
 */
export class CgroupPaths {
  readonly root: string;
  readonly #rescanMs: number;
  #byId = new Map<bigint, string>();
  #walkedAt = Number.NEGATIVE_INFINITY;

  constructor(root: string = cgroup2Root(), rescanMs = 5000) {
    this.root = root;
    this.#rescanMs = rescanMs;
  }

  path(id: bigint): string | undefined {
    const known = this.#byId.get(id);
    if (known !== undefined || Date.now() - this.#walkedAt < this.#rescanMs) return known;
    this.#walkedAt = Date.now();
    this.#byId = cgroupsById(this.root);
    return this.#byId.get(id);
  }
}
