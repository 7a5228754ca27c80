// Attach type probes, for the program types whose load checks expected_attach_type: the kernel
// refuses an attach type it does not know with EINVAL before verifying anything.
import { attachTypeName } from '../program/names.js';
import { AttachType, ProgramType } from '../sys/types.js';
import { FENTRY_TARGET, isProbeResult, LSM_TARGET, minimalLoadAttr, probeProgramType } from './programs.js';
import { cached, classifyLoad, no, probeLoad, RETURN_ZERO, unknown, type ProbeResult } from './probe.js';
import { BtfKind, vmlinuxTypeId } from './vmlinux.js';

/** The attach types each checked program type may be loaded for. */
export const ATTACH_TYPES_BY_PROGRAM: ReadonlyMap<ProgramType, readonly AttachType[]> = new Map([
  [ProgramType.CGROUP_SKB, [AttachType.CGROUP_INET_INGRESS, AttachType.CGROUP_INET_EGRESS]],
  [
    ProgramType.CGROUP_SOCK,
    [AttachType.CGROUP_INET_SOCK_CREATE, AttachType.CGROUP_INET_SOCK_RELEASE, AttachType.CGROUP_INET4_POST_BIND, AttachType.CGROUP_INET6_POST_BIND],
  ],
  [
    ProgramType.CGROUP_SOCK_ADDR,
    [
      AttachType.CGROUP_INET4_BIND,
      AttachType.CGROUP_INET6_BIND,
      AttachType.CGROUP_INET4_CONNECT,
      AttachType.CGROUP_INET6_CONNECT,
      AttachType.CGROUP_UNIX_CONNECT,
      AttachType.CGROUP_INET4_GETPEERNAME,
      AttachType.CGROUP_INET6_GETPEERNAME,
      AttachType.CGROUP_UNIX_GETPEERNAME,
      AttachType.CGROUP_INET4_GETSOCKNAME,
      AttachType.CGROUP_INET6_GETSOCKNAME,
      AttachType.CGROUP_UNIX_GETSOCKNAME,
      AttachType.CGROUP_UDP4_SENDMSG,
      AttachType.CGROUP_UDP6_SENDMSG,
      AttachType.CGROUP_UNIX_SENDMSG,
      AttachType.CGROUP_UDP4_RECVMSG,
      AttachType.CGROUP_UDP6_RECVMSG,
      AttachType.CGROUP_UNIX_RECVMSG,
    ],
  ],
  [ProgramType.CGROUP_SOCKOPT, [AttachType.CGROUP_GETSOCKOPT, AttachType.CGROUP_SETSOCKOPT]],
  [ProgramType.SK_LOOKUP, [AttachType.SK_LOOKUP]],
  [ProgramType.SK_REUSEPORT, [AttachType.SK_REUSEPORT_SELECT, AttachType.SK_REUSEPORT_SELECT_OR_MIGRATE]],
  [ProgramType.NETFILTER, [AttachType.NETFILTER]],
  [ProgramType.TRACING, [AttachType.TRACE_RAW_TP, AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN, AttachType.TRACE_ITER]],
  [ProgramType.LSM, [AttachType.LSM_MAC]],
]);

// The kernel objects tracing attach types are tried on: test functions kept for this purpose,
// a tracepoint every kernel has, and the task iterator.
const TRACING_TARGETS: ReadonlyMap<AttachType, { name: string; kind: number }> = new Map([
  [AttachType.TRACE_RAW_TP, { name: 'btf_trace_sched_switch', kind: BtfKind.TYPEDEF }],
  [AttachType.TRACE_FENTRY, { name: FENTRY_TARGET, kind: BtfKind.FUNC }],
  [AttachType.TRACE_FEXIT, { name: FENTRY_TARGET, kind: BtfKind.FUNC }],
  [AttachType.MODIFY_RETURN, { name: 'bpf_modify_return_test', kind: BtfKind.FUNC }],
  [AttachType.TRACE_ITER, { name: 'bpf_iter_task', kind: BtfKind.FUNC }],
  [AttachType.LSM_MAC, { name: LSM_TARGET, kind: BtfKind.FUNC }],
]);

function probe(programType: ProgramType, attachType: AttachType): ProbeResult {
  const allowed = ATTACH_TYPES_BY_PROGRAM.get(programType);
  if (!allowed?.includes(attachType)) return unknown(`${attachTypeName(attachType)} is not probed for this program type`);
  const pt = probeProgramType(programType);
  if (pt.supported !== true) return pt.supported === false ? no(pt.detail) : pt;
  const attr = minimalLoadAttr(programType, RETURN_ZERO);
  if (isProbeResult(attr)) return attr;
  const target = TRACING_TARGETS.get(attachType);
  let attachBtfId = attr.attachBtfId;
  if (target) {
    attachBtfId = vmlinuxTypeId(target.name, target.kind);
    if (attachBtfId === undefined) return unknown(`needs vmlinux BTF with ${target.name}`);
  }
  return classifyLoad(probeLoad({ ...attr, expectedAttachType: attachType, ...(attachBtfId !== undefined ? { attachBtfId } : {}) }));
}

const probeByKey = cached((key: string): ProbeResult => {
  const [p, a] = key.split(':').map(Number) as [ProgramType, AttachType];
  return probe(p, a);
});

/** Whether programs of `programType` load for `attachType`. Cached. */
export function probeAttachType(programType: ProgramType, attachType: AttachType): ProbeResult {
  return probeByKey(`${programType}:${attachType}`);
}

export function haveAttachType(programType: ProgramType, attachType: AttachType): boolean {
  return probeAttachType(programType, attachType).supported === true;
}
