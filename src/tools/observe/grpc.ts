// Between observe's flows and Hubble's protobuf messages (as @grpc/proto-loader's plain objects
// with keepCase, enums as names and 64-bit integers as strings), and Hubble's FlowFilter to
// observe's filters.
import { InvalidArgumentError } from '../../index.js';
import { toolFile } from '../common/assets.js';
import { parseCidr, parseHttpStatus, parsePortFilter, parseRegex, type FlowFilter } from './filter.js';
import { parseRfc3339, rfc3339Nano, type Flow, type FlowItem, type TcpFlags } from './flow.js';

/** The directory of observer.proto and flow.proto, as the package ships them. */
export function protoDir(): string {
  return `${toolFile('observe', 'proto')}/`;
}

/** How the server and its clients load the protos. */
export const LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true } as const;

export interface Timestamp {
  seconds: string | number;
  nanos?: number;
}

export function toTimestamp(rfc3339: string): Timestamp {
  const ns = parseRfc3339(rfc3339);
  return { seconds: (ns / 1_000_000_000n).toString(), nanos: Number(ns % 1_000_000_000n) };
}

export function fromTimestamp(t: Timestamp): bigint {
  return BigInt(t.seconds) * 1_000_000_000n + BigInt(t.nanos ?? 0);
}

/** Hubble's DropReason names tsbpf uses; the kernel's own reasons are not among them. */
const PROTO_DROP_REASONS = new Set(['POLICY_DENIED']);

/** The Endpoint message: what Hubble's Endpoint has, and the process as labels. */
function endpoint(e: Flow['source']): Record<string, unknown> | undefined {
  if (e === undefined) return undefined;
  const labels = [...(e.labels ?? [])];
  if (e.pid !== undefined) labels.push(`tsbpf:pid=${e.pid}`, `tsbpf:comm=${e.comm ?? ''}`);
  if (e.cgroup_path !== undefined) labels.push(`tsbpf:cgroup=${e.cgroup_path}`);
  const out: Record<string, unknown> = { labels };
  if (e.namespace !== undefined) out.namespace = e.namespace;
  if (e.pod_name !== undefined) out.pod_name = e.pod_name;
  return out;
}

/** A flow as the flow.Flow message. */
export function flowMessage(f: Flow): Record<string, unknown> {
  const m: Record<string, unknown> = {
    time: toTimestamp(f.time),
    verdict: f.verdict,
    IP: f.IP,
    Type: f.Type,
    node_name: f.node_name ?? '',
    event_type: f.event_type,
    Summary: f.Summary ?? '',
  };
  if (f.l4 !== undefined) m.l4 = f.l4;
  if (f.l7 !== undefined) m.l7 = f.l7;
  const source = endpoint(f.source);
  const destination = endpoint(f.destination);
  if (source !== undefined) m.source = source;
  if (destination !== undefined) m.destination = destination;
  if (f.drop_reason !== undefined) m.drop_reason = f.drop_reason;
  if (f.drop_reason_desc !== undefined) m.drop_reason_desc = PROTO_DROP_REASONS.has(f.drop_reason_desc) ? f.drop_reason_desc : 'DROP_REASON_UNKNOWN';
  if (f.traffic_direction !== undefined) m.traffic_direction = f.traffic_direction;
  if (f.trace_observation_point !== undefined) m.trace_observation_point = f.trace_observation_point;
  if (f.is_reply !== undefined) {
    m.is_reply = { value: f.is_reply };
    m.reply = f.is_reply;
  }
  if (f.interface !== undefined) m.interface = f.interface;
  if (f.socket_cookie !== undefined) m.socket_cookie = f.socket_cookie;
  return m;
}

/** An item as the GetFlowsResponse message. */
export function responseMessage(item: FlowItem): Record<string, unknown> {
  const common = { node_name: item.node_name ?? '', time: toTimestamp(item.time) };
  if ('flow' in item) return { ...common, flow: flowMessage(item.flow) };
  return { ...common, lost_events: item.lost_events };
}

/** A GetFlowsResponse message back to an item, as `-o json` prints it. */
export function itemOf(m: Record<string, unknown>): FlowItem | undefined {
  const time = m.time === undefined ? '' : rfc3339Nano(fromTimestamp(m.time as Timestamp));
  const node = (m.node_name as string | undefined) ?? '';
  if (m.lost_events !== undefined) {
    const l = m.lost_events as { source?: string; num_events_lost?: string };
    return { lost_events: { source: (l.source ?? 'PERF_EVENT_RING_BUFFER') as 'PERF_EVENT_RING_BUFFER', num_events_lost: l.num_events_lost ?? '0' }, node_name: node, time };
  }
  if (m.flow === undefined) return undefined;
  const f = { ...(m.flow as Record<string, unknown>) };
  f.time = f.time === undefined ? time : rfc3339Nano(fromTimestamp(f.time as Timestamp));
  if (f.is_reply !== undefined) f.is_reply = (f.is_reply as { value?: boolean }).value === true;
  delete f.reply;
  delete f.protocol;
  const l4 = f.l4 as Record<string, unknown> | undefined;
  if (l4 !== undefined) delete l4.protocol;
  const l7 = f.l7 as Record<string, unknown> | undefined;
  if (l7 !== undefined) delete l7.record;
  return { flow: f as unknown as Flow, node_name: node, time };
}

