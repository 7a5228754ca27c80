// Network interfaces through rtnetlink: names and indexes as the caller's network namespace
// sees them, and the XDP state of an interface.
import { TargetNotFoundError } from './errors.js';
import { attrString, attrU32, attrU8, IfInfoMsg, ifinfoMessage, NetlinkError, NLM_F, parseAttrs, RTM, withNetlink, type NetlinkSocket } from '../sys/netlink.js';
import { InvalidArgumentError } from '../errors.js';
import { ENODEV } from '../sys/errno.js';

const IFLA_IFNAME = 3;
const IFLA_EXT_MASK = 29;
const IFLA_XDP = 43;
const RTEXT_FILTER_SKIP_STATS = 1 << 3;

export const IFLA_XDP_ATTR = {
  FD: 1,
  ATTACHED: 2,
  FLAGS: 3,
  PROG_ID: 4,
  DRV_PROG_ID: 5,
  SKB_PROG_ID: 6,
  HW_PROG_ID: 7,
  EXPECTED_FD: 8,
} as const;

/** XDP_FLAGS_* of IFLA_XDP_FLAGS and of BPF_LINK_CREATE for XDP. */
export const XdpFlags = {
  UPDATE_IF_NOEXIST: 1 << 0,
  SKB_MODE: 1 << 1,
  DRV_MODE: 1 << 2,
  HW_MODE: 1 << 3,
  REPLACE: 1 << 4,
} as const;

/** An interface given by name or index. */
export type InterfaceRef = string | number;

export interface Interface {
  ifindex: number;
  name: string;
}

function getLink(sock: NetlinkSocket, ref: InterfaceRef): Map<number, Uint8Array> {
  const byName = typeof ref === 'string';
  const msg = ifinfoMessage(RTM.GETLINK, NLM_F.REQUEST | NLM_F.ACK, byName ? 0 : ref).u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  if (byName) msg.string(IFLA_IFNAME, ref);
  const what = byName ? `interface ${ref}` : `ifindex ${ref}`;
  let replies;
  try {
    replies = sock.request(msg, 'RTM_GETLINK', what);
  } catch (err) {
    if (err instanceof NetlinkError && err.errno === ENODEV) throw new TargetNotFoundError('interface', byName ? ref : `with ifindex ${ref}`, undefined, { cause: err });
    throw err;
  }
  const reply = replies.find((m) => m.type === RTM.NEWLINK);
  if (!reply) throw new TargetNotFoundError('interface', byName ? ref : `with ifindex ${ref}`);
  const attrs = parseAttrs(reply.body.subarray(IfInfoMsg.size));
  attrs.set(-1, reply.body.subarray(0, IfInfoMsg.size));
  return attrs;
}

function indexOf(attrs: Map<number, Uint8Array>): number {
  const hdr = attrs.get(-1) as Uint8Array;
  return new DataView(hdr.buffer, hdr.byteOffset, hdr.byteLength).getInt32(4, true);
}

/** Resolves a name or index to both, in this process's network namespace. */
export function resolveInterface(ref: InterfaceRef): Interface {
  if (typeof ref === 'number' && (!Number.isInteger(ref) || ref <= 0)) throw new InvalidArgumentError(`invalid interface index ${ref}`);
  if (typeof ref === 'string' && (ref.length === 0 || ref.length > 15 || ref.includes('/'))) {
    throw new InvalidArgumentError(`invalid interface name '${ref}'`);
  }
  return withNetlink((sock) => {
    const attrs = getLink(sock, ref);
    return { ifindex: indexOf(attrs), name: attrString(attrs.get(IFLA_IFNAME)) ?? String(ref) };
  });
}

/** The interface's name, or undefined when it no longer exists. */
export function interfaceName(ifindex: number): string | undefined {
  try {
    return resolveInterface(ifindex).name;
  } catch {
    return undefined;
  }
}

export type XdpAttachMode = 'none' | 'driver' | 'generic' | 'offload' | 'multi';

export interface XdpState {
  attached: XdpAttachMode;
  /** The program id when exactly one is attached. */
  progId: number;
  driverProgId: number;
  genericProgId: number;
  offloadProgId: number;
}

const ATTACHED_MODES: XdpAttachMode[] = ['none', 'driver', 'generic', 'offload', 'multi'];

/** The XDP programs on an interface, as `ip link` shows them. */
export function xdpState(ref: InterfaceRef): XdpState {
  return withNetlink((sock) => {
    const xdp = parseAttrs(getLink(sock, ref).get(IFLA_XDP) ?? new Uint8Array(0));
    const attached = ATTACHED_MODES[attrU8(xdp.get(IFLA_XDP_ATTR.ATTACHED)) ?? 0] ?? 'none';
    const progId = attrU32(xdp.get(IFLA_XDP_ATTR.PROG_ID)) ?? 0;
    const one = (mode: XdpAttachMode, attr: number): number => attrU32(xdp.get(attr)) ?? (attached === mode ? progId : 0);
    return {
      attached,
      progId,
      driverProgId: one('driver', IFLA_XDP_ATTR.DRV_PROG_ID),
      genericProgId: one('generic', IFLA_XDP_ATTR.SKB_PROG_ID),
      offloadProgId: one('offload', IFLA_XDP_ATTR.HW_PROG_ID),
    };
  });
}

/**
 * RTM_SETLINK with IFLA_XDP: attaches `progFd` (or detaches with -1) in the mode the flags
 * say. With XDP_FLAGS_REPLACE, the kernel swaps only if `expectedFd` is what is attached.
 */
export function xdpSet(ifc: Interface, progFd: number, flags: number, expectedFd?: number): void {
  withNetlink((sock) => {
    const msg = ifinfoMessage(RTM.SETLINK, NLM_F.REQUEST | NLM_F.ACK, ifc.ifindex).nest(IFLA_XDP, (b) => {
      b.s32(IFLA_XDP_ATTR.FD, progFd);
      if (flags !== 0) b.u32(IFLA_XDP_ATTR.FLAGS, flags);
      if (flags & XdpFlags.REPLACE) b.s32(IFLA_XDP_ATTR.EXPECTED_FD, expectedFd ?? -1);
    });
    sock.request(msg, 'RTM_SETLINK', `XDP on ${ifc.name} (ifindex ${ifc.ifindex})`);
  });
}
