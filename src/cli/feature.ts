// `tsbpf feature probe`: what this kernel supports, in the manner of `bpftool feature probe`.
import { probeAll, type FeatureReport, type KernelFact } from '../features/index.js';
import { NEEDS_PRIVILEGE } from '../features/probe.js';
import { OUTPUT_OPTIONS, parse, UsageError, writeJson, type Command, type CommandIO, defineCommand } from './framework/index.js';
import * as help from './help/feature.js';

const KERNEL_TEXT: Record<KernelFact, string> = {
  btf: 'BTF loading',
  vmlinuxBtf: 'Kernel BTF (/sys/kernel/btf/vmlinux)',
  kprobes: 'kprobe support',
  uprobes: 'uprobe support',
  fentry: 'fentry/fexit support',
  ringbuf: 'Ring buffer support',
  tcx: 'TCX link support',
  xdpLink: 'XDP link support',
};

function availability(v: boolean | null, note: string | undefined): string {
  const base = v === true ? 'is available' : v === false ? 'is NOT available' : 'could not be probed';
  return note && v !== true ? `${base} (${note})` : base;
}

function onOff(v: number | undefined, on: string, off: string): string {
  return v === undefined ? `${on.split(' ')[0]} setting unknown` : v ? on : off;
}

/** The report as bpftool prints its plain-text probe. */
export function reportText(r: FeatureReport): string {
  const out: string[] = [];
  const s = r.system;
  out.push('Scanning system configuration...');
  out.push(
    s.unprivilegedBpfDisabled === undefined
      ? 'Unable to read unprivileged_bpf_disabled'
      : s.unprivilegedBpfDisabled === 0
        ? 'bpf() syscall for unprivileged users is enabled'
        : 'bpf() syscall restricted to privileged users',
  );
  out.push(onOff(s.jitEnable, 'JIT compiler is enabled', 'JIT compiler is disabled'));
  out.push(onOff(s.jitHarden, 'JIT compiler hardening is enabled', 'JIT compiler hardening is disabled'));
  out.push(onOff(s.jitKallsyms, 'JIT compiler kallsyms exports are enabled', 'JIT compiler kallsyms exports are disabled'));
  out.push(s.statsEnabled ? 'Run time statistics are enabled' : 'Run time statistics are disabled');
  out.push(s.bpffsMounted ? 'bpffs is mounted at /sys/fs/bpf' : 'bpffs is NOT mounted at /sys/fs/bpf');
  out.push(s.tracefs ? `tracefs is mounted at ${s.tracefs}` : 'tracefs is NOT mounted');
  out.push('');
  out.push('Scanning kernel features...');
  for (const [k, v] of Object.entries(r.kernel) as Array<[KernelFact, boolean | null]>) {
    out.push(`${KERNEL_TEXT[k]} ${availability(v, r.notes[`kernel.${k}`])}`);
  }
  out.push('');
  out.push('Scanning eBPF program types...');
  for (const [k, v] of Object.entries(r.programTypes)) out.push(`eBPF program_type ${k} ${availability(v, r.notes[`programTypes.${k}`])}`);
  out.push('');
  out.push('Scanning eBPF map types...');
  for (const [k, v] of Object.entries(r.mapTypes)) out.push(`eBPF map_type ${k} ${availability(v, r.notes[`mapTypes.${k}`])}`);
  if (Object.keys(r.helpers).length > 0) {
    out.push('');
    out.push('Scanning eBPF helper functions...');
    for (const [k, names] of Object.entries(r.helpers)) {
      out.push(`eBPF helpers supported for program type ${k}:`);
      for (const n of names) out.push(`\t- bpf_${n}`);
    }
  }
  out.push('');
  out.push('Scanning attach types...');
  for (const [k, names] of Object.entries(r.attachTypes)) {
    out.push(`Attach types supported for program type ${k}:`);
    for (const n of names) out.push(`\t- ${n}`);
  }
  if (Object.values(r.notes).includes(NEEDS_PRIVILEGE)) {
    out.push('');
    out.push('Features marked "could not be probed (needs CAP_BPF)" need privileges to probe: run as root (sudo tsbpf feature probe) for the full report.');
  }
  return `${out.join('\n')}\n`;
}

async function probe(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('feature probe', argv, {
    ...OUTPUT_OPTIONS,
    full: { type: 'boolean' },
    'no-helpers': { type: 'boolean' },
  });
  const [target, ...rest] = positionals;
  if (target !== undefined && target !== 'kernel') throw new UsageError(`feature probe: unknown target '${target}' (only 'kernel')`);
  if (rest.length > 0) throw new UsageError(`feature probe: unexpected argument '${rest[0]}'`);
  const report = probeAll({ helpers: values['no-helpers'] !== true, full: values.full === true });
  if (values.json || values.pretty) writeJson(io.stdout, report, values.pretty === true);
  else io.stdout.write(reportText(report));
  return 0;
}

export const command: Command = defineCommand({
  name: 'feature',
  summary: 'probe the running kernel for eBPF features',
  help,
  verbs: { probe },
});
