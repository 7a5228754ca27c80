// The filter's state in bpffs: per interface, the pinned maps of xdp_filter.bpf.c and the
// pinned XDP link. Every command is a separate process acting on these pins.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap, InvalidArgumentError, pinName, possibleCpus, TsbpfError, UpdateFlags } from '../../index.js';
import { compareRules, lpmMaps, ruleFromKey, ruleKey, ruleMap, ruleMaps, ruleText, type Rule, type RuleMap } from './rules.js';

export const PIN_ROOT = '/sys/fs/bpf/tsbpf/xdp-filter';
/** Maps kept across `unload --keep-rules`: the rules, their hit counters and the policy they were written for. */
export const KEPT_MAPS: readonly string[] = [...ruleMaps, 'rule_hits', 'config'];
/** Every map of the object that is pinned while the filter is loaded. */
export const ALL_MAPS: readonly string[] = [...KEPT_MAPS, 'stats'];
export const MAX_RULES = 4096;

export type Policy = 'deny' | 'allow';
export type Mode = 'native' | 'generic';

/** struct config flags: the attach mode. */
export const MODE_FLAG: Record<Mode, number> = { native: 1, generic: 2 };
/** sizeof(struct config): policy, flags, ifindex, pad, ifname[16]. */
const CONFIG_SIZE = 32;
const IFNAME_OFFSET = 16;

export class FilterError extends TsbpfError {
  constructor(message: string, code = 'EFILTER') {
    super(code, message);
  }
}

/** The pins are root's (mode 0700): without the right to read them, say so, never "not loaded". */
export function permissionDenied(): FilterError {
  return new FilterError('permission denied: run as root', 'EACCES');
}

function isPermissionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EACCES' || code === 'EPERM';
}

/** Whether a pin or directory exists; a permission error is thrown as one. */
export function pinExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (err) {
    if (isPermissionError(err)) throw permissionDenied();
    return false;
  }
}

/** The directory of an interface's pins: its name with the characters bpffs refuses escaped. */
export function pinDir(iface: string): string {
  return join(PIN_ROOT, pinName(iface));
}

/** BpfMap.openPinned with permission errors said plainly. */
function openPinnedMap(path: string): BpfMap<Uint8Array, Uint8Array> {
  try {
    return BpfMap.openPinned(path);
  } catch (err) {
    if (isPermissionError(err)) throw permissionDenied();
    throw err;
  }
}

/** The interface whose state a pin directory holds, as its config map records it. */
function recordedName(dir: string): string | undefined {
  const configPath = join(PIN_ROOT, dir, 'config');
  if (!pinExists(configPath)) return undefined;
  using config = openPinnedMap(configPath);
  const v = config.lookup(u32(0));
  return v && v.length >= CONFIG_SIZE ? ifnameOf(v) : undefined;
}

/** Interfaces with filter state pinned (loaded, or unloaded with --keep-rules), sorted. */
export function pinnedInterfaces(): string[] {
  let dirs: string[];
  try {
    dirs = readdirSync(PIN_ROOT);
  } catch (err) {
    if (isPermissionError(err)) throw permissionDenied();
    return [];
  }
  return dirs
    .filter((d) => pinExists(join(PIN_ROOT, d, 'src_v4')))
    .map((d) => recordedName(d) ?? d)
    .sort();
}

/**
 * Throws when the pin directory of `iface` holds another interface's filter: bpffs names cannot
 * hold a '.', so eth0.100 and eth0_100 share a directory name.
 */
export function requireOwner(iface: string): void {
  const owner = recordedName(pinName(iface));
  if (owner !== undefined && owner !== iface) {
    throw new FilterError(`${pinDir(iface)} holds the filter of ${owner}, not ${iface} (bpffs names cannot hold a '.', so both names use that directory)`, 'EEXIST');
  }
}

