// L7 without a proxy: DNS and HTTP/1.x read from the first bytes of a packet's payload (the
// snap length the datapath copies), requests paired with their responses per connection so a
// response carries its latency and what it answered.
import type { Dns, Flow, Http, Layer7 } from './flow.js';

/** Cilium's monitor message type of L7 access logs, as Hubble's event_type.type carries it. */
const EVENT_L7 = 129;

/** Requests waiting for their response, per connection; the oldest go first past this. */
const MAX_PENDING = 4096;

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

interface HttpRequest {
  method: string;
  path: string;
  protocol: string;
  host?: string;
}

interface HttpResponse {
  protocol: string;
  code: number;
}

const latin1 = new TextDecoder('latin1');

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;

/** Whether ASCII byte `b` is in \S of a regex (not a space, tab, LF, VT, FF or CR). */
const isAsciiNonSpace = (b: number): boolean => b < 0x80 && b !== SPACE && (b < 0x09 || b > 0x0d);

/** "HTTP/1.0" or "HTTP/1.1" at `at`, or undefined. */
function protocolAt(p: Uint8Array, at: number): string | undefined {
  // H T T P / 1 .
  if (p[at] !== 0x48 || p[at + 1] !== 0x54 || p[at + 2] !== 0x54 || p[at + 3] !== 0x50 || p[at + 4] !== 0x2f || p[at + 5] !== 0x31 || p[at + 6] !== 0x2e) return undefined;
  const minor = p[at + 7];
  return minor === 0x30 ? 'HTTP/1.0' : minor === 0x31 ? 'HTTP/1.1' : undefined;
}

/**
 * The request line and Host header of an HTTP/1.x request, or undefined. Read from the bytes
 * where the request line is ASCII (no text made of the rest of the payload); otherwise from
 * the latin1 text, by the same rules.
 */
export function parseHttpRequest(payload: Uint8Array): HttpRequest | undefined {
  const first = payload[0];
  // A payload that does not start with a capital letter is no request: no text made of it.
  if (first === undefined || first < 0x41 || first > 0x5a) return undefined;
  let i = 1;
  while (i < payload.length && payload[i]! >= 0x41 && payload[i]! <= 0x5a) i++;
  if (i < 3 || i > 7 || payload[i] !== SPACE) return undefined;
  const pathStart = i + 1;
  let j = pathStart;
  while (j < payload.length && isAsciiNonSpace(payload[j]!)) j++;
  // A byte past ASCII in the path: the text's rules decide.
  if (j < payload.length && payload[j]! >= 0x80) return parseHttpRequestText(payload);
  if (j === pathStart || payload[j] !== SPACE) return undefined;
  const protocol = protocolAt(payload, j + 1);
  if (protocol === undefined) return undefined;
  let end = j + 9;
  if (payload[end] === CR) end++;
  if (payload[end] !== LF) return undefined;
  const method = latin1.decode(payload.subarray(0, i));
  if (!HTTP_METHODS.has(method)) return undefined;
  const req: HttpRequest = { method, path: latin1.decode(payload.subarray(pathStart, j)), protocol };
  const host = hostHeader(payload, end);
  if (host !== undefined) req.host = host;
  return req;
}

const lower = (b: number | undefined): number => (b !== undefined && b >= 0x41 && b <= 0x5a ? b + 0x20 : (b ?? -1));

/**
 * The value of the first "\nhost:" (any case) from `from` that has a character before the end
 * of its line, trimmed, as /\r?\nhost:[ \t]*([^\r\n]+)/i and trim() find it in the text.
 */
function hostHeader(p: Uint8Array, from: number): string | undefined {
  for (let n = p.indexOf(LF, from); n >= 0; n = p.indexOf(LF, n + 1)) {
    // h o s t :
    if (lower(p[n + 1]) !== 0x68 || lower(p[n + 2]) !== 0x6f || lower(p[n + 3]) !== 0x73 || lower(p[n + 4]) !== 0x74 || p[n + 5] !== 0x3a) continue;
    const start = n + 6;
    let end = start;
    while (end < p.length && p[end] !== CR && p[end] !== LF) end++;
    if (end > start) return latin1.decode(p.subarray(start, end)).trim();
  }
  return undefined;
}

