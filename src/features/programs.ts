// Program type probes: load `r0 = 0; exit` as each type, with what the type needs to load at all.
import { release } from 'node:os';
import { NotSupportedError } from '../errors.js';
import { programTypeName } from '../program/names.js';
import type { ProgLoadAttr } from '../sys/attrs.js';
import { AttachType, ProgFlags, ProgramType } from '../sys/types.js';
import { cached, classifyLoad, no, probeLoad, RETURN_ZERO, unknown, type ProbeResult } from './probe.js';
import { BtfKind, vmlinuxTypeId } from './vmlinux.js';

/** LINUX_VERSION_CODE of the running kernel, which kprobe programs had to carry before 5.0. */
export function linuxVersionCode(): number {
  const [a = 0, b = 0, c = 0] = release()
    .split(/[.-]/)
    .slice(0, 3)
    .map((s) => Number.parseInt(s, 10) || 0);
  return (a << 16) + (b << 8) + Math.min(c, 255);
}

/** Kernel functions that exist for testing BPF trampolines and LSM hooks (net/bpf/test_run.c, bpf_lsm.c). */
export const FENTRY_TARGET = 'bpf_fentry_test1';
export const LSM_TARGET = 'bpf_lsm_file_open';
/** The BTF type of a tracepoint every kernel has, for probing tp_btf programs. */
export const TP_BTF_TARGET = 'btf_trace_sched_process_exec';

/**
 * The fields a minimal program of this type needs to pass the load-time checks, or a result
 * saying why it cannot be built (no vmlinux BTF for a type that attaches to a kernel function).
 */
export function minimalLoadAttr(type: ProgramType, insns: Uint8Array): ProgLoadAttr | ProbeResult {
  const base: ProgLoadAttr = { progType: type, insns, license: 'GPL' };
  switch (type) {
    case ProgramType.KPROBE:
      return { ...base, kernVersion: linuxVersionCode() };
    case ProgramType.CGROUP_SOCK_ADDR:
      return { ...base, expectedAttachType: AttachType.CGROUP_INET4_CONNECT };
    case ProgramType.CGROUP_SOCKOPT:
      return { ...base, expectedAttachType: AttachType.CGROUP_GETSOCKOPT };
    case ProgramType.SK_LOOKUP:
      return { ...base, expectedAttachType: AttachType.SK_LOOKUP };
    case ProgramType.SK_REUSEPORT:
      return { ...base, expectedAttachType: AttachType.SK_REUSEPORT_SELECT };
    case ProgramType.LIRC_MODE2:
      return { ...base, expectedAttachType: AttachType.LIRC_MODE2 };
    case ProgramType.NETFILTER:
      return { ...base, expectedAttachType: AttachType.NETFILTER };
    case ProgramType.SYSCALL:
      return { ...base, progFlags: ProgFlags.SLEEPABLE };
    case ProgramType.TRACING: {
      // tp_btf: the tracing type without BPF trampolines, so a kernel without fentry (or one
      // locked down against it) still reports the type; haveFentry() answers for fentry.
      const id = vmlinuxTypeId(TP_BTF_TARGET, BtfKind.TYPEDEF);
      if (id === undefined) return unknown(`needs vmlinux BTF with ${TP_BTF_TARGET}`);
      return { ...base, expectedAttachType: AttachType.TRACE_RAW_TP, attachBtfId: id };
    }
    case ProgramType.LSM: {
      const id = vmlinuxTypeId(LSM_TARGET, BtfKind.FUNC);
      if (id === undefined) return unknown(`needs vmlinux BTF with ${LSM_TARGET}`);
      return { ...base, expectedAttachType: AttachType.LSM_MAC, attachBtfId: id };
    }
    default:
      return base;
  }
}

/** A minimal fentry program on FENTRY_TARGET, or why one cannot be built. */
export function fentryLoadAttr(insns: Uint8Array): ProgLoadAttr | ProbeResult {
  const id = vmlinuxTypeId(FENTRY_TARGET, BtfKind.FUNC);
  if (id === undefined) return unknown(`needs vmlinux BTF with ${FENTRY_TARGET}`);
  return { progType: ProgramType.TRACING, insns, license: 'GPL', expectedAttachType: AttachType.TRACE_FENTRY, attachBtfId: id };
}

export function isProbeResult(x: ProgLoadAttr | ProbeResult): x is ProbeResult {
  return 'supported' in x;
}

// Types that cannot load without a target (an extension needs a BPF function to replace,
// struct_ops a kernel struct): the verifier's refusal still shows the kernel knows them.
const NEEDS_TARGET = new Set<ProgramType>([ProgramType.EXT, ProgramType.STRUCT_OPS]);

/** Whether the kernel loads programs of this type. Cached. */
export const probeProgramType = cached((type: ProgramType): ProbeResult => {
  if (ProgramType[type] === undefined || type === ProgramType.UNSPEC) return no('not a program type');
  const attr = minimalLoadAttr(type, RETURN_ZERO);
  if (isProbeResult(attr)) return attr;
  return classifyLoad(probeLoad(attr));
});

/** Whether a minimal program of this type actually loads, so helper probes can use it. */
export const loadsMinimalProgram = cached((type: ProgramType): boolean => {
  if (NEEDS_TARGET.has(type) || probeProgramType(type).supported !== true) return false;
  const attr = minimalLoadAttr(type, RETURN_ZERO);
  return !isProbeResult(attr) && probeLoad(attr).result >= 0;
});

export function haveProgramType(type: ProgramType): boolean {
  return probeProgramType(type).supported === true;
}

/** Throws NotSupportedError naming the type when the kernel lacks it. */
export function requireProgramType(type: ProgramType): void {
  const r = probeProgramType(type);
  if (r.supported !== true) throw new NotSupportedError(`program type ${programTypeName(type)}`, r.detail);
}
