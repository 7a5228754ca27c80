// The operations behind `tsbpf xdp-filter`, shared by the one-shot subcommands and the
// interactive prompt. Rules are validated before anything changes; a change applied to several
// interfaces, or a batch of rules, is rolled back everywhere if one part fails.
import { InvalidArgumentError } from '../../index.js';
import { parsePrefix } from '../common/net.js';
import { linkState, pinnedLinkId, requireAttached, runSessions, sessionMaps, type RunSession } from './attachment.js';
import { addressRule, macRule, portRules, prefixCovers, ruleLabel, type Direction, type Rule } from './rules.js';
import type { SshSession } from './ssh.js';
import { FilterError, FilterMaps, hasPinnedLink, loadedInterfaces, pinnedInterfaces, type Mode, type Policy, type RuleState, type Stats } from './state.js';

/** The interfaces a rule command acts on: the one named, or every loaded one; each must still be attached. */
export function targetInterfaces(iface: string | undefined): string[] {
  if (iface !== undefined) {
    if (!pinnedInterfaces().includes(iface)) {
      throw new FilterError(`xdp-filter is not loaded on ${iface}; run \`tsbpf xdp-filter load ${iface}\``, 'ENOENT');
    }
    if (!hasPinnedLink(iface)) {
      throw new FilterError(`xdp-filter is not loaded on ${iface} (only its kept rules are pinned); run \`tsbpf xdp-filter load ${iface}\``, 'ENOENT');
    }
    requireAttached(iface);
    return [iface];
  }
  const all = loadedInterfaces();
  if (all.length === 0) throw new FilterError('xdp-filter is not loaded on any interface; run `tsbpf xdp-filter load <iface>`', 'ENOENT');
  for (const i of all) requireAttached(i);
  return all;
}

export interface RuleChange {
  iface: string;
  policy: Policy;
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
  const done: Array<{ maps: FilterMaps; rules: Rule[] }> = [];
  const changes: RuleChange[] = [];
  try {
    for (const maps of targets) {
      const policy = maps.config().policy;
      const added = maps.addAll(rules);
      done.push({ maps, rules: rules.filter((_, i) => added[i]) });
      rules.forEach((rule, i) => changes.push({ iface: maps.iface, policy, rule, changed: added[i]! }));
    }
    return changes;
  } catch (err) {
    for (const { maps, rules: added } of done.reverse()) for (const rule of added) maps.remove(rule);
    throw err;
  }
}

/**
 * Removes rules from every filter. Each group holds alternatives (`port 53` stands for 53/tcp
 * and 53/udp): a group none of whose rules is on any filter is an error, and then nothing
 * changes.
 */
export function removeRules(targets: FilterMaps[], groups: Rule[][]): RuleChange[] {
  const plan: RuleChange[] = [];
  const flat = groups.flat();
  const present = targets.map((maps) => ({ policy: maps.config().policy, has: maps.hasAll(flat) }));
  let at = 0;
  for (const group of groups) {
    let any = false;
    targets.forEach((maps, t) => {
      const { policy, has } = present[t]!;
      group.forEach((rule, i) => {
        const here = has[at + i]!;
        any ||= here;
        // Absent alternatives of a group go unmentioned; an absent single rule is reported.
        if (here || group.length === 1) plan.push({ iface: maps.iface, policy, rule, changed: here });
      });
    });
    at += group.length;
    if (!any) throw new FilterError(`no rule ${group.map(ruleLabel).join(' or ')} on ${targets.map((m) => m.iface).join(', ')}`, 'ENOENT');
  }
  const byIface = new Map(targets.map((m) => [m.iface, m]));
  return plan.map((c) => ({ ...c, changed: c.changed && byIface.get(c.iface)!.remove(c.rule) }));
}

/** Parses the target of block/unblock: an address or CIDR prefix. */
export function parseRuleTarget(text: string | undefined, direction: Direction): Rule {
  if (text === undefined || text === '') throw new InvalidArgumentError('expected an IP address or CIDR prefix');
  return addressRule(text, direction);
}

export function parsePortTarget(port: string | undefined, proto: string | undefined, direction: Direction = 'dst'): Rule[] {
  if (port === undefined) throw new InvalidArgumentError('expected a port number');
  return portRules(port, proto, direction);
}