/** parseHttpRequest from the latin1 text of the whole payload. */
function parseHttpRequestText(payload: Uint8Array): HttpRequest | undefined {
  const text = latin1.decode(payload);
  const m = /^([A-Z]{3,7}) (\S+) (HTTP\/1\.[01])\r?\n/.exec(text);
  if (m === null || !HTTP_METHODS.has(m[1]!)) return undefined;
  const host = /\r?\nhost:[ \t]*([^\r\n]+)/i.exec(text)?.[1]?.trim();
  const req: HttpRequest = { method: m[1]!, path: m[2]!, protocol: m[3]! };
  if (host !== undefined) req.host = host;
  return req;
}

/** The status line of an HTTP/1.x response, or undefined: "HTTP/1.x NNN" and a space or line end. */
export function parseHttpResponse(payload: Uint8Array): HttpResponse | undefined {
  const protocol = protocolAt(payload, 0);
  if (protocol === undefined || payload[8] !== SPACE) return undefined;
  let code = 0;
  for (let i = 9; i < 12; i++) {
    const d = payload[i];
    if (d === undefined || d < 0x30 || d > 0x39) return undefined;
    code = code * 10 + (d - 0x30);
  }
  const after = payload[12];
  return after === SPACE || after === CR || after === LF ? { protocol, code } : undefined;
}

const QTYPES: Record<number, string> = { 1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 65: 'HTTPS', 255: 'ANY' };

export interface DnsMessage {
  id: number;
  response: boolean;
  rcode: number;
  query: string;
  qtype: string;
  ips: string[];
  cnames: string[];
  rrtypes: string[];
  ttl?: number;
}

/** A name at `at` (with compression); [name, offset after it]. */
function readName(b: Uint8Array, at: number): [string, number] {
  const labels: string[] = [];
  let pos = at;
  let end = -1;
  for (let hops = 0; hops < 32; hops++) {
    const len = b[pos];
    if (len === undefined) throw new RangeError('truncated name');
    if (len === 0) {
      if (end < 0) end = pos + 1;
      return [`${labels.join('.')}.`, end];
    }
    if ((len & 0xc0) === 0xc0) {
      const next = b[pos + 1];
      if (next === undefined) throw new RangeError('truncated pointer');
      if (end < 0) end = pos + 2;
      pos = ((len & 0x3f) << 8) | next;
      continue;
    }
    if (pos + 1 + len > b.length) throw new RangeError('truncated label');
    labels.push(latin1.decode(b.subarray(pos + 1, pos + 1 + len)));
    pos += 1 + len;
  }
  throw new RangeError('name loops');
}

function ipText(b: Uint8Array): string {
  if (b.length === 4) return b.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
}

/** A DNS message over UDP: header, the first question, and the answers that fit the snap. */
export function parseDns(b: Uint8Array): DnsMessage | undefined {
  if (b.length < 12) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const flags = v.getUint16(2);
  const qd = v.getUint16(4);
  const an = v.getUint16(6);
  if (qd !== 1 || (flags & 0x7800) !== 0) return undefined;
  try {
    const [query, afterName] = readName(b, 12);
    if (afterName + 4 > b.length) return undefined;
    const msg: DnsMessage = { id: v.getUint16(0), response: (flags & 0x8000) !== 0, rcode: flags & 0xf, query, qtype: QTYPES[v.getUint16(afterName)] ?? `TYPE${v.getUint16(afterName)}`, ips: [], cnames: [], rrtypes: [] };
    let pos = afterName + 4;
    for (let i = 0; i < an; i++) {
      const [, after] = readName(b, pos);
      if (after + 10 > b.length) break;
      const type = v.getUint16(after);
      const ttl = v.getUint32(after + 4);
      const rdlen = v.getUint16(after + 8);
      const rdata = after + 10;
      if (rdata + rdlen > b.length) break;
      msg.ttl ??= ttl;
      const typeName = QTYPES[type] ?? `TYPE${type}`;
      if (!msg.rrtypes.includes(typeName)) msg.rrtypes.push(typeName);
      if ((type === 1 && rdlen === 4) || (type === 28 && rdlen === 16)) msg.ips.push(ipText(b.subarray(rdata, rdata + rdlen)));
      else if (type === 5) msg.cnames.push(readName(b, rdata)[0]);
      pos = rdata + rdlen;
    }
    return msg;
  } catch {
    return undefined;
  }
}

