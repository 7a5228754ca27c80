// Facts about the running kernel the attach functions decide by: its version, the dynamic
// perf PMUs, its symbols.
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';

let version: [number, number] | undefined;

/** True when the running kernel is at least major.minor (from uname's release). */
export function kernelAtLeast(major: number, minor: number): boolean {
  if (!version) {
    const m = /^(\d+)\.(\d+)/.exec(release());
    version = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  }
  return version[0] > major || (version[0] === major && version[1] >= minor);
}

const PMU_DIR = '/sys/bus/event_source/devices';

/** The perf type of a dynamic PMU (kprobe, uprobe), or undefined when the kernel has none. */
export function pmuType(name: 'kprobe' | 'uprobe'): number | undefined {
  try {
    const n = Number(readFileSync(`${PMU_DIR}/${name}/type`, 'utf8').trim());
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The config bit that makes a kprobe/uprobe PMU event a return probe ("config:0"). */
export function pmuRetprobeBit(name: 'kprobe' | 'uprobe'): number {
  try {
    const m = /config:(\d+)/.exec(readFileSync(`${PMU_DIR}/${name}/format/retprobe`, 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // Kernels whose PMU lacks the format file use bit 0.
  }
  return 0;
}

export function havePmu(name: 'kprobe' | 'uprobe'): boolean {
  return existsSync(`${PMU_DIR}/${name}/type`);
}

/** Whether a kernel symbol is in /proc/kallsyms (names only; addresses may be hidden). */
export function kernelSymbolExists(name: string): boolean {
  let text: string;
  try {
    text = readFileSync('/proc/kallsyms', 'utf8');
  } catch {
    return false;
  }
  const needle = ` ${name}\n`;
  const needleMod = ` ${name}\t`;
  return text.includes(needle) || text.includes(needleMod);
}
