// tsbpf lb in a lab of network namespaces (test/helpers/lb-lab.ts): a client, the balancer and
// three reals running HTTP servers that answer with their names, joined by a bridge.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Balancer } from '../src/tools/lb/balancer.js';
import { PIN_ROOT } from '../src/tools/lb/pins.js';
import { parseVip } from '../src/tools/lb/spec.js';
import { kernelTest, requireCommand } from './helpers/kernel.js';
import { createLab, destroyLab, httpFromClient, inNs, lbCli, REALS4, REALS6, spawnLbCli, startServer, stopServer, tally, VIP4, VIP6, waitForServers, type Lab } from './helpers/lb-lab.js';

function ok(ns: string, args: string[]): string {
  const r = lbCli(ns, args);
  assert.equal(r.status, 0, `tsbpf ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function withLab(t: TestContext, fn: (lab: Lab) => Promise<void> | void, loadArgs: string[] = []): Promise<void> | undefined {
  if (!requireCommand(t, 'python3', 'python3') || !requireCommand(t, 'ethtool', 'ethtool') || !requireCommand(t, 'nsenter', 'util-linux')) return undefined;
  const lab = createLab();
  return (async () => {
    try {
      waitForServers(lab);
      ok(lab.balancer, ['lb', 'load', lab.lbIf, ...loadArgs]);
      await fn(lab);
    } finally {
      destroyLab(lab);
    }
  })();
}

function setUp(lab: Lab, vip: string, reals: string[], weights: number[], extra: string[] = []): void {
  ok(lab.balancer, ['lb', 'vip', 'add', vip, '--iface', lab.lbIf, ...extra]);
  reals.forEach((r, i) => ok(lab.balancer, ['lb', 'real', 'add', vip, r, '--iface', lab.lbIf, '--weight', String(weights[i])]));
}

/** 300 connections spread 1:1:2 within ±35% of each real's expected count (3.5 sigma for a 1/4 share, 6 for 1/2). */
function assertSpread(names: string[]): void {
  const t = tally(names);
  assert.equal(names.length, 300);
  assert.deepEqual(Object.keys(t).filter((k) => !k.startsWith('real')), [], `failed connections: ${JSON.stringify(t)}`);
  const expected = { real1: 75, real2: 75, real3: 150 };
  for (const [name, n] of Object.entries(expected)) {
    const got = t[name] ?? 0;
    assert.ok(Math.abs(got - n) <= n * 0.35, `${name}: ${got} of 300 connections, expected about ${n} (${JSON.stringify(t)})`);
  }
}

for (const [mode, family] of [['nat', 4], ['dsr', 4], ['nat', 6], ['dsr', 6]] as const) {
  // One of the four runs in generic mode (XDP on the skb), the others in driver mode.
  const load = mode === 'dsr' && family === 4 ? ['--mode', 'generic'] : [];
  kernelTest(`lb: 300 HTTP connections over ${mode.toUpperCase()} and IPv${family} spread by weight, each whole on one real${load.length ? ' (generic XDP)' : ''}`, (t) =>
    withLab(t, (lab) => {
      const vipAddr = family === 4 ? VIP4 : VIP6;
      const vip = family === 4 ? `${VIP4}:80/tcp` : `[${VIP6}]:80/tcp`;
      setUp(lab, vip, family === 4 ? REALS4 : REALS6, [1, 1, 2], ['--mode', mode]);
      if (mode === 'dsr') lab.reals.forEach((ns, i) => ok(ns, ['lb', 'decap', lab.realIfs[i]!, vipAddr]));
      const names = httpFromClient(lab, vipAddr, 300);
      // A connection whose segments went to two reals would be reset: every answer is whole.
      assertSpread(names);
      using lb = Balancer.open(lab.lbIf);
      const v = lb.vip(parseVip(vip));
      assert.equal(v.stats.newConnections, 300);
      assert.equal(v.stats.lruMisses, 0);
      assert.equal(v.reals.reduce((s, r) => s + r.stats.packets, 0), v.stats.packets);
      // The connection table's real of each flow is the one that answered it.
      const byReal = tally(lb.flows(parseVip(vip)).map((f) => f.real));
      const reals = family === 4 ? REALS4 : REALS6;
      const t2 = tally(names);
      reals.forEach((r, i) => assert.equal(byReal[r] ?? 0, t2[`real${i + 1}`] ?? 0, `flows of ${r}`));
      if (mode === 'nat') assert.ok(v.stats.replyPackets > 0);
      else assert.equal(v.stats.replyPackets, 0, 'DSR replies bypass the balancer');
    }, load),
  );
}

/** Sends one UDP datagram from each source port to the VIP; the reals have no listener, so nothing answers. */
function udpFromClient(lab: Lab, host: string, ports: number[]): void {
  const script = `
const dgram = require('node:dgram');
const ports = ${JSON.stringify(ports)};
(async () => { for (const p of ports) await new Promise((ok) => { const s = dgram.createSocket('udp4'); s.bind(p, () => s.send('x', 5300, ${JSON.stringify(host)}, () => { s.close(); ok(); })); }); })();`;
  inNs(lab.client, process.execPath, '-e', script);
}

kernelTest('lb: removing one real of three moves only its flows; counters match the datagrams sent', (t) =>
  withLab(t, (lab) => {
    const vip = `${VIP4}:5300/udp`;
    setUp(lab, vip, REALS4, [1, 1, 1]);
    const ports = Array.from({ length: 300 }, (_, i) => 41000 + i);
    udpFromClient(lab, VIP4, ports);
    using lb = Balancer.open(lab.lbIf);
    const v0 = lb.vip(parseVip(vip));
    assert.equal(v0.stats.packets, 300);
    assert.equal(v0.stats.newConnections, 300);
    assert.equal(v0.reals.reduce((s, r) => s + r.stats.packets, 0), 300);
    const before = new Map(lb.flows(parseVip(vip)).map((f) => [f.clientPort, f.real]));
    assert.equal(before.size, 300);
    ok(lab.balancer, ['lb', 'real', 'del', vip, REALS4[2]!, '--iface', lab.lbIf]);
    udpFromClient(lab, VIP4, ports);
    const after = new Map(lb.flows(parseVip(vip)).map((f) => [f.clientPort, f.real]));
    let moved = 0;
    for (const [port, real] of before) {
      if (real === REALS4[2]) {
        assert.notEqual(after.get(port), REALS4[2]);
        moved++;
      } else {
        assert.equal(after.get(port), real, `flow from port ${port} stayed on ${real}`);
      }
    }
    // About 1/N of the flows were the removed real's.
    assert.ok(moved > 300 / 3 / 2 && moved < (300 / 3) * 1.5, `${moved} of 300 flows moved`);
    assert.equal(lb.vip(parseVip(vip)).stats.packets, 600);
    const cli = JSON.parse(ok(lab.balancer, ['lb', 'stats', '--json', '--iface', lab.lbIf])) as { vips: Array<{ vip: string; stats: { packets: number } }> };
    assert.equal(cli.vips.find((v) => v.vip === vip)?.stats.packets, 600);

    // New flows: the same 300 tuples hashed afresh with the real back, then without it again.
    ok(lab.balancer, ['lb', 'real', 'add', vip, REALS4[2]!, '--iface', lab.lbIf]);
    lb.forgetFlows(parseVip(vip));
    udpFromClient(lab, VIP4, ports);
    const withThree = new Map(lb.flows(parseVip(vip)).map((f) => [f.clientPort, f.real]));
    ok(lab.balancer, ['lb', 'real', 'del', vip, REALS4[2]!, '--iface', lab.lbIf]);
    lb.forgetFlows(parseVip(vip));
    udpFromClient(lab, VIP4, ports);
    const withTwo = new Map(lb.flows(parseVip(vip)).map((f) => [f.clientPort, f.real]));
    let ofRemoved = 0;
    let others = 0;
    for (const [port, real] of withThree) {
      if (real === REALS4[2]) ofRemoved++;
      else if (withTwo.get(port) !== real) others++;
    }
    // Maglev: new flows change real only where the removed real's table entries were (about
    // 1/3 of them), and almost nowhere else (under 1% of the table, test/lb-maglev.test.ts).
    assert.ok(ofRemoved > 50 && ofRemoved < 150, `${ofRemoved} of 300 new flows were on the removed real`);
    assert.ok(others <= 6, `${others} new flows of the remaining reals moved`);
  }),
);

/** Resolves once `pattern` appears in what `read()` returns; rejects after 20 s. */
function waitFor(read: () => string, pattern: RegExp): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (pattern.test(read())) {
        clearInterval(timer);
        clearTimeout(limit);
        resolve();
      }
    }, 50);
    const limit = setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`no ${pattern} in 20s: ${read()}`));
    }, 20_000);
  });
}

kernelTest('lb: the health check takes out a real whose server stops and puts it back when it returns', (t) =>
  withLab(t, async (lab) => {
    const vip = `${VIP4}:80/tcp`;
    // Out after 2 failed checks 200 ms apart (within about 0.6 s), back after 1 success.
    setUp(lab, vip, REALS4, [1, 1, 1], ['--check', 'http:/', '--interval', '200ms', '--timeout', '150ms', '--fall', '2', '--rise', '1']);
    const checker = spawnLbCli(lab.balancer, ['lb', 'health', '--iface', lab.lbIf]);
    let log = '';
    checker.stdout?.on('data', (d) => (log += d));
    try {
      const stopped = Date.now();
      stopServer(lab, 1);
      await waitFor(() => log, /real 10\.200\.2\.12 DOWN: /);
      t.diagnostic(`real2 taken out ${Date.now() - stopped} ms after its server stopped`);
      using lb = Balancer.open(lab.lbIf);
      assert.equal(lb.vip(parseVip(vip)).reals.find((r) => r.address === REALS4[1])?.up, false);
      const t2 = tally(httpFromClient(lab, VIP4, 30));
      assert.equal(t2.real2, undefined);
      assert.equal((t2.real1 ?? 0) + (t2.real3 ?? 0), 30, JSON.stringify(t2));

      lab.servers[1] = startServer(lab, 1);
      await waitFor(() => log, /real 10\.200\.2\.12 UP: /);
      assert.equal(lb.vip(parseVip(vip)).reals.find((r) => r.address === REALS4[1])?.up, true);
      const t3 = tally(httpFromClient(lab, VIP4, 60));
      assert.ok((t3.real2 ?? 0) > 0, `real2 answers again: ${JSON.stringify(t3)}`);
      assert.equal((t3.real1 ?? 0) + (t3.real2 ?? 0) + (t3.real3 ?? 0), 60, JSON.stringify(t3));
    } finally {
      checker.kill('SIGTERM');
    }
  }),
);

kernelTest('lb: established connections survive a weight change', (t) =>
  withLab(t, async (lab) => {
    const vip = `${VIP4}:80/tcp`;
    setUp(lab, vip, REALS4, [1, 1, 1]);
    const go = join(lab.dir, 'go');
    // 30 connections send half a request, wait for the weights to change, then finish it.
    const script = `
const net = require('node:net'); const fs = require('node:fs');
const socks = Array.from({ length: 30 }, () => net.connect(80, ${JSON.stringify(VIP4)}));
Promise.all(socks.map((s) => new Promise((ok) => s.once('connect', ok)))).then(() => {
  for (const s of socks) s.write('GET / HTTP/1.0\\r\\n');
  process.stdout.write('ready\\n');
  const wait = setInterval(() => { if (!fs.existsSync(${JSON.stringify(go)})) return; clearInterval(wait);
    Promise.all(socks.map((s) => new Promise((ok) => { let b = ''; s.on('data', (d) => (b += d)); s.on('end', () => ok(b.split('\\r\\n\\r\\n')[1]?.trim() ?? 'error')); s.on('error', (e) => ok('error: ' + e.code)); s.write('\\r\\n'); })))
      .then((r) => process.stdout.write(JSON.stringify(r) + '\\n'));
  }, 50);
});`;
    const client = spawn('ip', ['netns', 'exec', lab.client, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    client.stdout.on('data', (d) => (out += d));
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (out.includes('ready')) {
          clearInterval(timer);
          resolve();
        }
      }, 50);
    });
    using lb = Balancer.open(lab.lbIf);
    const flowsBefore = tally(lb.flows(parseVip(vip)).map((f) => f.real));
    ok(lab.balancer, ['lb', 'real', 'weight', vip, REALS4[0]!, '--weight', '50', '--iface', lab.lbIf]);
    ok(lab.balancer, ['lb', 'real', 'weight', vip, REALS4[2]!, '--weight', '7', '--iface', lab.lbIf]);
    writeFileSync(go, '');
    await new Promise((resolve) => client.once('exit', resolve));
    const answers = JSON.parse(out.split('\n')[1]!) as string[];
    assert.equal(answers.length, 30);
    assert.deepEqual(answers.filter((a) => !a.startsWith('real')), []);
    const t2 = tally(answers);
    REALS4.forEach((r, i) => assert.equal(t2[`real${i + 1}`] ?? 0, flowsBefore[r] ?? 0, `connections answered by real${i + 1}`));
  }),
);

kernelTest('lb: bad input is one line and exit non-zero, and changes nothing; unload leaves nothing', (t) =>
  withLab(t, async (lab) => {
    const vip = `${VIP4}:80/tcp`;
    setUp(lab, vip, REALS4.slice(0, 2), [1, 1]);
    const status = (): string => ok(lab.balancer, ['lb', 'status', '--json', '--iface', lab.lbIf]);
    const before = status();
    const bad: string[][] = [
      ['vip', 'add', '10.200.9.300:80/tcp'],
      ['vip', 'add', `${VIP4}:65536/tcp`],
      ['vip', 'add', `${VIP4}:0/tcp`],
      ['vip', 'add', vip],
      ['real', 'add', vip, REALS4[2]!, '--weight', '0'],
      ['real', 'add', vip, REALS4[2]!, '--weight', '-3'],
      ['real', 'add', `${VIP4}:81/tcp`, REALS4[2]!],
      ['real', 'add', vip, 'not-an-ip'],
      ['real', 'add', vip, REALS6[0]!],
      ['real', 'add', vip, REALS4[0]!],
      ['real', 'del', vip, REALS4[2]!],
    ];
    for (const args of bad) {
      const r = lbCli(lab.balancer, ['lb', ...args, '--iface', lab.lbIf]);
      assert.notEqual(r.status, 0, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length >= 1 && r.stderr.trim().split('\n')[0]!.length > 0, true, args.join(' '));
      assert.match(r.stderr.trim().split('\n')[0]!, /^tsbpf lb /, `${args.join(' ')}: ${r.stderr}`);
    }
    assert.equal(status(), before);
    // stats --watch prints a table per interval until interrupted, and exits 0.
    const watch = spawnLbCli(lab.balancer, ['lb', 'stats', '--watch', '200ms', '--iface', lab.lbIf]);
    let watched = '';
    watch.stdout?.on('data', (d) => (watched += d));
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if ((watched.match(/vip \/ real/g) ?? []).length >= 2) {
          clearInterval(timer);
          resolve();
        }
      }, 50);
    });
    watch.kill('SIGINT');
    assert.equal(await new Promise((resolve) => watch.once('exit', resolve)), 0);
    ok(lab.balancer, ['lb', 'unload', lab.lbIf]);
    assert.equal(existsSync(join(PIN_ROOT, lab.lbIf)), false);
    assert.doesNotMatch(inNs(lab.balancer, 'ip', 'link', 'show', 'dev', lab.lbIf), /xdp/);
  }),
);
