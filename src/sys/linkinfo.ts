// Decoding of struct bpf_link_info: the head, and per link type the part of its union, with the
// strings the kernel copies out through pointer fields.
import { objGetInfoByFd } from './attrs.js';
import { InfoSize, LinkInfo as L } from './layout.js';
import { addressOf } from './memory.js';
import { fromCString } from './syscall.js';
import { AttachType, LinkType } from './types.js';

export type PerfEventKind = 'unspec' | 'uprobe' | 'uretprobe' | 'kprobe' | 'kretprobe' | 'tracepoint' | 'event';

const PERF_EVENT_KINDS: PerfEventKind[] = ['unspec', 'uprobe', 'uretprobe', 'kprobe', 'kretprobe', 'tracepoint', 'event'];

/** What the kernel says a bpf_link is attached to, by link type: numbers and names as it gives them. */
export type KernelLinkDetails =
  | { kind: 'raw_tracepoint'; tracepoint: string; cookie: bigint }
  | { kind: 'tracing'; attachType: AttachType; targetObjId: number; targetBtfId: number; cookie: bigint }
  | { kind: 'cgroup'; cgroupId: bigint; attachType: AttachType }
  | { kind: 'iter'; target: string; mapId?: number; cgroupId?: bigint; order?: number; tid?: number; pid?: number }
  | { kind: 'netns'; netnsIno: number; attachType: AttachType }
  | { kind: 'xdp'; ifindex: number }
  | { kind: 'struct_ops'; mapId: number }
  | { kind: 'netfilter'; pf: number; hooknum: number; priority: number; flags: number }
  | { kind: 'kprobe_multi'; count: number; flags: number; retprobe: boolean; missed: bigint }
  | { kind: 'uprobe_multi'; path: string; count: number; flags: number; pid: number }
  | { kind: 'perf_event'; event: PerfEventKind; name?: string; offset?: number; address?: bigint; missed?: bigint; config?: bigint; type?: number; cookie?: bigint }
  | { kind: 'tcx'; ifindex: number; attachType: AttachType; direction: 'ingress' | 'egress' }
  | { kind: 'netkit'; ifindex: number; attachType: AttachType }
  | { kind: 'sockmap'; mapId: number; attachType: AttachType }
  | { kind: 'unknown'; type: number };

export interface LinkInfo {
  type: number;
  id: number;
  progId: number;
  /** The raw bytes of the type-specific union, for what the decoders here do not read. */
  extra: DataView;
}

