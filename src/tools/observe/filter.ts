// Hubble's flow filters: a flow is shown when it matches one filter of the allow list (or the
// list is empty) and none of the deny list. Within one filter, each field given must match
// (different flags AND); within a field, any value may (a flag repeated ORs). The allow list
// also goes into the kernel, where it can, as a superset (kernelFilter).
import { InvalidArgumentError } from '../../index.js';
import { parsePrefix, type Prefix } from '../common/net.js';
import { tcpFlagNames, type Flow, type TcpFlags } from './flow.js';

export const PROTOCOLS = ['tcp', 'udp', 'icmp', 'icmpv4', 'icmpv6', 'http', 'dns'] as const;
export const VERDICTS = ['FORWARDED', 'DROPPED'] as const;
export const TYPES = ['trace', 'drop', 'l7'] as const;
const FLAG_NAMES = ['SYN', 'FIN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'] as const;

export interface FlowFilter {
  /** Either end. */
  ip?: Prefix[];
  sourceIp?: Prefix[];
  destinationIp?: Prefix[];
  port?: number[];
  sourcePort?: number[];
  destinationPort?: number[];
  protocol?: string[];
  verdict?: string[];
  dropReasonDesc?: string[];
  /** Each entry: flags that must all be set. */
  tcpFlags?: TcpFlags[];
  httpMethod?: string[];
  /** "200", "5+", "40+": a code, or a prefix of one followed by '+'. */
  httpStatus?: string[];
  httpPath?: RegExp[];
  ipVersion?: Array<4 | 6>;
  type?: string[];
  /** "[namespace/]pod-prefix": either end. */
  pod?: string[];
  namespace?: string[];
  pid?: number[];
  interface?: string[];
  reply?: boolean[];
  dnsQuery?: RegExp[];
}

export interface Filters {
  allow: FlowFilter[];
  deny: FlowFilter[];
}

/** What the kernel can drop before a record is made: a superset of what `allow` shows. */
export interface KernelFilter {
  family?: 4 | 6;
  /** Bits of PROTO_* in observe.bpf.c; undefined for every protocol. */
  protocols?: number;
  /** Prefixes with the ends they may stand at (1 source, 2 destination). */
  prefixes?: Array<Prefix & { sides: number }>;
  ports?: Map<number, number>;
}

/** "ADDR" or "ADDR/LEN"; InvalidArgumentError names what is wrong. */
export function parseCidr(s: string): Prefix {
  return parsePrefix(s);
}

export function parsePortFilter(s: string): number {
  if (!/^\d{1,5}$/.test(s) || Number(s) > 65535) throw new InvalidArgumentError(`invalid port '${s}' (0-65535)`);
  return Number(s);
}

export function parseProtocol(s: string): string {
  const p = s.toLowerCase();
  if (!(PROTOCOLS as readonly string[]).includes(p)) throw new InvalidArgumentError(`unknown protocol '${s}' (${PROTOCOLS.join(', ')})`);
  return p;
}

export function parseVerdict(s: string): string {
  const v = s.toUpperCase();
  if (!(VERDICTS as readonly string[]).includes(v)) throw new InvalidArgumentError(`unknown verdict '${s}' (${VERDICTS.join(', ')})`);
  return v;
}

export function parseType(s: string): string {
  const t = s.toLowerCase();
  if (!(TYPES as readonly string[]).includes(t)) throw new InvalidArgumentError(`unknown type '${s}' (${TYPES.join(', ')})`);
  return t;
}

/** "SYN,ACK": flags that must all be set. */
export function parseTcpFlags(s: string): TcpFlags {
  const out: TcpFlags = {};
  for (const part of s.split(',')) {
    const f = part.trim().toUpperCase();
    if (!(FLAG_NAMES as readonly string[]).includes(f)) throw new InvalidArgumentError(`unknown TCP flag '${part}' (${FLAG_NAMES.join(', ')})`);
    out[f as keyof TcpFlags] = true;
  }
  return out;
}

