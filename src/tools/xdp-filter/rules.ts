// Filter rules: what users write (10.0.0.0/24, fd00::1, 80/tcp) and how they are keyed in the
// BPF maps (LPM trie keys, port keys).
import { InvalidArgumentError } from '../../errors.js';
import { formatPrefix, parsePort, parsePrefix, type Prefix } from '../common/net.js';

export type Direction = 'src' | 'dst';
export type Proto = 'tcp' | 'udp';

export type Rule =
  | { kind: 'addr'; prefix: Prefix; direction: Direction }
  | { kind: 'port'; port: number; proto: Proto };

/** The rule maps of xdp_filter.bpf.c. */
export type RuleMap = 'src_v4' | 'dst_v4' | 'src_v6' | 'dst_v6' | 'ports';
export const ruleMaps: readonly RuleMap[] = ['src_v4', 'dst_v4', 'src_v6', 'dst_v6', 'ports'];

const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

export function addressRule(text: string, direction: Direction = 'src'): Rule {
  return { kind: 'addr', prefix: parsePrefix(text), direction };
}

export function portRules(portText: string, proto?: string): Rule[] {
  const port = parsePort(portText);
  if (proto !== undefined && proto !== 'tcp' && proto !== 'udp') {
    throw new InvalidArgumentError(`invalid protocol '${proto}' (tcp or udp)`);
  }
  const protos: Proto[] = proto ? [proto] : ['tcp', 'udp'];
  return protos.map((p) => ({ kind: 'port', port, proto: p }));
}

/** The rule as written back to users: CIDR form for addresses, PORT/PROTO for ports. */
export function ruleText(rule: Rule): string {
  return rule.kind === 'addr' ? formatPrefix(rule.prefix) : `${rule.port}/${rule.proto}`;
}

export function ruleDirection(rule: Rule): Direction {
  return rule.kind === 'addr' ? rule.direction : 'dst';
}

export function ruleMap(rule: Rule): RuleMap {
  if (rule.kind === 'port') return 'ports';
  return `${rule.direction}_v${rule.prefix.family}` as RuleMap;
}

/** The map key: struct lpm_v4/lpm_v6 { u32 prefixlen; u8 addr[] } or struct port_key. */
export function ruleKey(rule: Rule): Uint8Array {
  if (rule.kind === 'port') {
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint16(0, rule.port, true);
    key[2] = rule.proto === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
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
    return { kind: 'port', port: v.getUint16(0, true), proto: key[2] === IPPROTO_UDP ? 'udp' : 'tcp' };
  }
  const family = map.endsWith('v4') ? 4 : 6;
  return {
    kind: 'addr',
    direction: map.startsWith('src') ? 'src' : 'dst',
    prefix: { family, prefixLen: v.getUint32(0, true), addr: key.slice(4, 4 + (family === 4 ? 4 : 16)) },
  };
}
