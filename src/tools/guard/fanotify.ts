// action: deny, enforced with fanotify permission events: the files and directories of the deny
// entries are watched (their inodes only), and each open or exec of them is answered from the
// entries before it happens. Anything the entries do not name is allowed.
import { readFileSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { PermissionWatcher, type PermissionRequest } from '../../index.js';
import type { Deny } from './enforce.js';

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The path and, where it differs, the path the kernel reports (symlinks resolved). */
function spellings(path: string): string[] {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
  try {
    const real = realpathSync(trimmed);
    return real === trimmed ? [trimmed] : [trimmed, real];
  } catch {
    return [trimmed];
  }
}

interface Entry {
  deny: Deny;
  files: Set<string>;
  dirs: Set<string>;
}

/** Whether the entry refuses the request. An exec opens the file too: an open entry refuses it. */
function refuses(e: Entry, r: PermissionRequest): boolean {
  if (e.deny.kind === 'exec' && r.kind !== 'exec') return false;
  if (!e.files.has(r.path) && !e.dirs.has(dirname(r.path))) return false;
  const names = e.deny.names;
  return names === undefined || names.list.includes(commOf(r.pid)) !== names.negated;
}

/** Watches what the deny entries name and refuses what they say (guard's own opens are never asked about). */
export function watchDenies(denies: readonly Deny[]): PermissionWatcher {
  const entries: Entry[] = denies.map((deny) => ({ deny, files: new Set(deny.files.flatMap(spellings)), dirs: new Set(deny.dirs.flatMap(spellings)) }));
  const watcher = new PermissionWatcher({
    decide: (r) => (entries.some((e) => refuses(e, r)) ? 'deny' : 'allow'),
  });
  try {
    for (const d of denies) {
      const kinds = d.kind === 'open' ? { open: true, exec: false } : { open: false, exec: true };
      for (const path of [...d.files, ...d.dirs]) watcher.watch(path, kinds);
    }
    return watcher;
  } catch (err) {
    watcher.close();
    throw err;
  }
}
