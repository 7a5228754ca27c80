// fanotify(7) system calls: a notification group, its marks, and permission responses.
import { native } from './native.js';

/** fanotify_init(2): the group's fd, or -errno. */
export function fanotifyInit(flags: number, eventFlags: number): number {
  return native.fanotifyInit(flags, eventFlags);
}

/** fanotify_mark(2) on `path` (absolute, or relative to `dirfd`): 0 or -errno. */
export function fanotifyMark(fd: number, flags: number, mask: number, dirfd: number, path: string): number {
  return native.fanotifyMark(fd, flags, mask, dirfd, Buffer.from(`${path}\0`));
}

/** write(2) of `data`: the bytes written, or -errno. */
export function writeFd(fd: number, data: ArrayBufferView): number {
  return native.write(fd, data);
}
