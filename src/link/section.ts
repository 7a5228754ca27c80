// Auto-attach: what libbpf's section names (SEC("...")) say about where a program attaches,
// and attaching it there with the targets the section cannot name (interface, cgroup...).
import { BpfError, InvalidArgumentError } from '../errors.js';
import type { FD } from '../sys/fd.js';
import { AttachType } from '../sys/types.js';
import type { AttachableProgram } from './attachable.js';
import { attachCgroup } from './cgroup.js';
import { MissingTargetError } from './errors.js';
import type { InterfaceRef } from './interfaces.js';
import { attachIter } from './iter.js';
import { kernelAtLeast } from './kernel.js';
import { attachKprobe, attachKprobeMulti, attachKsyscall } from './kprobe.js';
import type { Link } from './link.js';
import type { MapLike } from './maps.js';
import { attachNetfilter, type NetfilterOptions } from './netfilter.js';
import { attachPerfEvent, type PerfEventOptions } from './perfEvent.js';
import { attachRawTracepoint } from './rawTracepoint.js';
import { attachFlowDissector, attachSkLookup } from './skLookup.js';
import { attachSkMsg, attachSkSkb, type SkSkbAttach } from './sockmap.js';
import { attachSocketFilter } from './socketFilter.js';
import { attachTc } from './tc.js';
import { attachNetkit, attachTcx, type NetkitSide, type TcDirection } from './tcx.js';
import { attachTracepoint } from './tracepoint.js';
import { attachTracing } from './tracing.js';
import { attachUprobe } from './uprobe.js';
import { attachUsdt } from './usdt.js';
import { attachXdp, type XdpMode } from './xdp.js';
import { EINVAL } from '../sys/errno.js';

/** Where a section says a program attaches. */
export type SectionPlan =
  | { hook: 'xdp' }
  | { hook: 'tc'; direction?: TcDirection }
  | { hook: 'netkit'; side: NetkitSide }
  | { hook: 'tracepoint'; group: string; name: string }
  | { hook: 'raw_tracepoint'; name: string }
  | { hook: 'tracing'; kind: 'tp_btf' | 'fentry' | 'fexit' | 'fmod_ret' | 'lsm' | 'freplace'; target: string }
  | { hook: 'kprobe'; symbol: string; offset: number; ret: boolean }
  | { hook: 'kprobe_multi'; pattern: string; ret: boolean }
  | { hook: 'ksyscall'; syscall: string; ret: boolean }
  | { hook: 'uprobe'; path: string; symbol?: string; offset: number; ret: boolean }
  | { hook: 'usdt'; path: string; provider: string; name: string }
  | { hook: 'cgroup'; attachType: AttachType }
  | { hook: 'sk_lookup' }
  | { hook: 'flow_dissector' }
  | { hook: 'socket_filter' }
  | { hook: 'sk_msg' }
  | { hook: 'sk_skb'; attachType: SkSkbAttach }
  | { hook: 'iter'; target: string }
  | { hook: 'perf_event' }
  | { hook: 'netfilter' };

/** What a section cannot say: the interface, cgroup, socket... its program attaches to. */
export interface SectionTargets {
  interface?: InterfaceRef;
  /** A cgroup v2 directory. */
  cgroup?: string;
  /** Limit uprobes and USDT probes to a process. */
  pid?: number;
  /** The `__bpf_usdt_specs` map USDT programs read their arguments from (a collection gives its own). */
  usdtSpecs?: MapLike;
  /** A network namespace path or `ip netns` name, for sk_lookup and flow_dissector. */
  netns?: string;
  /** A socket fd, for socket filters. */
  socket?: number | FD;
  /** The sockmap of sk_msg/sk_skb programs, or the map of a map iterator. */
  map?: MapLike;
  /** The direction of a plain `tc`/`classifier` section. */
  direction?: TcDirection;
  xdpMode?: XdpMode;
  /** The sampling event of a perf_event section. */
  perfEvent?: Omit<PerfEventOptions, 'program'>;
  /** The hook of a netfilter section. */
  netfilter?: Omit<NetfilterOptions, 'program'>;
  cookie?: bigint;
}

