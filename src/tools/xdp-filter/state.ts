// The filter's state in bpffs: per interface, the pinned maps of xdp_filter.bpf.c and the
// pinned XDP link. Every command is a separate process acting on these pins.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, TsbpfError } from '../../errors.js';
import { Map, possibleCpus } from '../../map.js';
import { UpdateFlags } from '../../sys/types.js';
import { ruleFromKey, ruleKey, ruleMap, ruleMaps, ruleText, ruleDirection, type Rule, type RuleMap } from './rules.js';

export const PIN_ROOT = '/sys/fs/bpf/tsbpf/xdp-filter';
/** Maps kept across `unload --keep-rules`: the rules and their hit counters. */
export const RULE_STATE_MAPS: readonly string[] = [...ruleMaps, 'rule_hits'];
/** Every map of the object that is pinned while the filter is loaded. */
export const ALL_MAPS: readonly string[] = [...RULE_STATE_MAPS, 'stats', 'config'];
export const MAX_RULES = 4096;

export type Policy = 'deny' | 'allow';
export type Mode = 'native' | 'generic';

/** struct config { u32 policy; u32 flags } — flags hold the attach mode. */
export const MODE_FLAG: Record<Mode, number> = { native: 1, generic: 2 };

export class FilterError extends TsbpfError {
  constructor(message: string, code = 'EFILTER') {
    super(code, message);
  }
}

export function pinDir(iface: string): string {
  return join(PIN_ROOT, iface);
}

/** Interfaces with filter state pinned (loaded, or unloaded with --keep-rules). */
export function pinnedInterfaces(): string[] {
  if (!existsSync(PIN_ROOT)) return [];
  return readdirSync(PIN_ROOT).filter((d) => existsSync(join(PIN_ROOT, d, 'src_v4'))).sort();
}

/** Interfaces where the filter is attached (a pinned link exists). */
export function loadedInterfaces(): string[] {
  return pinnedInterfaces().filter((i) => existsSync(join(pinDir(i), 'link')));
}

export interface RuleState {
  rule: string;
  direction: 'src' | 'dst';
  hits: number;
  bytes: number;
}

export interface Stats {
  total: number;
  passed: number;
  dropped: number;
  invalid: number;
  bytesTotal: number;
  bytesPassed: number;
  bytesDropped: number;
}

const STAT_INDEX = { total: 0, passed: 1, dropped: 2, invalid: 3 } as const;

