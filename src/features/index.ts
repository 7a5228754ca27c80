// Kernel feature probes, in the manner of `bpftool feature probe`. Every probe runs at most once
// per process; a missing feature is a NotSupportedError where the library must refuse.
import { attachTypeName, mapTypeName, programTypeName } from '../program/names.js';
import { MapType, ProgramType } from '../sys/types.js';
import { ATTACH_TYPES_BY_PROGRAM, haveAttachType, probeAttachType } from './attach.js';
import { haveHelper, requireHelper, supportedHelpers } from './helpers.js';
import {
  haveBtf,
  haveFentry,
  haveFtrace,
  haveKprobes,
  haveRingbuf,
  haveTcx,
  haveUprobes,
  haveXdpLink,
  probeBtf,
  probeFentry,
  probeKprobes,
  probeRingbuf,
  probeTcx,
  probeUprobes,
  probeVmlinuxBtf,
  probeXdpLink,
  requireFeature,
  systemConfig,
  type SystemConfig,
} from './kernel.js';
import { haveMapType, probeMapType, requireMapType } from './maps.js';
import { haveProgramType, probeProgramType, requireProgramType } from './programs.js';
import type { ProbeResult } from './probe.js';

export type { ProbeResult } from './probe.js';
export type { SystemConfig } from './kernel.js';
export { haveAttachType, probeAttachType } from './attach.js';
export { haveHelper, probeHelper, requireHelper, supportedHelpers } from './helpers.js';
export {
  haveBtf,
  haveFentry,
  haveFtrace,
  haveKprobes,
  haveRingbuf,
  haveTcx,
  haveUprobes,
  haveXdpLink,
  probeFentry,
  probeKprobes,
  requireFeature,
} from './kernel.js';
export { haveMapType, probeMapType, requireMapType } from './maps.js';
export { haveProgramType, probeProgramType, requireProgramType } from './programs.js';

/** The kernel facts of a report, by name. */
export const KERNEL_PROBES = {
  btf: probeBtf,
  vmlinuxBtf: probeVmlinuxBtf,
  kprobes: probeKprobes,
  uprobes: probeUprobes,
  fentry: probeFentry,
  ringbuf: probeRingbuf,
  tcx: probeTcx,
  xdpLink: probeXdpLink,
} as const;

export type KernelFact = keyof typeof KERNEL_PROBES;

/** Everything `tsbpf feature probe` reports. Booleans are null where a probe could not decide. */
export interface FeatureReport {
  system: SystemConfig;
  programTypes: Record<string, boolean | null>;
  mapTypes: Record<string, boolean | null>;
  /** Per program type whose minimal program loads: the helpers it may call. */
  helpers: Record<string, string[]>;
  /** Per program type that checks it at load: the attach types it loads for. */
  attachTypes: Record<string, string[]>;
  kernel: Record<KernelFact, boolean | null>;
  /** Why a probe said no or could not decide, by `programTypes.<name>`, `kernel.<name>`, ... */
  notes: Record<string, string>;
}

export interface ReportOptions {
  /** Probe helpers per program type (the slow part: a load per pair). Default true. */
  helpers?: boolean;
  /** Also probe the helpers whose use the kernel logs (trace_printk, probe_write_user). */
  full?: boolean;
}

function numericValues<E extends Record<string, string | number>>(e: E): number[] {
  return Object.values(e).filter((v): v is number => typeof v === 'number' && v !== 0);
}

/** Runs every probe and collects the answers. */
export function probeAll(opts: ReportOptions = {}): FeatureReport {
  const notes: Record<string, string> = {};
  const record = (section: string, name: string, r: ProbeResult): boolean | null => {
    if (r.detail) notes[`${section}.${name}`] = r.detail;
    return r.supported ?? null;
  };
  const programTypes: Record<string, boolean | null> = {};
  for (const t of numericValues(ProgramType)) programTypes[programTypeName(t)] = record('programTypes', programTypeName(t), probeProgramType(t));
  const mapTypes: Record<string, boolean | null> = {};
  for (const t of numericValues(MapType)) mapTypes[mapTypeName(t)] = record('mapTypes', mapTypeName(t), probeMapType(t));
  const helpers: Record<string, string[]> = {};
  if (opts.helpers !== false) {
    for (const t of numericValues(ProgramType)) {
      const names = supportedHelpers(t, { full: opts.full === true });
      if (names.length > 0) helpers[programTypeName(t)] = names;
    }
  }
  const attachTypes: Record<string, string[]> = {};
  for (const [p, list] of ATTACH_TYPES_BY_PROGRAM) {
    if (probeProgramType(p).supported !== true) continue;
    attachTypes[programTypeName(p)] = list.filter((a) => probeAttachType(p, a).supported === true).map(attachTypeName);
  }
  const kernel = {} as Record<KernelFact, boolean | null>;
  for (const [name, probe] of Object.entries(KERNEL_PROBES) as Array<[KernelFact, () => ProbeResult]>) {
    kernel[name] = record('kernel', name, probe());
  }
  return { system: systemConfig(), programTypes, mapTypes, helpers, attachTypes, kernel, notes };
}

/** The probes as one object, for `features.haveProgramType(ProgramType.XDP)` and the like. */
export const features = {
  haveProgramType,
  haveMapType,
  haveHelper,
  haveAttachType,
  haveKprobes,
  haveUprobes,
  haveFtrace,
  haveFentry,
  haveBtf,
  haveRingbuf,
  haveTcx,
  haveXdpLink,
  requireProgramType,
  requireMapType,
  requireHelper,
  requireFeature,
  probeAll,
} as const;
