// The Connection Statistics summary, aggregated from the conn_stats hash map.
import { formatAddress, type Family } from '../common/net.js';
import { endpoint, formatBytes } from './event.js';
import type { ConnKey, ConnStat as RawConnStat } from './tcptrack_bpf.js';

/** One conn_stats entry: connections between two addresses on one service port. */
export interface ConnStat {
  family: Family;
  direction: 'out' | 'in';
  /** The initiating end's address (the peer of inbound connections). */
  source: string;
  /** The accepting end's address (the local address of inbound connections). */
  destination: string;
  /** The service port: the remote port of outbound, the local port of inbound connections. */
  port: number;
  connections: number;
  failed: number;
  txBytes: number;
  rxBytes: number;
}

/** An entry of conn_stats as the map holds it (the generated codecs decode it). */
export function connStatFrom(key: ConnKey, value: RawConnStat): ConnStat {
  const family: Family = key.family === 6 ? 6 : 4;
  const width = family === 4 ? 4 : 16;
  const local = formatAddress(key.saddr.subarray(0, width), family);
  const remote = formatAddress(key.daddr.subarray(0, width), family);
  const inbound = key.direction === 1;
  return {
    family,
    direction: inbound ? 'in' : 'out',
    source: inbound ? remote : local,
    destination: inbound ? local : remote,
    port: key.dport,
    connections: Number(value.connections),
    failed: Number(value.failed),
    txBytes: Number(value.tx_bytes),
    rxBytes: Number(value.rx_bytes),
  };
}

/** Counts of one row of a top-N section. */
export interface Counts {
  connections: number;
  failed: number;
  txBytes: number;
  rxBytes: number;
}

export interface SourceRow extends Counts {
  address: string;
}

export interface DestinationRow extends Counts {
  address: string;
  port: number;
  family: Family;
}

export interface PortRow extends Counts {
  port: number;
}

/** The summary printed at exit; `-o json` prints it as `{"stats": Summary}`. */
export interface Summary {
  connections: number;
  outbound: number;
  inbound: number;
  failed: number;
  /** Data bytes of the closed connections (with --close). */
  txBytes: number;
  rxBytes: number;
  /** Events the ring buffer had no room for. */
  lost: number;
  bySource: SourceRow[];
  byDestination: DestinationRow[];
  byPort: PortRow[];
}

function add(into: Counts, s: ConnStat): void {
  into.connections += s.connections;
  into.failed += s.failed;
  into.txBytes += s.txBytes;
  into.rxBytes += s.rxBytes;
}

function top<R extends Counts>(stats: readonly ConnStat[], keyOf: (s: ConnStat) => string, make: (s: ConnStat) => R, n: number): R[] {
  const acc = new Map<string, R>();
  for (const s of stats) {
    const key = keyOf(s);
    let row = acc.get(key);
    if (row === undefined) {
      row = make(s);
      acc.set(key, row);
    }
    add(row, s);
  }
  return [...acc]
    .sort(([ka, a], [kb, b]) => b.connections - a.connections || b.txBytes + b.rxBytes - (a.txBytes + a.rxBytes) || ka.localeCompare(kb))
    .slice(0, n)
    .map(([, row]) => row);
}

const zero = (): Counts => ({ connections: 0, failed: 0, txBytes: 0, rxBytes: 0 });

export function summarize(stats: readonly ConnStat[], lost: number, topN = 10): Summary {
  const total = zero();
  let outbound = 0;
  let inbound = 0;
  for (const s of stats) {
    add(total, s);
    if (s.direction === 'out') outbound += s.connections;
    else inbound += s.connections;
  }
  return {
    connections: total.connections,
    outbound,
    inbound,
    failed: total.failed,
    txBytes: total.txBytes,
    rxBytes: total.rxBytes,
    lost,
    bySource: top(stats, (s) => s.source, (s) => ({ address: s.source, ...zero() }), topN),
    byDestination: top(stats, (s) => endpoint(s.destination, s.port, s.family), (s) => ({ address: s.destination, port: s.port, family: s.family, ...zero() }), topN),
    byPort: top(stats, (s) => String(s.port).padStart(5, '0'), (s) => ({ port: s.port, ...zero() }), topN),
  };
}

function countsText(r: Counts): string {
  const parts = [String(r.connections).padStart(8)];
  if (r.failed) parts.push(`${r.failed} failed`);
  if (r.txBytes || r.rxBytes) parts.push(`tx ${formatBytes(r.txBytes)}, rx ${formatBytes(r.rxBytes)}`);
  return parts.join('  ');
}

/** The boxed "Connection Statistics" text printed at exit. */
export function formatSummary(s: Summary): string {
  const lines: string[] = [];
  lines.push(`Connections: ${s.connections} (outbound ${s.outbound}, inbound ${s.inbound}, failed ${s.failed})`);
  if (s.txBytes || s.rxBytes) lines.push(`Bytes of closed connections: tx ${formatBytes(s.txBytes)}, rx ${formatBytes(s.rxBytes)}`);
  if (s.lost) lines.push(`Events lost: ${s.lost}`);
  const section = (title: string, rows: ReadonlyArray<{ label: string; counts: Counts }>): void => {
    if (rows.length === 0) return;
    lines.push('', title);
    const width = Math.max(...rows.map((r) => r.label.length));
    for (const r of rows) lines.push(`  ${r.label.padEnd(width)} ${countsText(r.counts)}`);
  };
  section('Top sources', s.bySource.map((r) => ({ label: r.address, counts: r })));
  section('Top destinations', s.byDestination.map((r) => ({ label: endpoint(r.address, r.port, r.family), counts: r })));
  section('Top ports', s.byPort.map((r) => ({ label: String(r.port), counts: r })));
  const title = ' Connection Statistics ';
  const inner = Math.max(title.length + 4, ...lines.map((l) => l.length + 2));
  const left = Math.floor((inner - title.length) / 2);
  const out = [`╔${'═'.repeat(left)}${title}${'═'.repeat(inner - left - title.length)}╗`];
  for (const l of lines) out.push(`║ ${l.padEnd(inner - 2)} ║`);
  out.push(`╚${'═'.repeat(inner)}╝`);
  return `${out.join('\n')}\n`;
}
