// Exporter benchmark: one scrape (every element read, decoded into labels, written as
// Prometheus text) of a map with 1k, 10k and 100k series, through `tsbpf exporter` and through
// a C program with libbpf doing the least the same scrape needs, in one run. The map is the
// execs example's (a 16-byte string and a u32 label), filled from user space.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CollectionLinks, CollectionSpec } from '../../src/index.js';
import { packageRoot } from '../../src/sys/package.js';
import { readConfig } from '../../src/tools/exporter/config.js';
import { DecoderEnv } from '../../src/tools/exporter/decoders.js';
import { Exporter } from '../../src/tools/exporter/exporter.js';
import { LoadedConfig } from '../../src/tools/exporter/loader.js';
import { metricSource } from '../../src/tools/exporter/metrics.js';
import { ConfigSeries } from '../../src/tools/exporter/series.js';
import { Sources } from '../../src/tools/exporter/sources.js';
import type { BenchResult } from '../result.js';

const root = packageRoot();
const SIZES = [1_000, 10_000, 100_000];

interface Scrape {
  /** CPU seconds (user + system) per scrape. */
  cpu: number;
  /** Wall seconds per scrape. */
  wall: number;
  bytes: number;
}

/** An exporter over the execs map resized to `n` entries and filled with `n` series. */
function exporterWith(n: number): { exporter: Exporter; mapId: number } {
  const config = readConfig(join(root, 'examples', 'exporter'), 'execs', false);
  const spec = CollectionSpec.fromFile(config.object);
  spec.maps.execs_total!.maxEntries = n;
  const collection = spec.load();
  const map = collection.maps.execs_total!.withCodecs();
  const key = new Uint8Array(24);
  const view = new DataView(key.buffer);
  const value = new Uint8Array(8);
  for (let i = 0; i < n; i++) {
    key.fill(0);
    key.set(Buffer.from(`cmd${i}`), 0);
    view.setUint32(16, i % 1000, true);
    new DataView(value.buffer).setBigUint64(0, BigInt(i * 7), true);
    map.update(key, value);
  }
  map.close();
  const env = new DecoderEnv(new Sources());
  const series = new ConfigSeries({ expireMs: 0, maxSeries: 0 });
  const metrics = config.metrics.map((m) => metricSource(m, collection.maps[m.name]!, env, series));
  const loaded = new LoadedConfig(config, collection, new CollectionLinks({}, []), metrics, [], series, env);
  return { exporter: new Exporter([loaded]), mapId: collection.maps.execs_total!.id };
}

async function tsScrapes(exporter: Exporter, scrapes: number): Promise<Scrape> {
  // The first scrape decodes every key; the ones after find them in the cache, as a running
  // exporter does.
  await exporter.scrape();
  const c0 = process.cpuUsage();
  const w0 = process.hrtime.bigint();
  let bytes = 0;
  for (let i = 0; i < scrapes; i++) bytes = (await exporter.scrape()).body.length;
  const wall = Number(process.hrtime.bigint() - w0) / 1e9 / scrapes;
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1e6 / scrapes, wall, bytes };
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-exporter-bench-'));
  const bin = join(dir, 'scrape_bench');
  const results: BenchResult[] = [];
  try {
    execFileSync('cc', ['-O2', '-o', bin, join(root, 'bench', 'exporter', 'scrape_bench.c'), '-lbpf'], { stdio: ['ignore', 'ignore', 'inherit'] });
    for (const n of SIZES) {
      const scrapes = Math.max(3, Math.round(200_000 / n));
      const { exporter, mapId } = exporterWith(n);
      try {
        const ts = await tsScrapes(exporter, scrapes);
        const c = JSON.parse(execFileSync(bin, [String(mapId), String(scrapes * 3)], { encoding: 'utf8' })) as { seconds: number; series: number };
        if (c.series !== n) throw new Error(`scrape_bench read ${c.series} series, not ${n}`);
        results.push({
          name: `scrape, ${n.toLocaleString('en-US')} series: CPU`,
          unit: 'ms',
          ts: ts.cpu * 1e3,
          reference: c.seconds * 1e3,
          referenceName: 'libbpf batch lookup + snprintf (C)',
          ratio: c.seconds / ts.cpu,
          note: `wall ${(ts.wall * 1e3).toFixed(1)} ms, ${(ts.bytes / 1e6).toFixed(2)} MB of text; ${(((ts.cpu * 1e9) / n) | 0)} ns of CPU per series`,
        });
      } finally {
        exporter.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
