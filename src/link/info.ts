// Decoding of struct bpf_link_info per link type, and the details of attachments that are not
// bpf_links (netlink, PROG_ATTACH, perf event ioctls, socket options).
import { attachTypeName } from '../program/names.js';
import { objGetInfoByFd } from '../sys/attrs.js';
import { addressOf } from '../sys/memory.js';
import { fromCString } from '../sys/syscall.js';
import { AttachType, LinkType } from '../sys/types.js';
import { interfaceName } from './interfaces.js';

/** How an attachment is held and removed. */
export type LinkMechanism = 'bpf_link' | 'perf_event' | 'netlink' | 'prog_attach' | 'setsockopt';

export type PerfEventKind = 'unspec' | 'uprobe' | 'uretprobe' | 'kprobe' | 'kretprobe' | 'tracepoint' | 'event';

const PERF_EVENT_KINDS: PerfEventKind[] = ['unspec', 'uprobe', 'uretprobe', 'kprobe', 'kretprobe', 'tracepoint', 'event'];

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

const INFO_SIZE = 16 + 64;
const U = 16;

export function linkTypeName(t: number): string {
  const n = LinkType[t];
  return typeof n === 'string' ? n.toLowerCase() : `unknown(${t})`;
}

function getInfo(fd: number, prepare?: (v: DataView) => void): DataView {
  const buf = new Uint8Array(new ArrayBuffer(INFO_SIZE));
  const v = new DataView(buf.buffer);
  prepare?.(v);
  objGetInfoByFd(fd, buf, 'link info');
  return v;
}

// The string a pointer field was filled with: a second call with a buffer at the offsets given.
function withName(fd: number, ptrOff: number, lenOff: number, size: number): [DataView, string] {
  const name = new Uint8Array(new ArrayBuffer(Math.max(size, 1)));
  const v = getInfo(fd, (p) => {
    p.setBigUint64(ptrOff, addressOf(name), true);
    p.setUint32(lenOff, name.byteLength, true);
  });
  return [v, fromCString(name)];
}

function decodeDetails(fd: number, type: number, v: DataView): LinkDetails {
  const u32 = (o: number): number => v.getUint32(U + o, true);
  const u64 = (o: number): bigint => v.getBigUint64(U + o, true);
  switch (type) {
    case LinkType.RAW_TRACEPOINT: {
      const [w, tp] = withName(fd, U, U + 8, u32(8) || 256);
      return { kind: 'raw_tracepoint', tracepoint: tp, cookie: w.getBigUint64(U + 16, true) };
    }
    case LinkType.TRACING:
      return { kind: 'tracing', attachType: u32(0), attachTypeName: attachTypeName(u32(0)), targetObjId: u32(4), targetBtfId: u32(8), cookie: u64(16) };
    case LinkType.CGROUP:
      return { kind: 'cgroup', cgroupId: u64(0), attachType: u32(8), attachTypeName: attachTypeName(u32(8)) };
    case LinkType.ITER: {
      const [w, target] = withName(fd, U, U + 8, u32(8) || 64);
      const d: LinkDetails = { kind: 'iter', target };
      const mapId = w.getUint32(U + 12, true);
      if (mapId) d.mapId = mapId;
      if (target === 'cgroup') {
        d.cgroupId = w.getBigUint64(U + 16, true);
        d.order = w.getUint32(U + 24, true);
      } else if (target === 'task' || target === 'task_file' || target === 'task_vma') {
        d.tid = w.getUint32(U + 16, true);
        d.pid = w.getUint32(U + 20, true);
      }
      return d;
    }
    case LinkType.NETNS:
      return { kind: 'netns', netnsIno: u32(0), attachType: u32(4), attachTypeName: attachTypeName(u32(4)) };
    case LinkType.XDP: {
      const d: LinkDetails = { kind: 'xdp', ifindex: u32(0) };
      const name = d.ifindex ? interfaceName(d.ifindex) : undefined;
      if (name) d.interface = name;
      return d;
    }
    case LinkType.STRUCT_OPS:
      return { kind: 'struct_ops', mapId: u32(0) };
    case LinkType.NETFILTER:
      return { kind: 'netfilter', pf: u32(0), hooknum: u32(4), priority: v.getInt32(U + 8, true), flags: u32(12) };
    case LinkType.KPROBE_MULTI:
      return { kind: 'kprobe_multi', count: u32(8), flags: u32(12), retprobe: (u32(12) & 1) !== 0, missed: u64(16) };
    case LinkType.UPROBE_MULTI: {
      const [w, path] = withName(fd, U, U + 32, u32(32) || 4096);
      return { kind: 'uprobe_multi', path, count: w.getUint32(U + 36, true), flags: w.getUint32(U + 40, true), pid: w.getUint32(U + 44, true) };
    }
    case LinkType.PERF_EVENT:
      return decodePerfEvent(fd, u32(0));
    case LinkType.TCX: {
      const d: LinkDetails = { kind: 'tcx', ifindex: u32(0), attachType: u32(4), direction: u32(4) === AttachType.TCX_EGRESS ? 'egress' : 'ingress' };
      const name = d.ifindex ? interfaceName(d.ifindex) : undefined;
      if (name) d.interface = name;
      return d;
    }
    case LinkType.NETKIT: {
      const d: LinkDetails = { kind: 'netkit', ifindex: u32(0), attachType: u32(4), attachTypeName: attachTypeName(u32(4)) };
      const name = d.ifindex ? interfaceName(d.ifindex) : undefined;
      if (name) d.interface = name;
      return d;
    }
    case LinkType.SOCKMAP:
      return { kind: 'sockmap', mapId: u32(0), attachType: u32(4), attachTypeName: attachTypeName(u32(4)) };
    default:
      return { kind: 'unknown', type };
  }
}

function decodePerfEvent(fd: number, kindNo: number): LinkDetails {
  const event = PERF_EVENT_KINDS[kindNo] ?? 'unspec';
  // The union after the event type starts at U + 8: name pointer, its length, then per kind.
  const named = event !== 'event' && event !== 'unspec';
  const [v, name] = named ? withName(fd, U + 8, U + 16, 4096) : [getInfo(fd), ''];
  const at = (o: number): number => U + 8 + o;
  switch (event) {
    case 'uprobe':
    case 'uretprobe':
      return { kind: 'perf_event', event, name, offset: v.getUint32(at(12), true), cookie: v.getBigUint64(at(16), true) };
    case 'kprobe':
    case 'kretprobe':
      return {
        kind: 'perf_event',
        event,
        name,
        offset: v.getUint32(at(12), true),
        address: v.getBigUint64(at(16), true),
        missed: v.getBigUint64(at(24), true),
        cookie: v.getBigUint64(at(32), true),
      };
    case 'tracepoint':
      return { kind: 'perf_event', event, name, cookie: v.getBigUint64(at(16), true) };
    case 'event':
      return { kind: 'perf_event', event, config: v.getBigUint64(at(0), true), type: v.getUint32(at(8), true), cookie: v.getBigUint64(at(16), true) };
    default:
      return { kind: 'perf_event', event };
  }
}

/** The info of a bpf_link fd, decoded for its type. */
export function bpfLinkInfo(fd: number): LinkInfo {
  const v = getInfo(fd);
  const type = v.getUint32(0, true);
  return {
    id: v.getUint32(4, true),
    type,
    typeName: linkTypeName(type),
    progId: v.getUint32(8, true),
    mechanism: 'bpf_link',
    details: decodeDetails(fd, type, v),
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
