// A real Prometheus server (Debian's `prometheus`) scrapes `tsbpf exporter`, and the values come
// back through Prometheus' HTTP query API: the exposition is one Prometheus reads as meant.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe } from 'node:test';
import { packageRoot } from '../src/sys/package.js';
import { openExporter, parseExporterArgs } from '../src/tools/exporter/cli.js';
import { DecoderEnv } from '../src/tools/exporter/decoders.js';
import { type Exporter, serve } from '../src/tools/exporter/exporter.js';
import { Sources } from '../src/tools/exporter/sources.js';
import { kernelTest, requireCommand, uniqueName } from './helpers/kernel.js';

const examples = join(packageRoot(), 'examples', 'exporter');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Polls `probe` until it returns a value, for at most `ms`; the last error otherwise. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`${what}: not within ${ms} ms${last ? ` (${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Vector {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(base: string, q: string): Promise<Vector[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { status: string; data: { resultType: string; result: Vector[] } };
  assert.equal(body.status, 'success');
  return body.data.result;
}

describe('tsbpf exporter scraped by Prometheus', () => {
  let tmp: string | undefined;
  let exporter: Exporter | undefined;
  let server: Server | undefined;
  let prometheus: ChildProcess | undefined;

  after(async () => {
    prometheus?.kill('SIGTERM');
    if (prometheus && prometheus.exitCode === null) await new Promise((r) => prometheus!.once('exit', r));
    if (server) await new Promise((r) => server!.close(r));
    exporter?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  kernelTest('Prometheus reads the counts and histograms of the test execs and sleeps', { timeout: 120_000 }, async (t) => {
    if (!requireCommand(t, 'prometheus', 'prometheus')) return;
    tmp = mkdtempSync(join(tmpdir(), 'tsbpf-prom-'));
    const comm = uniqueName('pq', 15);
    copyFileSync('/bin/true', join(tmp, comm));
    const sleeper = uniqueName('pz', 15);
    copyFileSync('/bin/sleep', join(tmp, sleeper));
    spawnSync('chmod', ['755', tmp, join(tmp, comm), join(tmp, sleeper)]);

    const o = parseExporterArgs(['--config.dir', examples, '--config.names', 'execs,sleep_latency', '--web.listen-address', '127.0.0.1:0']);
    assert.ok(o !== 'help');
    exporter = await openExporter(o, new DecoderEnv(new Sources()));
    server = await serve(exporter, o.listen, o.path);
    const exporterPort = (server.address() as { port: number }).port;

    const port = await freePort();
    const config = join(tmp, 'prometheus.yml');
    writeFileSync(
      config,
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: tsbpf\n    static_configs:\n      - targets: ['127.0.0.1:${exporterPort}']\n`,
    );
    let log = '';
    prometheus = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(tmp, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    prometheus.stderr!.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-4000);
    });
    const base = `http://127.0.0.1:${port}`;
    await eventually('prometheus ready', async () => ((await fetch(`${base}/-/ready`)).ok ? true : undefined)).catch((err: Error) => {
      throw new Error(`${err.message}\n${log}`);
    });

    for (let i = 0; i < 4; i++) assert.equal(spawnSync(join(tmp, comm)).status, 0);
    for (let i = 0; i < 2; i++) assert.equal(spawnSync(join(tmp, sleeper), ['0.02']).status, 0);

    const execs = await eventually('execs in Prometheus', async () => {
      const r = await query(base, `ebpf_exporter_execs_total{comm="${comm}"}`);
      return r.length === 1 && r[0]!.value[1] === '4' ? r : undefined;
    });
    assert.equal(execs[0]!.metric.uid, '0');
    assert.equal(execs[0]!.metric.job, 'tsbpf');

    const count = await eventually('sleeps in Prometheus', async () => {
      const r = await query(base, `ebpf_exporter_sleep_latency_seconds_count{comm="${sleeper}"}`);
      return r.length === 1 && r[0]!.value[1] === '2' ? r : undefined;
    });
    assert.equal(count.length, 1);
    // Both 20 ms sleeps are above the 16.384 ms bucket: the median Prometheus computes is too.
    const q = await query(base, `histogram_quantile(0.5, ebpf_exporter_sleep_latency_seconds_bucket{comm="${sleeper}"})`);
    assert.equal(q.length, 1);
    assert.ok(Number(q[0]!.value[1]) > 0.016384, q[0]!.value[1]);
    const up = await query(base, 'up{job="tsbpf"}');
    assert.equal(up[0]!.value[1], '1');
    const enabled = await query(base, 'ebpf_exporter_enabled_configs');
    assert.deepEqual(enabled.map((v) => v.metric.name).sort(), ['execs', 'sleep_latency']);
  });
});
