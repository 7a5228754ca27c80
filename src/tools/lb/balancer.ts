// The balancer's control side over its pinned maps: VIPs, reals, weights, health, Maglev
// tables, counters. Every change checks its input first and writes the datapath's maps last,
// so bad input changes nothing; a table is rewritten in place while traffic flows (each entry
// is one 4-byte word the datapath reads whole) and established flows keep their real through
// the connection table.
import { join } from 'node:path';
import { BpfMap, possibleCpus, TsbpfError } from '../../index.js';
import { codec } from '../../codegen/runtime.js';
import { maglevTable, checkRingSize, DEFAULT_RING_SIZE } from './maglev.js';
import {
  connCodec,
  flowKeyCodec,
  lbCounterCodec,
  lbSettingsCodec,
  memberCodec,
  memberKeyCodec,
  realInfoCodec,
  vipInfoCodec,
  vipKeyCodec,
  vipMetaCodec,
  type Conn,
  type FlowKey,
  type LbCounter,
  type LbSettings,
  type Member,
  type MemberKey,
  type RealInfo,
  type VipInfo,
  type VipKey,
  type VipMeta,
} from './lb_bpf.js';
import { familyCode, familyOf, formatReal, formatVip, PROTOCOLS, protocolOf, type Real, type Vip } from './spec.js';
import { PIN_ROOT, pinDir, pinExists } from './pins.js';

export const MAX_VIPS = 64;
export const MAX_REALS = 4096;
/** Where VIP n's table starts in the ring map. */
export const RING_STRIDE = 65537;
const VIP_DSR = 1;
const VIP_HASH_3TUPLE = 2;
const MEMBER_DOWN = 1;
const REAL_USED = 1;
const DIR_FORWARD = 0;

export type ForwardMode = 'nat' | 'dsr';
export type HashMode = '5tuple' | '3tuple';

export interface HealthCheck {
  kind: 'tcp' | 'http';
  /** The URL path of an http check. */
  path?: string;
  /** The port to check; the VIP's port by default. */
  port?: number;
  intervalMs: number;
  timeoutMs: number;
  /** Successes in a row that bring a down real back. */
  rise: number;
  /** Failures in a row that take a real out. */
  fall: number;
}

export interface VipOptions {
  mode?: ForwardMode;
  hash?: HashMode;
  ringSize?: number;
  check?: HealthCheck;
}

export interface RealState {
  address: string;
  weight: number;
  up: boolean;
  /** The share of the VIP's table this real owns. */
  share: number;
  stats: Counters;
}

export interface VipState {
  vip: string;
  id: number;
  mode: ForwardMode;
  hash: HashMode;
  ringSize: number;
  check: HealthCheck | undefined;
  reals: RealState[];
  stats: Counters;
}

export interface Counters {
  packets: number;
  bytes: number;
  newConnections: number;
  lruMisses: number;
  replyPackets: number;
  replyBytes: number;
  dropped: number;
  passedToKernel: number;
}

export class LbError extends TsbpfError {
  constructor(message: string, code = 'ELB') {
    super(code, message);
  }
}

/** Array indexes and the table's real ids: host-order 32-bit words. */
const u32Codec = codec<number>(4, (v, o) => v.getUint32(o, true), (v, o, x) => v.setUint32(o, x, true));

const MAP_NAMES = ['vips', 'reals', 'ring', 'conns', 'vip_stats', 'real_stats', 'settings', 'vip_meta', 'members'] as const;
export const LB_MAPS: readonly string[] = MAP_NAMES;

function vipKey(v: Vip): VipKey {
  return { addr: v.addr, port: v.port, proto: PROTOCOLS[v.proto], family: familyCode(v.family) };
}

function vipOfKey(k: VipKey): Vip {
  return { family: familyOf(k.family), addr: k.addr, port: k.port, proto: protocolOf(k.proto) };
}

