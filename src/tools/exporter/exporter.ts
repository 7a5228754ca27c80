// The exporter: loaded configs (and tool metric sets) behind one Prometheus registry, served
// over HTTP. prom-client writes the exposition format; the samples come from the maps at each
// scrape, so every metric is a collector object rather than a prom-client Counter or Histogram
// (those count observations made in this process, and a kernel histogram arrives as buckets).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, type Metric } from 'prom-client';
import type { LoadedConfig } from './loader.js';
import { type MetricData, PREFIX, type Sample } from './metrics.js';

/** Anything that gives metrics at scrape time: a config, a tool's metric set. */
export interface MetricProvider {
  collect(now: number): MetricData[];
  close(): void;
}

/** The built-in metrics of ebpf_exporter (the same names, so dashboards carry over) and ours. */
function builtins(configs: readonly LoadedConfig[]): MetricData[] {
  const enabled: Sample[] = [];
  const info: Sample[] = [];
  const attached: Sample[] = [];
  const runTime: Sample[] = [];
  const runCount: Sample[] = [];
  const decoderErrors: Sample[] = [];
  const lost: Sample[] = [];
  const refused: Sample[] = [];
  const expired: Sample[] = [];
  const series: Sample[] = [];
  for (const c of configs) {
    const config = c.config.name;
    enabled.push({ labels: { name: config }, value: 1 });
    for (const p of c.programs) {
      const id = String(p.info.id);
      info.push({ labels: { config, id, program: p.name, tag: p.info.tag }, value: 1 });
      attached.push({ labels: { id }, value: p.attached ? 1 : 0 });
      // The kernel counts runs only while kernel.bpf_stats_enabled is 1.
      const live = c.collection.programs[p.name]?.info();
      runTime.push({ labels: { id }, value: Number(live?.runTimeNs ?? 0n) / 1e9 });
      runCount.push({ labels: { id }, value: Number(live?.runCount ?? 0n) });
    }
    decoderErrors.push({ labels: { config }, value: c.series.decoderErrors });
    for (const [name, n] of c.lost()) lost.push({ labels: { config, counter: name }, value: n });
    refused.push({ labels: { config }, value: c.series.refused });
    expired.push({ labels: { config }, value: c.series.expired });
    series.push({ labels: { config }, value: c.series.active });
  }
  return [
    { name: `${PREFIX}enabled_configs`, help: 'The set of enabled configs', type: 'gauge', values: enabled },
    { name: `${PREFIX}ebpf_program_info`, help: 'Info about ebpf programs', type: 'gauge', values: info },
    { name: `${PREFIX}ebpf_program_attached`, help: 'Whether a program is attached', type: 'gauge', values: attached },
    { name: `${PREFIX}ebpf_program_run_time_seconds`, help: 'How long has the program been executing', type: 'counter', values: runTime },
    { name: `${PREFIX}ebpf_program_run_count_total`, help: 'How many times has the program been executed', type: 'counter', values: runCount },
    { name: `${PREFIX}decoder_errors_total`, help: 'How many times has decoding a label failed', type: 'counter', values: decoderErrors },
    { name: `${PREFIX}perf_event_array_lost_events_total`, help: 'Events a perf event array counter lost because its ring was full', type: 'counter', values: lost },
    { name: `${PREFIX}series_refused_total`, help: 'Series not exported because their config reached its series cap', type: 'counter', values: refused },
    { name: `${PREFIX}series_expired_total`, help: 'Series hidden because their value did not change for the expiry time', type: 'counter', values: expired },
    { name: `${PREFIX}series`, help: 'Series exported, by config', type: 'gauge', values: series },
  ];
}

/** A config's metrics as a provider. */
export function configProvider(c: LoadedConfig): MetricProvider {
  return {
    collect(now) {
      c.env.sources.scrape++;
      c.refreshCgroupIdMap(now);
      return c.metrics.map((m) => m.collect(now));
    },
    close: () => c.close(),
  };
}

/** One registry built afresh at each scrape from what the providers give. */
export class Exporter {
  readonly #providers: MetricProvider[];
  readonly #configs: LoadedConfig[];

  constructor(configs: LoadedConfig[], extra: MetricProvider[] = []) {
    this.#configs = configs;
    this.#providers = [...configs.map(configProvider), ...extra];
  }

  /** The exposition text of every metric, read now. */
  async scrape(): Promise<{ body: string; contentType: string }> {
    const now = Date.now();
    const registry = new Registry();
    const seen = new Set<string>();
    const all = [...this.#providers.flatMap((p) => p.collect(now)), ...builtins(this.#configs)];
    for (const data of all) {
      if (seen.has(data.name)) continue;
      seen.add(data.name);
      // The registry serializes any object with a name and get(): see the comment at the top.
      const metric = { name: data.name, help: data.help, type: data.type, aggregator: 'sum', get: async () => data };
      registry.registerMetric(metric as unknown as Metric);
    }
    return { body: await registry.metrics(), contentType: registry.contentType };
  }

  close(): void {
    for (const p of this.#providers.reverse()) p.close();
  }
}

export interface ListenAddress {
  host: string | undefined;
  port: number;
}

/** `:9435`, `127.0.0.1:9435`, `[::1]:9435`, as Go's net.Listen takes them. */
export function parseListenAddress(s: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}

/** Serves the exporter at `path` (a short page at `/`). */
export function serve(exporter: Exporter, address: ListenAddress, path: string): Promise<Server> {
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === path) {
      exporter.scrape().then(
        ({ body, contentType }) => {
          res.writeHead(200, { 'Content-Type': contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(`scrape failed: ${(err as Error).message}\n`);
        },
      );
      return;
    }
    if (url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<html><head><title>tsbpf exporter</title></head><body><h1>tsbpf exporter</h1><p><a href="${path}">Metrics</a></p></body></html>\n`);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** The URL the server answers at. */
export function serverUrl(server: Server, path: string): string {
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address === '::' ? '::1' : a.address}]` : a.address === '0.0.0.0' ? '127.0.0.1' : a.address;
  return `http://${host}:${a.port}${path}`;
}
