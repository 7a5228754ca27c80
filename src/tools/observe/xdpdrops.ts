// Drops of `tsbpf xdp-filter` as DROPPED flows: the filter's program on an observed interface
// (pinned or run in the foreground, found through the interface's XDP program) offers each drop
// to its drop_events ring with the rule that matched and the frame's first bytes.
import { BpfMap, Program, RingBufReader } from '../../index.js';
import { xdpState } from '../../link/index.js';
import { ruleFromKey, ruleMaps, ruleText, type RuleMap } from '../xdp-filter/rules.js';
import type { RawFlow } from './flow.js';

/** struct drop_event of xdp_filter.bpf.c. */
const EVENT = { tsNs: 0, rule: 8, ifindex: 12, caplen: 18, data: 24 } as const;
const NO_RULE = 0xffffffff;
const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const ETH_P_8021Q = 0x8100;
const ETH_P_8021AD = 0x88a8;

export interface XdpDrop {
  raw: RawFlow;
  /** The rule's text (`src 192.0.2.0/24`), or undefined for a drop under the allow policy. */
  rule: string | undefined;
}

/** The drops of xdp-filter on one interface. */
export class XdpFilterDrops {
  readonly iface: string;
  readonly #ring: BpfMap;
  readonly #reader: RingBufReader;
  readonly #ruleMaps: Array<[RuleMap, BpfMap<Uint8Array, Uint8Array>]>;
  #rules = new Map<number, string>();
  #readAt = 0;

  private constructor(iface: string, ring: BpfMap, ruleMaps: Array<[RuleMap, BpfMap<Uint8Array, Uint8Array>]>) {
    this.iface = iface;
    this.#ring = ring;
    this.#ruleMaps = ruleMaps;
    this.#reader = new RingBufReader(ring);
  }

  /** The filter on `iface` when its program there is xdp-filter's and offers its drops. */
  static open(iface: string): XdpFilterDrops | undefined {
    let progId: number;
    try {
      progId = xdpState(iface).progId;
    } catch {
      return undefined;
    }
    if (progId === 0) return undefined;
    const maps: BpfMap[] = [];
    try {
      using program = Program.fromId(progId);
      if (program.info().name !== 'xdp_filter') return undefined;
      let ring: BpfMap | undefined;
      const rules: Array<[RuleMap, BpfMap<Uint8Array, Uint8Array>]> = [];
      for (const id of program.info().mapIds) {
        const m = BpfMap.fromId(id);
        maps.push(m);
        if (m.name === 'drop_events') ring = m;
        else if ((ruleMaps as readonly string[]).includes(m.name)) rules.push([m.name as RuleMap, m as BpfMap<Uint8Array, Uint8Array>]);
      }
      // A filter loaded by a version without drop_events.
      if (ring === undefined) {
        for (const m of maps) m.close();
        return undefined;
      }
      for (const m of maps) if (m !== ring && !rules.some(([, r]) => r === m)) m.close();
      return new XdpFilterDrops(iface, ring, rules);
    } catch (err) {
      for (const m of maps) m.close();
      throw err;
    }
  }

  /** The rule of an id, reading the rule maps again (at most once a second) for one not known. */
  #ruleText(id: number): string | undefined {
    if (id === NO_RULE) return undefined;
    if (!this.#rules.has(id) && Date.now() - this.#readAt > 1000) {
      this.#readAt = Date.now();
      const rules = new Map<number, string>();
      for (const [name, map] of this.#ruleMaps) {
        for (const [k, v] of map) {
          const rule = ruleFromKey(name, k);
          rules.set(new DataView(v.buffer, v.byteOffset).getUint32(0, true), `${rule.direction} ${ruleText(rule)}`);
        }
      }
      this.#rules = rules;
    }
    return this.#rules.get(id) ?? `rule ${id}`;
  }

  /** Hands out the drops waiting in the ring. */
  drain(clockOffsetNs: bigint, each: (drop: XdpDrop) => void): void {
    this.#reader.drainRaw((data, at) => {
      const raw = frameFlow(data, at, clockOffsetNs);
      if (raw !== undefined) each({ raw, rule: this.#ruleText(new DataView(data.buffer, data.byteOffset + at).getUint32(EVENT.rule, true)) });
    });
  }

  close(): void {
    this.#reader.close();
    this.#ring.close();
    for (const [, m] of this.#ruleMaps) m.close();
  }
}

/** The flow of a dropped frame's first bytes (Ethernet, an optional VLAN tag, IP, L4). */
function frameFlow(bytes: Uint8Array, at: number, clockOffsetNs: bigint): RawFlow | undefined {
  const v = new DataView(bytes.buffer, bytes.byteOffset + at);
  const caplen = v.getUint16(EVENT.caplen, true);
  const frame = bytes.subarray(at + EVENT.data, at + EVENT.data + caplen);
  const f = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 14) return undefined;
  let type = f.getUint16(12);
  let l3 = 14;
  if ((type === ETH_P_8021Q || type === ETH_P_8021AD) && frame.length >= 18) {
    type = f.getUint16(16);
    l3 = 18;
  }
  const raw: RawFlow = {
    timeNs: v.getBigUint64(EVENT.tsNs, true) + clockOffsetNs,
    cookie: 0n,
    src: { cgroupId: 0n, pid: 0, comm: '' },
    dst: { cgroupId: 0n, pid: 0, comm: '' },
    ifindex: v.getUint32(EVENT.ifindex, true),
    length: 0,
    dropReason: 0,
    saddr: new Uint8Array(16),
    daddr: new Uint8Array(16),
    sport: 0,
    dport: 0,
    family: 4,
    proto: 0,
    tcpFlags: 0,
    icmpType: 0,
    icmpCode: 0,
    direction: 1,
    verdict: 2,
    isReply: 0,
    turnOnly: false,
    payload: new Uint8Array(0),
  };
  let l4: number;
  if (type === ETH_P_IP && frame.length >= l3 + 20) {
    raw.saddr.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
    raw.daddr.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
    raw.saddr.set(frame.subarray(l3 + 12, l3 + 16), 12);
    raw.daddr.set(frame.subarray(l3 + 16, l3 + 20), 12);
    raw.proto = frame[l3 + 9]!;
    l4 = l3 + (frame[l3]! & 0xf) * 4;
  } else if (type === ETH_P_IPV6 && frame.length >= l3 + 40) {
    raw.family = 6;
    raw.saddr.set(frame.subarray(l3 + 8, l3 + 24));
    raw.daddr.set(frame.subarray(l3 + 24, l3 + 40));
    raw.proto = frame[l3 + 6]!;
    l4 = l3 + 40;
  } else {
    return undefined;
  }
  if ((raw.proto === 6 || raw.proto === 17) && frame.length >= l4 + 4) {
    raw.sport = f.getUint16(l4);
    raw.dport = f.getUint16(l4 + 2);
    if (raw.proto === 6 && frame.length >= l4 + 14) raw.tcpFlags = frame[l4 + 13]!;
  } else if ((raw.proto === 1 || raw.proto === 58) && frame.length >= l4 + 2) {
    raw.icmpType = frame[l4]!;
    raw.icmpCode = frame[l4 + 1]!;
  }
  return raw;
}