function sumCounters(values: Uint8Array[]): { packets: number; bytes: number } {
  let packets = 0n;
  let bytes = 0n;
  for (const v of values) {
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    packets += dv.getBigUint64(0, true);
    bytes += dv.getBigUint64(8, true);
  }
  return { packets: Number(packets), bytes: Number(bytes) };
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/**
 * The maps of one interface's filter, opened from their pins (or handed over by a loader that
 * just created them). Closing it closes the map fds, not the pins.
 */
export class FilterMaps implements Disposable {
  readonly iface: string;
  readonly maps: Record<string, Map<Uint8Array, Uint8Array>>;
  readonly #perCpu: Record<string, Map<Uint8Array, Uint8Array[]>>;

  constructor(iface: string, maps: Record<string, Map<Uint8Array, Uint8Array>>) {
    this.iface = iface;
    this.maps = maps;
    this.#perCpu = maps as unknown as Record<string, Map<Uint8Array, Uint8Array[]>>;
  }

  static open(iface: string): FilterMaps {
    const dir = pinDir(iface);
    if (!existsSync(join(dir, 'src_v4'))) {
      throw new FilterError(`xdp-filter is not loaded on ${iface} (nothing pinned at ${dir}); run \`tsbpf xdp-filter load ${iface}\``, 'ENOENT');
    }
    const maps: Record<string, Map<Uint8Array, Uint8Array>> = {};
    try {
      for (const name of ALL_MAPS) {
        const path = join(dir, name);
        if (existsSync(path)) maps[name] = Map.openPinned(path);
      }
    } catch (err) {
      for (const m of Object.values(maps)) m.close();
      throw err;
    }
    return new FilterMaps(iface, maps);
  }

  #map(name: string): Map<Uint8Array, Uint8Array> {
    const m = this.maps[name];
    if (!m) throw new FilterError(`xdp-filter on ${this.iface}: map ${name} is missing from ${pinDir(this.iface)}`);
    return m;
  }

  /** The rule ids in use, from the values of every rule map. */
  #usedIds(): Set<number> {
    const used = new Set<number>();
    for (const name of ruleMaps) {
      for (const [, v] of this.#map(name)) used.add(new DataView(v.buffer, v.byteOffset).getUint32(0, true));
    }
    return used;
  }

  /** Adds a rule; false when it was already there (nothing changes then). */
  add(rule: Rule): boolean {
    const map = this.#map(ruleMap(rule));
    const key = ruleKey(rule);
    if (map.lookup(key) !== undefined) return false;
    const used = this.#usedIds();
    let id = 0;
    while (used.has(id)) id++;
    if (id >= MAX_RULES) throw new FilterError(`xdp-filter on ${this.iface}: all ${MAX_RULES} rule slots are in use`, 'ENOSPC');
    // Its counters start from zero before the rule can match anything.
    const zeros = Array.from({ length: possibleCpus() }, () => new Uint8Array(16));
    this.#perCpu['rule_hits']!.update(u32(id), zeros);
    map.update(key, u32(id), UpdateFlags.NOEXIST);
    return true;
  }

  /** Removes a rule; false when it was not there. */
  remove(rule: Rule): boolean {
    return this.#map(ruleMap(rule)).delete(ruleKey(rule));
  }

  has(rule: Rule): boolean {
    return this.#map(ruleMap(rule)).lookup(ruleKey(rule)) !== undefined;
  }

  rules(): RuleState[] {
    const hits = this.#perCpu['rule_hits'];
    const out: RuleState[] = [];
    for (const name of ruleMaps) {
      for (const [k, v] of this.#map(name)) {
        const rule = ruleFromKey(name as RuleMap, k);
        const id = new DataView(v.buffer, v.byteOffset).getUint32(0, true);
        const counted = hits ? sumCounters(hits.lookup(u32(id)) ?? []) : { packets: 0, bytes: 0 };
        out.push({ rule: ruleText(rule), direction: ruleDirection(rule), hits: counted.packets, bytes: counted.bytes });
      }
    }
    return out;
  }

  stats(): Stats {
    const stats = this.#perCpu['stats'];
    const read = (i: number): { packets: number; bytes: number } => (stats ? sumCounters(stats.lookup(u32(i)) ?? []) : { packets: 0, bytes: 0 });
    const total = read(STAT_INDEX.total);
    const passed = read(STAT_INDEX.passed);
    const dropped = read(STAT_INDEX.dropped);
    const invalid = read(STAT_INDEX.invalid);
    return {
      total: total.packets,
      passed: passed.packets,
      dropped: dropped.packets,
      invalid: invalid.packets,
      bytesTotal: total.bytes,
      bytesPassed: passed.bytes,
      bytesDropped: dropped.bytes,
    };
  }

  config(): { policy: Policy; mode: Mode | undefined } {
    const v = this.#map('config').lookup(u32(0));
    const dv = v ? new DataView(v.buffer, v.byteOffset) : undefined;
    const policy = dv?.getUint32(0, true) === 1 ? 'allow' : 'deny';
    const flags = dv?.getUint32(4, true) ?? 0;
    const mode = flags & MODE_FLAG.native ? 'native' : flags & MODE_FLAG.generic ? 'generic' : undefined;
    return { policy, mode };
  }

  setConfig(policy: Policy, mode: Mode): void {
    const v = new Uint8Array(8);
    const dv = new DataView(v.buffer);
    dv.setUint32(0, policy === 'allow' ? 1 : 0, true);
    dv.setUint32(4, MODE_FLAG[mode], true);
    this.#map('config').update(u32(0), v);
  }

  close(): void {
    for (const m of Object.values(this.maps)) m.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export function parsePolicy(s: string): Policy {
  if (s !== 'deny' && s !== 'allow') throw new InvalidArgumentError(`invalid policy '${s}' (deny or allow)`);
  return s;
}

export function parseMode(s: string): Mode {
  if (s === 'native' || s === 'driver' || s === 'drv') return 'native';
  if (s === 'generic' || s === 'skb') return 'generic';
  throw new InvalidArgumentError(`invalid mode '${s}' (native or generic)`);
}
