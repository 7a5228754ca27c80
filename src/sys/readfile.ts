// Reading a whole input file (an object, a binary, a BTF blob) safely: only regular files, and
// only up to a size, so `/dev/zero` or a FIFO is refused at once instead of read without end.
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { TsbpfError } from '../errors.js';

/** The largest file read whole: a Buffer cannot hold more. */
export const MAX_READ_BYTES = 2 ** 31 - 1;

/** A file that cannot be read as an input: missing, not a regular file, too large, unreadable. */
export class FileError extends TsbpfError {
  readonly path: string;
  /** What is wrong, without the path: "is a directory". */
  readonly reason: string;
  constructor(code: string, path: string, reason: string, options?: { cause?: unknown }) {
    super(code, `${path}: ${reason}`, options);
    this.path = path;
    this.reason = reason;
  }
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'a component of the path is not a directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the path is too long',
};

function fsError(path: string, err: unknown): FileError {
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  const reason = REASONS[code] ?? (err as Error).message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
  return new FileError(code, path, reason, { cause: err });
}

function kind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function checkRegular(path: string, st: Stats, maxBytes: number): void {
  if (st.isDirectory()) throw new FileError('EISDIR', path, 'is a directory');
  if (!st.isFile()) throw new FileError('EINVAL', path, `is ${kind(st)}, not a regular file`);
  if (st.size > maxBytes) throw new FileError('EFBIG', path, `is ${st.size} bytes; the most read is ${maxBytes}`);
}

/**
 * The bytes of a regular file. Refuses directories, devices, FIFOs and sockets, and files above
 * `maxBytes`, with a FileError whose code is the errno (ENOENT, EACCES, EISDIR...) or EINVAL/EFBIG.
 */
export function readRegularFile(path: string, maxBytes = MAX_READ_BYTES): Buffer {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    throw fsError(path, err);
  }
  checkRegular(path, st, maxBytes);
  let fd: number;
  try {
    // O_NONBLOCK: should the path become a FIFO after the stat, open does not wait for a writer.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw fsError(path, err);
  }
  try {
    const now = fstatSync(fd);
    checkRegular(path, now, maxBytes);
    const out = Buffer.allocUnsafe(now.size);
    let n = 0;
    while (n < out.length) {
      const got = readSync(fd, out, n, out.length - n, n);
      if (got === 0) break;
      n += got;
    }
    return n === out.length ? out : out.subarray(0, n);
  } catch (err) {
    if (err instanceof FileError) throw err;
    throw fsError(path, err);
  } finally {
    closeSync(fd);
  }
}