export function parseMacTarget(text: string | undefined, direction: Direction): Rule {
  if (text === undefined || text === '') throw new InvalidArgumentError('expected a MAC address');
  return macRule(text, direction);
}

/**
 * Reads a rule file for `block`/`unblock`: one address or prefix per line, optionally followed
 * by `dst`; `#` starts a comment. Every line is parsed before anything changes.
 */
export function parseRuleFile(text: string, file: string, direction: Direction): Rule[] {
  const rules: Rule[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const [target, dir, ...rest] = line.split(/\s+/);
    if (rest.length > 0 || (dir !== undefined && dir !== 'dst' && dir !== 'src')) {
      throw new InvalidArgumentError(`${file}:${i + 1}: expected an address or prefix, optionally followed by dst or src; got '${line}'`);
    }
    try {
      rules.push(addressRule(target!, (dir as Direction | undefined) ?? direction));
    } catch (err) {
      throw new InvalidArgumentError(`${file}:${i + 1}: ${(err as Error).message}`);
    }
  });
  if (rules.length === 0) throw new InvalidArgumentError(`${file}: no rules`);
  return rules;
}

/**
 * Why a change would cut off every packet, or this SSH session; undefined when it would not.
 * Under the deny policy adding is the risk; under the allow policy removing is.
 */
export function lockoutRisk(policy: Policy, adding: boolean, rules: Rule[], ssh: SshSession | undefined): string | undefined {
  for (const rule of rules) {
    if (policy === 'deny' && adding && rule.kind === 'addr' && rule.prefix.prefixLen === 0) {
      return `${ruleLabel(rule)} matches every IPv${rule.prefix.family} packet, so all of them would be dropped`;
    }
    if (!ssh || (policy === 'deny') !== adding) continue;
    if (rule.kind === 'addr' && rule.direction === 'src') {
      const peer = ssh.peers.find((p) => prefixCovers(rule.prefix, parsePrefix(p)));
      if (peer !== undefined) return `${ruleLabel(rule)} covers ${peer}, the peer of this SSH session (${ssh.source}), so it would be cut off`;
    }
    if (policy === 'deny' && rule.kind === 'port' && rule.proto === 'tcp' && rule.direction === 'dst' && rule.port === ssh.port) {
      return `${ruleLabel(rule)} is the port of this SSH session (${ssh.source}), so it would be cut off`;
    }
  }
  return undefined;
}

export interface InterfaceStatus {
  name: string;
  /** attached; removed: the device is gone or was recreated; kept: only rules are pinned; run: an unpinned `run` session. */
  state: 'attached' | 'removed' | 'kept' | 'run';
  mode: Mode | 'unknown';
  policy: Policy;
  programId: number;
  /** For run sessions: the processes holding the filter. */
  pids?: number[];
  stats?: Stats;
  rules: Array<{ rule: string; kind: Rule['kind']; direction: 'src' | 'dst'; hits: number }>;
}

export interface Status {
  interfaces: InterfaceStatus[];
  /** Summed over the attached interfaces and run sessions. */
  stats: { total: number; passed: number; dropped: number; invalid: number; bytesDropped: number };
}

const noStats = (): Status['stats'] => ({ total: 0, passed: 0, dropped: 0, invalid: 0, bytesDropped: 0 });

function describe(maps: FilterMaps, state: InterfaceStatus['state'], programId: number): InterfaceStatus {
  const cfg = maps.config();
  const rules = maps.rules().map(({ rule, kind, direction, hits }) => ({ rule, kind, direction, hits }));
  const out: InterfaceStatus = { name: maps.iface, state, mode: cfg.mode ?? 'unknown', policy: cfg.policy, programId, rules };
  if (state !== 'kept') out.stats = maps.stats();
  return out;
}

/** One interface's status from its pins. */
function pinnedStatus(iface: string): InterfaceStatus {
  using maps = FilterMaps.open(iface);
  if (!hasPinnedLink(iface)) return describe(maps, 'kept', 0);
  const l = linkState(iface);
  return describe(maps, l.state, l.programId);
}

/** A run session's status, from the maps its program uses. */
function runStatus(s: RunSession): InterfaceStatus {
  using maps = sessionMaps(s);
  return { ...describe(maps, 'run', s.programId), pids: s.pids };
}

/**
 * The status of every interface with pinned state (or only `only`), and of `run` sessions
 * attached without pins; stats summed over the attached ones.
 */