export function parseHttpStatus(s: string): string {
  if (!/^\d{1,3}\+?$/.test(s) || (!s.endsWith('+') && s.length !== 3) || Number(s[0]) < 1 || Number(s[0]) > 5) {
    throw new InvalidArgumentError(`invalid HTTP status '${s}' (a code such as 404, or a prefix such as 5+ or 40+)`);
  }
  return s;
}

export function parseRegex(s: string, what: string): RegExp {
  try {
    return new RegExp(s);
  } catch (err) {
    throw new InvalidArgumentError(`${what}: invalid regular expression '${s}': ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
}

function prefixContains(p: Prefix, address: string): boolean {
  let a: Prefix;
  try {
    a = parsePrefix(address);
  } catch {
    return false;
  }
  if (a.family !== p.family) return false;
  for (let bit = 0; bit < p.prefixLen; bit++) {
    const mask = 0x80 >> (bit & 7);
    if ((a.addr[bit >> 3]! & mask) !== (p.addr[bit >> 3]! & mask)) return false;
  }
  return true;
}

function ports(flow: Flow): [number | undefined, number | undefined] {
  const l4 = flow.l4?.TCP ?? flow.l4?.UDP;
  return l4 === undefined ? [undefined, undefined] : [l4.source_port ?? 0, l4.destination_port ?? 0];
}

function protocolOf(flow: Flow): string[] {
  const out: string[] = [];
  if (flow.l4?.TCP) out.push('tcp');
  if (flow.l4?.UDP) out.push('udp');
  if (flow.l4?.ICMPv4) out.push('icmp', 'icmpv4');
  if (flow.l4?.ICMPv6) out.push('icmp', 'icmpv6');
  if (flow.l7?.http) out.push('http');
  if (flow.l7?.dns) out.push('dns');
  return out;
}

function typeOf(flow: Flow): string {
  if (flow.Type === 'L7') return 'l7';
  return flow.verdict === 'DROPPED' ? 'drop' : 'trace';
}

function statusMatches(code: number | undefined, pattern: string): boolean {
  if (code === undefined || code === 0) return false;
  const text = String(code);
  return pattern.endsWith('+') ? text.startsWith(pattern.slice(0, -1)) : text === pattern;
}

function podMatches(e: Flow['source'], pattern: string): boolean {
  if (e === undefined) return false;
  const slash = pattern.indexOf('/');
  const ns = slash < 0 ? undefined : pattern.slice(0, slash);
  const pod = slash < 0 ? pattern : pattern.slice(slash + 1);
  if (ns !== undefined && e.namespace !== ns) return false;
  return pod === '' || (e.pod_name ?? '').startsWith(pod);
}

function flagsMatch(have: TcpFlags | undefined, want: TcpFlags): boolean {
  if (have === undefined) return false;
  return tcpFlagNames(want).every((f) => have[f as keyof TcpFlags] === true);
}

function any<T>(values: T[] | undefined, test: (v: T) => boolean): boolean {
  return values === undefined || values.some(test);
}

/** Whether `flow` matches every field `f` gives. */
export function matches(flow: Flow, f: FlowFilter): boolean {
  const [sport, dport] = ports(flow);
  const src = flow.IP.source;
  const dst = flow.IP.destination;
  return (
    any(f.ip, (p) => prefixContains(p, src) || prefixContains(p, dst)) &&
    any(f.sourceIp, (p) => prefixContains(p, src)) &&
    any(f.destinationIp, (p) => prefixContains(p, dst)) &&
    any(f.port, (p) => p === sport || p === dport) &&
    any(f.sourcePort, (p) => p === sport) &&
    any(f.destinationPort, (p) => p === dport) &&
    any(f.protocol, (p) => protocolOf(flow).includes(p)) &&
    any(f.verdict, (v) => flow.verdict === v) &&
    any(f.dropReasonDesc, (d) => flow.drop_reason_desc !== undefined && flow.drop_reason_desc.toUpperCase() === d.toUpperCase()) &&
    any(f.tcpFlags, (want) => flagsMatch(flow.l4?.TCP?.flags, want)) &&
    any(f.httpMethod, (m) => flow.l7?.http?.method?.toUpperCase() === m.toUpperCase()) &&
    any(f.httpStatus, (s) => statusMatches(flow.l7?.http?.code, s)) &&
    any(f.httpPath, (re) => flow.l7?.http?.url !== undefined && re.test(urlPath(flow.l7.http.url))) &&
    any(f.ipVersion, (v) => flow.IP.ipVersion === (v === 4 ? 'IPv4' : 'IPv6')) &&
    any(f.type, (t) => typeOf(flow) === t) &&
    any(f.pod, (p) => podMatches(flow.source, p) || podMatches(flow.destination, p)) &&
    any(f.namespace, (n) => flow.source?.namespace === n || flow.destination?.namespace === n) &&
    any(f.pid, (p) => flow.source?.pid === p || flow.destination?.pid === p) &&
    any(f.interface, (i) => flow.interface?.name === i || String(flow.interface?.index) === i) &&
    any(f.reply, (r) => flow.is_reply === r) &&
    any(f.dnsQuery, (re) => flow.l7?.dns?.query !== undefined && re.test(flow.l7.dns.query))
  );
}

function urlPath(url: string): string {
  const m = /^[a-z]+:\/\/[^/]*(\/.*)?$/i.exec(url);
  return m === null ? url : (m[1] ?? '/');
}

/** Whether the flow is shown. */
export function accepts(filters: Filters, flow: Flow): boolean {
  if (filters.allow.length > 0 && !filters.allow.some((f) => matches(flow, f))) return false;
  return !filters.deny.some((f) => matches(flow, f));
}

export function isEmpty(f: FlowFilter): boolean {
  return Object.values(f).every((v) => v === undefined || (Array.isArray(v) && v.length === 0));
}

const K_TCP = 1;
const K_UDP = 2;
const K_ICMP = 4;

/**
 * The kernel's part of the allow list: only for a single filter (several OR, which the kernel's
 * one set of maps cannot say). Prefixes carry the ends they may match; a prefix inside another
 * takes the other's ends too, since the trie finds only the longest.
 */
export function kernelFilter(filters: Filters): KernelFilter {
  if (filters.allow.length !== 1) return {};
  const f = filters.allow[0]!;
  const out: KernelFilter = {};
  if (f.ipVersion !== undefined && new Set(f.ipVersion).size === 1) out.family = f.ipVersion[0]!;
  if (f.protocol !== undefined) {
    let bits = 0;
    for (const p of f.protocol) {
      if (p === 'tcp' || p === 'http') bits |= K_TCP;
      else if (p === 'udp') bits |= K_UDP;
      else if (p === 'dns') bits |= K_UDP | K_TCP;
      else bits |= K_ICMP;
    }
    out.protocols = bits;
  }
  const prefixes: Array<Prefix & { sides: number }> = [];
  for (const p of f.ip ?? []) prefixes.push({ ...p, sides: 3 });
  for (const p of f.sourceIp ?? []) prefixes.push({ ...p, sides: 1 });
  for (const p of f.destinationIp ?? []) prefixes.push({ ...p, sides: 2 });
  if (prefixes.length > 0) {
    out.prefixes = prefixes.map((p) => {
      let sides = 0;
      for (const q of prefixes) if (q.family === p.family && q.prefixLen <= p.prefixLen && prefixContainsPrefix(q, p)) sides |= q.sides;
      return { ...p, sides };
    });
  }
  const portSides = new Map<number, number>();
  for (const p of f.port ?? []) portSides.set(p, (portSides.get(p) ?? 0) | 3);
  for (const p of f.sourcePort ?? []) portSides.set(p, (portSides.get(p) ?? 0) | 1);
  for (const p of f.destinationPort ?? []) portSides.set(p, (portSides.get(p) ?? 0) | 2);
  if (portSides.size > 0) out.ports = portSides;
  return out;
}

function prefixContainsPrefix(outer: Prefix, inner: Prefix): boolean {
  for (let bit = 0; bit < outer.prefixLen; bit++) {
    const mask = 0x80 >> (bit & 7);
    if ((outer.addr[bit >> 3]! & mask) !== (inner.addr[bit >> 3]! & mask)) return false;
  }
  return true;
}
