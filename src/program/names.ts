// The lowercase names bpftool and libbpf use for kernel enums, and object name rules.
import { InvalidArgumentError } from '../errors.js';
import { AttachType, MapType, ProgramType } from '../sys/types.js';

type NumericEnum = Record<string, string | number>;

function nameOf(e: NumericEnum, value: number): string {
  const n = e[value];
  return typeof n === 'string' ? n.toLowerCase() : `unknown(${value})`;
}

function valueOf(e: NumericEnum, what: string, name: string): number {
  const v = e[name.toUpperCase().replace(/-/g, '_')];
  if (typeof v !== 'number') throw new InvalidArgumentError(`unknown ${what} '${name}'`);
  return v;
}

/** `xdp`, `sched_cls`, ...: the name bpftool prints for a program type. */
export function programTypeName(t: number): string {
  return nameOf(ProgramType, t);
}

/**
 * `hash`, `lru_hash`, ...: the name bpftool prints for a map type; with `uapi`, the kernel's own
 * spelling (`HASH`), and `type N` for a type this package does not know.
 */
export function mapTypeName(t: number, spelling: 'bpftool' | 'uapi' = 'bpftool'): string {
  if (spelling === 'uapi') return MapType[t] ?? `type ${t}`;
  return nameOf(MapType, t);
}

export function attachTypeName(t: number): string {
  return nameOf(AttachType, t);
}

/** The ProgramType for a name such as `xdp` or `SCHED_CLS`. */
export function parseProgramType(name: string): ProgramType {
  return valueOf(ProgramType, 'program type', name);
}

/** The kernel's object-name limit: 15 characters of [A-Za-z0-9_.] and a NUL (BPF_OBJ_NAME_LEN). */
export const OBJ_NAME_MAX = 15;

/**
 * The name as the kernel will accept it: characters it refuses become '_' and the rest is cut
 * to 15, so a descriptive name never fails a load.
 */
export function kernelObjectName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, OBJ_NAME_MAX);
}