function getInfo(fd: number, prepare?: (v: DataView) => void): DataView {
  const buf = new Uint8Array(new ArrayBuffer(InfoSize.link));
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

function head(v: DataView): LinkInfo {
  return { type: v.getUint32(L.type, true), id: v.getUint32(L.id, true), progId: v.getUint32(L.prog_id, true), extra: new DataView(v.buffer, L.raw_tracepoint.tp_name) };
}

/** The head of a bpf_link fd's info: its type, id and program. */
export function linkInfo(fd: number): LinkInfo {
  return head(getInfo(fd));
}

/** The head and the decoded details of a bpf_link fd's info. */
export function linkInfoDetails(fd: number): LinkInfo & { details: KernelLinkDetails } {
  const v = getInfo(fd);
  const info = head(v);
  return { ...info, details: decodeDetails(fd, info.type, v) };
}

function decodeDetails(fd: number, type: number, v: DataView): KernelLinkDetails {
  const u32 = (o: number): number => v.getUint32(o, true);
  const u64 = (o: number): bigint => v.getBigUint64(o, true);
  switch (type) {
    case LinkType.RAW_TRACEPOINT: {
      const o = L.raw_tracepoint;
      const [w, tp] = withName(fd, o.tp_name, o.tp_name_len, u32(o.tp_name_len) || 256);
      return { kind: 'raw_tracepoint', tracepoint: tp, cookie: w.getBigUint64(o.cookie, true) };
    }
    case LinkType.TRACING: {
      const o = L.tracing;
      return { kind: 'tracing', attachType: u32(o.attach_type), targetObjId: u32(o.target_obj_id), targetBtfId: u32(o.target_btf_id), cookie: u64(o.cookie) };
    }
    case LinkType.CGROUP:
      return { kind: 'cgroup', cgroupId: u64(L.cgroup.cgroup_id), attachType: u32(L.cgroup.attach_type) };
    case LinkType.ITER: {
      const o = L.iter;
      const [w, target] = withName(fd, o.target_name, o.target_name_len, u32(o.target_name_len) || 64);
      const d: KernelLinkDetails = { kind: 'iter', target };
      const mapId = w.getUint32(o.map.map_id, true);
      if (mapId) d.mapId = mapId;
      if (target === 'cgroup') {
        d.cgroupId = w.getBigUint64(o.cgroup.cgroup_id, true);
        d.order = w.getUint32(o.cgroup.order, true);
      } else if (target === 'task' || target === 'task_file' || target === 'task_vma') {
        d.tid = w.getUint32(o.task.tid, true);
        d.pid = w.getUint32(o.task.pid, true);
      }
      return d;
    }
    case LinkType.NETNS:
      return { kind: 'netns', netnsIno: u32(L.netns.netns_ino), attachType: u32(L.netns.attach_type) };
    case LinkType.XDP:
      return { kind: 'xdp', ifindex: u32(L.xdp.ifindex) };
    case LinkType.STRUCT_OPS:
      return { kind: 'struct_ops', mapId: u32(L.struct_ops.map_id) };
    case LinkType.NETFILTER: {
      const o = L.netfilter;
      return { kind: 'netfilter', pf: u32(o.pf), hooknum: u32(o.hooknum), priority: v.getInt32(o.priority, true), flags: u32(o.flags) };
    }
    case LinkType.KPROBE_MULTI: {
      const o = L.kprobe_multi;
      return { kind: 'kprobe_multi', count: u32(o.count), flags: u32(o.flags), retprobe: (u32(o.flags) & 1) !== 0, missed: u64(o.missed) };
    }
    case LinkType.UPROBE_MULTI: {
      const o = L.uprobe_multi;
      const [w, path] = withName(fd, o.path, o.path_size, u32(o.path_size) || 4096);
      return { kind: 'uprobe_multi', path, count: w.getUint32(o.count, true), flags: w.getUint32(o.flags, true), pid: w.getUint32(o.pid, true) };
    }
    case LinkType.PERF_EVENT:
      return decodePerfEvent(fd, u32(L.perf_event.type));
    case LinkType.TCX:
      return { kind: 'tcx', ifindex: u32(L.tcx.ifindex), attachType: u32(L.tcx.attach_type), direction: u32(L.tcx.attach_type) === AttachType.TCX_EGRESS ? 'egress' : 'ingress' };
    case LinkType.NETKIT:
      return { kind: 'netkit', ifindex: u32(L.netkit.ifindex), attachType: u32(L.netkit.attach_type) };
    case LinkType.SOCKMAP:
      return { kind: 'sockmap', mapId: u32(L.sockmap.map_id), attachType: u32(L.sockmap.attach_type) };
    default:
      return { kind: 'unknown', type };
  }
}

function decodePerfEvent(fd: number, kindNo: number): KernelLinkDetails {
  const event = PERF_EVENT_KINDS[kindNo] ?? 'unspec';
  const P = L.perf_event;
  // Every named kind has the name pointer and its length at the same place (the union's start).
  const named = event !== 'event' && event !== 'unspec';
  const [v, name] = named ? withName(fd, P.uprobe.file_name, P.uprobe.name_len, 4096) : [getInfo(fd), ''];
  switch (event) {
    case 'uprobe':
    case 'uretprobe':
      return { kind: 'perf_event', event, name, offset: v.getUint32(P.uprobe.offset, true), cookie: v.getBigUint64(P.uprobe.cookie, true) };
    case 'kprobe':
    case 'kretprobe':
      return {
        kind: 'perf_event',
        event,
        name,
        offset: v.getUint32(P.kprobe.offset, true),
        address: v.getBigUint64(P.kprobe.addr, true),
        missed: v.getBigUint64(P.kprobe.missed, true),
        cookie: v.getBigUint64(P.kprobe.cookie, true),
      };
    case 'tracepoint':
      return { kind: 'perf_event', event, name, cookie: v.getBigUint64(P.tracepoint.cookie, true) };
    case 'event':
      return { kind: 'perf_event', event, config: v.getBigUint64(P.event.config, true), type: v.getUint32(P.event.type, true), cookie: v.getBigUint64(P.event.cookie, true) };
    default:
      return { kind: 'perf_event', event };
  }
}
