// `tsbpf exporter --tools`: tcptrack's connections and xdp-filter's verdicts as metrics, counted
// exactly for what the test does (tcptrack filtered on this process, xdp-filter on a veth pair
// of the test's own).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe } from 'node:test';
import { openExporter, parseExporterArgs } from '../src/tools/exporter/cli.js';
import { DecoderEnv } from '../src/tools/exporter/decoders.js';
import type { Exporter } from '../src/tools/exporter/exporter.js';
import { Sources } from '../src/tools/exporter/sources.js';
import { runCli } from './helpers/cli.js';
import { createVethPair, kernelTest, requireCommand, sh, uniqueName, type VethPair } from './helpers/kernel.js';
import { samples } from './helpers/exposition.js';

async function tools(names: string, pid?: number, args: string[] = []): Promise<Exporter> {
  const o = parseExporterArgs(['--tools', names, ...args]);
  assert.ok(o !== 'help');
  return openExporter(o, new DecoderEnv(new Sources()), pid === undefined ? o.toolOptions : { ...o.toolOptions, tcptrack: { pid } });
}

/** Scrapes until `check` holds of the samples (the tool reads its ring on a timer), 10 s at most. */
async function eventually(exporter: Exporter, check: (s: Map<string, number>) => boolean): Promise<Map<string, number>> {
  const until = Date.now() + 10_000;
  for (;;) {
    const s = samples((await exporter.scrape()).body);
    if (check(s) || Date.now() > until) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Connects to `port` and resolves once the connection is up or refused. */
function dial(port: number): Promise<Socket | 'refused'> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve('refused'));
  });
}

describe('tsbpf exporter --tools', () => {
  const open: Array<{ close(): void }> = [];
  let veth: VethPair | undefined;
  after(() => {
    for (const o of open.reverse()) o.close();
    if (veth) {
      runCli(['xdp-filter', 'unload', veth.host]);
      veth.remove();
    }
  });

  kernelTest('tcptrack: connections by direction and outcome, and their latency', async () => {
    const exporter = await tools('tcptrack', process.pid);
    open.push(exporter);
    const accepted: Socket[] = [];
    const server: Server = createServer((s) => accepted.push(s));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    open.push({ close: () => server.close() });
    const port = (server.address() as { port: number }).port;
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));

    const clients: Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await dial(port);
      assert.notEqual(s, 'refused');
      clients.push(s as Socket);
    }
    for (let i = 0; i < 2; i++) assert.equal(await dial(closedPort), 'refused');
    while (accepted.length < 3) await once(server, 'connection');
    for (const s of [...clients, ...accepted]) s.destroy();

    const s = samples((await exporter.scrape()).body);
    assert.equal(s.get('tsbpf_tcptrack_connections_total{direction="out",outcome="established"}'), 3);
    assert.equal(s.get('tsbpf_tcptrack_connections_total{direction="out",outcome="refused"}'), 2);
    assert.equal(s.get('tsbpf_tcptrack_connections_total{direction="in",outcome="established"}'), 3);
    assert.equal(s.get('tsbpf_tcptrack_connect_latency_seconds_count{outcome="established"}'), 3);
    assert.equal(s.get('tsbpf_tcptrack_connect_latency_seconds_bucket{outcome="established",le="+Inf"}'), 3);
    assert.equal(s.get('tsbpf_tcptrack_lost_events_total'), 0);
  });

  kernelTest('xdp-filter: packets by verdict and by rule, from the pinned state', async (t) => {
    if (!requireCommand(t, 'ping', 'iputils-ping')) return;
    veth = createVethPair('xe');
    const v = veth;
    const load = runCli(['xdp-filter', 'load', v.host]);
    assert.equal(load.status, 0, load.stderr);
    const block = runCli(['xdp-filter', 'block', v.peerAddr, '--iface', v.host]);
    assert.equal(block.status, 0, block.stderr);
    const exporter = await tools('xdp-filter');
    open.push(exporter);
    sh('ip', ['netns', 'exec', v.netns, 'ping', '-c', '3', '-i', '0.2', '-W', '1', v.hostAddr], { allowFail: true });
    const s = samples((await exporter.scrape()).body);
    assert.equal(s.get(`tsbpf_xdp_filter_packets_total{interface="${v.host}",verdict="dropped"}`), 3);
    const rule = [...s].filter(([k]) => k.startsWith('tsbpf_xdp_filter_rule_packets_total{') && k.includes(`interface="${v.host}"`) && k.includes(`rule="${v.peerAddr}/32"`));
    assert.equal(rule.length, 1);
    assert.equal(rule[0]![1], 3);
    assert.equal(s.get(`tsbpf_xdp_filter_policy{interface="${v.host}",policy="deny"}`), 1);
  });

  kernelTest('observe: flows by protocol and verdict in Hubble\'s names', async (t) => {
    if (!requireCommand(t, 'ping', 'iputils-ping')) return;
    const v = createVethPair('xo');
    open.push({ close: () => v.remove() });
    const exporter = await tools('observe', undefined, ['--observe.iface', v.host]);
    open.push(exporter);
    sh('ip', ['netns', 'exec', v.netns, 'ping', '-c', '3', '-i', '0.2', '-W', '1', v.hostAddr]);
    // Three echo requests in, three replies out.
    const icmp = 'hubble_flows_processed_total{protocol="ICMPv4",subtype="from-network",type="Trace",verdict="FORWARDED"}';
    const out = 'hubble_flows_processed_total{protocol="ICMPv4",subtype="to-network",type="Trace",verdict="FORWARDED"}';
    const s = await eventually(exporter, (m) => m.get(icmp) === 3 && m.get(out) === 3);
    assert.equal(s.get(icmp), 3, [...s].filter(([k]) => k.startsWith('hubble_')).join('\n'));
    assert.equal(s.get(out), 3);
  });

  kernelTest('guard: alerts by rule and priority', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-exporter-guard-'));
    try {
      const target = join(dir, uniqueName('target', 20));
      writeFileSync(target, '');
      const rules = join(dir, 'rules.yaml');
      writeFileSync(rules, `- rule: chmod of the test file\n  desc: d\n  condition: evt.type = chmod and fd.name = ${target}\n  output: "%fd.name"\n  priority: warning\n`);
      const exporter = await tools('guard', undefined, ['--guard.rules', rules]);
      open.push(exporter);
      const r = spawnSync('python3', ['-c', `import os\nfor _ in range(4): os.chmod(${JSON.stringify(target)}, 0o600)`]);
      assert.equal(r.status, 0);
      const series = 'tsbpf_guard_alerts_total{rule="chmod of the test file",priority="Warning"}';
      const s = await eventually(exporter, (m) => m.get(series) === 4);
      assert.equal(s.get(series), 4, [...s].filter(([k]) => k.startsWith('tsbpf_guard')).join('\n'));
      assert.equal(s.get('tsbpf_guard_lost_events_total'), 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
