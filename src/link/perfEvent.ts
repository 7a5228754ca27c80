// PERF_EVENT programs on sampling events (software or hardware), one event per CPU, one Link.
import { existsSync } from 'node:fs';
import { BpfError, InvalidArgumentError, NotSupportedError } from '../errors.js';
import { ProgramType } from '../sys/types.js';
import { requireType, type AttachableProgram } from './attachable.js';
import { TargetNotFoundError } from './errors.js';
import { onlineCpuIds } from '../sys/cpus.js';
import { Link } from './link.js';
import { attachToPerfEvent } from './perf.js';
import { perfEventOpen, PerfType } from '../sys/perf.js';
import { ENODEV, ENOENT, EOPNOTSUPP, ESRCH } from '../sys/errno.js';

export type PerfEventType = 'software' | 'hardware';

/** PERF_COUNT_SW_* by perf's names. */
export const SoftwareEvent = {
  'cpu-clock': 0,
  'task-clock': 1,
  'page-faults': 2,
  'context-switches': 3,
  'cpu-migrations': 4,
  'minor-faults': 5,
  'major-faults': 6,
  'alignment-faults': 7,
  'emulation-faults': 8,
  dummy: 9,
  'bpf-output': 10,
  'cgroup-switches': 11,
} as const;

/** PERF_COUNT_HW_* by perf's names. */
export const HardwareEvent = {
  'cpu-cycles': 0,
  instructions: 1,
  'cache-references': 2,
  'cache-misses': 3,
  'branch-instructions': 4,
  'branch-misses': 5,
  'bus-cycles': 6,
  'stalled-cycles-frontend': 7,
  'stalled-cycles-backend': 8,
  'ref-cpu-cycles': 9,
} as const;

export interface PerfEventOptions {
  program: AttachableProgram;
  /** 'software', 'hardware', or a perf type number (PERF_TYPE_*, or a PMU's type). */
  type: PerfEventType | number;
  /** The event: a perf name ('cpu-clock', 'cpu-cycles') or its config number. */
  config: keyof typeof SoftwareEvent | keyof typeof HardwareEvent | number | bigint;
  /** Run every this many events. Give this or sampleFreq. */
  samplePeriod?: number | bigint;
  /** Run this many times a second. */
  sampleFreq?: number | bigint;
  /** One CPU; every online CPU by default (or any CPU the process runs on, with pid). */
  cpu?: number;
  /** Only this process (and its threads); every process by default. */
  pid?: number;
  cookie?: bigint;
}

function eventType(type: PerfEventType | number): number {
  if (type === 'software') return PerfType.SOFTWARE;
  if (type === 'hardware') return PerfType.HARDWARE;
  if (typeof type === 'number' && Number.isInteger(type) && type >= 0) return type;
  throw new InvalidArgumentError(`perf event type must be software, hardware or a number, not '${String(type)}'`);
}

function eventConfig(type: number, config: PerfEventOptions['config']): bigint {
  if (typeof config === 'bigint') return config;
  if (typeof config === 'number') return BigInt(config);
  const table: Record<string, number> = type === PerfType.SOFTWARE ? SoftwareEvent : type === PerfType.HARDWARE ? HardwareEvent : {};
  const v = table[config];
  if (v === undefined) throw new InvalidArgumentError(`unknown perf event '${config}' for type ${type}`);
  return BigInt(v);
}

/** Attaches a PERF_EVENT program to a sampling event on each CPU (or one CPU, or one process). */
export function attachPerfEvent(opts: PerfEventOptions): Link {
  requireType('perf_event', opts.program, ProgramType.PERF_EVENT);
  const type = eventType(opts.type);
  const config = eventConfig(type, opts.config);
  if ((opts.samplePeriod === undefined) === (opts.sampleFreq === undefined)) throw new InvalidArgumentError('give exactly one of samplePeriod and sampleFreq');
  const pid = opts.pid ?? -1;
  if (pid !== -1 && (!Number.isInteger(pid) || pid <= 0)) throw new InvalidArgumentError(`invalid pid ${pid}`);
  if (pid > 0 && !existsSync(`/proc/${pid}`)) throw new TargetNotFoundError('process', String(pid));
  const cpus = opts.cpu !== undefined ? [opts.cpu] : pid > 0 ? [-1] : onlineCpuIds();
  const sampling = opts.sampleFreq !== undefined ? { sampleFreq: BigInt(opts.sampleFreq) } : { samplePeriod: BigInt(opts.samplePeriod as number | bigint) };
  const name = typeof opts.config === 'string' ? opts.config : `config ${config}`;
  const target = `${typeof opts.type === 'string' ? opts.type : `type ${type}`} ${name}${pid > 0 ? ` pid ${pid}` : ''}${opts.cpu !== undefined ? ` cpu ${opts.cpu}` : ''}`;
  const parts: Link[] = [];
  try {
    for (const cpu of cpus) {
      let perf;
      try {
        perf = perfEventOpen({ type, config, ...sampling }, pid, cpu, `${target}${cpu >= 0 ? ` on cpu ${cpu}` : ''}`);
      } catch (err) {
        if (err instanceof BpfError && err.errno === ESRCH) throw new TargetNotFoundError('process', String(pid), undefined, { cause: err });
        if (err instanceof BpfError && (err.errno === ENOENT || err.errno === ENODEV || err.errno === EOPNOTSUPP)) {
          throw new NotSupportedError(`${typeof opts.type === 'string' ? opts.type : `type ${type}`} perf event ${name}`, `perf_event_open said ${err.code}; the machine has no PMU for it`);
        }
        throw err;
      }
      parts.push(
        attachToPerfEvent(opts.program, perf, {
          hook: 'perf_event',
          target: `${target}${cpu >= 0 ? ` on cpu ${cpu}` : ''}`,
          ...(opts.cookie !== undefined ? { cookie: opts.cookie } : {}),
        }),
      );
    }
  } catch (err) {
    for (const p of parts) p.close();
    throw err;
  }
  if (parts.length === 1) return parts[0] as Link;
  return new Link({
    hook: 'perf_event',
    target,
    mechanism: (parts[0] as Link).mechanism,
    program: opts.program,
    holds: parts,
    parts,
    describe: () => ({ kind: 'perf_event', event: 'event', type, config, count: parts.length }),
  });
}
