// The machine's CPUs as the kernel lists them in sysfs: the possible ones index per-CPU values
// and perf event arrays, the online ones take per-CPU perf events.
import { readFileSync } from 'node:fs';
import { TsbpfError } from '../errors.js';

/** The CPU numbers of a kernel CPU list ("0-3,5,7-9"). */
export function parseCpuIds(list: string): number[] {
  const ids: number[] = [];
  for (const part of list.trim().split(',')) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m?.[2] === undefined ? lo : Number(m[2]);
    if (!m || hi < lo) throw new TsbpfError('EINVAL', `cannot parse CPU list "${list.trim()}"`);
    for (let cpu = lo; cpu <= hi; cpu++) ids.push(cpu);
  }
  return ids;
}

/** How many CPUs a kernel CPU list names; an empty list is an error (a machine has a CPU). */
export function cpuCount(list: string): number {
  const n = parseCpuIds(list).length;
  if (n === 0) throw new TsbpfError('EINVAL', `empty CPU list "${list.trim()}"`);
  return n;
}

function readList(name: 'possible' | 'online'): string {
  return readFileSync(`/sys/devices/system/cpu/${name}`, 'utf8');
}

/** The CPUs that may ever run: those a BPF_MAP_TYPE_PERF_EVENT_ARRAY is indexed by. */
export function possibleCpuIds(): number[] {
  return parseCpuIds(readList('possible'));
}

/** The CPUs running now. */
export function onlineCpuIds(): number[] {
  return parseCpuIds(readList('online'));
}

let possible: number | undefined;

/**
 * The kernel's num_possible_cpus(). Per-CPU values hold one slot per possible CPU, in the order
 * of that list (which may include CPUs never online).
 */
export function possibleCpus(): number {
  possible ??= cpuCount(readList('possible'));
  return possible;
}
