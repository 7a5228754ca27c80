// A flow as one row of the page's table: the columns already worded, so the page only places
// text (and never interprets a flow's fields itself).
import type { Endpoint, Flow } from '../flow.js';

export interface Row {
  /** Increasing per server: the page keys rows by it. */
  id: number;
  time: string;
  source: string;
  destination: string;
  /** tcp, udp, icmpv4, icmpv6, http, dns, or '' */
  protocol: string;
  /** TCP flags, the ICMP type, or the L7 summary, as the compact output words it. */
  summary: string;
  verdict: string;
  dropReason?: string;
  interface?: string;
  direction?: 'ingress' | 'egress';
  reply?: boolean;
  /** The local process or pod at either end: "curl:1234", "default/web-0". */
  sourceWho?: string;
  destinationWho?: string;
}

function hostPort(ip: string, port: number | undefined): string {
  if (port === undefined) return ip;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function whoOf(e: Endpoint | undefined): string | undefined {
  if (e === undefined) return undefined;
  if (e.pod_name !== undefined) return e.namespace !== undefined ? `${e.namespace}/${e.pod_name}` : e.pod_name;
  if (e.pid !== undefined && e.pid !== 0) return `${e.comm ?? ''}:${e.pid}`;
  return undefined;
}

export function protocolOf(flow: Flow): string {
  if (flow.l7?.http !== undefined) return 'http';
  if (flow.l7?.dns !== undefined) return 'dns';
  if (flow.l4?.TCP !== undefined) return 'tcp';
  if (flow.l4?.UDP !== undefined) return 'udp';
  if (flow.l4?.ICMPv4 !== undefined) return 'icmpv4';
  if (flow.l4?.ICMPv6 !== undefined) return 'icmpv6';
  return '';
}

export function rowOf(flow: Flow, id: number): Row {
  const l4 = flow.l4?.TCP ?? flow.l4?.UDP;
  const row: Row = {
    id,
    time: flow.time,
    source: hostPort(flow.IP.source, l4?.source_port),
    destination: hostPort(flow.IP.destination, l4?.destination_port),
    protocol: protocolOf(flow),
    summary: flow.Summary ?? '',
    verdict: flow.verdict,
  };
  if (flow.drop_reason_desc !== undefined) row.dropReason = flow.drop_reason_desc;
  const iface = flow.interface?.name ?? (flow.interface !== undefined ? String(flow.interface.index) : undefined);
  if (iface !== undefined) row.interface = iface;
  if (flow.traffic_direction === 'INGRESS') row.direction = 'ingress';
  else if (flow.traffic_direction === 'EGRESS') row.direction = 'egress';
  if (flow.is_reply !== undefined) row.reply = flow.is_reply;
  const sw = whoOf(flow.source);
  const dw = whoOf(flow.destination);
  if (sw !== undefined) row.sourceWho = sw;
  if (dw !== undefined) row.destinationWho = dw;
  return row;
}
