// Whether a filter is really attached, and who holds the XDP programs it cannot coexist with. A
// pinned link outlives its device: when an interface is deleted the kernel detaches the link
// (its ifindex reads 0) but the pin stays, and a new interface of that name has no filter.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { BpfError, BpfMap, interfaceName, Link, Program, resolveInterface } from '../../index.js';
import { xdpState } from '../../link/index.js';
import { ALL_MAPS, FilterError, FilterMaps, permissionDenied, pinDir } from './state.js';

/** attached: on the interface of that name now; removed: its device is gone or was recreated. */
export type LinkState = { state: 'attached'; programId: number; ifindex: number } | { state: 'removed'; programId: number };

function currentIfindex(iface: string): number | undefined {
  try {
    return resolveInterface(iface).ifindex;
  } catch {
    return undefined;
  }
}

/** The state of the link pinned for `iface` (which must have one). */
export function linkState(iface: string): LinkState {
  using link = Link.openPinned(join(pinDir(iface), 'link'));
  const info = link.info();
  const ifindex = info.details.kind === 'xdp' ? info.details.ifindex : 0;
  if (ifindex !== 0 && ifindex === currentIfindex(iface)) return { state: 'attached', programId: info.progId, ifindex };
  return { state: 'removed', programId: info.progId };
}

export function removedError(iface: string): FilterError {
  return new FilterError(`${iface} was removed, so its filter is no longer attached; run \`tsbpf xdp-filter unload ${iface}\` (add --keep-rules to keep its rules for a new load)`, 'ENODEV');
}

/** Throws when the filter pinned for `iface` lost its device. */
export function requireAttached(iface: string): void {
  if (linkState(iface).state === 'removed') throw removedError(iface);
}

/** The pids with an open fd to the bpf object `kind` ('link' or 'prog') of that id, and their commands. */
export function holders(kind: 'link' | 'prog', id: number): Array<{ pid: number; command: string }> {
  const field = kind === 'link' ? 'link_id' : 'prog_id';
  const inode = kind === 'link' ? 'anon_inode:bpf_link' : 'anon_inode:bpf-prog';
  const out: Array<{ pid: number; command: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    const holds = fds.some((fd) => {
      try {
        if (readlinkSync(`/proc/${entry}/fd/${fd}`) !== inode) return false;
        return new RegExp(`^${field}:\\s*${id}$`, 'm').test(readFileSync(`/proc/${entry}/fdinfo/${fd}`, 'utf8'));
      } catch {
        return false;
      }
    });
    if (holds) out.push({ pid: Number(entry), command: commandOf(Number(entry)) });
  }
  return out;
}

function commandOf(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    // `node .../tsbpf.cjs xdp-filter run ux2` reads better as `tsbpf xdp-filter run ux2`.
    const i = argv.findIndex((a) => /(^|\/)(tsbpf(\.c?js)?|entry\.ts)$/.test(a));
    return i >= 0 ? ['tsbpf', ...argv.slice(i + 1)].join(' ') : argv.join(' ');
  } catch {
    return '?';
  }
}

function programName(id: number): string | undefined {
  try {
    using p = Program.fromId(id);
    return p.name;
  } catch {
    return undefined;
  }
}

/** Who holds the XDP program on an interface, for the message when attaching finds it busy. */
export function describeAttached(iface: string): string {
  let progId = 0;
  try {
    progId = xdpState(iface).progId;
  } catch {
    return `another XDP program is attached to ${iface}`;
  }
  if (progId === 0) return `another XDP program is attached to ${iface}`;
  const name = programName(progId);
  const pids = holders('prog', progId);
  const by = pids.length ? `, held by ${pids.map((h) => `pid ${h.pid} (${h.command})`).join(', ')}` : '';
  return `another XDP program is attached to ${iface} (${name ?? 'unnamed'}, prog id ${progId}${by})`;
}

export interface RunSession {
  /** The interface, or its ifindex when it has no name in this namespace. */
  iface: string;
  programId: number;
  pids: number[];
}

/** The maps of a filter that is not pinned, found through its program's map ids; the caller closes them. */
export function sessionMaps(s: RunSession): FilterMaps {
  const maps: Record<string, BpfMap<Uint8Array, Uint8Array>> = {};
  try {
    using program = Program.fromId(s.programId);
    for (const id of program.info().mapIds) {
      const m = BpfMap.fromId(id);
      if (ALL_MAPS.includes(m.name) && !maps[m.name]) maps[m.name] = m;
      else m.close();
    }
    return new FilterMaps(s.iface, maps);
  } catch (err) {
    for (const m of Object.values(maps)) m.close();
    throw err;
  }
}

/**
 * Filters attached by `xdp-filter run` without --pin: XDP links to a program named xdp_filter
 * that no pin of this tool holds and a process does.
 */
export function runSessions(pinnedLinkIds: ReadonlySet<number>): RunSession[] {
  const out: RunSession[] = [];
  let ids: number[];
  try {
    ids = Link.ids();
  } catch (err) {
    if (err instanceof BpfError && (err.code === 'EPERM' || err.code === 'EACCES')) throw permissionDenied();
    throw err;
  }
  for (const id of ids) {
    if (pinnedLinkIds.has(id)) continue;
    try {
      using link = Link.fromId(id);
      const info = link.info();
      if (info.details.kind !== 'xdp' || info.details.ifindex === 0) continue;
      if (programName(info.progId) !== 'xdp_filter') continue;
      const pids = holders('link', id).map((h) => h.pid).filter((p) => p !== process.pid);
      // Held by no process: pinned, in a bpffs of another mount namespace.
      if (pids.length === 0) continue;
      out.push({ iface: interfaceName(info.details.ifindex) ?? String(info.details.ifindex), programId: info.progId, pids });
    } catch {
      // Gone since listed.
    }
  }
  return out;
}

/** The id of the link pinned for `iface`. */
export function pinnedLinkId(iface: string): number | undefined {
  try {
    using link = Link.openPinned(join(pinDir(iface), 'link'));
    return link.info().id;
  } catch {
    return undefined;
  }
}
