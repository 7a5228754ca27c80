// The CPUs a per-CPU perf ring is opened on.
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

function readList(name: 'possible' | 'online'): number[] {
  return parseCpuIds(readFileSync(`/sys/devices/system/cpu/${name}`, 'utf8'));
}

/** The CPUs that may ever run: those a BPF_MAP_TYPE_PERF_EVENT_ARRAY is indexed by. */
export function possibleCpuIds(): number[] {
  return readList('possible');
}

/** The CPUs running now. */
export function onlineCpuIds(): number[] {
  return readList('online');
}
