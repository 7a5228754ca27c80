// The number of possible CPUs: the length of every per-CPU value array.
import { readFileSync } from 'node:fs';
import { TsbpfError } from '../errors.js';

/** Parses a kernel CPU list ("0-3,5,7-9") into the number of CPUs it names. */
export function parseCpuList(list: string): number {
  let count = 0;
  for (const part of list.trim().split(',')) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new TsbpfError('EINVAL', `cannot parse CPU list "${list.trim()}"`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new TsbpfError('EINVAL', `cannot parse CPU list "${list.trim()}"`);
    count += hi - lo + 1;
  }
  if (count === 0) throw new TsbpfError('EINVAL', `empty CPU list "${list.trim()}"`);
  return count;
}

let possible: number | undefined;

/**
 * The kernel's num_possible_cpus(), from /sys/devices/system/cpu/possible. Per-CPU values hold
 * one slot per possible CPU, in the order of that list (which may include CPUs never online).
 */
export function possibleCpus(): number {
  possible ??= parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
  return possible;
}