const CGROUP_HOOKS: Record<string, AttachType> = {
  'cgroup_skb/ingress': AttachType.CGROUP_INET_INGRESS,
  'cgroup_skb/egress': AttachType.CGROUP_INET_EGRESS,
  'cgroup/sock': AttachType.CGROUP_INET_SOCK_CREATE,
  'cgroup/sock_create': AttachType.CGROUP_INET_SOCK_CREATE,
  'cgroup/sock_release': AttachType.CGROUP_INET_SOCK_RELEASE,
  'cgroup/post_bind4': AttachType.CGROUP_INET4_POST_BIND,
  'cgroup/post_bind6': AttachType.CGROUP_INET6_POST_BIND,
  'cgroup/bind4': AttachType.CGROUP_INET4_BIND,
  'cgroup/bind6': AttachType.CGROUP_INET6_BIND,
  'cgroup/connect4': AttachType.CGROUP_INET4_CONNECT,
  'cgroup/connect6': AttachType.CGROUP_INET6_CONNECT,
  'cgroup/connect_unix': AttachType.CGROUP_UNIX_CONNECT,
  'cgroup/sendmsg4': AttachType.CGROUP_UDP4_SENDMSG,
  'cgroup/sendmsg6': AttachType.CGROUP_UDP6_SENDMSG,
  'cgroup/sendmsg_unix': AttachType.CGROUP_UNIX_SENDMSG,
  'cgroup/recvmsg4': AttachType.CGROUP_UDP4_RECVMSG,
  'cgroup/recvmsg6': AttachType.CGROUP_UDP6_RECVMSG,
  'cgroup/recvmsg_unix': AttachType.CGROUP_UNIX_RECVMSG,
  'cgroup/getpeername4': AttachType.CGROUP_INET4_GETPEERNAME,
  'cgroup/getpeername6': AttachType.CGROUP_INET6_GETPEERNAME,
  'cgroup/getpeername_unix': AttachType.CGROUP_UNIX_GETPEERNAME,
  'cgroup/getsockname4': AttachType.CGROUP_INET4_GETSOCKNAME,
  'cgroup/getsockname6': AttachType.CGROUP_INET6_GETSOCKNAME,
  'cgroup/getsockname_unix': AttachType.CGROUP_UNIX_GETSOCKNAME,
  'cgroup/sysctl': AttachType.CGROUP_SYSCTL,
  'cgroup/getsockopt': AttachType.CGROUP_GETSOCKOPT,
  'cgroup/setsockopt': AttachType.CGROUP_SETSOCKOPT,
  'cgroup/dev': AttachType.CGROUP_DEVICE,
  sockops: AttachType.CGROUP_SOCK_OPS,
};

function parseNumber(s: string, section: string): number {
  const n = /^0x[0-9a-f]+$/i.test(s) ? parseInt(s, 16) : /^\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`section ${section}: '${s}' is not an offset`);
  return n;
}

function notAttachable(section: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(`section ${section} cannot be attached by a link: ${why}`);
}

// Splits "name+off" (off decimal or 0x hex).
function symbolAndOffset(spec: string, section: string): { symbol: string; offset: number } {
  const plus = spec.lastIndexOf('+');
  if (plus <= 0) return { symbol: spec, offset: 0 };
  return { symbol: spec.slice(0, plus), offset: parseNumber(spec.slice(plus + 1), section) };
}

