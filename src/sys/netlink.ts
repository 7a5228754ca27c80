// A small rtnetlink client: message building with nested attributes, the fixed headers of link
// and traffic-control messages, parsing of replies and extended acks, and a socket that sends
// one request and collects its answer.
import { BpfError } from '../errors.js';
import { EAGAIN, EINTR } from './errno.js';
import { FD } from './fd.js';
import { bind, recv, send, setsockopt, socket } from './socket.js';

export const NETLINK_ROUTE = 0;

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;

const NLMSG_HDRLEN = 16;
const NLA_HDRLEN = 4;
const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;
const NLMSGERR_ATTR_MSG = 1;

/** nlmsghdr flags. */
export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  ECHO: 0x8,
  DUMP_INTR: 0x10,
  ROOT: 0x100,
  MATCH: 0x200,
  DUMP: 0x300,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
  CAPPED: 0x100,
  ACK_TLVS: 0x200,
} as const;

/** Control message types. */
export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4 } as const;

/** rtnetlink message types. */
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWQDISC: 36,
  DELQDISC: 37,
  GETQDISC: 38,
  NEWTFILTER: 44,
  DELTFILTER: 45,
  GETTFILTER: 46,
} as const;

const align4 = (n: number): number => (n + 3) & ~3;

/** Builds one netlink message: the header, a fixed family struct, then attributes. */
export class NetlinkMessageBuilder {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #len = NLMSG_HDRLEN;
  readonly #nests: number[] = [];
  readonly type: number;
  readonly flags: number;

  constructor(type: number, flags: number) {
    this.type = type;
    this.flags = flags;
  }