/** Whether the interface's filter has its link pinned (it may since have lost its device). */
export function hasPinnedLink(iface: string): boolean {
  if (!pinExists(join(pinDir(iface), 'link'))) return false;
  requireOwner(iface);
  return true;
}

/** Interfaces where a link is pinned: loaded, or loaded on a device since removed. */
export function loadedInterfaces(): string[] {
  return pinnedInterfaces().filter(hasPinnedLink);
}

export interface RuleState {
  rule: string;
  kind: Rule['kind'];
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

export interface FilterConfig {
  policy: Policy;
  mode: Mode | undefined;
  /** The ifindex the filter was loaded on; 0 when not recorded. */
  ifindex: number;
  ifname: string | undefined;
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

function ifnameOf(config: Uint8Array): string | undefined {
  const raw = config.subarray(IFNAME_OFFSET, IFNAME_OFFSET + 16);
  const end = raw.indexOf(0);
  const name = Buffer.from(raw.subarray(0, end < 0 ? raw.length : end)).toString('utf8');
  return name === '' ? undefined : name;
}

function hex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex');
}

/**
 * The maps of one interface's filter, opened from their pins (or handed over by a loader that
 * just created them). Closing it closes the map fds, not the pins.
 */
export class FilterMaps implements Disposable {
  readonly iface: string;
  readonly maps: Record<string, BpfMap<Uint8Array, Uint8Array>>;
  readonly #perCpu: Record<string, BpfMap<Uint8Array, Uint8Array[]>>;

  constructor(iface: string, maps: Record<string, BpfMap<Uint8Array, Uint8Array>>) {
    this.iface = iface;
    this.maps = maps;
    this.#perCpu = maps as unknown as Record<string, BpfMap<Uint8Array, Uint8Array[]>>;
  }

  static open(iface: string): FilterMaps {
    const dir = pinDir(iface);
    if (!pinExists(join(dir, 'src_v4'))) {
      throw new FilterError(`xdp-filter is not loaded on ${iface} (nothing pinned at ${dir}); run \`tsbpf xdp-filter load ${iface}\``, 'ENOENT');
    }
    const maps: Record<string, BpfMap<Uint8Array, Uint8Array>> = {};
    try {
      for (const name of ALL_MAPS) {
        const path = join(dir, name);
        if (pinExists(path)) maps[name] = openPinnedMap(path);
      }
      requireOwner(iface);
      return new FilterMaps(iface, maps);
    } catch (err) {
      for (const m of Object.values(maps)) m.close();
      throw err;
    }
  }

  #map(name: string): BpfMap<Uint8Array, Uint8Array> {
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

  /** The keys of a longest-prefix-match map, for exact comparisons. */
  #lpmKeys(name: RuleMap): Set<string> {
    const keys = new Set<string>();
    for (const k of this.#map(name).keys()) keys.add(hex(k));
    return keys;
  }

