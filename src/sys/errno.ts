import { constants } from 'node:os';

const names = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!names.has(value)) names.set(value, name);
}

const messages: Record<string, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ESRCH: 'no such process',
  EINTR: 'interrupted system call',
  EIO: 'input/output error',
  E2BIG: 'argument list too long',
  EBADF: 'bad file descriptor',
  EAGAIN: 'resource temporarily unavailable',
  ENOMEM: 'cannot allocate memory',
  EACCES: 'permission denied',
  EFAULT: 'bad address',
  EBUSY: 'device or resource busy',
  EEXIST: 'file exists',
  EXDEV: 'invalid cross-device link',
  ENODEV: 'no such device',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EINVAL: 'invalid argument',
  ENFILE: 'too many open files in system',
  EMFILE: 'too many open files',
  ENOTTY: 'inappropriate ioctl for device',
  EFBIG: 'file too large',
  ENOSPC: 'no space left on device',
  ERANGE: 'numerical result out of range',
  EDEADLK: 'resource deadlock avoided',
  ENOSYS: 'function not implemented',
  ELOOP: 'too many levels of symbolic links',
  ENOTSUP: 'operation not supported',
  EOPNOTSUPP: 'operation not supported',
  EPROTO: 'protocol error',
  EBADMSG: 'bad message',
  EOVERFLOW: 'value too large for defined data type',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'cannot assign requested address',
  ENETDOWN: 'network is down',
  ECONNREFUSED: 'connection refused',
  ETIMEDOUT: 'connection timed out',
  ENOTSOCK: 'socket operation on non-socket',
  ENOTEMPTY: 'directory not empty',
  EMLINK: 'too many links',
  ENOTSUPP: 'operation not supported',
};

// The errno values this package tests for by name (include/uapi/asm-generic/errno*.h; the same
// on every architecture Node runs Linux on). One home: code compares against these, never a number.
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const E2BIG = 7;
export const EBADF = 9;
export const EAGAIN = 11;
export const EACCES = 13;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENOSPC = 28;
export const ENOTSOCK = 88;
export const EOPNOTSUPP = 95;
/** The kernel's ENOTSUPP (524), which libc does not name. */
export const ENOTSUPP = 524;

/** The errno name for a positive errno value, e.g. 1 -> 'EPERM'. */
export function errnoName(errno: number): string {
  if (errno === ENOTSUPP) return 'ENOTSUPP';
  return names.get(errno) ?? `E${errno}`;
}

/** A short human description of an errno value. */
export function errnoMessage(errno: number): string {
  const name = errnoName(errno);
  return messages[name] ?? name;
}
