// `object load/run/attach` options that change the spec before load: map sizes left to user
// space (--map) and program types for sections that name none (--type).
import { InvalidArgumentError } from '../errors.js';
import { parseSectionName, resizeMap, type CollectionSpec, type MapSizes } from '../object/index.js';
import { parseProgramType, programTypeName } from '../program/names.js';
import { ProgramType } from '../sys/types.js';
import { UsageError } from './framework/index.js';

const MAP_ATTRIBUTES: Record<string, keyof MapSizes> = { value_size: 'valueSize', max_entries: 'maxEntries' };
const MAP_PART = /^(?:(.+)\.)?(value_size|max_entries)=(0[xX][0-9a-fA-F]+|\d+)$/;

/**
 * `--map NAME.value_size=N,max_entries=M` (repeatable): sizes set before the maps are created,
 * as libbpf's bpf_map__set_value_size and bpf_map__set_max_entries.
 */
export function applyMapSizes(spec: CollectionSpec, options: readonly string[]): void {
  for (const option of options) {
    let name: string | undefined;
    const sizes: MapSizes = {};
    for (const part of option.split(',')) {
      const m = MAP_PART.exec(part.trim());
      if (m === null) throw new UsageError(`--map ${option}: expected NAME.value_size=N or NAME.max_entries=N, comma-separated`);
      if (m[1] !== undefined && name !== undefined && m[1] !== name) throw new UsageError(`--map ${option}: one map per --map (${name}, then ${m[1]})`);
      name ??= m[1];
      if (name === undefined) throw new UsageError(`--map ${option}: name the map first (NAME.${m[2]}=${m[3]})`);
      sizes[MAP_ATTRIBUTES[m[2]!]!] = Number(m[3]);
    }
    if (spec.maps[name!] === undefined) throw new UsageError(`--map ${option}: the object has no map ${name} (it has: ${Object.keys(spec.maps).join(', ') || 'none'})`);
    try {
      resizeMap(spec, name!, sizes);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new UsageError(`--map ${option}: ${err.message}`);
      throw err;
    }
  }
}

/**
 * `--type NAME=TYPE` (repeatable): the program type of a program whose section names none
 * (`socket/1`, `classifier/ingress`). TYPE is a section name tsbpf knows (`tc`, `xdp`,
 * `cgroup_skb/ingress`: type and attach type) or a program type (`sched_cls`, `socket_filter`).
 */
export function applyProgramTypes(spec: CollectionSpec, options: readonly string[]): void {
  for (const option of options) {
    const eq = option.indexOf('=');
    if (eq <= 0 || eq === option.length - 1) throw new UsageError(`--type ${option}: expected PROGRAM=TYPE`);
    const name = option.slice(0, eq);
    const type = option.slice(eq + 1);
    const p = spec.programs[name];
    if (p === undefined) throw new UsageError(`--type ${option}: the object has no program ${name} (it has: ${Object.keys(spec.programs).join(', ') || 'none'})`);
    const section = parseSectionName(type);
    if (section !== undefined) {
      p.type = section.type;
      if (section.expectedAttachType !== undefined) p.expectedAttachType = section.expectedAttachType;
      else delete p.expectedAttachType;
      if (section.attachTo !== undefined) p.attachTo = section.attachTo;
      if (section.attachBtf !== undefined) p.attachBtf = section.attachBtf;
      p.sleepable = section.sleepable;
      p.flags = section.flags;
      continue;
    }
    let t: ProgramType;
    try {
      t = parseProgramType(type);
    } catch {
      throw new UsageError(`--type ${option}: ${type} is neither a section name (tc, xdp, socket, cgroup_skb/ingress, ...) nor a program type (sched_cls, socket_filter, ...)`);
    }
    if (t === ProgramType.UNSPEC) throw new UsageError(`--type ${option}: ${programTypeName(t)} is not a program type to load`);
    p.type = t;
  }
}