function sumCounters(values: readonly LbCounter[] | undefined): Counters {
  const c = { packets: 0n, bytes: 0n, new_conns: 0n, lru_misses: 0n, reply_packets: 0n, reply_bytes: 0n, dropped: 0n, fib_passed: 0n };
  for (const v of values ?? []) for (const k of Object.keys(c) as (keyof typeof c)[]) c[k] += v[k];
  return {
    packets: Number(c.packets),
    bytes: Number(c.bytes),
    newConnections: Number(c.new_conns),
    lruMisses: Number(c.lru_misses),
    replyPackets: Number(c.reply_packets),
    replyBytes: Number(c.reply_bytes),
    dropped: Number(c.dropped),
    passedToKernel: Number(c.fib_passed),
  };
}

const ZERO_COUNTER: LbCounter = { packets: 0n, bytes: 0n, new_conns: 0n, lru_misses: 0n, reply_packets: 0n, reply_bytes: 0n, dropped: 0n, fib_passed: 0n };

function checkOfMeta(m: VipMeta): HealthCheck | undefined {
  if (m.check === 0) return undefined;
  return {
    kind: m.check === 2 ? 'http' : 'tcp',
    ...(m.check === 2 ? { path: m.path } : {}),
    ...(m.check_port ? { port: m.check_port } : {}),
    intervalMs: m.interval_ms,
    timeoutMs: m.timeout_ms,
    rise: m.rise,
    fall: m.fall,
  };
}

/**
 * The maps of one balancer, opened from their pins. Closing it closes the fds, not the pins.
 */
export class Balancer implements Disposable {
  readonly iface: string;
  readonly #vips: BpfMap<VipKey, VipInfo>;
  readonly #reals: BpfMap<number, RealInfo>;
  readonly #ring: BpfMap<number, number>;
  readonly #conns: BpfMap<FlowKey, Conn>;
  readonly #vipStats: BpfMap<number, LbCounter[]>;
  readonly #realStats: BpfMap<number, LbCounter[]>;
  readonly #settings: BpfMap<number, LbSettings>;
  readonly #meta: BpfMap<number, VipMeta>;
  readonly #members: BpfMap<MemberKey, Member>;
  readonly #all: BpfMap<unknown, unknown>[];

  private constructor(iface: string, dir: string) {
    this.iface = iface;
    const all: BpfMap<unknown, unknown>[] = [];
    const open = <K, V>(name: string, key: unknown, value: unknown): BpfMap<K, V> => {
      const m = BpfMap.openPinned<K, V>(join(dir, name), { key, value } as never);
      all.push(m as BpfMap<unknown, unknown>);
      return m;
    };
    try {
      this.#vips = open('vips', vipKeyCodec, vipInfoCodec);
      this.#reals = open('reals', u32Codec, realInfoCodec);
      this.#ring = open('ring', u32Codec, u32Codec);
      this.#conns = open('conns', flowKeyCodec, connCodec);
      this.#vipStats = open('vip_stats', u32Codec, lbCounterCodec);
      this.#realStats = open('real_stats', u32Codec, lbCounterCodec);
      this.#settings = open('settings', u32Codec, lbSettingsCodec);
      this.#meta = open('vip_meta', u32Codec, vipMetaCodec);
      this.#members = open('members', memberKeyCodec, memberCodec);
    } catch (err) {
      for (const m of all) m.close();
      throw err;
    }
    this.#all = all;
  }

  /** Opens the balancer pinned for `iface`; an LbError when none is loaded there. */
  static open(iface: string): Balancer {
    const dir = pinDir(iface);
    if (!pinExists(join(dir, 'vips'))) throw new LbError(`lb is not loaded on ${iface} (nothing pinned at ${dir}); run \`tsbpf lb load ${iface}\``, 'ENOENT');
    return new Balancer(iface, dir);
  }

  /** Opens the balancer pinned in the directory `name` under the tool's root. */
  static openDir(name: string): Balancer {
    return new Balancer(name, join(PIN_ROOT, name));
  }

  settings(): LbSettings | undefined {
    return this.#settings.lookup(0);
  }

  writeSettings(s: LbSettings): void {
    this.#settings.update(0, s);
  }

