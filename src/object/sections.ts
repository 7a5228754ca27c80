// libbpf's ELF section-name conventions: what a program in SEC("...") is and where it attaches.
import { AttachType, ProgFlags, ProgramType } from '../sys/types.js';

/**
 * How the BTF id a program is loaded against (attach_btf_id) is found from its target:
 * `raw_tp` → typedef `btf_trace_<name>`, `func` → FUNC `<name>`, `lsm` → FUNC `bpf_lsm_<name>`,
 * `iter` → FUNC `bpf_iter_<name>`, `ext` → FUNC `<name>` in the BTF of the program it extends,
 * `struct_ops` → the member of a struct_ops map's type.
 */
export type AttachBtfKind = 'raw_tp' | 'func' | 'lsm' | 'iter' | 'ext' | 'struct_ops';

/** What a section name says about the programs in it. */
export interface SectionInfo {
  readonly type: ProgramType;
  readonly expectedAttachType?: AttachType;
  /** The part after the section's prefix: a function, `category/name`, `path:function`, ... */
  readonly attachTo?: string;
  readonly sleepable: boolean;
  /** BPF_PROG_LOAD prog_flags the section implies (BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS). */
  readonly flags: number;
  readonly attachBtf?: AttachBtfKind;
}

/**
 * `exact`: the name is the prefix itself. `extras` ("type+"): the prefix alone or `prefix/...`.
 * `required` ("type/"): `prefix/...` only.
 */
type Match = 'exact' | 'extras' | 'required';

interface SectionDef {
  readonly prefix: string;
  readonly match: Match;
  readonly type: ProgramType;
  readonly attach?: AttachType;
  readonly sleepable?: boolean;
  readonly frags?: boolean;
  readonly btf?: AttachBtfKind;
}

const P = ProgramType;
const A = AttachType;

function def(prefix: string, match: Match, type: ProgramType, attach?: AttachType, extra: Partial<SectionDef> = {}): SectionDef {
  return { prefix, match, type, ...(attach !== undefined ? { attach } : {}), ...extra };
}

const S = { sleepable: true } as const;

