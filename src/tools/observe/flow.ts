// The flow as observe hands it out: the shape and field names of Hubble's flow.Flow in its
// JSON form (protojson: enums by name, 64-bit integers as strings, zero values left out), plus
// the local process at either end where a socket told it (pid, comm, cgroup), which Hubble's
// Endpoint does not have.
import { formatAddress, isV4Mapped } from '../common/net.js';

export type Verdict = 'FORWARDED' | 'DROPPED';
export type TrafficDirection = 'INGRESS' | 'EGRESS' | 'TRAFFIC_DIRECTION_UNKNOWN';

export interface TcpFlags {
  FIN?: boolean;
  SYN?: boolean;
  RST?: boolean;
  PSH?: boolean;
  ACK?: boolean;
  URG?: boolean;
  ECE?: boolean;
  CWR?: boolean;
}

export interface Layer4 {
  TCP?: { source_port?: number; destination_port?: number; flags?: TcpFlags };
  UDP?: { source_port?: number; destination_port?: number };
  ICMPv4?: { type?: number; code?: number };
  ICMPv6?: { type?: number; code?: number };
}

export interface Endpoint {
  namespace?: string;
  pod_name?: string;
  labels?: string[];
  workloads?: Array<{ name: string; kind: string }>;
  /** Beyond Hubble: the local process whose socket sent or received the packet. */
  pid?: number;
  comm?: string;
  cgroup_id?: string;
  cgroup_path?: string;
}

export interface Dns {
  query?: string;
  ips?: string[];
  ttl?: number;
  cnames?: string[];
  observation_source?: string;
  rcode?: number;
  qtypes?: string[];
  rrtypes?: string[];
}

export interface Http {
  code?: number;
  method?: string;
  url?: string;
  protocol?: string;
  headers?: Array<{ key: string; value: string }>;
}

export interface Layer7 {
  type: 'REQUEST' | 'RESPONSE';
  latency_ns?: string;
  dns?: Dns;
  http?: Http;
}

export interface Flow {
  time: string;
  uuid?: string;
  verdict: Verdict;
  drop_reason?: number;
  IP: { source: string; destination: string; ipVersion: 'IPv4' | 'IPv6' };
  l4?: Layer4;
  source?: Endpoint;
  destination?: Endpoint;
  Type: 'L3_L4' | 'L7';
  node_name?: string;
  l7?: Layer7;
  event_type: { type: number; sub_type?: number };
  traffic_direction?: TrafficDirection;
  trace_observation_point?: string;
  drop_reason_desc?: string;
  is_reply?: boolean;
  interface?: { index: number; name?: string };
  /** The rules that denied the packet (xdp-filter's). */
  ingress_denied_by?: Array<{ name: string; kind: string }>;
  socket_cookie?: string;
  Summary?: string;
}

/** Hubble's LostEvent, as the JSON stream carries it. */
export interface LostEvent {
  source: 'PERF_EVENT_RING_BUFFER' | 'OBSERVER_EVENTS_QUEUE' | 'HUBBLE_RING_BUFFER';
  num_events_lost: string;
}

/** One item of the stream: a flow, or a count of what was lost (GetFlowsResponse's JSON). */
export type FlowItem = { flow: Flow; node_name?: string; time: string } | { lost_events: LostEvent; node_name?: string; time: string };

/** Cilium's monitor message types, as Hubble's event_type.type carries them. */
export const EVENT_DROP = 1;
export const EVENT_TRACE = 4;

/** The record's layout (struct flow_event in observe.bpf.c). */
export const RECORD = {
  tsNs: 0,
  cookie: 8,
  src: 16,
  dst: 48,
  ifindex: 80,
  len: 84,
  dropReason: 88,
  netns: 92,
  saddr: 96,
  daddr: 112,
  sport: 128,
  dport: 130,
  payloadLen: 132,
  family: 134,
  proto: 135,
  tcpFlags: 136,
  icmpType: 137,
  icmpCode: 138,
  direction: 139,
  verdict: 140,
  isReply: 141,
  turnOnly: 142,
  payload: 144,
  /** The small record, without payload. */
  head: 144,
} as const;

