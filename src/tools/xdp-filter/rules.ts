// Filter rules: what users write (10.0.0.0/24, fd00::1, 80/tcp, 02:00:00:00:00:01) and how they
// are keyed in the BPF maps (LPM trie keys, port keys, MAC keys).
import { InvalidArgumentError } from '../../index.js';
import { formatPrefix, isV4Mapped, parsePort, parsePrefix, type Prefix } from '../common/net.js';

export type Direction = 'src' | 'dst';
export type Proto = 'tcp' | 'udp';

export type Rule =
  | { kind: 'addr'; prefix: Prefix; direction: Direction }
  | { kind: 'port'; port: number; proto: Proto; direction: Direction }
  | { kind: 'mac'; addr: Uint8Array; direction: Direction };

/** The rule maps of xdp_filter.bpf.c. */
export type RuleMap = 'src_v4' | 'dst_v4' | 'src_v6' | 'dst_v6' | 'ports' | 'macs';
export const ruleMaps: readonly RuleMap[] = ['src_v4', 'dst_v4', 'src_v6', 'dst_v6', 'ports', 'macs'];
/** The maps whose lookup is a longest-prefix match, not an exact one. */
export const lpmMaps: readonly RuleMap[] = ['src_v4', 'dst_v4', 'src_v6', 'dst_v6'];

const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
/** enum rule_dir of xdp_filter.bpf.c. */
const DIR_SRC = 1;

/**
 * An address rule. A v4-mapped IPv6 address (::ffff:10.0.0.1) is the IPv4 address it maps:
 * IPv4 packets carry no IPv6 header, so a rule in the IPv6 trie would never match them.
 */
export function addressRule(text: string, direction: Direction = 'src'): Rule {
  const prefix = parsePrefix(text);
  if (prefix.family === 6 && isV4Mapped(prefix.addr) && prefix.prefixLen >= 96) {
    return { kind: 'addr', direction, prefix: { family: 4, addr: prefix.addr.slice(12), prefixLen: prefix.prefixLen - 96 } };
  }
  return { kind: 'addr', prefix, direction };
}

export function portRules(portText: string, proto?: string, direction: Direction = 'dst'): Rule[] {
  const port = parsePort(portText);
  if (proto !== undefined && proto !== 'tcp' && proto !== 'udp') {
    throw new InvalidArgumentError(`invalid protocol '${proto}' (tcp or udp)`);
  }
  const protos: Proto[] = proto ? [proto] : ['tcp', 'udp'];
  return protos.map((p) => ({ kind: 'port', port, proto: p, direction }));
}

/** A MAC address rule: six hex bytes separated by ':' or '-'. */
export function macRule(text: string, direction: Direction = 'src'): Rule {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new InvalidArgumentError(`invalid MAC address '${text}' (e.g. 02:00:5e:10:00:01)`);
  }
  return { kind: 'mac', addr: Uint8Array.from(parts.map((p) => parseInt(p, 16))), direction };
}

function formatMac(addr: Uint8Array): string {
  return [...addr].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The rule as written back to users: CIDR form for addresses, PORT/PROTO for ports. */
export function ruleText(rule: Rule): string {
  if (rule.kind === 'addr') return formatPrefix(rule.prefix);
  if (rule.kind === 'mac') return formatMac(rule.addr);
  return `${rule.port}/${rule.proto}`;
}

/** The rule in messages: its text, with the direction when it is not the default one. */
export function ruleLabel(rule: Rule): string {
  if (rule.kind === 'port') return `${rule.direction === 'src' ? 'source port' : 'port'} ${ruleText(rule)}`;
  const what = rule.kind === 'mac' ? `ether ${ruleText(rule)}` : ruleText(rule);
  return rule.direction === 'dst' ? `${what} (dst)` : what;
}

export function ruleMap(rule: Rule): RuleMap {
  if (rule.kind === 'port') return 'ports';
  if (rule.kind === 'mac') return 'macs';
  return `${rule.direction}_v${rule.prefix.family}` as RuleMap;
}

/**
 * The map key: struct lpm_v4/lpm_v6 { u32 prefixlen; u8 addr[] }, struct port_key
 * { u16 port; u8 proto; u8 dir } or struct mac_key { u8 addr[6]; u8 dir; u8 pad }.
 */
export function ruleKey(rule: Rule): Uint8Array {
  if (rule.kind === 'port') {
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint16(0, rule.port, true);
    key[2] = rule.proto === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
    key[3] = rule.direction === 'src' ? DIR_SRC : 0;
    return key;
  }
  if (rule.kind === 'mac') {
    const key = new Uint8Array(8);
    key.set(rule.addr, 0);
    key[6] = rule.direction === 'src' ? DIR_SRC : 0;
    return key;
  }
  const key = new Uint8Array(4 + rule.prefix.addr.length);
  new DataView(key.buffer).setUint32(0, rule.prefix.prefixLen, true);
  key.set(rule.prefix.addr, 4);
  return key;
}

/** The rule a key of one of the rule maps stands for. */
export function ruleFromKey(map: RuleMap, key: Uint8Array): Rule {
  const v = new DataView(key.buffer, key.byteOffset, key.byteLength);
  if (map === 'ports') {
    return { kind: 'port', port: v.getUint16(0, true), proto: key[2] === IPPROTO_UDP ? 'udp' : 'tcp', direction: key[3] === DIR_SRC ? 'src' : 'dst' };
  }
  if (map === 'macs') return { kind: 'mac', addr: key.slice(0, 6), direction: key[6] === DIR_SRC ? 'src' : 'dst' };
  const family = map.endsWith('v4') ? 4 : 6;
  return {
    kind: 'addr',
    direction: map.startsWith('src') ? 'src' : 'dst',
    prefix: { family, prefixLen: v.getUint32(0, true), addr: key.slice(4, 4 + (family === 4 ? 4 : 16)) },
  };
}

const KIND_ORDER = { mac: 0, addr: 1, port: 2 } as const;

/** Orders rules as people read them: MACs, IPv4 before IPv6 by address then length, ports by number. */
export function compareRules(a: Rule, b: Rule): number {
  if (a.direction !== b.direction) return a.direction === 'src' ? -1 : 1;
  if (a.kind !== b.kind) return KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
  if (a.kind === 'port' && b.kind === 'port') return a.port - b.port || a.proto.localeCompare(b.proto);
  if (a.kind === 'addr' && b.kind === 'addr') {
    if (a.prefix.family !== b.prefix.family) return a.prefix.family - b.prefix.family;
    return compareBytes(a.prefix.addr, b.prefix.addr) || a.prefix.prefixLen - b.prefix.prefixLen;
  }
  if (a.kind === 'mac' && b.kind === 'mac') return compareBytes(a.addr, b.addr);
  return 0;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Whether address rule `outer` covers every address of `inner` (same family). */
export function prefixCovers(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || outer.prefixLen > inner.prefixLen) return false;
  for (let bit = 0; bit < outer.prefixLen; bit++) {
    const mask = 0x80 >> (bit & 7);
    if ((outer.addr[bit >> 3]! & mask) !== (inner.addr[bit >> 3]! & mask)) return false;
  }
  return true;
}
