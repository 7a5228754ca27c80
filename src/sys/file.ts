// System calls on plain file descriptors that Node's fs does not offer on raw fds.
import { native } from './native.js';

/** close(2); returns 0 or -errno. */
export function closeFd(fd: number): number {
  return native.close(fd);
}

/** dup(2) with close-on-exec: the new fd, or -errno. */
export function dupFd(fd: number): number {
  return native.dup(fd);
}

/** read(2) into `buf`: the bytes read, or -errno. */
export function readFd(fd: number, buf: ArrayBufferView): number {
  return native.read(fd, buf);
}