/** What a libbpf-style section name says about attaching. Throws for sections with no attach point. */
export function parseSection(section: string): SectionPlan {
  const slash = section.indexOf('/');
  const head = slash < 0 ? section : section.slice(0, slash);
  const rest = slash < 0 ? '' : section.slice(slash + 1);
  // Sleepable (.s), writable (.w) and frags variants attach as their plain forms.
  const kind = head.replace(/\.(s|w|frags)$/, '');
  const needRest = (what: string): string => {
    if (!rest) throw notAttachable(section, `it names no ${what}; write ${head}/<${what}>`);
    return rest;
  };
  const cgroup = CGROUP_HOOKS[section];
  if (cgroup !== undefined) return { hook: 'cgroup', attachType: cgroup };
  switch (kind) {
    case 'xdp':
      if (rest === 'devmap' || rest === 'cpumap') throw notAttachable(section, `${rest} programs run from map entries`);
      if (rest) throw notAttachable(section, `unknown xdp variant ${rest}`);
      return { hook: 'xdp' };
    case 'tc':
    case 'tcx':
    case 'classifier':
      if (!rest) return { hook: 'tc' };
      if (rest !== 'ingress' && rest !== 'egress') throw notAttachable(section, `${head} takes ingress or egress`);
      return { hook: 'tc', direction: rest };
    case 'netkit':
      if (rest !== 'primary' && rest !== 'peer') throw notAttachable(section, 'netkit takes primary or peer');
      return { hook: 'netkit', side: rest };
    case 'tracepoint':
    case 'tp': {
      const [group, name, ...more] = needRest('group/name').split('/');
      if (!group || !name || more.length > 0) throw notAttachable(section, `write ${head}/<group>/<name>`);
      return { hook: 'tracepoint', group, name };
    }
    case 'raw_tracepoint':
    case 'raw_tp':
      return { hook: 'raw_tracepoint', name: needRest('tracepoint') };
    case 'tp_btf':
    case 'fentry':
    case 'fexit':
    case 'fmod_ret':
    case 'lsm':
    case 'freplace':
      return { hook: 'tracing', kind, target: needRest('function') };
    case 'lsm_cgroup':
      needRest('hook');
      return { hook: 'cgroup', attachType: AttachType.LSM_CGROUP };
    case 'kprobe':
    case 'kretprobe': {
      const { symbol, offset } = symbolAndOffset(needRest('function'), section);
      if (kind === 'kretprobe' && offset) throw notAttachable(section, 'a kretprobe takes no offset');
      return { hook: 'kprobe', symbol, offset, ret: kind === 'kretprobe' };
    }
    case 'kprobe.multi':
    case 'kretprobe.multi':
      return { hook: 'kprobe_multi', pattern: needRest('pattern'), ret: kind === 'kretprobe.multi' };
    case 'ksyscall':
    case 'kretsyscall':
      return { hook: 'ksyscall', syscall: needRest('syscall'), ret: kind === 'kretsyscall' };
    case 'uprobe':
    case 'uretprobe': {
      const spec = needRest('binary:function');
      const colon = spec.lastIndexOf(':');
      if (colon <= 0 || colon === spec.length - 1) throw notAttachable(section, `write ${head}/<binary>:<function>[+offset]`);
      const path = spec.slice(0, colon);
      const fn = spec.slice(colon + 1);
      const ret = kind === 'uretprobe';
      if (/^(0x[0-9a-f]+|\d+)$/i.test(fn)) return { hook: 'uprobe', path, offset: parseNumber(fn, section), ret };
      const { symbol, offset } = symbolAndOffset(fn, section);
      return { hook: 'uprobe', path, symbol, offset, ret };
    }
    case 'usdt': {
      const spec = needRest('binary:provider:name');
      const last = spec.lastIndexOf(':');
      const mid = last > 0 ? spec.lastIndexOf(':', last - 1) : -1;
      if (mid <= 0 || last === mid + 1 || last === spec.length - 1) throw notAttachable(section, `write ${head}/<binary>:<provider>:<name>`);
      return { hook: 'usdt', path: spec.slice(0, mid), provider: spec.slice(mid + 1, last), name: spec.slice(last + 1) };
    }
    case 'sk_lookup':
      return { hook: 'sk_lookup' };
    case 'flow_dissector':
      return { hook: 'flow_dissector' };
    case 'socket':
      return { hook: 'socket_filter' };
    case 'sk_msg':
      return { hook: 'sk_msg' };
    case 'sk_skb':
      if (rest === 'stream_parser' || rest === 'stream_verdict' || rest === 'verdict') return { hook: 'sk_skb', attachType: rest };
      throw notAttachable(section, 'sk_skb takes stream_parser, stream_verdict or verdict');
    case 'iter':
      return { hook: 'iter', target: needRest('target') };
    case 'perf_event':
      return { hook: 'perf_event' };
    case 'netfilter':
      return { hook: 'netfilter' };
    case 'cgroup':
    case 'cgroup_skb':
      throw notAttachable(section, 'unknown cgroup hook; cgroup_skb/ingress, cgroup_skb/egress, cgroup/connect4... name one');
    default:
      throw notAttachable(section, 'no known attach point');
  }
}

