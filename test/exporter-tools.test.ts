// `tsbpf exporter --tools`: tcptrack's connections and xdp-filter's verdicts as metrics, counted
// exactly for what the test does (tcptrack filtered on this process, xdp-filter on a veth pair
// of the test's own).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, describe } from 'node:test';
import { openExporter, parseExporterArgs } from '../src/tools/exporter/cli.js';
import { DecoderEnv } from '../src/tools/exporter/decoders.js';
import type { Exporter } from '../src/tools/exporter/exporter.js';
import { Sources } from '../src/tools/exporter/sources.js';
import { runCli } from './helpers/cli.js';
import { createVethPair, kernelTest, requireCommand, sh, type VethPair } from './helpers/kernel.js';

function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

async function tools(names: string, pid?: number): Promise<Exporter> {
  const o = parseExporterArgs(['--tools', names]);
  assert.ok(o !== 'help');
  return openExporter(o, new DecoderEnv(new Sources()), pid === undefined ? {} : { tcptrack: { pid } });
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
});
