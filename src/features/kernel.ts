// Facts about the running kernel beyond types and helpers: probe hooks, trampolines, links, BTF.
import { existsSync, readFileSync } from 'node:fs';
import { BpfError, NotSupportedError } from '../errors.js';
import { linkCreate, progLoadRaw } from '../sys/attrs.js';
import { ENODEV, EPERM, errnoName } from '../sys/errno.js';
import { FD } from '../sys/fd.js';
import { TRACEFS_ROOTS } from '../link/tracefs.js';
import { BPF_FS_MAGIC, fsMagic, TRACEFS_MAGIC } from '../sys/mounts.js';
import { AttachType, MapType, ProgramType } from '../sys/types.js';
import { loadProbeBtf } from './btf.js';
import { probeMapType } from './maps.js';
import { FENTRY_TARGET, fentryLoadAttr, isProbeResult, minimalLoadAttr, probeProgramType } from './programs.js';
import { no, probeLoad, refused, RETURN_ZERO, unknown, YES, type ProbeResult } from './probe.js';
import { BtfKind, haveVmlinuxBtf, vmlinuxTypeId } from './vmlinux.js';

/** Where tracefs may be mounted. */
export const TRACEFS_PATHS = TRACEFS_ROOTS;

function once(fn: () => ProbeResult): () => ProbeResult {
  let result: ProbeResult | undefined;
  return () => (result ??= fn());
}

/** kprobes: the kprobe PMU (perf_event_open) or kprobe_events in tracefs. */
export const probeKprobes = once(() => {
  if (existsSync('/sys/bus/event_source/devices/kprobe')) return YES;
  if (TRACEFS_PATHS.some((p) => existsSync(`${p}/kprobe_events`))) return YES;
  return no('no kprobe PMU and no kprobe_events in tracefs (CONFIG_KPROBES off)');
});

/** uprobes: the uprobe PMU or uprobe_events in tracefs. */
export const probeUprobes = once(() => {
  if (existsSync('/sys/bus/event_source/devices/uprobe')) return YES;
  if (TRACEFS_PATHS.some((p) => existsSync(`${p}/uprobe_events`))) return YES;
  return no('no uprobe PMU and no uprobe_events in tracefs (CONFIG_UPROBES off)');
});

/** BTF: the kernel loads a BTF object. */
export const probeBtf = once(() => {
  const r = loadProbeBtf();
  if (typeof r === 'object') {
    r.close();
    return YES;
  }
  return -r === EPERM ? refused() : no(`BTF_LOAD failed with ${errnoName(-r)}`);
});

/** The kernel describes itself in BTF (/sys/kernel/btf/vmlinux), which CO-RE and tracing programs need. */
export const probeVmlinuxBtf = once(() => (haveVmlinuxBtf() ? YES : no('no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF off)')));

/**
 * fentry/fexit: a tracing program on a kernel test function both loads and attaches. Attaching
 * needs BPF trampolines, which need ftrace's direct calls.
 */
export const probeFentry = once(() => {
  const pt = probeProgramType(ProgramType.TRACING);
  if (pt.supported !== true) return pt.supported === false ? no(`tracing programs: ${pt.detail ?? 'not supported'}`) : pt;
  const attr = fentryLoadAttr(RETURN_ZERO);
  if (isProbeResult(attr)) return attr;
  const { result } = progLoadRaw(attr);
  if (result < 0) {
    // Load again for the log, which says why.
    const r = probeLoad(attr);
    const why = r.log.trim().split('\n').pop();
    return no(`loading fentry on ${FENTRY_TARGET} failed with ${errnoName(-r.result)}${why ? `: ${why}` : ''}`);
  }
  const prog = new FD(result, 'fentry probe');
  try {
    linkCreate({ progFd: prog.value, targetFd: 0, attachType: AttachType.TRACE_FENTRY }, 'fentry probe').close();
    return YES;
  } catch (err) {
    if (err instanceof BpfError) return no(`attaching fentry to ${FENTRY_TARGET} failed with ${err.code}`);
    throw err;
  } finally {
    prog.close();
  }
});

/** Ring buffer maps (Linux 5.8). */
export const probeRingbuf = once(() => probeMapType(MapType.RINGBUF));

/**
 * TCX (Linux 6.6): a TCX link to no device fails with ENODEV where the kernel knows the attach
 * type, and EINVAL where it does not.
 */