function need<K extends keyof SectionTargets>(targets: SectionTargets, key: K, section: string): NonNullable<SectionTargets[K]> {
  const v = targets[key];
  if (v === undefined || v === null) throw new MissingTargetError(section, key);
  return v as NonNullable<SectionTargets[K]>;
}

/**
 * Attaches a program where its section name says, with the targets the name cannot give.
 * A target the section needs but that is missing throws MissingTargetError naming it.
 */
export function attachBySection(program: AttachableProgram, section: string, targets: SectionTargets = {}): Link {
  const plan = parseSection(section);
  const cookie = targets.cookie !== undefined ? { cookie: targets.cookie } : {};
  switch (plan.hook) {
    case 'xdp':
      return attachXdp({ program, interface: need(targets, 'interface', section), ...(targets.xdpMode ? { mode: targets.xdpMode } : {}) });
    case 'tc': {
      const ifc = need(targets, 'interface', section);
      const direction = plan.direction ?? need(targets, 'direction', section);
      try {
        return attachTcx({ program, interface: ifc, direction });
      } catch (err) {
        // Kernels before 6.6 have no TCX: the same program goes on clsact through netlink.
        if (err instanceof BpfError && err.errno === EINVAL && !kernelAtLeast(6, 6)) return attachTc({ program, interface: ifc, direction });
        throw err;
      }
    }
    case 'netkit':
      return attachNetkit({ program, interface: need(targets, 'interface', section), side: plan.side });
    case 'tracepoint':
      return attachTracepoint({ program, group: plan.group, name: plan.name, ...cookie });
    case 'raw_tracepoint':
      return attachRawTracepoint({ program, name: plan.name, ...cookie });
    case 'tracing':
      return attachTracing({ program, ...cookie });
    case 'kprobe':
      return attachKprobe({ program, symbol: plan.symbol, offset: plan.offset, ret: plan.ret, ...cookie });
    case 'kprobe_multi':
      return attachKprobeMulti({ program, pattern: plan.pattern, ret: plan.ret });
    case 'ksyscall':
      return attachKsyscall({ program, syscall: plan.syscall, ret: plan.ret, ...cookie });
    case 'uprobe':
      return attachUprobe({
        program,
        path: plan.path,
        ...(plan.symbol !== undefined ? { symbol: plan.symbol } : {}),
        offset: plan.offset,
        ret: plan.ret,
        ...(targets.pid !== undefined ? { pid: targets.pid } : {}),
        ...cookie,
      });
    case 'usdt':
      return attachUsdt({
        program,
        path: plan.path,
        provider: plan.provider,
        name: plan.name,
        ...(targets.pid !== undefined ? { pid: targets.pid } : {}),
        ...(targets.usdtSpecs !== undefined ? { specs: targets.usdtSpecs } : {}),
        ...cookie,
      });
    case 'cgroup':
      return attachCgroup({ program, cgroup: need(targets, 'cgroup', section), attachType: plan.attachType });
    case 'sk_lookup':
      return attachSkLookup({ program, ...(targets.netns !== undefined ? { netns: targets.netns } : {}) });
    case 'flow_dissector':
      return attachFlowDissector({ program, ...(targets.netns !== undefined ? { netns: targets.netns } : {}) });
    case 'socket_filter':
      return attachSocketFilter({ program, socket: need(targets, 'socket', section) });
    case 'sk_msg':
      return attachSkMsg({ program, map: need(targets, 'map', section) });
    case 'sk_skb':
      return attachSkSkb({ program, map: need(targets, 'map', section), attachType: plan.attachType });
    case 'iter':
      return attachIter({
        program,
        ...(targets.map !== undefined ? { map: targets.map } : {}),
        ...(targets.cgroup !== undefined && plan.target === 'cgroup' ? { cgroup: { path: targets.cgroup } } : {}),
        ...(targets.pid !== undefined && plan.target.startsWith('task') ? { task: { pid: targets.pid } } : {}),
      });
    case 'perf_event':
      return attachPerfEvent({ program, ...need(targets, 'perfEvent', section) });
    case 'netfilter':
      return attachNetfilter({ program, ...need(targets, 'netfilter', section) });
  }
}
