// What /proc says about a bpf file descriptor: its kind and the fdinfo fields.
import { readFileSync, readlinkSync } from 'node:fs';

/** The kind of bpf object an fd refers to: 'prog', 'map', 'link', 'btf', or undefined. */
export function bpfFdKind(fd: number): string | undefined {
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
  const m = /^anon_inode:\[?(?:bpf[-_])?(prog|map|link|btf)\]?$/.exec(target);
  return m?.[1];
}

/** The `key:\tvalue` lines of /proc/self/fdinfo/<fd>; empty when unreadable. */
export function fdInfo(fd: number): Map<string, string> {
  const out = new Map<string, string>();
  let text: string;
  try {
    text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}

/** The locked memory the kernel accounts to the object (the fdinfo `memlock` field), in bytes. */
export function memlockOf(fd: number): number | undefined {
  const v = fdInfo(fd).get('memlock');
  return v === undefined ? undefined : Number(v);
}
