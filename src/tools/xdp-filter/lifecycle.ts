// Loading and unloading the filter on an interface, with its state pinned in bpffs. Each step
// that changes the system is undone if a later one fails, so a failed command leaves nothing.
import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Collection } from '../../collection.js';
import { CollectionSpec } from '../../object/spec.js';
import { Link } from '../../link/link.js';
import { resolveInterface } from '../../link/interfaces.js';
import { attachXdp } from '../../link/xdp.js';
import { TsbpfError } from '../../errors.js';
import { Map } from '../../map.js';
import { BPFFS_ROOT, ensureBpffs, removePin } from '../../map/bpffs.js';
import { packageRoot } from '../../sys/native.js';
import type { Rule } from './rules.js';
import { ALL_MAPS, FilterError, FilterMaps, pinDir, PIN_ROOT, RULE_STATE_MAPS, type Mode, type Policy } from './state.js';

export const OBJECT_PATH = join(packageRoot(), 'src', 'tools', 'xdp-filter', 'xdp_filter.bpf.o');

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
}

export interface LoadOptions {
  mode?: Mode;
  policy?: Policy;
  /** Rules in place before the program is attached (the allow list's guard for an SSH peer). */
  initialRules?: Rule[];
}

/**
 * Loads the filter and attaches it to `iface`. Rule maps kept pinned by an earlier
 * `unload --keep-rules` are reused, so their rules take effect at once.
 */
export function loadFilter(iface: string, opts: LoadOptions = {}): LoadedFilter {
  requireInterface(iface);
  const mode = opts.mode ?? 'native';
  const policy = opts.policy ?? 'deny';
  const kept: Record<string, Map> = {};
  const dir = pinDir(iface);
  let collection: Collection | undefined;
  let filterMaps: FilterMaps | undefined;
  const added: Rule[] = [];
  try {
    for (const name of RULE_STATE_MAPS) {
      if (existsSync(join(dir, name))) kept[name] = Map.openPinned(join(dir, name));
    }
    const spec = CollectionSpec.fromFile(OBJECT_PATH);
    collection = spec.load({ mapReplacements: kept });
    // The filter works on raw keys and values: its own fds on the collection's maps.
    const maps: Record<string, Map> = {};
    for (const name of ALL_MAPS) {
      const m = kept[name] ?? collection.maps[name];
      if (!m) throw new FilterError(`${OBJECT_PATH}: map ${name} is missing`);
      maps[name] = m.withCodecs();
    }
    filterMaps = new FilterMaps(iface, maps);
    filterMaps.setConfig(policy, mode);
    for (const rule of opts.initialRules ?? []) if (filterMaps.add(rule)) added.push(rule);
    const program = collection.programs.xdp_filter;
    if (!program) throw new FilterError(`${OBJECT_PATH}: program xdp_filter is missing`);
    const link = attachXdp({ program, interface: iface, mode: mode === 'native' ? 'driver' : 'generic' });
    return { iface, collection, link, maps: filterMaps };
  } catch (err) {
    // Kept rule maps outlive this load: take back what it added to them.
    for (const rule of added) filterMaps?.remove(rule);
    filterMaps?.close();
    collection?.close();
    throw err;
  } finally {
    for (const m of Object.values(kept)) m.close();
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
      if (existsSync(path)) continue;
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

/** Detaches the filter of an interface and removes its pins (rule state kept on request). */
export function unloadFilter(iface: string, keepRules = false): void {
  requireBpffs();
  const dir = pinDir(iface);
  const linkPath = join(dir, 'link');
  if (!existsSync(linkPath)) {
    throw new FilterError(`xdp-filter is not loaded on ${iface} (no link pinned at ${linkPath})`, 'ENOENT');
  }
  const link = Link.openPinned(linkPath);
  try {
    link.unpin();
    link.detach();
  } finally {
    link.close();
  }
  for (const name of ALL_MAPS) {
    if (keepRules && RULE_STATE_MAPS.includes(name)) continue;
    removePin(join(dir, name));
  }
  removeEmptyDirs(iface);
}

/** Removes the interface's pin directory (and the tool's root) when nothing is left in them. */
export function removeEmptyDirs(iface: string): void {
  for (const d of [pinDir(iface), PIN_ROOT, join(PIN_ROOT, '..')]) {
    try {
      if (existsSync(d) && readdirSync(d).length === 0) rmdirSync(d);
    } catch {
      return;
    }
  }
}