export function status(only?: string): Status {
  const pinned = pinnedInterfaces();
  const interfaces = pinned.filter((i) => only === undefined || i === only).map(pinnedStatus);
  const pinnedLinks = new Set(pinned.map(pinnedLinkId).filter((id): id is number => id !== undefined));
  for (const s of runSessions(pinnedLinks)) if (only === undefined || s.iface === only) interfaces.push(runStatus(s));
  interfaces.sort((a, b) => a.name.localeCompare(b.name));
  const stats = noStats();
  for (const i of interfaces) {
    if (!i.stats || (i.state !== 'attached' && i.state !== 'run')) continue;
    stats.total += i.stats.total;
    stats.passed += i.stats.passed;
    stats.dropped += i.stats.dropped;
    stats.invalid += i.stats.invalid;
    stats.bytesDropped += i.stats.bytesDropped;
  }
  return { interfaces, stats };
}

export function rulesOf(ifaces: string[]): Array<RuleState & { interface: string }> {
  const out: Array<RuleState & { interface: string }> = [];
  for (const iface of [...ifaces].sort()) {
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

/** `n thing` or `n things`. */
export function plural(n: number, thing: string): string {
  return `${n} ${thing}${n === 1 ? '' : 's'}`;
}

function human(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

export function formatStats(s: Stats & { interface: string }): string {
  const pct = (n: number): string => (s.total ? ` (${((100 * n) / s.total).toFixed(1)}%)` : '');
  const packets = (n: number): string => `${String(n).padStart(12)} ${n === 1 ? 'packet ' : 'packets'}`;
  return [
    `${s.interface}:`,
    `  total    ${packets(s.total)}  ${human(s.bytesTotal)}`,
    `  passed   ${packets(s.passed)}  ${human(s.bytesPassed)}${pct(s.passed)}`,
    `  dropped  ${packets(s.dropped)}  ${human(s.bytesDropped)}${pct(s.dropped)}`,
    `  invalid  ${packets(s.invalid)}`,
  ].join('\n');
}

export interface Rates {
  interface: string;
  /** Seconds the rates are averaged over. */
  seconds: number;
  pps: { total: number; passed: number; dropped: number };
  bps: { total: number; passed: number; dropped: number };
}

/** Packets and bits per second between two samples of one interface. */
export function rates(prev: Stats, cur: Stats & { interface: string }, seconds: number): Rates {
  const per = (a: number, b: number, scale = 1): number => (seconds > 0 ? Math.max(0, ((b - a) * scale) / seconds) : 0);
  return {
    interface: cur.interface,
    seconds,
    pps: { total: per(prev.total, cur.total), passed: per(prev.passed, cur.passed), dropped: per(prev.dropped, cur.dropped) },
    bps: { total: per(prev.bytesTotal, cur.bytesTotal, 8), passed: per(prev.bytesPassed, cur.bytesPassed, 8), dropped: per(prev.bytesDropped, cur.bytesDropped, 8) },
  };
}

function si(n: number, unit: string): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G${unit}`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M${unit}`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)} k${unit}`;
  return `${n.toFixed(0)} ${unit}`;
}

/** One line per interface: the time, then pps and bit rate per verdict, as xdp-tools' poll shows them. */
export function formatRates(time: Date, r: Rates): string {
  const t = time.toTimeString().slice(0, 8);
  const part = (k: 'total' | 'passed' | 'dropped'): string => `${k} ${si(r.pps[k], 'pps').padStart(11)} ${si(r.bps[k], 'bit/s').padStart(13)}`;
  return `${t} ${r.interface}: ${part('total')}  ${part('passed')}  ${part('dropped')}`;
}

export function formatRules(rules: Array<RuleState & { interface: string }>): string {
  if (rules.length === 0) return 'no rules\n';
  const rows = rules.map((r) => `${r.interface.padEnd(16)} ${r.direction.padEnd(4)} ${r.kind.padEnd(5)} ${r.rule.padEnd(44)} ${String(r.hits).padStart(10)} ${human(r.bytes).padStart(10)}`);
  return `${'INTERFACE'.padEnd(16)} ${'DIR'.padEnd(4)} ${'KIND'.padEnd(5)} ${'RULE'.padEnd(44)} ${'HITS'.padStart(10)} ${'BYTES'.padStart(10)}\n${rows.join('\n')}\n`;
}
