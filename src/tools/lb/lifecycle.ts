// Loading and unloading the balancer (and the decapsulator of DSR reals) on an interface, with
// the state pinned in bpffs. Each step that changes the system is undone when a later one
// fails, so a failed command leaves nothing behind.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { attachXdp, BpfError, BpfMap, ensureBpffs, Link, removePin, resolveInterface, TsbpfError, type Program } from '../../index.js';
import { toolFile } from '../common/assets.js';
import { Balancer, LB_MAPS, LbError } from './balancer.js';
import { loadLb } from './lb_bpf.js';
import { loadLbDecap } from './lb_decap_bpf.js';
import { DECAP_ROOT, PIN_ROOT, pinDir, pinExists, removeEmptyDirs } from './pins.js';
import { familyCode, formatReal, parseReal, type Real } from './spec.js';
import { decapKeyCodec, type DecapKey } from './lb_decap_bpf.js';

export type AttachMode = 'driver' | 'generic';

export interface LoadOptions {
  /** Driver (native) mode by default, falling back to generic where the device has none. */
  mode?: AttachMode;
  /** The outer source address of DSR packets; the interface's first address by default. */
  src4?: string;
  src6?: string;
}

export interface Loaded {
  iface: string;
  mode: AttachMode;
  fellBack: boolean;
  programId: number;
}

/** The ifindex of an interface of this network namespace; an LbError naming it otherwise. */
export function requireInterface(name: string): number {
  if (!/^[^/\s]{1,15}$/.test(name)) throw new LbError(`unknown interface '${name}'`, 'ENODEV');
  try {
    return resolveInterface(name).ifindex;
  } catch (err) {
    if (err instanceof TsbpfError && (err.code === 'ENOENT' || err.code === 'ENODEV')) throw new LbError(`unknown interface '${name}'`, 'ENODEV');
    throw err;
  }
}

