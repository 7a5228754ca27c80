// What a link is attached to: the kernel's bpf_link_info (decoded in src/sys/linkinfo.ts) with
// names added, and the details of attachments that are not bpf_links (netlink, PROG_ATTACH,
// perf event ioctls, socket options).
import { attachTypeName } from '../program/names.js';
import { linkInfoDetails, type KernelLinkDetails, type PerfEventKind } from '../sys/linkinfo.js';
import { type AttachType, LinkType } from '../sys/types.js';
import { interfaceName } from './interfaces.js';

/** How an attachment is held and removed. */
export type LinkMechanism = 'bpf_link' | 'perf_event' | 'netlink' | 'prog_attach' | 'setsockopt';

export type { PerfEventKind } from '../sys/linkinfo.js';

/** What a link is attached to, by hook. */
export type LinkDetails =
  | { kind: 'raw_tracepoint'; tracepoint: string; cookie: bigint }
  | { kind: 'tracing'; attachType: AttachType; attachTypeName: string; targetObjId: number; targetBtfId: number; cookie: bigint }
  | { kind: 'cgroup'; cgroupId: bigint; attachType: AttachType; attachTypeName: string; path?: string }
  | { kind: 'iter'; target: string; mapId?: number; cgroupId?: bigint; order?: number; tid?: number; pid?: number }
  | { kind: 'netns'; netnsIno: number; attachType: AttachType; attachTypeName: string }
  | { kind: 'xdp'; ifindex: number; interface?: string; mode?: 'generic' | 'driver' | 'offload' }
  | { kind: 'struct_ops'; mapId: number }
  | { kind: 'netfilter'; pf: number; hooknum: number; priority: number; flags: number }
  | { kind: 'kprobe_multi'; count: number; flags: number; retprobe: boolean; missed: bigint }
  | { kind: 'uprobe_multi'; path: string; count: number; flags: number; pid: number }
  | {
      kind: 'perf_event';
      event: PerfEventKind;
      /** uprobe: the file; kprobe: the symbol; tracepoint: the name. */
      name?: string;
      offset?: number;
      address?: bigint;
      missed?: bigint;
      config?: bigint;
      type?: number;
      cookie?: bigint;
      /** For a link over several perf events (one per CPU). */
      count?: number;
    }
  | { kind: 'tcx'; ifindex: number; interface?: string; attachType: AttachType; direction: 'ingress' | 'egress' }
  | { kind: 'netkit'; ifindex: number; interface?: string; attachType: AttachType; attachTypeName: string }
  | { kind: 'sockmap'; mapId: number; attachType: AttachType; attachTypeName: string }
  | { kind: 'tc'; ifindex: number; interface?: string; direction: 'ingress' | 'egress'; handle: number; priority: number }
  | { kind: 'socket_filter'; socket: number }
  | { kind: 'unknown'; type: number };

export interface LinkInfo {
  /** The bpf_link id; 0 for attachments that are not bpf_links. */
  id: number;
  type: LinkType;
  /** `xdp`, `tcx`, `perf_event`... as bpftool prints it. */
  typeName: string;
  progId: number;
  mechanism: LinkMechanism;
  details: LinkDetails;
}

export function linkTypeName(t: number): string {
  const n = LinkType[t];
  return typeof n === 'string' ? n.toLowerCase() : `unknown(${t})`;
}

/**
 * The kernel's details with the names it does not give: each attach type's name right after it,
 * and the interface of an ifindex last.
 */
function named(d: KernelLinkDetails): LinkDetails {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(d)) {
    out[key] = value;
    if (key === 'attachType' && d.kind !== 'tcx') out.attachTypeName = attachTypeName(value as number);
  }
  if ((d.kind === 'xdp' || d.kind === 'tcx' || d.kind === 'netkit') && d.ifindex) {
    const name = interfaceName(d.ifindex);
    if (name) out.interface = name;
  }
  return out as LinkDetails;
}

/** The info of a bpf_link fd, decoded for its type. */
export function bpfLinkInfo(fd: number): LinkInfo {
  const info = linkInfoDetails(fd);
  return {
    id: info.id,
    type: info.type,
    typeName: linkTypeName(info.type),
    progId: info.progId,
    mechanism: 'bpf_link',
    details: named(info.details),
  };
}

/** A one-line description of what the details say a link is attached to. */
export function describeDetails(d: LinkDetails): string {
  const ifc = (ifindex: number, name?: string): string => (name ? `${name} (ifindex ${ifindex})` : `ifindex ${ifindex}`);
  switch (d.kind) {
    case 'raw_tracepoint':
      return d.tracepoint;
    case 'tracing':
      return `${d.attachTypeName} btf_id ${d.targetBtfId}${d.targetObjId ? ` in object ${d.targetObjId}` : ''}`;
    case 'cgroup':
      return `${d.attachTypeName} on cgroup ${d.path ?? `id ${d.cgroupId}`}`;
    case 'iter':
      return `iter ${d.target}${d.mapId ? ` map id ${d.mapId}` : ''}`;
    case 'netns':
      return `${d.attachTypeName} in netns ${d.netnsIno}`;
    case 'xdp':
      return `${ifc(d.ifindex, d.interface)}${d.mode ? ` ${d.mode}` : ''}`;
    case 'struct_ops':
      return `struct_ops map ${d.mapId}`;
    case 'netfilter':
      return `pf ${d.pf} hook ${d.hooknum} priority ${d.priority}`;
    case 'kprobe_multi':
      return `${d.count} ${d.retprobe ? 'kretprobes' : 'kprobes'}`;
    case 'uprobe_multi':
      return `${d.count} uprobes in ${d.path}`;
    case 'perf_event':
      if (d.count !== undefined) return `${d.count} perf events`;
      if (d.event === 'event') return `perf event type ${d.type} config ${d.config}`;
      return `${d.event} ${d.name ?? ''}${d.offset ? `+0x${d.offset.toString(16)}` : ''}`.trim();
    case 'tcx':
      return `${ifc(d.ifindex, d.interface)} ${d.direction}`;
    case 'netkit':
      return `${ifc(d.ifindex, d.interface)} ${d.attachTypeName}`;
    case 'sockmap':
      return `${d.attachTypeName} on map ${d.mapId}`;
    case 'tc':
      return `${ifc(d.ifindex, d.interface)} ${d.direction} handle ${d.handle} priority ${d.priority}`;
    case 'socket_filter':
      return `socket fd ${d.socket}`;
    default:
      return `link type ${d.type}`;
  }
}
