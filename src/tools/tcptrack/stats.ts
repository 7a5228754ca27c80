// The Connection Statistics summary, aggregated from the conn_stats hash map.
import { formatAddress, isV4Mapped, type Family } from '../common/net.js';

/** struct conn_key (36 bytes) and struct conn_stat (32 bytes) of tcptrack.bpf.c. */
export const CONN_KEY_SIZE = 36;
export const CONN_STAT_SIZE = 32;

export interface ConnStat {
  family: Family;
  direction: 'out' | 'in';
  /** The initiating end's address (the remote end for inbound connections). */
  source: string;
  destination: string;
  port: number;
  connections: number;
  failed: number;
  txBytes: number;
  rxBytes: number;
}

export function decodeConnStat(key: Uint8Array, value: Uint8Array): ConnStat {
  const kv = new DataView(key.buffer, key.byteOffset, key.byteLength);
  const vv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  let family = (key[34] === 6 ? 6 : 4) as Family;
  let local = key.subarray(0, 16);
  let remote = key.subarray(16, 32);
  if (family === 4) {
    local = local.subarray(0, 4);
    remote = remote.subarray(0, 4);
  } else if (isV4Mapped(remote)) {
    family = 4;
    local = local.subarray(12, 16);
    remote = remote.subarray(12, 16);
  }
  const inbound = key[35] === 1;
  const l = formatAddress(local, family);
  const r = formatAddress(remote, family);
  return {
    family,
    direction: inbound ? 'in' : 'out',
    source: inbound ? r : l,
    destination: inbound ? l : r,
    port: kv.getUint16(32, true),
    connections: Number(vv.getBigUint64(0, true)),
    failed: Number(vv.getBigUint64(8, true)),
    txBytes: Number(vv.getBigUint64(16, true)),
    rxBytes: Number(vv.getBigUint64(24, true)),
  };
}

export interface Ranked {
  key: string;
  connections: number;
  failed: number;
}

export interface Summary {
  total: number;
  failed: number;
  outbound: number;
  inbound: number;
  txBytes: number;
  rxBytes: number;
  lost: number;
  bySource: Ranked[];
  byDestination: Ranked[];
  byPort: Ranked[];
}

function top(stats: ConnStat[], keyOf: (s: ConnStat) => string, n: number): Ranked[] {
  const acc = new Map<string, Ranked>();
  for (const s of stats) {
    const key = keyOf(s);
    const r = acc.get(key) ?? { key, connections: 0, failed: 0 };
    r.connections += s.connections;
    r.failed += s.failed;
    acc.set(key, r);
  }
  return [...acc.values()].sort((a, b) => b.connections - a.connections || a.key.localeCompare(b.key)).slice(0, n);
}

export function summarize(stats: ConnStat[], lost: number, topN = 10): Summary {
  const sum = (f: (s: ConnStat) => number): number => stats.reduce((a, s) => a + f(s), 0);
  return {
    total: sum((s) => s.connections),
    failed: sum((s) => s.failed),
    outbound: sum((s) => (s.direction === 'out' ? s.connections : 0)),
    inbound: sum((s) => (s.direction === 'in' ? s.connections : 0)),
    txBytes: sum((s) => s.txBytes),
    rxBytes: sum((s) => s.rxBytes),
    lost,
    bySource: top(stats, (s) => s.source, topN),
    byDestination: top(stats, (s) => (s.family === 6 ? `[${s.destination}]:${s.port}` : `${s.destination}:${s.port}`), topN),
    byPort: top(stats, (s) => String(s.port), topN),
  };
}

/** The boxed "Connection Statistics" text printed at exit. */
export function formatSummary(s: Summary): string {
  const lines: string[] = [];
  lines.push(`Total connections: ${s.total} (outbound ${s.outbound}, inbound ${s.inbound}, failed ${s.failed})`);
  if (s.txBytes || s.rxBytes) lines.push(`Bytes on closed connections: tx ${s.txBytes}, rx ${s.rxBytes}`);
  if (s.lost) lines.push(`Events lost: ${s.lost}`);
  const section = (title: string, rows: Ranked[]): void => {
    if (rows.length === 0) return;
    lines.push('', title);
    for (const r of rows) lines.push(`  ${r.key.padEnd(44)} ${String(r.connections).padStart(8)}${r.failed ? `  (${r.failed} failed)` : ''}`);
  };
  section('Top sources:', s.bySource);
  section('Top destinations:', s.byDestination);
  section('Top ports:', s.byPort);
  const width = Math.max(40, ...lines.map((l) => l.length)) + 2;
  const title = ' Connection Statistics ';
  const left = Math.floor((width - title.length) / 2);
  const out = [`╔${'═'.repeat(left)}${title}${'═'.repeat(width - left - title.length)}╗`];
  for (const l of lines) out.push(`║ ${l.padEnd(width - 2)} ║`);
  out.push(`╚${'═'.repeat(width)}╝`);
  return `${out.join('\n')}\n`;
}
