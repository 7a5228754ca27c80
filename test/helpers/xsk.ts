// A bound AF_XDP socket, the only thing an XSKMAP holds: a UMEM registered from an anonymous
// mapping, fill, completion and RX rings sized, bound to one queue of a device. Enough for the
// map and for bpf_redirect_map to find it; the rings themselves are not read here.
import { BpfError } from '../../src/errors.js';
import { PROT_READ, PROT_WRITE } from '../../src/ringbuf/mapping.js';
import { native } from '../../src/sys/native.js';

// From linux/if_xdp.h, socket.h and mman.h.
const AF_XDP = 44;
const SOCK_RAW_CLOEXEC = 3 | 0o2000000;
const SOL_XDP = 283;
const XDP_RX_RING = 2;
const XDP_UMEM_REG = 4;
const XDP_UMEM_FILL_RING = 5;
const XDP_UMEM_COMPLETION_RING = 6;
const XDP_COPY = 1 << 1;
const MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;

/** 16 frames of a page, and rings of 16 descriptors: the least a bind accepts, with room. */
const FRAME = 4096;
const FRAMES = 16;
const RING = 16;

export interface XskSocket {
  readonly fd: number;
  close(): void;
}

function check(r: number, what: string): number {
  if (r < 0) throw new BpfError(what, -r, 'AF_XDP socket');
  return r;
}

/** An AF_XDP socket bound (copy mode) to `queue` of the interface `ifindex`. */
export function createXskSocket(ifindex: number, queue = 0): XskSocket {
  const fd = check(native.socket(AF_XDP, SOCK_RAW_CLOEXEC, 0), 'socket(AF_XDP)');
  let umem: { handle: object; buffer: ArrayBuffer } | undefined;
  try {
    // The UMEM must start on a page: an anonymous mapping does.
    const m = native.mmap(-1, FRAME * FRAMES, PROT_READ | PROT_WRITE, MAP_PRIVATE_ANONYMOUS, 0);
    if (typeof m === 'number') throw new BpfError('mmap', -m, 'AF_XDP UMEM');
    umem = m;
    // struct xdp_umem_reg: addr, len, chunk_size, headroom, flags, tx_metadata_len.
    const reg = new DataView(new ArrayBuffer(32));
    reg.setBigUint64(0, native.addressOf(m.buffer), true);
    reg.setBigUint64(8, BigInt(FRAME * FRAMES), true);
    reg.setUint32(16, FRAME, true);
    check(native.setsockopt(fd, SOL_XDP, XDP_UMEM_REG, new Uint8Array(reg.buffer)), 'XDP_UMEM_REG');
    for (const opt of [XDP_UMEM_FILL_RING, XDP_UMEM_COMPLETION_RING, XDP_RX_RING]) {
      check(native.setsockopt(fd, SOL_XDP, opt, Uint32Array.of(RING)), `ring option ${opt}`);
    }
    // struct sockaddr_xdp: family, flags, ifindex, queue_id, shared_umem_fd.
    const sa = new DataView(new ArrayBuffer(16));
    sa.setUint16(0, AF_XDP, true);
    sa.setUint16(2, XDP_COPY, true);
    sa.setUint32(4, ifindex, true);
    sa.setUint32(8, queue, true);
    check(native.bind(fd, new Uint8Array(sa.buffer)), 'bind(AF_XDP)');
  } catch (err) {
    native.close(fd);
    if (umem !== undefined) native.munmap(umem.handle, umem.buffer);
    throw err;
  }
  let open = true;
  const mapping = umem;
  return {
    fd,
    close() {
      if (!open) return;
      open = false;
      native.close(fd);
      native.munmap(mapping.handle, mapping.buffer);
    },
  };
}
