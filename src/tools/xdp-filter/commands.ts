// The operations behind `tsbpf xdp-filter`, shared by the one-shot subcommands and the
// interactive prompt. Rules are validated before anything changes; a change applied to several
// interfaces is rolled back on all of them if one fails.
import { InvalidArgumentError } from '../../errors.js';
import { parseAddress } from '../common/net.js';
import { FilterError, FilterMaps, loadedInterfaces, pinDir, pinnedInterfaces, type Mode, type Policy, type RuleState, type Stats } from './state.js';
import { addressRule, portRules, ruleText, type Direction, type Rule } from './rules.js';
import { Link } from '../../link/link.js';
import { join } from 'node:path';

/** The interfaces a rule command acts on: the one named, or every loaded one. */
export function targetInterfaces(iface: string | undefined): string[] {
  if (iface !== undefined) {
    if (!pinnedInterfaces().includes(iface)) {
      throw new FilterError(`xdp-filter is not loaded on ${iface}; run \`tsbpf xdp-filter load ${iface}\``, 'ENOENT');
    }
    return [iface];
  }
  const all = loadedInterfaces();
  if (all.length === 0) throw new FilterError('xdp-filter is not loaded on any interface; run `tsbpf xdp-filter load <iface>`', 'ENOENT');
  return all;
}

export interface RuleChange {
  iface: string;
  rule: Rule;
  /** Whether the rule was added or removed (false: it already was, or was not, there). */
  changed: boolean;
}

/** Opens the maps of each interface for `fn` and closes them after. */
export function withMaps<T>(ifaces: string[], fn: (maps: FilterMaps[]) => T): T {
  const opened: FilterMaps[] = [];
  try {
    for (const iface of ifaces) opened.push(FilterMaps.open(iface));
    return fn(opened);
  } finally {
    for (const m of opened) m.close();
  }
}

/** Adds rules to every filter, or to none if any addition fails. */
export function addRules(targets: FilterMaps[], rules: Rule[]): RuleChange[] {
  const done: Array<{ maps: FilterMaps; rule: Rule }> = [];
  const changes: RuleChange[] = [];
  try {
    for (const maps of targets) {
      for (const rule of rules) {
        const changed = maps.add(rule);
        if (changed) done.push({ maps, rule });
        changes.push({ iface: maps.iface, rule, changed });
      }
    }
    return changes;
  } catch (err) {
    for (const { maps, rule } of done.reverse()) maps.remove(rule);
    throw err;
  }
}

/** Removes rules from every filter; a rule present in none is an error, and nothing changes. */
export function removeRules(targets: FilterMaps[], rules: Rule[]): RuleChange[] {
  for (const rule of rules) {
    if (!targets.some((maps) => maps.has(rule))) {
      throw new FilterError(`no rule ${ruleText(rule)} on ${targets.map((m) => m.iface).join(', ')}`, 'ENOENT');
    }
  }
  const changes: RuleChange[] = [];
  for (const maps of targets) for (const rule of rules) changes.push({ iface: maps.iface, rule, changed: maps.remove(rule) });
  return changes;
}

/** Parses the target of block/unblock: an address or CIDR prefix. */
export function parseRuleTarget(text: string | undefined, direction: Direction): Rule {
  if (text === undefined || text === '') throw new InvalidArgumentError('expected an IP address or CIDR prefix');
  return addressRule(text, direction);
}

export function parsePortTarget(port: string | undefined, proto: string | undefined): Rule[] {
  if (port === undefined) throw new InvalidArgumentError('expected a port number');
  return portRules(port, proto);
}

export interface InterfaceStatus {
  name: string;
  mode: Mode | 'unknown';
  policy: Policy;
  programId: number;
}

export interface Status {
  interfaces: InterfaceStatus[];
  stats: { total: number; passed: number; dropped: number; invalid: number; bytesDropped: number };
  rules: Array<{ rule: string; direction: 'src' | 'dst'; hits: number }>;
}

function programIdOf(iface: string): number {
  try {
    const link = Link.openPinned(join(pinDir(iface), 'link'));
    try {
      return link.info().progId;
    } finally {
      link.close();
    }
  } catch {
    return 0;
  }
}

/** The status of every loaded interface: stats summed, rules merged with their hits summed. */
export function status(ifaces = loadedInterfaces()): Status {
  const out: Status = { interfaces: [], stats: { total: 0, passed: 0, dropped: 0, invalid: 0, bytesDropped: 0 }, rules: [] };
  const rules = new Map<string, { rule: string; direction: 'src' | 'dst'; hits: number }>();
  for (const iface of ifaces) {
    using maps = FilterMaps.open(iface);
    const cfg = maps.config();
    out.interfaces.push({ name: iface, mode: cfg.mode ?? 'unknown', policy: cfg.policy, programId: programIdOf(iface) });
    const s = maps.stats();
    out.stats.total += s.total;
    out.stats.passed += s.passed;
    out.stats.dropped += s.dropped;
    out.stats.invalid += s.invalid;
    out.stats.bytesDropped += s.bytesDropped;
    for (const r of maps.rules()) {
      const key = `${r.direction} ${r.rule}`;
      const prev = rules.get(key);
      if (prev) prev.hits += r.hits;
      else rules.set(key, { rule: r.rule, direction: r.direction, hits: r.hits });
    }
  }
  out.rules = [...rules.values()].sort((a, b) => a.rule.localeCompare(b.rule));
  return out;
}

export function rulesOf(ifaces: string[]): Array<RuleState & { interface: string }> {
  const out: Array<RuleState & { interface: string }> = [];
  for (const iface of ifaces) {
    using maps = FilterMaps.open(iface);
    for (const r of maps.rules()) out.push({ ...r, interface: iface });
  }
  return out;
}

export function statsOf(ifaces: string[]): Array<Stats & { interface: string }> {
  return ifaces.map((iface) => {
    using maps = FilterMaps.open(iface);
    return { ...maps.stats(), interface: iface };
  });
}

function human(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

export function formatStats(s: Stats & { interface: string }): string {
  const pct = (n: number): string => (s.total ? ` (${((100 * n) / s.total).toFixed(1)}%)` : '');
  return [
    `${s.interface}:`,
    `  total    ${String(s.total).padStart(12)} packets  ${human(s.bytesTotal)}`,
    `  passed   ${String(s.passed).padStart(12)} packets  ${human(s.bytesPassed)}${pct(s.passed)}`,
    `  dropped  ${String(s.dropped).padStart(12)} packets  ${human(s.bytesDropped)}${pct(s.dropped)}`,
    `  invalid  ${String(s.invalid).padStart(12)} packets`,
  ].join('\n');
}

export function formatRules(rules: Array<RuleState & { interface: string }>): string {
  if (rules.length === 0) return 'no rules\n';
  const rows = rules.map((r) => `${r.interface.padEnd(16)} ${r.direction.padEnd(4)} ${r.rule.padEnd(44)} ${String(r.hits).padStart(10)} ${human(r.bytes).padStart(10)}`);
  return `${'INTERFACE'.padEnd(16)} ${'DIR'.padEnd(4)} ${'RULE'.padEnd(44)} ${'HITS'.padStart(10)} ${'BYTES'.padStart(10)}\n${rows.join('\n')}\n`;
}

/** The peer of the SSH session this command runs in, if any: it must never be locked out. */
export function sshPeer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const conn = env.SSH_CONNECTION ?? env.SSH_CLIENT;
  const peer = conn?.trim().split(/\s+/)[0];
  if (!peer) return undefined;
  try {
    parseAddress(peer);
    return peer;
  } catch {
    return undefined;
  }
}