/** Endpoints of the flow as a connection key in the flow's own orientation. */
function ends(flow: Flow): { src: string; dst: string } | undefined {
  const l4 = flow.l4?.TCP ?? flow.l4?.UDP;
  if (l4 === undefined) return undefined;
  return { src: `${flow.IP.source}|${l4.source_port ?? 0}`, dst: `${flow.IP.destination}|${l4.destination_port ?? 0}` };
}

interface Pending<T> {
  at: bigint;
  what: T;
}

/**
 * Turns flows with payload into L7 flows: a request flow when a request is seen, a response
 * flow (with latency and the request it answers) when its response is.
 */
export class L7Parser {
  readonly #http = new Map<string, Array<Pending<HttpRequest>>>();
  readonly #dns = new Map<string, Pending<DnsMessage>>();
  #pending = 0;

  /** The L7 flows of a packet's flow and payload (none for most packets). */
  parse(flow: Flow, payload: Uint8Array, timeNs: bigint): Flow[] {
    if (payload.length === 0 || flow.verdict !== 'FORWARDED') return [];
    const e = ends(flow);
    if (e === undefined) return [];
    if (flow.l4?.UDP !== undefined && (flow.l4.UDP.source_port === 53 || flow.l4.UDP.destination_port === 53)) return this.#dnsFlow(flow, payload, timeNs, e);
    if (flow.l4?.TCP !== undefined) return this.#httpFlow(flow, payload, timeNs, e);
    return [];
  }

  #dnsFlow(flow: Flow, payload: Uint8Array, timeNs: bigint, e: { src: string; dst: string }): Flow[] {
    const msg = parseDns(payload);
    if (msg === undefined) return [];
    const dns: Dns = { query: msg.query, qtypes: [msg.qtype], observation_source: 'tsbpf' };
    if (!msg.response) {
      this.#remember(this.#dns, `${e.src}>${e.dst}#${msg.id}`, { at: timeNs, what: msg });
      return [l7Flow(flow, { type: 'REQUEST', dns }, `DNS Query ${msg.query} ${msg.qtype}`, false)];
    }
    const key = `${e.dst}>${e.src}#${msg.id}`;
    const req = this.#dns.get(key);
    if (req !== undefined) {
      this.#dns.delete(key);
      this.#pending--;
    }
    if (msg.ips.length > 0) dns.ips = msg.ips;
    if (msg.cnames.length > 0) dns.cnames = msg.cnames;
    if (msg.rrtypes.length > 0) dns.rrtypes = msg.rrtypes;
    if (msg.ttl !== undefined) dns.ttl = msg.ttl;
    if (msg.rcode !== 0) dns.rcode = msg.rcode;
    const layer: Layer7 = { type: 'RESPONSE', dns };
    if (req !== undefined) layer.latency_ns = (timeNs - req.at).toString();
    const answer = msg.rcode !== 0 ? `RCode: ${rcodeName(msg.rcode)}` : msg.ips.length > 0 ? `"${msg.ips.join(',')}"` : msg.cnames.length > 0 ? `"${msg.cnames.join(',')}"` : '(empty)';
    return [l7Flow(flow, layer, `DNS Answer ${answer}${msg.ttl !== undefined ? ` TTL: ${msg.ttl}` : ''} (${msg.query} ${msg.qtype})`, true)];
  }

  #httpFlow(flow: Flow, payload: Uint8Array, timeNs: bigint, e: { src: string; dst: string }): Flow[] {
    const req = parseHttpRequest(payload);
    if (req !== undefined) {
      const key = `${e.src}>${e.dst}`;
      const queue = this.#http.get(key) ?? [];
      queue.push({ at: timeNs, what: req });
      this.#http.set(key, queue);
      this.#pending++;
      this.#trim();
      const http: Http = { method: req.method, url: urlOf(req, flow), protocol: req.protocol };
      return [l7Flow(flow, { type: 'REQUEST', http }, `${req.protocol} ${req.method} ${http.url}`, false)];
    }
    const res = parseHttpResponse(payload);
    if (res === undefined) return [];
    const key = `${e.dst}>${e.src}`;
    const queue = this.#http.get(key);
    const first = queue?.shift();
    if (first !== undefined) this.#pending--;
    if (queue !== undefined && queue.length === 0) this.#http.delete(key);
    const http: Http = { code: res.code, protocol: res.protocol };
    const layer: Layer7 = { type: 'RESPONSE', http };
    let summary = `${res.protocol} ${res.code}`;
    if (first !== undefined) {
      http.method = first.what.method;
      http.url = urlOf(first.what, flow, true);
      layer.latency_ns = (timeNs - first.at).toString();
      summary += ` ${Math.round(Number(timeNs - first.at) / 1e6)}ms (${http.method} ${http.url})`;
    }
    return [l7Flow(flow, layer, summary, true)];
  }

  #remember(map: Map<string, Pending<DnsMessage>>, key: string, p: Pending<DnsMessage>): void {
    if (!map.has(key)) this.#pending++;
    map.set(key, p);
    this.#trim();
  }

  // Requests never answered (lost, or seen without their response) must not grow without end.
  #trim(): void {
    while (this.#pending > MAX_PENDING) {
      const dnsKey = this.#dns.keys().next();
      if (!dnsKey.done) {
        this.#dns.delete(dnsKey.value);
        this.#pending--;
        continue;
      }
      const httpKey = this.#http.keys().next();
      if (httpKey.done) break;
      this.#pending -= this.#http.get(httpKey.value)?.length ?? 0;
      this.#http.delete(httpKey.value);
    }
  }
}