  #entries(): Array<{ vip: Vip; info: VipInfo }> {
    const out: Array<{ vip: Vip; info: VipInfo }> = [];
    for (const [k, info] of this.#vips) out.push({ vip: vipOfKey(k), info });
    return out.sort((a, b) => a.info.id - b.info.id);
  }

  #find(vip: Vip): VipInfo {
    const info = this.#vips.lookup(vipKey(vip));
    if (!info) throw new LbError(`no VIP ${formatVip(vip)} on ${this.iface}`, 'ENOENT');
    return info;
  }

  #realIds(): Map<string, number> {
    const ids = new Map<string, number>();
    for (let id = 1; id < MAX_REALS; id++) {
      const r = this.#reals.lookup(id);
      if (r && r.flags & REAL_USED) ids.set(formatReal({ family: familyOf(r.family), addr: r.addr }), id);
    }
    return ids;
  }

  #realOf(id: number): Real | undefined {
    const r = this.#reals.lookup(id);
    return r && r.flags & REAL_USED ? { family: familyOf(r.family), addr: r.addr } : undefined;
  }

  #membersOf(vipId: number): Array<{ realId: number; member: Member }> {
    const out: Array<{ realId: number; member: Member }> = [];
    for (const [k, m] of this.#members) if (k.vip_id === vipId) out.push({ realId: k.real_id, member: m });
    return out;
  }

  /** Writes the VIP's whole Maglev table from its reals that are up. */
  #writeRing(info: VipInfo): Int32Array {
    const live = this.#membersOf(info.id).filter((m) => !(m.member.flags & MEMBER_DOWN) && m.member.weight > 0);
    const backends = live.map((m) => ({ name: formatReal(this.#realOf(m.realId)!), weight: m.member.weight }));
    const table = maglevTable(backends, info.ring_size);
    const keys = new Array<number>(info.ring_size);
    const values = new Array<number>(info.ring_size);
    for (let slot = 0; slot < info.ring_size; slot++) {
      keys[slot] = info.id * RING_STRIDE + slot;
      values[slot] = table[slot]! < 0 ? 0 : live[table[slot]!]!.realId;
    }
    this.#ring.updateBatch(keys, values);
    return table;
  }

  /** Forgets the established flows of one real of a VIP (or all of the VIP's), so they are hashed again. */
  #purgeFlows(vipId: number, realId?: number): number {
    const doomed: FlowKey[] = [];
    for (const chunk of this.#conns.lookupBatch()) {
      for (let i = 0; i < chunk.count; i++) {
        const v = chunk.value(i);
        if (v.vip_id === vipId && (realId === undefined || v.real_id === realId)) doomed.push({ ...chunk.key(i), src: chunk.key(i).src.slice(), dst: chunk.key(i).dst.slice() });
      }
    }
    for (const k of doomed) this.#conns.delete(k);
    return doomed.length;
  }

  #zeroStats(map: BpfMap<number, LbCounter[]>, id: number): void {
    map.update(id, Array.from({ length: possibleCpus() }, () => ZERO_COUNTER));
  }

  addVip(vip: Vip, opts: VipOptions = {}): VipState {
    const ringSize = checkRingSize(opts.ringSize ?? DEFAULT_RING_SIZE);
    if (opts.check?.kind === 'http' && (opts.check.path ?? '/').length > 63) throw new LbError('health check path is longer than 63 bytes', 'EINVAL');
    if (this.#vips.lookup(vipKey(vip))) throw new LbError(`VIP ${formatVip(vip)} already exists on ${this.iface}`, 'EEXIST');
    const used = new Set(this.#entries().map((e) => e.info.id));
    let id = 0;
    while (used.has(id)) id++;
    if (id >= MAX_VIPS) throw new LbError(`all ${MAX_VIPS} VIP slots are in use on ${this.iface}`, 'ENOSPC');
    const info: VipInfo = { id, flags: (opts.mode === 'dsr' ? VIP_DSR : 0) | (opts.hash === '3tuple' ? VIP_HASH_3TUPLE : 0), ring_size: ringSize, pad: 0 };
    const c = opts.check;
    this.#meta.update(id, {
      key: vipKey(vip),
      check: c === undefined ? 0 : c.kind === 'http' ? 2 : 1,
      rise: c?.rise ?? 0,
      fall: c?.fall ?? 0,
      used: 1,
      interval_ms: c?.intervalMs ?? 0,
      timeout_ms: c?.timeoutMs ?? 0,
      check_port: c?.port ?? 0,
      pad: 0,
      path: c?.kind === 'http' ? (c.path ?? '/') : '',
    });
    this.#zeroStats(this.#vipStats, id);
    // An empty table: packets to the VIP are dropped until it has a real.
    this.#writeRing(info);
    this.#vips.update(vipKey(vip), info);
    return this.vip(vip);
  }

  delVip(vip: Vip): void {
    const info = this.#find(vip);
    // The datapath stops matching first; then its flows, table and reals go.
    this.#vips.delete(vipKey(vip));
    const members = this.#membersOf(info.id);
    for (const m of members) this.#members.delete({ vip_id: info.id, real_id: m.realId });
    this.#writeRing(info);
    this.#purgeFlows(info.id);
    this.#meta.update(info.id, { key: vipKey(vip), check: 0, rise: 0, fall: 0, used: 0, interval_ms: 0, timeout_ms: 0, check_port: 0, pad: 0, path: '' });
    for (const m of members) this.#releaseReal(m.realId);
  }

  /** Frees a real's slot when no VIP uses it any more. */
  #releaseReal(realId: number): void {
    for (const [k] of this.#members) if (k.real_id === realId) return;
    this.#reals.update(realId, { addr: new Uint8Array(16), family: 0, pad: new Uint8Array(3), flags: 0 });
  }

  #realId(real: Real, create: boolean): number | undefined {
    const ids = this.#realIds();
    const existing = ids.get(formatReal(real));
    if (existing !== undefined || !create) return existing;
    const taken = new Set(ids.values());
    for (let id = 1; id < MAX_REALS; id++) {
      if (taken.has(id)) continue;
      this.#zeroStats(this.#realStats, id);
      this.#reals.update(id, { addr: real.addr, family: familyCode(real.family), pad: new Uint8Array(3), flags: REAL_USED });
      return id;
    }
    throw new LbError(`all ${MAX_REALS - 1} real slots are in use on ${this.iface}`, 'ENOSPC');
  }

  addReal(vip: Vip, real: Real, weight = 1): void {
    const info = this.#find(vip);
    if (real.family !== vip.family) throw new LbError(`real ${formatReal(real)} is IPv${real.family} but VIP ${formatVip(vip)} is IPv${vip.family}`, 'EINVAL');
    const known = this.#realId(real, false);
    if (known !== undefined && this.#members.lookup({ vip_id: info.id, real_id: known })) throw new LbError(`real ${formatReal(real)} is already in VIP ${formatVip(vip)}`, 'EEXIST');
    const id = this.#realId(real, true)!;
    this.#members.update({ vip_id: info.id, real_id: id }, { weight, flags: 0 });
    this.#writeRing(info);
  }

  delReal(vip: Vip, real: Real): number {
    const info = this.#find(vip);
    const id = this.#memberId(info, vip, real);
    this.#members.delete({ vip_id: info.id, real_id: id });
    this.#writeRing(info);
    const moved = this.#purgeFlows(info.id, id);
    this.#releaseReal(id);
    return moved;
  }

  #memberId(info: VipInfo, vip: Vip, real: Real): number {
    const id = this.#realId(real, false);
    if (id === undefined || !this.#members.lookup({ vip_id: info.id, real_id: id })) throw new LbError(`real ${formatReal(real)} is not in VIP ${formatVip(vip)}`, 'ENOENT');
    return id;
  }

  setWeight(vip: Vip, real: Real, weight: number): void {
    const info = this.#find(vip);
    const id = this.#memberId(info, vip, real);
    const m = this.#members.lookup({ vip_id: info.id, real_id: id })!;
    this.#members.update({ vip_id: info.id, real_id: id }, { ...m, weight });
    this.#writeRing(info);
  }

  /** Marks a real up or down (the health checker's verdict); a down real leaves the table and its flows are hashed again. Returns whether it changed. */
  setHealth(vip: Vip, real: Real, up: boolean): boolean {
    const info = this.#find(vip);
    const id = this.#memberId(info, vip, real);
    const m = this.#members.lookup({ vip_id: info.id, real_id: id })!;
    const flags = up ? m.flags & ~MEMBER_DOWN : m.flags | MEMBER_DOWN;
    if (flags === m.flags) return false;
    this.#members.update({ vip_id: info.id, real_id: id }, { ...m, flags });
    this.#writeRing(info);
    if (!up) this.#purgeFlows(info.id, id);
    return true;
  }

  /** Forgets every established flow of a VIP: each is hashed again on its next packet. */
  forgetFlows(vip: Vip): number {
    return this.#purgeFlows(this.#find(vip).id);
  }

  vip(vip: Vip): VipState {
    return this.#state(vip, this.#find(vip));
  }

  #state(vip: Vip, info: VipInfo): VipState {
    const meta = this.#meta.lookup(info.id);
    const members = this.#membersOf(info.id);
    const live = members.filter((m) => !(m.member.flags & MEMBER_DOWN));
    const totalWeight = live.reduce((s, m) => s + m.member.weight, 0);
    const reals = members
      .map((m) => {
        const real = this.#realOf(m.realId)!;
        const up = !(m.member.flags & MEMBER_DOWN);
        return { address: formatReal(real), weight: m.member.weight, up, share: up && totalWeight > 0 ? m.member.weight / totalWeight : 0, stats: sumCounters(this.#realStats.lookup(m.realId)) };
      })
      .sort((a, b) => (a.address < b.address ? -1 : 1));
    return {
      vip: formatVip(vip),
      id: info.id,
      mode: info.flags & VIP_DSR ? 'dsr' : 'nat',
      hash: info.flags & VIP_HASH_3TUPLE ? '3tuple' : '5tuple',
      ringSize: info.ring_size,
      check: meta ? checkOfMeta(meta) : undefined,
      reals,
      stats: sumCounters(this.#vipStats.lookup(info.id)),
    };
  }

  /** Every VIP with its reals and counters, in the order they were added. */
  vips(): VipState[] {
    return this.#entries().map((e) => this.#state(e.vip, e.info));
  }

  /** The VIPs as parsed values, for the health checker and the config diff. */
  vipList(): Vip[] {
    return this.#entries().map((e) => e.vip);
  }

  /** How many flows the connection table holds (both directions of NAT flows). */
  connections(): { forward: number; reverse: number } {
    let forward = 0;
    let reverse = 0;
    for (const chunk of this.#conns.lookupBatch()) {
      for (let i = 0; i < chunk.count; i++) {
        if (chunk.key(i).dir === DIR_FORWARD) forward++;
        else reverse++;
      }
    }
    return { forward, reverse };
  }

  /** The forward flows of a VIP, each with its real, for tests and `status --flows`. */
  flows(vip: Vip): Array<{ client: string; clientPort: number; real: string }> {
    const info = this.#find(vip);
    const out: Array<{ client: string; clientPort: number; real: string }> = [];
    for (const chunk of this.#conns.lookupBatch()) {
      for (let i = 0; i < chunk.count; i++) {
        const k = chunk.key(i);
        const v = chunk.value(i);
        if (k.dir !== DIR_FORWARD || v.vip_id !== info.id) continue;
        const real = this.#realOf(v.real_id);
        out.push({ client: formatReal({ family: familyOf(k.family), addr: k.src.slice() }), clientPort: k.sport, real: real ? formatReal(real) : '?' });
      }
    }
    return out;
  }

  close(): void {
    for (const m of this.#all) m.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