  #reserve(n: number): number {
    const at = this.#len;
    const need = at + align4(n);
    if (need > this.#buf.length) {
      const grown = new Uint8Array(Math.max(need, this.#buf.length * 2));
      grown.set(this.#buf);
      this.#buf = grown;
      this.#view = new DataView(grown.buffer);
    }
    this.#len = need;
    return at;
  }

  /** The family header (ifinfomsg, tcmsg...), `size` bytes written by `fill` at `at`. */
  struct(size: number, fill: (view: DataView, at: number) => void): this {
    const at = this.#reserve(size);
    fill(this.#view, at);
    return this;
  }

  #attr(type: number, size: number): number {
    const at = this.#reserve(NLA_HDRLEN + size);
    this.#view.setUint16(at, NLA_HDRLEN + size, true);
    this.#view.setUint16(at + 2, type, true);
    return at + NLA_HDRLEN;
  }

  u8(type: number, v: number): this {
    this.#view.setUint8(this.#attr(type, 1), v);
    return this;
  }

  u16(type: number, v: number): this {
    this.#view.setUint16(this.#attr(type, 2), v, true);
    return this;
  }

  u32(type: number, v: number): this {
    this.#view.setUint32(this.#attr(type, 4), v >>> 0, true);
    return this;
  }

  s32(type: number, v: number): this {
    this.#view.setInt32(this.#attr(type, 4), v, true);
    return this;
  }

  /** A NUL-terminated string attribute. */
  string(type: number, s: string): this {
    const bytes = new TextEncoder().encode(s);
    const at = this.#attr(type, bytes.length + 1);
    this.#buf.set(bytes, at);
    this.#buf[at + bytes.length] = 0;
    return this;
  }

  bytes(type: number, data: Uint8Array): this {
    this.#buf.set(data, this.#attr(type, data.length));
    return this;
  }

  /** Opens a nested attribute; attributes until endNest() go inside it. */
  beginNest(type: number): this {
    const at = this.#reserve(NLA_HDRLEN);
    this.#view.setUint16(at + 2, type | NLA_F_NESTED, true);
    this.#nests.push(at);
    return this;
  }

  endNest(): this {
    const at = this.#nests.pop();
    if (at === undefined) throw new RangeError('endNest() without beginNest()');
    this.#view.setUint16(at, this.#len - at, true);
    return this;
  }

  nest(type: number, fill: (b: this) => void): this {
    this.beginNest(type);
    fill(this);
    return this.endNest();
  }

  /** The finished message with its sequence number. */
  finish(seq: number): Uint8Array {
    if (this.#nests.length > 0) throw new RangeError('unterminated nested attribute');
    this.#view.setUint32(0, this.#len, true);
    this.#view.setUint16(4, this.type, true);
    this.#view.setUint16(6, this.flags, true);
    this.#view.setUint32(8, seq, true);
    this.#view.setUint32(12, 0, true);
    return this.#buf.slice(0, this.#len);
  }
}

/** struct ifinfomsg, the header of RTM_*LINK messages (a test checks it against the kernel's BTF). */
export const IfInfoMsg = { size: 16, ifi_index: 4 } as const;

/** struct tcmsg, the header of RTM_*QDISC and RTM_*TFILTER messages. */
export const TcMsg = { size: 20, tcm_ifindex: 4, tcm_handle: 8, tcm_parent: 12, tcm_info: 16 } as const;

/** A link message about one interface (ifindex 0: named by an IFLA_IFNAME attribute instead). */
export function ifinfoMessage(type: number, flags: number, ifindex: number): NetlinkMessageBuilder {
  return new NetlinkMessageBuilder(type, flags).struct(IfInfoMsg.size, (v, at) => v.setInt32(at + IfInfoMsg.ifi_index, ifindex, true));
}

/** A traffic-control message on one interface: a qdisc or filter by handle, parent and info. */
export function tcMessage(type: number, flags: number, ifindex: number, handle: number, parent: number, info: number): NetlinkMessageBuilder {
  return new NetlinkMessageBuilder(type, flags).struct(TcMsg.size, (v, at) => {
    v.setInt32(at + TcMsg.tcm_ifindex, ifindex, true);
    v.setUint32(at + TcMsg.tcm_handle, handle >>> 0, true);
    v.setUint32(at + TcMsg.tcm_parent, parent >>> 0, true);
    v.setUint32(at + TcMsg.tcm_info, info >>> 0, true);
  });
}

export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Everything after the nlmsghdr. */
  body: Uint8Array;
}

/** Splits a datagram into its messages. */
export function parseMessages(data: Uint8Array): NetlinkMessage[] {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: NetlinkMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= data.length) {
    const len = v.getUint32(off, true);
    if (len < NLMSG_HDRLEN || off + len > data.length) break;
    out.push({
      type: v.getUint16(off + 4, true),
      flags: v.getUint16(off + 6, true),
      seq: v.getUint32(off + 8, true),
      pid: v.getUint32(off + 12, true),
      body: data.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** Attributes by type (the last one wins for repeated types); nested ones parse again with parseAttrs. */
export function parseAttrs(data: Uint8Array): Map<number, Uint8Array> {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = new Map<number, Uint8Array>();
  let off = 0;
  while (off + NLA_HDRLEN <= data.length) {
    const len = v.getUint16(off, true);
    if (len < NLA_HDRLEN || off + len > data.length) break;
    out.set(v.getUint16(off + 2, true) & NLA_TYPE_MASK, data.subarray(off + NLA_HDRLEN, off + len));
    off += align4(len);
  }
  return out;
}

export function attrU8(a: Uint8Array | undefined): number | undefined {
  return a && a.length >= 1 ? a[0] : undefined;
}

export function attrU32(a: Uint8Array | undefined): number | undefined {
  return a && a.length >= 4 ? new DataView(a.buffer, a.byteOffset, 4).getUint32(0, true) : undefined;
}

export function attrString(a: Uint8Array | undefined): string | undefined {
  if (!a) return undefined;
  const end = a.indexOf(0);
  return new TextDecoder().decode(end < 0 ? a : a.subarray(0, end));
}

/** A netlink request failed; `extack` is the kernel's explanation when it gave one. */
export class NetlinkError extends BpfError {
  readonly extack: string | undefined;
  constructor(request: string, errno: number, context: string, extack: string | undefined) {
    super(request, errno, extack ? `${context}: ${extack}` : context);
    this.extack = extack;
  }
}

function errorOf(msg: NetlinkMessage): { errno: number; extack: string | undefined } {
  const v = new DataView(msg.body.buffer, msg.body.byteOffset, msg.body.byteLength);
  const errno = msg.body.length >= 4 ? -v.getInt32(0, true) : 0;
  let extack: string | undefined;
  if (msg.flags & NLM_F.ACK_TLVS && msg.body.length >= 4 + NLMSG_HDRLEN) {
    const origLen = v.getUint32(4, true);
    const tlvAt = 4 + (msg.flags & NLM_F.CAPPED ? NLMSG_HDRLEN : align4(origLen));
    if (tlvAt <= msg.body.length) extack = attrString(parseAttrs(msg.body.subarray(tlvAt)).get(NLMSGERR_ATTR_MSG));
  }
  return { errno, extack };
}

const RECV_TIMEOUT_S = 10;

/** A NETLINK_ROUTE socket that sends one request at a time and reads its whole answer. */
export class NetlinkSocket {
  readonly #fd: FD;
  #seq = Math.floor(Date.now() / 1000) >>> 0;
  readonly #buf = new Uint8Array(new ArrayBuffer(1 << 17));

  private constructor(fd: FD) {
    this.#fd = fd;
  }

  static open(protocol = NETLINK_ROUTE): NetlinkSocket {
    const r = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (r < 0) throw new BpfError('socket(AF_NETLINK)', -r);
    const fd = new FD(r, 'netlink socket');
    try {
      const one = new Int32Array([1]);
      // Best effort: both only make errors more useful and replies smaller.
      setsockopt(r, SOL_NETLINK, NETLINK_EXT_ACK, one);
      setsockopt(r, SOL_NETLINK, NETLINK_CAP_ACK, one);
      const tv = new BigInt64Array([BigInt(RECV_TIMEOUT_S), 0n]);
      setsockopt(r, SOL_SOCKET, SO_RCVTIMEO, tv);
      const addr = new Uint8Array(12);
      new DataView(addr.buffer).setUint16(0, AF_NETLINK, true);
      const b = bind(r, addr);
      if (b < 0) throw new BpfError('bind(AF_NETLINK)', -b);
    } catch (err) {
      fd.close();
      throw err;
    }
    return new NetlinkSocket(fd);
  }

  /**
   * Sends the message and returns the replies before the final ack or NLMSG_DONE. An error ack
   * throws a NetlinkError naming `request` and `context`.
   */
  request(msg: NetlinkMessageBuilder, request: string, context: string): NetlinkMessage[] {
    const seq = (this.#seq = (this.#seq + 1) >>> 0);
    const bytes = msg.finish(seq);
    const fd = this.#fd.value;
    let s: number;
    do s = send(fd, bytes, 0);
    while (s === -EINTR);
    if (s < 0) throw new BpfError(`${request} send`, -s, context);
    const dump = (msg.flags & NLM_F.DUMP) === NLM_F.DUMP;
    const replies: NetlinkMessage[] = [];
    for (;;) {
      const n = recv(fd, this.#buf, 0);
      if (n === -EINTR) continue;
      if (n === -EAGAIN) throw new BpfError(`${request} recv`, EAGAIN, `${context}: no answer within ${RECV_TIMEOUT_S}s`);
      if (n < 0) throw new BpfError(`${request} recv`, -n, context);
      for (const m of parseMessages(this.#buf.subarray(0, n))) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG.ERROR) {
          const { errno, extack } = errorOf(m);
          if (errno !== 0) throw new NetlinkError(request, errno, context, extack);
          return replies;
        }
        if (m.type === NLMSG.DONE) return replies;
        if (m.type === NLMSG.NOOP) continue;
        // Replies are views into the receive buffer; keep copies.
        replies.push({ ...m, body: m.body.slice() });
        if (!dump && !(msg.flags & NLM_F.ACK) && !(m.flags & NLM_F.MULTI)) return replies;
      }
    }
  }

  close(): void {
    this.#fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Runs `fn` with a fresh socket that is closed afterwards. */
export function withNetlink<T>(fn: (sock: NetlinkSocket) => T): T {
  const sock = NetlinkSocket.open();
  try {
    return fn(sock);
  } finally {
    sock.close();
  }
}
