// Helper probes: a program of each type calling each helper, judged by what the verifier says.
import { BPF_FUNC_MAX_ID, helperId, helperName, type HelperName } from '../asm/index.js';
import { InvalidArgumentError, NotSupportedError } from '../errors.js';
import { programTypeName } from '../program/names.js';
import type { ProgramType } from '../sys/types.js';
import { isProbeResult, loadsMinimalProgram, minimalLoadAttr, probeProgramType } from './programs.js';
import { callHelper, cached, no, probeLoad, unknown, YES, type ProbeResult } from './probe.js';

// What the verifier says when a helper does not exist, or exists but not for this program type.
const UNSUPPORTED = /invalid func unknown#|unknown func |program of this type cannot use helper /;

function probe(type: ProgramType, id: number): ProbeResult {
  const pt = probeProgramType(type);
  if (pt.supported !== true) return pt.supported === false ? no(`no program type ${programTypeName(type)}`) : pt;
  if (!loadsMinimalProgram(type)) return unknown(`a ${programTypeName(type)} program cannot load without a target`);
  const attr = minimalLoadAttr(type, callHelper(id));
  if (isProbeResult(attr)) return attr;
  const r = probeLoad(attr);
  if (r.result >= 0) return YES;
  if (UNSUPPORTED.test(r.log)) return no();
  if (r.log.trim() === '') return unknown(`load failed without a log (errno ${-r.result})`);
  // Any other complaint (arguments, context, sleepability) means the call itself was accepted.
  return YES;
}

const probeByKey = cached((key: string): ProbeResult => {
  const [type, id] = key.split(':').map(Number) as [ProgramType, number];
  return probe(type, id);
});

/** Whether programs of `type` may call the helper (by name: 'map_lookup_elem' or 'bpf_map_lookup_elem', or id). Cached. */
export function probeHelper(type: ProgramType, helper: string | number): ProbeResult {
  const id = typeof helper === 'number' ? helper : helperId(helper);
  if (id === undefined || !Number.isInteger(id) || id <= 0) throw new InvalidArgumentError(`unknown helper ${String(helper)}`);
  return probeByKey(`${type}:${id}`);
}

export function haveHelper(type: ProgramType, helper: string | number): boolean {
  return probeHelper(type, helper).supported === true;
}

/** Throws NotSupportedError naming the helper and program type when the kernel refuses the call. */
export function requireHelper(type: ProgramType, helper: string | number): void {
  const r = probeHelper(type, helper);
  if (r.supported !== true) {
    const name = typeof helper === 'number' ? (helperName(helper) ?? `#${helper}`) : helper.replace(/^bpf_/, '');
    throw new NotSupportedError(`helper bpf_${name} in ${programTypeName(type)} programs`, r.detail);
  }
}

/**
 * Helpers whose use the kernel announces in its log (the trace_printk banner, the
 * probe_write_user warning); as bpftool does, they are probed only when asked for in full.
 */
export const NOISY_HELPERS: ReadonlySet<string> = new Set(['trace_printk', 'trace_vprintk', 'probe_write_user']);

/**
 * The helpers programs of `type` may call, of those tsbpf knows; empty when the type cannot be
 * probed. `full` also probes the NOISY_HELPERS.
 */
export function supportedHelpers(type: ProgramType, opts: { full?: boolean } = {}): HelperName[] {
  if (!loadsMinimalProgram(type)) return [];
  const out: HelperName[] = [];
  for (let id = 1; id < BPF_FUNC_MAX_ID; id++) {
    const name = helperName(id);
    if (name === undefined || (!opts.full && NOISY_HELPERS.has(name))) continue;
    if (probeHelper(type, id).supported === true) out.push(name);
  }
  return out;
}