  /**
   * Whether exactly these rules are in their maps. An LPM trie's lookup is a longest-prefix
   * match (10.0.0.2/32 finds 10.0.0.0/16), so each trie's keys are walked once and compared.
   */
  hasAll(rules: Rule[]): boolean[] {
    const tries: Partial<Record<RuleMap, Set<string>>> = {};
    return rules.map((rule) => {
      const name = ruleMap(rule);
      if (lpmMaps.includes(name)) return (tries[name] ??= this.#lpmKeys(name)).has(hex(ruleKey(rule)));
      return this.#map(name).lookup(ruleKey(rule)) !== undefined;
    });
  }

  /**
   * Adds rules; for each, false when it was already there. On failure the rules this call
   * added are removed again, so the maps are as before.
   */
  addAll(rules: Rule[]): boolean[] {
    const present: Partial<Record<RuleMap, Set<string>>> = {};
    const exists = (rule: Rule): boolean => {
      const name = ruleMap(rule);
      const key = hex(ruleKey(rule));
      if (!lpmMaps.includes(name)) return present[name]?.has(key) === true || this.#map(name).lookup(ruleKey(rule)) !== undefined;
      return (present[name] ??= this.#lpmKeys(name)).has(key);
    };
    const used = this.#usedIds();
    const zeros = Array.from({ length: possibleCpus() }, () => new Uint8Array(16));
    const added: Rule[] = [];
    const out: boolean[] = [];
    let next = 0;
    try {
      for (const rule of rules) {
        if (exists(rule)) {
          out.push(false);
          continue;
        }
        while (used.has(next)) next++;
        if (next >= MAX_RULES) throw new FilterError(`xdp-filter on ${this.iface}: all ${MAX_RULES} rule slots are in use`, 'ENOSPC');
        used.add(next);
        // Its counters start from zero before the rule can match anything.
        this.#perCpu.rule_hits!.update(u32(next), zeros);
        this.#map(ruleMap(rule)).update(ruleKey(rule), u32(next), UpdateFlags.NOEXIST);
        added.push(rule);
        (present[ruleMap(rule)] ??= new Set()).add(hex(ruleKey(rule)));
        out.push(true);
      }
      return out;
    } catch (err) {
      for (const rule of added.reverse()) this.remove(rule);
      throw err;
    }
  }

  /** Removes a rule (exactly that key, as the kernel's delete is exact); false when it was not there. */
  remove(rule: Rule): boolean {
    return this.#map(ruleMap(rule)).delete(ruleKey(rule));
  }

  /** Every rule with its counters, sorted by direction, kind and value. */
  rules(): RuleState[] {
    const hits = this.#perCpu.rule_hits;
    const found: Array<{ rule: Rule; state: RuleState }> = [];
    for (const name of ruleMaps) {
      const map = this.maps[name];
      // State pinned by a version without this map.
      if (!map) continue;
      for (const [k, v] of map) {
        const rule = ruleFromKey(name, k);
        const id = new DataView(v.buffer, v.byteOffset).getUint32(0, true);
        const counted = hits ? sumCounters(hits.lookup(u32(id)) ?? []) : { packets: 0, bytes: 0 };
        found.push({ rule, state: { rule: ruleText(rule), kind: rule.kind, direction: rule.direction, hits: counted.packets, bytes: counted.bytes } });
      }
    }
    return found.sort((a, b) => compareRules(a.rule, b.rule)).map((r) => r.state);
  }

  /** The rules themselves, for checks against what a command is about to do. */
  ruleList(): Rule[] {
    const out: Rule[] = [];
    for (const name of ruleMaps) {
      const map = this.maps[name];
      if (map) for (const k of map.keys()) out.push(ruleFromKey(name, k));
    }
    return out;
  }

  stats(): Stats {
    const stats = this.#perCpu.stats;
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

  config(): FilterConfig {
    const v = this.#map('config').lookup(u32(0));
    const dv = v ? new DataView(v.buffer, v.byteOffset, v.byteLength) : undefined;
    const policy = dv?.getUint32(0, true) === 1 ? 'allow' : 'deny';
    const flags = dv?.getUint32(4, true) ?? 0;
    const mode = flags & MODE_FLAG.native ? 'native' : flags & MODE_FLAG.generic ? 'generic' : undefined;
    const recorded = v !== undefined && v.length >= CONFIG_SIZE;
    return { policy, mode, ifindex: recorded ? dv!.getUint32(8, true) : 0, ifname: recorded ? ifnameOf(v) : undefined };
  }

  setConfig(policy: Policy, mode: Mode, ifindex: number): void {
    const v = new Uint8Array(CONFIG_SIZE);
    const dv = new DataView(v.buffer);
    dv.setUint32(0, policy === 'allow' ? 1 : 0, true);
    dv.setUint32(4, MODE_FLAG[mode], true);
    dv.setUint32(8, ifindex, true);
    v.set(Buffer.from(this.iface, 'utf8').subarray(0, 15), IFNAME_OFFSET);
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