/** In libbpf's order: the first definition that matches wins. */
const DEFS: readonly SectionDef[] = [
  def('socket', 'exact', P.SOCKET_FILTER),
  def('sk_reuseport/migrate', 'exact', P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE),
  def('sk_reuseport', 'exact', P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT),
  def('kprobe', 'extras', P.KPROBE),
  def('uprobe', 'extras', P.KPROBE),
  def('uprobe.s', 'extras', P.KPROBE, undefined, S),
  def('kretprobe', 'extras', P.KPROBE),
  def('uretprobe', 'extras', P.KPROBE),
  def('uretprobe.s', 'extras', P.KPROBE, undefined, S),
  def('kprobe.multi', 'extras', P.KPROBE, A.TRACE_KPROBE_MULTI),
  def('kretprobe.multi', 'extras', P.KPROBE, A.TRACE_KPROBE_MULTI),
  def('kprobe.session', 'extras', P.KPROBE, A.TRACE_KPROBE_SESSION),
  def('uprobe.multi', 'extras', P.KPROBE, A.TRACE_UPROBE_MULTI),
  def('uretprobe.multi', 'extras', P.KPROBE, A.TRACE_UPROBE_MULTI),
  def('uprobe.multi.s', 'extras', P.KPROBE, A.TRACE_UPROBE_MULTI, S),
  def('uretprobe.multi.s', 'extras', P.KPROBE, A.TRACE_UPROBE_MULTI, S),
  def('uprobe.session', 'extras', P.KPROBE, A.TRACE_UPROBE_SESSION),
  def('uprobe.session.s', 'extras', P.KPROBE, A.TRACE_UPROBE_SESSION, S),
  def('ksyscall', 'extras', P.KPROBE),
  def('kretsyscall', 'extras', P.KPROBE),
  def('usdt', 'extras', P.KPROBE),
  def('usdt.s', 'extras', P.KPROBE, undefined, S),
  def('tc/ingress', 'exact', P.SCHED_CLS, A.TCX_INGRESS),
  def('tc/egress', 'exact', P.SCHED_CLS, A.TCX_EGRESS),
  def('tcx/ingress', 'exact', P.SCHED_CLS, A.TCX_INGRESS),
  def('tcx/egress', 'exact', P.SCHED_CLS, A.TCX_EGRESS),
  def('netkit/primary', 'exact', P.SCHED_CLS, A.NETKIT_PRIMARY),
  def('netkit/peer', 'exact', P.SCHED_CLS, A.NETKIT_PEER),
  def('tc', 'exact', P.SCHED_CLS),
  def('classifier', 'exact', P.SCHED_CLS),
  def('action', 'exact', P.SCHED_ACT),
  def('tracepoint', 'extras', P.TRACEPOINT),
  def('tp', 'extras', P.TRACEPOINT),
  def('raw_tracepoint', 'extras', P.RAW_TRACEPOINT),
  def('raw_tp', 'extras', P.RAW_TRACEPOINT),
  def('raw_tracepoint.w', 'extras', P.RAW_TRACEPOINT_WRITABLE),
  def('raw_tp.w', 'extras', P.RAW_TRACEPOINT_WRITABLE),
  def('tp_btf', 'extras', P.TRACING, A.TRACE_RAW_TP, { btf: 'raw_tp' }),
  def('fentry', 'extras', P.TRACING, A.TRACE_FENTRY, { btf: 'func' }),
  def('fmod_ret', 'extras', P.TRACING, A.MODIFY_RETURN, { btf: 'func' }),
  def('fexit', 'extras', P.TRACING, A.TRACE_FEXIT, { btf: 'func' }),
  def('fentry.s', 'extras', P.TRACING, A.TRACE_FENTRY, { btf: 'func', sleepable: true }),
  def('fmod_ret.s', 'extras', P.TRACING, A.MODIFY_RETURN, { btf: 'func', sleepable: true }),
  def('fexit.s', 'extras', P.TRACING, A.TRACE_FEXIT, { btf: 'func', sleepable: true }),
  def('freplace', 'extras', P.EXT, undefined, { btf: 'ext' }),
  def('lsm', 'extras', P.LSM, A.LSM_MAC, { btf: 'lsm' }),
  def('lsm.s', 'extras', P.LSM, A.LSM_MAC, { btf: 'lsm', sleepable: true }),
  def('lsm_cgroup', 'extras', P.LSM, A.LSM_CGROUP, { btf: 'lsm' }),
  def('iter', 'extras', P.TRACING, A.TRACE_ITER, { btf: 'iter' }),
  def('iter.s', 'extras', P.TRACING, A.TRACE_ITER, { btf: 'iter', sleepable: true }),
  def('syscall', 'exact', P.SYSCALL, undefined, S),
  def('xdp.frags/devmap', 'exact', P.XDP, A.XDP_DEVMAP, { frags: true }),
  def('xdp/devmap', 'exact', P.XDP, A.XDP_DEVMAP),
  def('xdp.frags/cpumap', 'exact', P.XDP, A.XDP_CPUMAP, { frags: true }),
  def('xdp/cpumap', 'exact', P.XDP, A.XDP_CPUMAP),
  def('xdp.frags', 'exact', P.XDP, A.XDP, { frags: true }),
  def('xdp', 'exact', P.XDP, A.XDP),
  def('perf_event', 'exact', P.PERF_EVENT),
  def('lwt_in', 'exact', P.LWT_IN),
  def('lwt_out', 'exact', P.LWT_OUT),
  def('lwt_xmit', 'exact', P.LWT_XMIT),
  def('lwt_seg6local', 'exact', P.LWT_SEG6LOCAL),
  def('sockops', 'exact', P.SOCK_OPS, A.CGROUP_SOCK_OPS),
  def('sk_skb/stream_parser', 'exact', P.SK_SKB, A.SK_SKB_STREAM_PARSER),
  def('sk_skb/stream_verdict', 'exact', P.SK_SKB, A.SK_SKB_STREAM_VERDICT),
  def('sk_skb/verdict', 'exact', P.SK_SKB, A.SK_SKB_VERDICT),
  def('sk_skb', 'exact', P.SK_SKB),
  def('sk_msg', 'exact', P.SK_MSG, A.SK_MSG_VERDICT),
  def('lirc_mode2', 'exact', P.LIRC_MODE2, A.LIRC_MODE2),
  def('flow_dissector', 'exact', P.FLOW_DISSECTOR, A.FLOW_DISSECTOR),
  def('cgroup_skb/ingress', 'exact', P.CGROUP_SKB, A.CGROUP_INET_INGRESS),
  def('cgroup_skb/egress', 'exact', P.CGROUP_SKB, A.CGROUP_INET_EGRESS),
  def('cgroup/skb', 'exact', P.CGROUP_SKB),
  def('cgroup/sock_create', 'exact', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE),
  def('cgroup/sock_release', 'exact', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE),
  def('cgroup/sock', 'exact', P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE),
  def('cgroup/post_bind4', 'exact', P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND),
  def('cgroup/post_bind6', 'exact', P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND),
  def('cgroup/bind4', 'exact', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND),
  def('cgroup/bind6', 'exact', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND),
  def('cgroup/connect4', 'exact', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT),
  def('cgroup/connect6', 'exact', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT),
  def('cgroup/connect_unix', 'exact', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT),
  def('cgroup/sendmsg4', 'exact', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG),
  def('cgroup/sendmsg6', 'exact', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG),
  def('cgroup/sendmsg_unix', 'exact', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG),
  def('cgroup/recvmsg4', 'exact', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG),
  def('cgroup/recvmsg6', 'exact', P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG),
  def('cgroup/recvmsg_unix', 'exact', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG),
  def('cgroup/getpeername4', 'exact', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME),
  def('cgroup/getpeername6', 'exact', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME),
  def('cgroup/getpeername_unix', 'exact', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME),
  def('cgroup/getsockname4', 'exact', P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME),
  def('cgroup/getsockname6', 'exact', P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME),
  def('cgroup/getsockname_unix', 'exact', P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME),
  def('cgroup/sysctl', 'exact', P.CGROUP_SYSCTL, A.CGROUP_SYSCTL),
  def('cgroup/getsockopt', 'exact', P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT),
  def('cgroup/setsockopt', 'exact', P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT),
  def('cgroup/dev', 'exact', P.CGROUP_DEVICE, A.CGROUP_DEVICE),
  def('struct_ops', 'extras', P.STRUCT_OPS, undefined, { btf: 'struct_ops' }),
  def('struct_ops.s', 'extras', P.STRUCT_OPS, undefined, { btf: 'struct_ops', sleepable: true }),
  def('sk_lookup', 'exact', P.SK_LOOKUP, A.SK_LOOKUP),
  def('netfilter', 'exact', P.NETFILTER, A.NETFILTER),
];

function matches(d: SectionDef, name: string): string | undefined | false {
  if (name === d.prefix) return d.match === 'required' ? false : undefined;
  if (d.match === 'exact') return false;
  if (name.length > d.prefix.length + 1 && name.startsWith(d.prefix) && name[d.prefix.length] === '/') {
    return name.slice(d.prefix.length + 1);
  }
  return false;
}

/** What libbpf makes of a program section's name; undefined for names it does not know. */
export function parseSectionName(name: string): SectionInfo | undefined {
  for (const d of DEFS) {
    const extra = matches(d, name);
    if (extra === false) continue;
    const sleepable = d.sleepable === true;
    const flags = (sleepable ? ProgFlags.SLEEPABLE : 0) | (d.frags ? ProgFlags.XDP_HAS_FRAGS : 0);
    return {
      type: d.type,
      ...(d.attach !== undefined ? { expectedAttachType: d.attach } : {}),
      ...(extra !== undefined ? { attachTo: extra } : {}),
      sleepable,
      flags,
      ...(d.btf !== undefined ? { attachBtf: d.btf } : {}),
    };
  }
  return undefined;
}