const PROC = { cgroupId: 0, pid: 8, comm: 12 } as const;

/** A record decoded: the fields the user side needs, payload as a view into the ring. */
export interface RawFlow {
  /** Wall-clock time in nanoseconds since the epoch. */
  timeNs: bigint;
  cookie: bigint;
  src: RawProc;
  dst: RawProc;
  ifindex: number;
  length: number;
  dropReason: number;
  saddr: Uint8Array;
  daddr: Uint8Array;
  sport: number;
  dport: number;
  family: 4 | 6;
  proto: number;
  tcpFlags: number;
  icmpType: number;
  icmpCode: number;
  direction: 0 | 1 | 2;
  verdict: 1 | 2;
  /** 0 unknown, 1 no, 2 yes. */
  isReply: 0 | 1 | 2;
  /** Made under aggregation only for the payload that opens a turn (see records.ts). */
  turnOnly: boolean;
  payload: Uint8Array;
}

export interface RawProc {
  cgroupId: bigint;
  pid: number;
  comm: string;
}

function readComm(bytes: Uint8Array, at: number): string {
  let end = at;
  while (end < at + 16 && bytes[end] !== 0) end++;
  return Buffer.from(bytes.buffer, bytes.byteOffset + at, end - at).toString('latin1');
}

/** The bytes of a struct proc that say who it is: cgroup id, pid and comm. */
const PROC_WORDS = 7;
/** Processes remembered at most, by pid; all are forgotten past it. */
const PROC_CACHE_MAX = 4096;
const procs = new Map<number, { words: number[]; proc: RawProc }>();

/**
 * The process at `at`: one connection's records name the same processes over and over, so the
 * last decoding per pid is kept and handed out again while the record's bytes are the same.
 */
function readProc(v: DataView, bytes: Uint8Array, at: number): RawProc {
  const pid = v.getUint32(at + PROC.pid, true);
  const known = procs.get(pid);
  if (known !== undefined) {
    let same = true;
    for (let i = 0; i < PROC_WORDS && same; i++) same = v.getUint32(at + 4 * i, true) === known.words[i];
    if (same) return known.proc;
  }
  const proc: RawProc = { cgroupId: v.getBigUint64(at + PROC.cgroupId, true), pid, comm: readComm(bytes, at + PROC.comm) };
  const words: number[] = [];
  for (let i = 0; i < PROC_WORDS; i++) words.push(v.getUint32(at + 4 * i, true));
  if (procs.size >= PROC_CACHE_MAX) procs.clear();
  procs.set(pid, { words, proc });
  return proc;
}

let viewBytes: Uint8Array | undefined;
let view: DataView | undefined;

/** A DataView over all of `bytes`, made once for the ring's data area that every record is in. */
function viewOver(bytes: Uint8Array): DataView {
  if (bytes !== viewBytes || view === undefined) {
    view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    viewBytes = bytes;
  }
  return view;
}

/**
 * Decodes the record at `at` of `bytes`; `clockOffsetNs` turns the kernel's monotonic time into
 * wall-clock time. Addresses are copied; the payload is a view into `bytes`, to be read before
 * the ring's space is handed back. Processes are shared between records: not to be changed.
 */
export function decodeRecord(bytes: Uint8Array, at: number, clockOffsetNs: bigint): RawFlow {
  const v = viewOver(bytes);
  const payloadLen = v.getUint16(at + RECORD.payloadLen, true);
  return {
    timeNs: v.getBigUint64(at + RECORD.tsNs, true) + clockOffsetNs,
    cookie: v.getBigUint64(at + RECORD.cookie, true),
    src: readProc(v, bytes, at + RECORD.src),
    dst: readProc(v, bytes, at + RECORD.dst),
    ifindex: v.getUint32(at + RECORD.ifindex, true),
    length: v.getUint32(at + RECORD.len, true),
    dropReason: v.getUint32(at + RECORD.dropReason, true),
    saddr: bytes.slice(at + RECORD.saddr, at + RECORD.saddr + 16),
    daddr: bytes.slice(at + RECORD.daddr, at + RECORD.daddr + 16),
    sport: v.getUint16(at + RECORD.sport, true),
    dport: v.getUint16(at + RECORD.dport, true),
    family: bytes[at + RECORD.family] === 6 ? 6 : 4,
    proto: bytes[at + RECORD.proto]!,
    tcpFlags: bytes[at + RECORD.tcpFlags]!,
    icmpType: bytes[at + RECORD.icmpType]!,
    icmpCode: bytes[at + RECORD.icmpCode]!,
    direction: (bytes[at + RECORD.direction]! % 3) as 0 | 1 | 2,
    verdict: bytes[at + RECORD.verdict] === 2 ? 2 : 1,
    isReply: (bytes[at + RECORD.isReply]! % 3) as 0 | 1 | 2,
    turnOnly: bytes[at + RECORD.turnOnly] === 1,
    payload: bytes.subarray(at + RECORD.payload, at + RECORD.payload + payloadLen),
  };
}