interface FlowFilterMessage {
  source_ip?: string[];
  destination_ip?: string[];
  source_port?: string[];
  destination_port?: string[];
  source_pod?: string[];
  destination_pod?: string[];
  verdict?: string[];
  event_type?: Array<{ type?: number }>;
  http_status_code?: string[];
  http_method?: string[];
  http_path?: string[];
  protocol?: string[];
  reply?: boolean[];
  dns_query?: string[];
  tcp_flags?: TcpFlags[];
  ip_version?: string[];
  traffic_direction?: string[];
}

const TYPE_OF_EVENT: Record<number, string> = { 1: 'drop', 4: 'trace', 129: 'l7' };

/** Hubble's FlowFilter as observe's; InvalidArgumentError for what observe cannot match. */
export function filterOf(m: FlowFilterMessage): FlowFilter {
  const f: FlowFilter = {};
  const set = <K extends keyof FlowFilter>(key: K, values: FlowFilter[K] | undefined): void => {
    if (values !== undefined && (values as unknown[]).length > 0) f[key] = values;
  };
  set('sourceIp', m.source_ip?.map(parseCidr));
  set('destinationIp', m.destination_ip?.map(parseCidr));
  set('sourcePort', m.source_port?.map(parsePortFilter));
  set('destinationPort', m.destination_port?.map(parsePortFilter));
  set('verdict', m.verdict);
  set('type', m.event_type?.map((e) => TYPE_OF_EVENT[e.type ?? 0] ?? `event type ${e.type}`));
  set('httpStatus', m.http_status_code?.map(parseHttpStatus));
  set('httpMethod', m.http_method?.map((x) => x.toUpperCase()));
  set('httpPath', m.http_path?.map((x) => parseRegex(x, 'http_path')));
  set('protocol', m.protocol?.map((x) => x.toLowerCase()));
  set('reply', m.reply);
  set('dnsQuery', m.dns_query?.map((x) => parseRegex(x, 'dns_query')));
  set('tcpFlags', m.tcp_flags);
  set('ipVersion', m.ip_version?.map((v) => (v === 'IPv6' ? 6 : 4)));
  set('pod', [...(m.source_pod ?? []), ...(m.destination_pod ?? [])]);
  if ((m.traffic_direction ?? []).length > 0) throw new InvalidArgumentError('traffic_direction filters are not supported');
  return f;
}

/** Observe's filter as Hubble's FlowFilters: an either-end field becomes two filters. */
export function filterMessages(f: FlowFilter): FlowFilterMessage[] {
  const base: FlowFilterMessage = {};
  const text = (p: { addr: Uint8Array; family: 4 | 6; prefixLen: number }): string => {
    const addr = p.family === 4 ? [...p.addr].join('.') : [...Array(8).keys()].map((i) => ((p.addr[2 * i]! << 8) | p.addr[2 * i + 1]!).toString(16)).join(':');
    return `${addr}/${p.prefixLen}`;
  };
  if (f.sourceIp) base.source_ip = f.sourceIp.map(text);
  if (f.destinationIp) base.destination_ip = f.destinationIp.map(text);
  if (f.sourcePort) base.source_port = f.sourcePort.map(String);
  if (f.destinationPort) base.destination_port = f.destinationPort.map(String);
  if (f.verdict) base.verdict = f.verdict;
  if (f.type) base.event_type = f.type.map((t) => ({ type: t === 'drop' ? 1 : t === 'l7' ? 129 : 4 }));
  if (f.httpStatus) base.http_status_code = f.httpStatus;
  if (f.httpMethod) base.http_method = f.httpMethod;
  if (f.httpPath) base.http_path = f.httpPath.map((r) => r.source);
  if (f.protocol) base.protocol = f.protocol;
  if (f.reply) base.reply = f.reply;
  if (f.dnsQuery) base.dns_query = f.dnsQuery.map((r) => r.source);
  if (f.tcpFlags) base.tcp_flags = f.tcpFlags;
  if (f.ipVersion) base.ip_version = f.ipVersion.map((v) => `IPv${v}`);
  let out: FlowFilterMessage[] = [base];
  const either = (a: keyof FlowFilterMessage, b: keyof FlowFilterMessage, values: string[] | undefined): void => {
    if (values === undefined) return;
    out = out.flatMap((m) => [
      { ...m, [a]: [...((m[a] as string[] | undefined) ?? []), ...values] },
      { ...m, [b]: [...((m[b] as string[] | undefined) ?? []), ...values] },
    ]);
  };
  either('source_ip', 'destination_ip', f.ip?.map(text));
  either('source_port', 'destination_port', f.port?.map(String));
  if (f.pid !== undefined || f.interface !== undefined || f.namespace !== undefined || f.dropReasonDesc !== undefined) {
    throw new InvalidArgumentError('--pid, --interface, --namespace and --drop-reason-desc are not in Hubble\'s FlowFilter: use them without --server');
  }
  return out;
}
