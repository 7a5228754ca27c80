// Socket filters: SO_ATTACH_BPF on a socket, SO_DETACH_BPF to remove it.
import { BpfError } from '../errors.js';
import { FD } from '../sys/fd.js';
import { setsockopt } from '../sys/socket.js';
import { ProgramType } from '../sys/types.js';
import { programFd, programId, requireType, type AttachableProgram } from './attachable.js';
import { TargetNotFoundError } from './errors.js';
import { Link } from './link.js';
import { EBADF, ENOENT, ENOTSOCK } from '../sys/errno.js';

export interface SocketFilterOptions {
  program: AttachableProgram;
  /** The socket's file descriptor. It must stay open while the Link is; close the Link first. */
  socket: number | FD;
}

const SOL_SOCKET = 1;
const SO_ATTACH_BPF = 50;
const SO_DETACH_BPF = 27;

function setFilter(sock: number, name: number, fd: number, context: string): void {
  const r = setsockopt(sock, SOL_SOCKET, name, new Int32Array([fd]));
  if (r < 0) {
    if (-r === EBADF || -r === ENOTSOCK) throw new TargetNotFoundError('socket', `fd ${sock}`, 'not an open socket');
    throw new BpfError(name === SO_ATTACH_BPF ? 'SO_ATTACH_BPF' : 'SO_DETACH_BPF', -r, context);
  }
}

/** Attaches a SOCKET_FILTER program to a socket: it decides what of each packet the socket gets. */
export function attachSocketFilter(opts: SocketFilterOptions): Link {
  requireType('socket filter', opts.program, ProgramType.SOCKET_FILTER);
  const sock = opts.socket instanceof FD ? opts.socket.value : opts.socket;
  const target = `socket fd ${sock}`;
  setFilter(sock, SO_ATTACH_BPF, programFd(opts.program), target);
  return new Link({
    hook: 'socket_filter',
    target,
    mechanism: 'setsockopt',
    program: opts.program,
    progId: programId(opts.program),
    detach: () => {
      try {
        setFilter(sock, SO_DETACH_BPF, 0, target);
      } catch (err) {
        // No filter left to remove: the socket was closed or its filter replaced by SO_DETACH.
        if (!(err instanceof TargetNotFoundError || (err instanceof BpfError && err.errno === ENOENT))) throw err;
      }
    },
    update: (next) => setFilter(sock, SO_ATTACH_BPF, programFd(next), target),
    describe: () => ({ kind: 'socket_filter', socket: sock }),
  });
}