/** The offset to add to bpf_ktime_get_ns() (CLOCK_MONOTONIC) for nanoseconds since the epoch. */
export function monotonicOffsetNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
}

const TCP_FLAG_BITS: ReadonlyArray<[keyof TcpFlags, number]> = [
  ['FIN', 0x01],
  ['SYN', 0x02],
  ['RST', 0x04],
  ['PSH', 0x08],
  ['ACK', 0x10],
  ['URG', 0x20],
  ['ECE', 0x40],
  ['CWR', 0x80],
];

export function tcpFlagsOf(bits: number): TcpFlags {
  const out: TcpFlags = {};
  for (const [name, bit] of TCP_FLAG_BITS) if (bits & bit) out[name] = true;
  return out;
}

/** A TCP flags byte's flags and summary, made once per byte value; shared, not to be changed. */
const TCP_FLAGS_OF_BYTE: ReadonlyArray<{ flags: TcpFlags; summary: string }> = Array.from({ length: 256 }, (_, bits) => {
  const flags = tcpFlagsOf(bits);
  return { flags, summary: `TCP Flags: ${tcpFlagNames(flags).join(', ')}` };
});

let isoSecond = -1n;
let isoPrefix = '';

/** "2026-12-06T14:25:08.123456789Z" from nanoseconds since the epoch. */
export function rfc3339Nano(ns: bigint): string {
  if (ns < 0n) {
    const iso = new Date(Number(ns / 1_000_000n)).toISOString();
    return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
  }
  // Flows come many to a second: the date and time of day are made once per second.
  const second = ns / 1_000_000_000n;
  if (second !== isoSecond) {
    isoPrefix = new Date(Number(second) * 1000).toISOString().slice(0, 19);
    isoSecond = second;
  }
  return `${isoPrefix}.${(ns - second * 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

/** Nanoseconds since the epoch from an RFC 3339 time. */
export function parseRfc3339(s: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (m === null) {
    const ms = Date.parse(s);
    return Number.isNaN(ms) ? 0n : BigInt(ms) * 1_000_000n;
  }
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return 0n;
  const base = BigInt(ms) * 1_000_000n;
  return base + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
}

const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_ICMP = 1;
const PROTO_ICMPV6 = 58;

/** IPv4 addresses remembered at most as text; all are forgotten past it. */
const V4_CACHE_MAX = 65536;
const v4Text = new Map<number, string>();

function address(addr: Uint8Array, family: 4 | 6): string {
  if (family !== 4 || !isV4Mapped(addr)) return formatAddress(addr, 6);
  const key = ((addr[12]! << 24) | (addr[13]! << 16) | (addr[14]! << 8) | addr[15]!) >>> 0;
  let text = v4Text.get(key);
  if (text === undefined) {
    text = formatAddress(addr.subarray(12), 4);
    if (v4Text.size >= V4_CACHE_MAX) v4Text.clear();
    v4Text.set(key, text);
  }
  return text;
}

/** What the user side knows besides the record: names of interfaces, drop reasons, cgroups. */
export interface FlowContext {
  nodeName: string;
  interfaceName(ifindex: number): string | undefined;
  dropReasonName(reason: number): string;
  endpoint(proc: RawProc): Endpoint | undefined;
}

/** The Hubble-shaped flow of a decoded record. */
export function flowOf(r: RawFlow, ctx: FlowContext): Flow {
  const l4: Layer4 = {};
  const tcp = TCP_FLAGS_OF_BYTE[r.tcpFlags & 0xff]!;
  if (r.proto === PROTO_TCP) l4.TCP = { source_port: r.sport, destination_port: r.dport, flags: tcp.flags };
  else if (r.proto === PROTO_UDP) l4.UDP = { source_port: r.sport, destination_port: r.dport };
  else if (r.proto === PROTO_ICMP) l4.ICMPv4 = omitZero({ type: r.icmpType, code: r.icmpCode });
  else if (r.proto === PROTO_ICMPV6) l4.ICMPv6 = omitZero({ type: r.icmpType, code: r.icmpCode });
  const dropped = r.verdict === 2;
  const flow: Flow = {
    time: rfc3339Nano(r.timeNs),
    verdict: dropped ? 'DROPPED' : 'FORWARDED',
    IP: { source: address(r.saddr, r.family), destination: address(r.daddr, r.family), ipVersion: r.family === 4 ? 'IPv4' : 'IPv6' },
    Type: 'L3_L4',
    node_name: ctx.nodeName,
    event_type: dropped ? { type: EVENT_DROP, sub_type: r.dropReason } : { type: EVENT_TRACE },
  };
  if (l4.TCP !== undefined || l4.UDP !== undefined || l4.ICMPv4 !== undefined || l4.ICMPv6 !== undefined) flow.l4 = l4;
  const source = ctx.endpoint(r.src);
  const destination = ctx.endpoint(r.dst);
  if (source !== undefined) flow.source = source;
  if (destination !== undefined) flow.destination = destination;
  if (dropped) {
    flow.drop_reason = r.dropReason;
    flow.drop_reason_desc = ctx.dropReasonName(r.dropReason);
  }
  flow.traffic_direction = r.direction === 1 ? 'INGRESS' : r.direction === 2 ? 'EGRESS' : 'TRAFFIC_DIRECTION_UNKNOWN';
  if (!dropped) flow.trace_observation_point = r.direction === 1 ? 'FROM_NETWORK' : 'TO_NETWORK';
  if (r.isReply !== 0) flow.is_reply = r.isReply === 2;
  if (r.ifindex !== 0) {
    const name = ctx.interfaceName(r.ifindex);
    flow.interface = name === undefined ? { index: r.ifindex } : { index: r.ifindex, name };
  }
  if (r.cookie !== 0n) flow.socket_cookie = r.cookie.toString();
  if (l4.TCP !== undefined) flow.Summary = tcp.summary;
  else if (l4.UDP !== undefined) flow.Summary = 'UDP';
  else if (l4.ICMPv4 !== undefined) flow.Summary = `ICMPv4 ${icmpName(4, r.icmpType)}`;
  else if (l4.ICMPv6 !== undefined) flow.Summary = `ICMPv6 ${icmpName(6, r.icmpType)}`;
  return flow;
}

function omitZero(o: { type: number; code: number }): { type?: number; code?: number } {
  const out: { type?: number; code?: number } = {};
  if (o.type !== 0) out.type = o.type;
  if (o.code !== 0) out.code = o.code;
  return out;
}

/** The names of the flags set, in the order Hubble prints them. */
export function tcpFlagNames(flags: TcpFlags): string[] {
  return (['SYN', 'FIN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'] as const).filter((f) => flags[f] === true);
}

const ICMP4: Record<number, string> = { 0: 'EchoReply', 3: 'DestinationUnreachable', 5: 'Redirect', 8: 'EchoRequest', 11: 'TimeExceeded' };
const ICMP6: Record<number, string> = { 1: 'DestinationUnreachable', 2: 'PacketTooBig', 3: 'TimeExceeded', 128: 'EchoRequest', 129: 'EchoReply', 133: 'RouterSolicitation', 134: 'RouterAdvertisement', 135: 'NeighborSolicitation', 136: 'NeighborAdvertisement' };

function icmpName(family: 4 | 6, type: number): string {
  return (family === 4 ? ICMP4 : ICMP6)[type] ?? `type ${type}`;
}
