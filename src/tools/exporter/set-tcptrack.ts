// tcptrack's metrics: connections by direction and outcome, the latency of connects as a
// histogram, closes with their bytes, and the events the ring buffer lost. The tracker is
// loaded with accept and close events; its ring is drained every DRAIN_MS and at each scrape.
import { RingBufReader } from '../../index.js';
import { decodeEventAt, monotonicOffsetMs } from '../tcptrack/event.js';
import { kernelProbes, openTrackerWithFallback, planHooks, type Tracker } from '../tcptrack/hooks.js';
import { resolveOptions, trackerConfig } from '../tcptrack/options.js';
import type { MetricProvider } from './exporter.js';
import type { MetricData, Sample } from './metrics.js';

const P = 'tsbpf_tcptrack_';
const DRAIN_MS = 250;
/** Upper bounds of the connect latency buckets: 2^-17 s (7.6 us) to 2^4 s. */
const LATENCY_BOUNDS = Array.from({ length: 22 }, (_, i) => 2 ** (i - 17));

export interface TcptrackSetOptions {
  /** Only this process's connects and accepts. */
  pid?: number;
}

interface Latency {
  counts: number[];
  sum: number;
  count: number;
}

export async function openTcptrackSet(o: TcptrackSetOptions): Promise<MetricProvider> {
  const resolved = resolveOptions({ accept: true, close: true, countOnly: false, output: 'json', verbose: false, ...(o.pid !== undefined ? { pid: o.pid } : {}) });
  const tracker: Tracker = await openTrackerWithFallback(planHooks(kernelProbes, { accept: true }), trackerConfig(resolved));
  let reader: RingBufReader;
  try {
    reader = new RingBufReader(tracker.collection.maps.events!);
  } catch (err) {
    tracker.close();
    throw err;
  }
  const connections = new Map<string, { direction: string; outcome: string; n: number }>();
  const closes = new Map<string, number>();
  const bytes = new Map<string, number>();
  const latency = new Map<string, Latency>();
  const offset = monotonicOffsetMs();
  let view: DataView | undefined;
  const onRecord = (data: Uint8Array, at: number): void => {
    if (view === undefined || view.buffer !== data.buffer) view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const e = decodeEventAt(view, data, at, offset);
    if (e.event === 'close') {
      closes.set(e.direction, (closes.get(e.direction) ?? 0) + 1);
      bytes.set(`${e.direction}\0sent`, (bytes.get(`${e.direction}\0sent`) ?? 0) + (e.txBytes ?? 0));
      bytes.set(`${e.direction}\0received`, (bytes.get(`${e.direction}\0received`) ?? 0) + (e.rxBytes ?? 0));
      return;
    }
    const key = `${e.direction}\0${e.state}`;
    const c = connections.get(key);
    if (c) c.n++;
    else connections.set(key, { direction: e.direction, outcome: e.state, n: 1 });
    if (e.latencyMs === null) return;
    let l = latency.get(e.state);
    if (!l) {
      l = { counts: new Array<number>(LATENCY_BOUNDS.length).fill(0), sum: 0, count: 0 };
      latency.set(e.state, l);
    }
    const s = e.latencyMs / 1000;
    const i = LATENCY_BOUNDS.findIndex((b) => s <= b);
    if (i >= 0) l.counts[i]!++;
    l.sum += s;
    l.count++;
  };
  const timer = setInterval(() => reader.drainRaw(onRecord), DRAIN_MS);
  timer.unref();

  return {
    collect(): MetricData[] {
      reader.drainRaw(onRecord);
      const lostValues = tracker.collection.maps.lost?.lookup(0) as bigint[] | undefined;
      const lost = Number((lostValues ?? []).reduce((a, b) => a + b, 0n));
      const hist: Sample[] = [];
      for (const [outcome, l] of latency) {
        let cum = 0;
        LATENCY_BOUNDS.forEach((b, i) => {
          cum += l.counts[i]!;
          hist.push({ metricName: `${P}connect_latency_seconds_bucket`, labels: { outcome, le: String(b) }, value: cum });
        });
        hist.push({ metricName: `${P}connect_latency_seconds_bucket`, labels: { outcome, le: '+Inf' }, value: l.count });
        hist.push({ metricName: `${P}connect_latency_seconds_sum`, labels: { outcome }, value: l.sum });
        hist.push({ metricName: `${P}connect_latency_seconds_count`, labels: { outcome }, value: l.count });
      }
      return [
        {
          name: `${P}connections_total`,
          help: 'TCP connections, outbound (connect) and inbound (accept), by outcome',
          type: 'counter',
          values: [...connections.values()].map((c) => ({ labels: { direction: c.direction, outcome: c.outcome }, value: c.n })),
        },
        { name: `${P}connect_latency_seconds`, help: 'Time from SYN sent to the outcome of outbound connects', type: 'histogram', values: hist },
        { name: `${P}closed_total`, help: 'TCP connections closed, by direction', type: 'counter', values: [...closes].map(([direction, n]) => ({ labels: { direction }, value: n })) },
        {
          name: `${P}bytes_total`,
          help: 'Data bytes of closed connections, by direction of the connection and of the bytes',
          type: 'counter',
          values: [...bytes].map(([k, n]) => {
            const [direction, way] = k.split('\0') as [string, string];
            return { labels: { direction, way }, value: n };
          }),
        },
        { name: `${P}lost_events_total`, help: 'Events the ring buffer had no room for', type: 'counter', values: [{ labels: {}, value: lost }] },
      ];
    },
    close() {
      clearInterval(timer);
      reader.close();
      tracker.close();
    },
  };
}