export const probeTcx = once(() => {
  const attr = minimalLoadAttr(ProgramType.SCHED_CLS, RETURN_ZERO);
  if (isProbeResult(attr)) return attr;
  const { result } = progLoadRaw(attr);
  if (result < 0) return -result === EPERM ? refused() : unknown(`loading a sched_cls program failed with ${errnoName(-result)}`);
  const prog = new FD(result, 'tcx probe');
  try {
    linkCreate({ progFd: prog.value, targetFd: 0, attachType: AttachType.TCX_INGRESS }, 'tcx probe').close();
    return YES;
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    if (err.errno === ENODEV) return YES;
    return no(`TCX link creation failed with ${err.code}`);
  } finally {
    prog.close();
  }
});

/**
 * XDP links (Linux 5.9). Without a device to try them on, the kernel's own BTF tells: the link
 * type is `struct bpf_xdp_link`.
 */
export const probeXdpLink = once(() => {
  const xdp = probeProgramType(ProgramType.XDP);
  if (xdp.supported !== true) return xdp.supported === false ? no('no XDP programs') : xdp;
  if (!haveVmlinuxBtf()) return unknown('cannot tell without vmlinux BTF');
  return vmlinuxTypeId('bpf_xdp_link', BtfKind.STRUCT) !== undefined ? YES : no();
});

export const haveKprobes = (): boolean => probeKprobes().supported === true;
export const haveUprobes = (): boolean => probeUprobes().supported === true;
export const haveBtf = (): boolean => probeBtf().supported === true;
export const haveFentry = (): boolean => probeFentry().supported === true;
/**
 * BPF trampolines over ftrace, which fentry, fexit, fmod_ret and LSM programs attach through.
 * @alias
 */
export const haveFtrace = haveFentry;
export const haveRingbuf = (): boolean => probeRingbuf().supported === true;
export const haveTcx = (): boolean => probeTcx().supported === true;
export const haveXdpLink = (): boolean => probeXdpLink().supported === true;

/** Throws NotSupportedError naming `feature` unless the probe says yes. */
export function requireFeature(feature: string, probe: () => ProbeResult): void {
  const r = probe();
  if (r.supported !== true) throw new NotSupportedError(feature, r.detail);
}

function readNumber(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isNaN(n) ? undefined : n;
  } catch {
    return undefined;
  }
}

/** The sysctls and mounts bpftool reports under "system configuration". */
export interface SystemConfig {
  /** net.core.bpf_jit_enable: 0 off, 1 on, 2 on with debug output. */
  jitEnable?: number;
  /** net.core.bpf_jit_harden. */
  jitHarden?: number;
  /** net.core.bpf_jit_kallsyms. */
  jitKallsyms?: number;
  /** kernel.unprivileged_bpf_disabled: 0 allowed, 1 and 2 disallowed. */
  unprivilegedBpfDisabled?: number;
  /** kernel.bpf_stats_enabled: run time statistics on. */
  statsEnabled: boolean;
  /** A bpf filesystem is mounted at /sys/fs/bpf. */
  bpffsMounted: boolean;
  /** Where tracefs is mounted, if anywhere. */
  tracefs?: string;
}

export function systemConfig(): SystemConfig {
  const jitEnable = readNumber('/proc/sys/net/core/bpf_jit_enable');
  const jitHarden = readNumber('/proc/sys/net/core/bpf_jit_harden');
  const jitKallsyms = readNumber('/proc/sys/net/core/bpf_jit_kallsyms');
  const unprivileged = readNumber('/proc/sys/kernel/unprivileged_bpf_disabled');
  const tracefs = TRACEFS_PATHS.find((p) => fsMagic(p) === TRACEFS_MAGIC);
  return {
    ...(jitEnable !== undefined ? { jitEnable } : {}),
    ...(jitHarden !== undefined ? { jitHarden } : {}),
    ...(jitKallsyms !== undefined ? { jitKallsyms } : {}),
    ...(unprivileged !== undefined ? { unprivilegedBpfDisabled: unprivileged } : {}),
    statsEnabled: readNumber('/proc/sys/kernel/bpf_stats_enabled') === 1,
    bpffsMounted: fsMagic('/sys/fs/bpf') === BPF_FS_MAGIC,
    ...(tracefs ? { tracefs } : {}),
  };
}
