// The output formats of `hubble observe`: compact lines, dict blocks, a table, and JSON (one
// GetFlowsResponse-shaped object per line; jsonpb is the same).
import { parseRfc3339, type Endpoint, type Flow, type FlowItem } from './flow.js';

export const OUTPUT_FORMATS = ['compact', 'dict', 'json', 'jsonpb', 'table'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const two = (n: number): string => String(n).padStart(2, '0');

/** "Dec  6 14:25:08", local time, of a time in milliseconds since the epoch. */
function stampSecond(d: Date): string {
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

let stampKey = '';
let stampPrefix = '';

/** Whether `s` is "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ", as flows from the datapath carry it. */
function isNanoUtc(s: string): boolean {
  if (s.length !== 30 || s.charCodeAt(19) !== 46 || s.charCodeAt(29) !== 90) return false;
  for (let i = 20; i < 29; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

const UTC_SECOND = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/;

/** "Dec  6 14:25:08.123", local time, as Go's time.StampMilli. */
export function stampMilli(rfc3339: string): string {
  // Flows come many to a second: the date and time of day are made once per second.
  if (isNanoUtc(rfc3339)) {
    const key = rfc3339.slice(0, 19);
    if (key === stampKey) return `${stampPrefix}.${rfc3339.slice(20, 23)}`;
    const ms = UTC_SECOND.test(key) ? Date.parse(`${key}Z`) : Number.NaN;
    if (!Number.isNaN(ms)) {
      stampKey = key;
      stampPrefix = stampSecond(new Date(ms));
      return `${stampPrefix}.${rfc3339.slice(20, 23)}`;
    }
  }
  const d = new Date(Number(parseRfc3339(rfc3339) / 1_000_000n));
  return `${stampSecond(d)}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

function hostPort(ip: string, port: number | undefined): string {
  if (port === undefined) return ip;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function who(e: Endpoint | undefined): string {
  if (e === undefined) return '';
  if (e.pod_name !== undefined) return ` (${e.namespace !== undefined ? `${e.namespace}/` : ''}${e.pod_name})`;
  if (e.pid !== undefined && e.pid !== 0) return ` (${e.comm ?? ''}:${e.pid})`;
  return '';
}

function endpoints(flow: Flow): { src: string; dst: string } {
  const l4 = flow.l4?.TCP ?? flow.l4?.UDP;
  return {
    src: `${hostPort(flow.IP.source, l4?.source_port)}${who(flow.source)}`,
    dst: `${hostPort(flow.IP.destination, l4?.destination_port)}${who(flow.destination)}`,
  };
}

/** Where the flow was seen, in Hubble's words: to-network, http-request, or the drop reason. */
export function observationPoint(flow: Flow): string {
  if (flow.Type === 'L7' && flow.l7 !== undefined) {
    const proto = flow.l7.http !== undefined ? 'http' : flow.l7.dns !== undefined ? 'dns' : 'l7';
    return `${proto}-${flow.l7.type === 'REQUEST' ? 'request' : 'response'}`;
  }
  if (flow.verdict === 'DROPPED') return flow.drop_reason_desc ?? 'drop';
  const point = flow.trace_observation_point === 'FROM_NETWORK' ? 'from-network' : 'to-network';
  return flow.interface?.name !== undefined ? `${point}(${flow.interface.name})` : point;
}

function arrow(flow: Flow): { left: string; arrow: string; right: string } {
  const { src, dst } = endpoints(flow);
  if (flow.is_reply === true) return { left: dst, arrow: '<-', right: src };
  if (flow.is_reply === false) return { left: src, arrow: '->', right: dst };
  return { left: src, arrow: '<>', right: dst };
}

export function compactLine(flow: Flow): string {
  const a = arrow(flow);
  return `${stampMilli(flow.time)}: ${a.left} ${a.arrow} ${a.right} ${observationPoint(flow)} ${flow.verdict} (${flow.Summary ?? ''})`;
}

export function dictBlock(flow: Flow): string {
  const { src, dst } = endpoints(flow);
  const rows: Array<[string, string]> = [
    ['TIMESTAMP', stampMilli(flow.time)],
    ['SOURCE', src],
    ['DESTINATION', dst],
    ['TYPE', observationPoint(flow)],
    ['VERDICT', flow.verdict],
    ['SUMMARY', flow.Summary ?? ''],
  ];
  if (flow.is_reply !== undefined) rows.splice(3, 0, ['IS_REPLY', String(flow.is_reply)]);
  return `${rows.map(([k, v]) => `${k.padStart(11)}: ${v}`).join('\n')}\n------------`;
}

export const TABLE_HEADER = ['TIMESTAMP', 'SOURCE', 'DESTINATION', 'TYPE', 'VERDICT', 'SUMMARY'];

export function tableRow(flow: Flow): string[] {
  const { src, dst } = endpoints(flow);
  return [stampMilli(flow.time), src, dst, observationPoint(flow), flow.verdict, flow.Summary ?? ''];
}

/** One output item as text (without its newline), for the line formats. */
export function formatItem(item: FlowItem, format: Exclude<OutputFormat, 'table'>): string {
  if (format === 'json' || format === 'jsonpb') return JSON.stringify(item);
  if ('lost_events' in item) return `EVENTS LOST: ${item.lost_events.num_events_lost} (${item.lost_events.source})`;
  return format === 'dict' ? dictBlock(item.flow) : compactLine(item.flow);
}
