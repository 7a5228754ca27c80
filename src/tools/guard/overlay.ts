// proc.is_exe_upper_layer: whether a process's executable lives in the upper (writable) layer
// of an overlay mount, which is where a file written or changed in a running container ends
// up. The mount is the one the path falls in, from the process's own mount table (the
// container's view), else guard's; an overlay's mount options name its upper directory as a
// path of the namespace that mounted it, which is the host's for container runtimes.
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Mount {
  point: string;
  fstype: string;
  superOptions: string;
}

// mountinfo writes space, tab, newline and backslash in paths as octal escapes.
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** The mounts of a mountinfo text: mount point (field 5), and after the '-' the type and the super options. */
export function parseMountinfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6 || fields.length < dash + 4) continue;
    out.push({ point: unescape(fields[4]!), fstype: fields[dash + 1]!, superOptions: fields[dash + 3]! });
  }
  return out;
}

/** The mount a path falls in: the longest mount point that is the path or a directory above it (the last such mount wins, as it hides the others). */
function mountOf(mounts: readonly Mount[], path: string): Mount | undefined {
  let best: Mount | undefined;
  for (const m of mounts) {
    const inside = m.point === '/' || path === m.point || path.startsWith(`${m.point}/`);
    if (inside && (best === undefined || m.point.length >= best.point.length)) best = m;
  }
  return best;
}

/** Whether `path` of the mount table `mounts` is in the upper layer of an overlay mount. */
export function inUpperLayer(mounts: readonly Mount[], path: string): boolean {
  const m = mountOf(mounts, path);
  if (m === undefined || m.fstype !== 'overlay') return false;
  const upper = /(?:^|,)upperdir=([^,]+)/.exec(m.superOptions)?.[1];
  if (upper === undefined) return false;
  const rel = m.point === '/' ? path : path.slice(m.point.length);
  try {
    lstatSync(join(unescape(upper), rel));
    return true;
  } catch {
    return false;
  }
}

/** proc.is_exe_upper_layer for process `pid` whose executable is `exepath`. */
export function isExeUpperLayer(pid: number, exepath: string): boolean {
  if (exepath === '' || !exepath.startsWith('/')) return false;
  for (const file of [`/proc/${pid}/mountinfo`, '/proc/self/mountinfo']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      // The process is gone: guard's own mount table.
      continue;
    }
    return inUpperLayer(parseMountinfo(text), exepath);
  }
  return false;
}