/** The interface's first global address of each family, as `ip` lists them. */
function interfaceAddresses(iface: string): { v4?: string; v6?: string } {
  try {
    const out = JSON.parse(execFileSync('ip', ['-j', 'addr', 'show', 'dev', iface], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as Array<{ addr_info?: Array<{ family: string; local: string; scope: string }> }>;
    const infos = (out[0]?.addr_info ?? []).filter((a) => a.scope === 'global');
    const v4 = infos.find((a) => a.family === 'inet')?.local;
    const v6 = infos.find((a) => a.family === 'inet6')?.local;
    return { ...(v4 ? { v4 } : {}), ...(v6 ? { v6 } : {}) };
  } catch {
    return {};
  }
}

function sourceAddr(text: string | undefined, family: 4 | 6): Real | undefined {
  if (text === undefined) return undefined;
  const r = parseReal(text);
  if (r.family !== family) throw new LbError(`--src${family} ${text} is not an IPv${family} address`, 'EINVAL');
  return r;
}

function attach(program: Program, iface: string, mode: AttachMode): Link {
  try {
    return attachXdp({ program, interface: iface, mode });
  } catch (err) {
    if (err instanceof BpfError && (err.code === 'EBUSY' || err.code === 'EEXIST')) throw new LbError(`another XDP program is attached to ${iface}; detach it first (one XDP program per interface)`, 'EBUSY');
    throw err;
  }
}

/** Attaches in the mode asked for, or driver mode falling back to generic where the device has none. */
function attachWithFallback(program: Program, iface: string, asked: AttachMode | undefined): { link: Link; mode: AttachMode; fellBack: boolean } {
  try {
    return { link: attach(program, iface, asked ?? 'driver'), mode: asked ?? 'driver', fellBack: false };
  } catch (err) {
    // EOPNOTSUPP: Linux gives it the number of ENOTSUP, the name errnoName uses.
    if (!(err instanceof BpfError && err.code === 'ENOTSUP') || asked !== undefined) {
      if (err instanceof BpfError && err.code === 'ENOTSUP') throw new LbError(`${iface} has no driver-mode XDP; use --mode generic`, 'ENOTSUP');
      throw err;
    }
    return { link: attach(program, iface, 'generic'), mode: 'generic', fellBack: true };
  }
}

/** Creates a pin directory, after making sure a bpffs is mounted under it (root mounts one). */
function makeDir(dir: string): void {
  ensureBpffs(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Whether the balancer is loaded on `iface` (its link is pinned). */
export function isLoaded(iface: string, root?: string): boolean {
  return pinExists(join(pinDir(iface, root), 'link'));
}

/**
 * Loads the balancer, pins its maps and link under /sys/fs/bpf/tsbpf/lb/<iface>/ and attaches
 * it to `iface`. Packets to no VIP pass, so an empty balancer changes nothing.
 */
export async function loadBalancer(iface: string, opts: LoadOptions = {}): Promise<Loaded> {
  const ifindex = requireInterface(iface);
  const dir = pinDir(iface);
  if (isLoaded(iface)) throw new LbError(`lb is already loaded on ${iface}; unload it first`, 'EEXIST');
  if (pinExists(join(dir, 'vips'))) throw new LbError(`${dir} holds state of an earlier balancer; \`tsbpf lb unload ${iface}\` removes it`, 'EEXIST');
  const found = interfaceAddresses(iface);
  const src4 = sourceAddr(opts.src4 ?? found.v4, 4);
  const src6 = sourceAddr(opts.src6 ?? found.v6, 6);
  makeDir(dir);
  let lb: Awaited<ReturnType<typeof loadLb>> | undefined;
  let link: Link | undefined;
  try {
    lb = await loadLb({ pinPath: dir, object: toolFile('lb', 'lb.bpf.o') });
    const settings = {
      ifindex,
      flags: 0,
      src4: src4 ? new DataView(src4.addr.buffer, src4.addr.byteOffset).getUint32(0, false) : 0,
      pad: 0,
      src6: src6?.addr ?? new Uint8Array(16),
      ifname: iface,
    };
    lb.maps.settings.map.update(0, settings);
    const attached = attachWithFallback(lb.programs.lb_xdp.program, iface, opts.mode);
    link = attached.link;
    link.pin(join(dir, 'link'));
    const programId = lb.programs.lb_xdp.program.id;
    return { iface, mode: attached.mode, fellBack: attached.fellBack, programId };
  } catch (err) {
    for (const name of LB_MAPS) removePin(join(dir, name));
    removeEmptyDirs(dir);
    throw err;
  } finally {
    link?.close();
    lb?.close();
  }
}

/** Detaches the balancer of `iface` and removes all its pins. */
export function unloadBalancer(iface: string): void {
  const dir = pinDir(iface);
  if (!pinExists(join(dir, 'vips')) && !pinExists(join(dir, 'link'))) throw new LbError(`lb is not loaded on ${iface} (nothing pinned at ${dir})`, 'ENOENT');
  detachPinned(join(dir, 'link'));
  for (const name of LB_MAPS) removePin(join(dir, name));
  removeEmptyDirs(dir);
}

function detachPinned(path: string): void {
  if (!pinExists(path)) return;
  const link = Link.openPinned(path);
  try {
    link.unpin();
    link.detach();
  } finally {
    link.close();
  }
}

/** Opens the balancer of `iface`, or of the only interface with one when none is named. */
export function openBalancer(iface: string | undefined): Balancer {
  return Balancer.open(iface ?? onlyInterface());
}

function onlyInterface(): string {
  const loaded = loadedInterfaces();
  if (loaded.length === 1) return loaded[0]!;
  if (loaded.length === 0) throw new LbError('lb is not loaded on any interface; run `tsbpf lb load IFACE`', 'ENOENT');
  throw new LbError(`lb is loaded on ${loaded.join(', ')}; name one with --iface`, 'EINVAL');
}

/** Interfaces with a balancer pinned, by the names their settings record. */
export function loadedInterfaces(): string[] {
  const out: string[] = [];
  for (const d of pinnedDirs()) {
    try {
      using b = Balancer.openDir(d);
      out.push(b.settings()?.ifname ?? d);
    } catch {
      // Half removed, or not ours.
    }
  }
  return out.sort();
}

function pinnedDirs(): string[] {
  try {
    return readdirSync(PIN_ROOT).filter((d) => pinExists(join(PIN_ROOT, d, 'vips')));
  } catch {
    return [];
  }
}

// --- decapsulation on DSR reals ---------------------------------------------------------------

export function isDecapLoaded(iface: string): boolean {
  return pinExists(join(pinDir(iface, DECAP_ROOT), 'link'));
}

/**
 * Loads the decapsulator on a real server's interface for `vips` (their addresses): IP-in-IP
 * packets whose inner destination is one of them lose their outer header before the kernel
 * sees them. Loading again on a loaded interface adds the VIPs.
 */
export async function loadDecap(iface: string, vips: readonly string[], opts: { mode?: AttachMode } = {}): Promise<{ mode: AttachMode; added: string[] }> {
  requireInterface(iface);
  const keys = vips.map((v) => decapKey(parseReal(v)));
  const dir = pinDir(iface, DECAP_ROOT);
  if (isDecapLoaded(iface)) {
    using m = BpfMap.openPinned<DecapKey, Uint8Array>(join(dir, 'decap_vips'), { key: decapKeyCodec });
    for (const k of keys) m.update(k, new Uint8Array(4));
    return { mode: opts.mode ?? 'driver', added: vips.map((v) => formatReal(parseReal(v))) };
  }
  makeDir(dir);
  let d: Awaited<ReturnType<typeof loadLbDecap>> | undefined;
  let link: Link | undefined;
  try {
    d = await loadLbDecap({ pinPath: dir, object: toolFile('lb', 'lb_decap.bpf.o') });
    for (const k of keys) d.maps.decap_vips.map.update(k, 0);
    const attached = attachWithFallback(d.programs.lb_decap.program, iface, opts.mode);
    link = attached.link;
    link.pin(join(dir, 'link'));
    return { mode: attached.mode, added: vips.map((v) => formatReal(parseReal(v))) };
  } catch (err) {
    for (const name of DECAP_MAPS) removePin(join(dir, name));
    removeEmptyDirs(dir);
    throw err;
  } finally {
    link?.close();
    d?.close();
  }
}

const DECAP_MAPS = ['decap_vips', 'decap_stats'];

function decapKey(r: Real): DecapKey {
  return { addr: r.addr, family: familyCode(r.family), pad: new Uint8Array(3) };
}

export function unloadDecap(iface: string): void {
  const dir = pinDir(iface, DECAP_ROOT);
  if (!pinExists(dir)) throw new LbError(`lb decap is not loaded on ${iface} (nothing pinned at ${dir})`, 'ENOENT');
  detachPinned(join(dir, 'link'));
  for (const name of DECAP_MAPS) removePin(join(dir, name));
  removeEmptyDirs(dir);
}
