// libbpf as the reference loader, through bpftool: what it loads an object into.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { objGet } from '../../src/sys/attrs.js';
import { progInfo } from '../../src/sys/info.js';
import { uniqueName } from './kernel.js';

/** True when bpftool runs here. */
export function haveBpftool(): boolean {
  return spawnSync('bpftool', ['version'], { stdio: 'ignore' }).status === 0;
}

/** What libbpf loaded a program into: its tag and its instructions as the kernel holds them. */
export interface LibbpfProgram {
  readonly tag: string;
  readonly xlated: Uint8Array;
}

/**
 * Loads every program of an object with libbpf (`bpftool prog loadall`); the tags of the
 * programs by name, or the reason it failed.
 */
export function libbpfTags(object: string): Map<string, string> | { error: string } {
  const programs = libbpfPrograms(object);
  if (!(programs instanceof Map)) return programs;
  return new Map([...programs].map(([name, p]) => [name, p.tag]));
}

/** Loads every program of an object with libbpf; what each was loaded into, by name. */
export function libbpfPrograms(object: string): Map<string, LibbpfProgram> | { error: string } {
  const dir = join('/sys/fs/bpf', uniqueName('tsbpflb', 40));
  mkdirSync(dir, { recursive: true });
  try {
    const r = spawnSync('bpftool', ['prog', 'loadall', object, dir], { encoding: 'utf8' });
    if (r.status !== 0) return { error: r.stderr.trim() };
    const programs = new Map<string, LibbpfProgram>();
    for (const name of readdirSync(dir)) {
      using fd = objGet(join(dir, name));
      const info = progInfo(fd.value, { xlated: true });
      programs.set(name, { tag: info.tag, xlated: info.xlated ?? new Uint8Array(0) });
    }
    return programs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