function urlOf(req: HttpRequest, flow: Flow, reverse = false): string {
  // An origin-form path ("/x", the common case) is no absolute URL: no regex for it.
  if (!req.path.startsWith('/') && /^[a-z]+:\/\//i.test(req.path)) return req.path;
  const server = reverse ? flow.IP.source : flow.IP.destination;
  const port = reverse ? (flow.l4?.TCP?.source_port ?? 80) : (flow.l4?.TCP?.destination_port ?? 80);
  const host = req.host ?? (server.includes(':') ? `[${server}]:${port}` : `${server}:${port}`);
  return `http://${host}${req.path}`;
}

const RCODES: Record<number, string> = { 1: 'Format Error', 2: 'Server Failure', 3: 'Non-Existent Domain', 4: 'Not Implemented', 5: 'Query Refused' };

export function rcodeName(rcode: number): string {
  return RCODES[rcode] ?? `${rcode}`;
}

/**
 * The L7 flow of a packet's flow: what `{ ...flow, Type: 'L7', l7, event_type, is_reply,
 * Summary }` without trace_observation_point gives for a flow made by flowOf, fields in the
 * same order, made one by one: a spread and a delete leave an object that V8 then reads slowly
 * in every later step (filter, format, JSON).
 */
function l7Flow(flow: Flow, l7: Layer7, summary: string, reply: boolean): Flow {
  const out: Flow = { time: flow.time } as Flow;
  if (flow.uuid !== undefined) out.uuid = flow.uuid;
  out.verdict = flow.verdict;
  out.IP = flow.IP;
  out.Type = 'L7';
  if (flow.node_name !== undefined) out.node_name = flow.node_name;
  out.event_type = { type: EVENT_L7 };
  if (flow.l4 !== undefined) out.l4 = flow.l4;
  if (flow.source !== undefined) out.source = flow.source;
  if (flow.destination !== undefined) out.destination = flow.destination;
  if (flow.drop_reason !== undefined) out.drop_reason = flow.drop_reason;
  if (flow.drop_reason_desc !== undefined) out.drop_reason_desc = flow.drop_reason_desc;
  if (flow.traffic_direction !== undefined) out.traffic_direction = flow.traffic_direction;
  if (flow.is_reply !== undefined) out.is_reply = reply;
  if (flow.interface !== undefined) out.interface = flow.interface;
  if (flow.ingress_denied_by !== undefined) out.ingress_denied_by = flow.ingress_denied_by;
  if (flow.socket_cookie !== undefined) out.socket_cookie = flow.socket_cookie;
  if (flow.Summary !== undefined) out.Summary = summary;
  out.l7 = l7;
  if (flow.is_reply === undefined) out.is_reply = reply;
  if (flow.Summary === undefined) out.Summary = summary;
  return out;
}
