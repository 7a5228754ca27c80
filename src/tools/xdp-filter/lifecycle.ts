// Loading and unloading the filter on an interface, with its state pinned in bpffs. Each step
// that changes the system is undone if a later one fails, so a failed command leaves nothing.
import { readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { attachXdp, BPFFS_ROOT, BpfError, BpfMap, type Collection, CollectionSpec, ensureBpffs, Link, removePin, resolveInterface, TsbpfError } from '../../index.js';
import { toolFile } from '../common/assets.js';
import { describeAttached } from './attachment.js';
import type { Rule } from './rules.js';
import { ALL_MAPS, FilterError, FilterMaps, KEPT_MAPS, pinDir, pinExists, PIN_ROOT, type Mode, type Policy } from './state.js';

export const OBJECT_PATH = toolFile('xdp-filter', 'xdp_filter.bpf.o');

/**
 * The ifindex of a network interface of this process's network namespace (asked over netlink:
 * /sys/class/net shows the namespace sysfs was mounted in); a FilterError naming it otherwise.
 */
export function requireInterface(name: string): number {
  if (!/^[^/\s]{1,15}$/.test(name)) throw new FilterError(`unknown interface '${name}'`, 'ENODEV');
  try {
    return resolveInterface(name).ifindex;
  } catch (err) {
    if (err instanceof TsbpfError && (err.code === 'ENOENT' || err.code === 'ENODEV')) throw new FilterError(`unknown interface '${name}'`, 'ENODEV');
    throw err;
  }
}

/** Mounts bpffs at /sys/fs/bpf as root when none is there; throws with how to mount it otherwise. */
export function requireBpffs(): void {
  ensureBpffs(BPFFS_ROOT);
}

/** A filter loaded by this process: its maps, program and link (not yet pinned). */
export interface LoadedFilter {
  iface: string;
  collection: Collection;
  link: Link;
  maps: FilterMaps;
  mode: Mode;
  policy: Policy;
  /** Native mode was asked for by default, the device has none, and generic mode was used. */
  fellBack: boolean;
  /** How many rules kept by an earlier `unload --keep-rules` are in force. */
  keptRules: number;
}

export interface LoadOptions {
  /** Native by default, falling back to generic where the device has no native XDP. */
  mode?: Mode;
  /** The policy of kept rules, else deny. */
  policy?: Policy;
  /** Rules in place before the program is attached (the allow list's guard for an SSH peer). */
  initialRules?: Rule[];
}

/** The policy and rule count of the state kept for `iface` by `unload --keep-rules`, if any. */
export function keptState(iface: string): { policy: Policy; rules: number } | undefined {
  if (!pinExists(join(pinDir(iface), 'src_v4'))) return undefined;
  using maps = FilterMaps.open(iface);
  return { policy: maps.maps.config ? maps.config().policy : 'deny', rules: maps.ruleList().length };
}

function attach(f: { collection: Collection; iface: string }, mode: Mode): Link {
  const program = f.collection.programs.xdp_filter;
  if (!program) throw new FilterError(`${OBJECT_PATH}: program xdp_filter is missing`);
  try {
    return attachXdp({ program, interface: f.iface, mode: mode === 'native' ? 'driver' : 'generic' });
  } catch (err) {
    if (err instanceof BpfError && ((err.code === 'EBUSY' || err.code === 'EEXIST'))) {
      throw new FilterError(`${describeAttached(f.iface)}; stop or detach it first (one XDP program per interface, see docs/xdp-filter.md)`, 'EBUSY');
    }
    throw err;
  }
}

/**
 * Loads the filter and attaches it to `iface`. Rule maps kept pinned by an earlier
 * `unload --keep-rules` are reused, so their rules take effect at once; they must be used with
 * the policy they were written for (a deny list loaded as an allow list would let through only
 * what the user blocked).
 */
export function loadFilter(iface: string, opts: LoadOptions = {}): LoadedFilter {
  const ifindex = requireInterface(iface);
  const kept = keptState(iface);
  if (kept && kept.rules > 0 && opts.policy !== undefined && opts.policy !== kept.policy) {
    throw new FilterError(
      `the ${kept.rules} rule(s) kept for ${iface} were written for the ${kept.policy} policy, so --policy ${opts.policy} would invert them; load with --policy ${kept.policy}, or drop them with \`tsbpf xdp-filter unload ${iface} --forget\``,
      'EINVAL',
    );
  }
  const policy = opts.policy ?? kept?.policy ?? 'deny';
  const keptMaps: Record<string, BpfMap> = {};
  const dir = pinDir(iface);
  let collection: Collection | undefined;
  let filterMaps: FilterMaps | undefined;
  const added: Rule[] = [];
  try {
    for (const name of KEPT_MAPS) {
      if (pinExists(join(dir, name))) keptMaps[name] = BpfMap.openPinned(join(dir, name));
    }
    const spec = CollectionSpec.fromFile(OBJECT_PATH);
    collection = spec.load({ mapReplacements: keptMaps });
    // The filter works on raw keys and values: its own fds on the collection's maps.
    const maps: Record<string, BpfMap> = {};
    for (const name of ALL_MAPS) {
      const m = keptMaps[name] ?? collection.maps[name];
      if (!m) throw new FilterError(`${OBJECT_PATH}: map ${name} is missing`);
      maps[name] = m.withCodecs();
    }
    filterMaps = new FilterMaps(iface, maps);
    let mode = opts.mode ?? 'native';
    filterMaps.setConfig(policy, mode, ifindex);
    const initial = opts.initialRules ?? [];
    const results = filterMaps.addAll(initial);
    added.push(...initial.filter((_, i) => results[i]));
    let link: Link;
    let fellBack = false;
    try {
      link = attach({ collection, iface }, mode);
    } catch (err) {
      // EOPNOTSUPP: Linux gives it the number of ENOTSUP (95), which is the name errnoName uses.
      if (!(err instanceof BpfError && err.code === 'ENOTSUP' && mode === 'native')) throw err;
      if (opts.mode !== undefined) throw new FilterError(`${iface} does not support native XDP; use --mode generic`, 'ENOTSUP');
      mode = 'generic';
      fellBack = true;
      filterMaps.setConfig(policy, mode, ifindex);
      link = attach({ collection, iface }, mode);
    }
    return { iface, collection, link, maps: filterMaps, mode, policy, fellBack, keptRules: kept?.rules ?? 0 };
  } catch (err) {
    // Kept rule maps outlive this load: take back what it added to them.
    for (const rule of added) filterMaps?.remove(rule);
    filterMaps?.close();
    collection?.close();
    throw err;
  } finally {
    for (const m of Object.values(keptMaps)) m.close();
  }
}

/** Pins the maps and the link of a loaded filter; on failure removes what it pinned. */
export function pinFilter(f: LoadedFilter): void {
  requireBpffs();
  const dir = pinDir(f.iface);
  const pinned: string[] = [];
  try {
    for (const [name, m] of Object.entries(f.maps.maps)) {
      const path = join(dir, name);
      if (pinExists(path)) continue;
      m.pin(path);
      pinned.push(path);
    }
    const linkPath = join(dir, 'link');
    f.link.pin(linkPath);
    pinned.push(linkPath);
  } catch (err) {
    for (const p of pinned) removePin(p);
    removeEmptyDirs(f.iface);
    throw err;
  }
}

export interface UnloadOptions {
  /** Keep the rules, their counters and their policy for the next load. */
  keepRules?: boolean;
  /** Also remove rules kept earlier; with no filter loaded, remove only those. */
  forget?: boolean;
}

/**
 * Detaches the filter of an interface and removes its pins (rule state kept on request).
 * Returns whether a filter was detached (false when --forget removed only kept rules).
 */
export function unloadFilter(iface: string, opts: UnloadOptions = {}): boolean {
  requireBpffs();
  const dir = pinDir(iface);
  const linkPath = join(dir, 'link');
  const hasLink = pinExists(linkPath);
  if (!hasLink) {
    if (!pinExists(join(dir, 'src_v4'))) throw new FilterError(`xdp-filter is not loaded on ${iface} (nothing pinned at ${dir})`, 'ENOENT');
    if (!opts.forget) {
      throw new FilterError(`xdp-filter is not loaded on ${iface}, but its rules are kept at ${dir}; \`tsbpf xdp-filter unload ${iface} --forget\` removes them`, 'ENOENT');
    }
  }
  // Another name can map to the same directory (eth0.1 and eth0_1): never remove its filter.
  if (pinExists(join(dir, 'config'))) FilterMaps.open(iface).close();
  if (hasLink) {
    const link = Link.openPinned(linkPath);
    try {
      link.unpin();
      link.detach();
    } finally {
      link.close();
    }
  }
  for (const name of ALL_MAPS) {
    if (opts.keepRules && !opts.forget && KEPT_MAPS.includes(name)) continue;
    removePin(join(dir, name));
  }
  removeEmptyDirs(iface);
  return hasLink;
}

/** Removes the interface's pin directory (and the tool's root) when nothing is left in them. */
export function removeEmptyDirs(iface: string): void {
  for (const d of [pinDir(iface), PIN_ROOT, join(PIN_ROOT, '..')]) {
    try {
      if (pinExists(d) && readdirSync(d).length === 0) rmdirSync(d);
    } catch {
      return;
    }
  }
}
