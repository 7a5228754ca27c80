// tsbpf observe serve --ui in a real browser: Debian's chromium, driven by playwright-core,
// shows the flows of real traffic over a veth pair to a namespace the test creates: a TCP
// connection to an HTTP server, datagrams, a packet an nftables rule drops. With
// OBSERVE_UI_SCREENSHOTS=DIR the run also saves the screenshots of docs/observe.md there.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { allIds, getFdById } from '../src/sys/attrs.js';
import { linkInfoDetails } from '../src/sys/linkinfo.js';
import { Cmd } from '../src/sys/types.js';
import { spawnCli, runCli } from './helpers/cli.js';
import { createVethPair, haveCommand, isRoot, kernelTest, requireCommand, sh, uniqueName, type VethPair } from './helpers/kernel.js';
import { httpGet } from './helpers/observe.js';

const WEB_PORT = 8080;
const BLOCKED_PORT = 8081;
const UDP_PORT = 8082;
/** How long the page may take to show what the test waits for. */
const WAIT_MS = 5000;

/** Starts `tsbpf observe serve ARGS`; resolves with the web view's URL once it serves. */
function startServe(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawnCli(['observe', 'serve', ...args]);
  child.stdin?.end();
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`observe serve did not start in 30 s: ${stderr}`)), 30_000);
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /web view on (http:\/\/\S+)/.exec(stderr);
      if (m?.[1] !== undefined && /serving Hubble's Observer API/.test(stderr)) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`observe serve exited with ${code}: ${stderr}`));
    });
  });
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  return closed.finally(() => clearTimeout(timer));
}

/** The TCX and XDP links on `ifindex`: what a failed start must not leave. */
function linksOn(ifindex: number): number[] {
  const out: number[] = [];
  for (const id of allIds(Cmd.LINK_GET_NEXT_ID)) {
    try {
      const fd = getFdById(Cmd.LINK_GET_FD_BY_ID, id);
      try {
        const d = linkInfoDetails(fd.value).details;
        if ((d.kind === 'tcx' || d.kind === 'xdp') && d.ifindex === ifindex) out.push(id);
      } finally {
        fd.close();
      }
    } catch {
      // Gone since listed.
    }
  }
  return out;
}

interface ShownRow {
  source: string;
  destination: string;
  protocol: string;
  summary: string;
  verdict: string;
}

function shownRows(page: Page): Promise<ShownRow[]> {
  return page.$$eval('#flows tbody tr', (trs) =>
    trs.map((tr) => {
      const cell = (c: string): string => tr.querySelector(`td.${c}`)?.textContent ?? '';
      return { source: cell('source'), destination: cell('destination'), protocol: cell('protocol'), summary: cell('summary'), verdict: cell('verdict') };
    }),
  );
}

/** Waits until `check` holds, polling; fails naming `what` after WAIT_MS. */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`the page did not show ${what} within ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether the page streams with `filter` applied. */
async function filtered(page: Page, filter: string): Promise<boolean> {
  return (new URL(page.url()).searchParams.get('filter') ?? '') === filter && (await page.getAttribute('#status', 'data-state')) === 'live';
}

/** Types `text` into the page's filter and applies it as a user does, with Enter. */
async function typeFilter(page: Page, text: string): Promise<void> {
  await page.fill('#filter', '');
  await page.type('#filter', text);
  await page.press('#filter', 'Enter');
}

describe('observe serve --ui', { concurrency: false }, () => {
  let pair: VethPair | undefined;
  let web: ChildProcess | undefined;
  let serve: ChildProcess | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  let url = '';
  let dir = '';
  const table = uniqueName('obsui', 30);
  let localPort = 0;
  const shots = process.env.OBSERVE_UI_SCREENSHOTS;

  before(async () => {
    if (!isRoot() || !haveCommand('chromium') || !haveCommand('python3')) return;
    pair = createVethPair('ou');
    web = spawn('ip', ['netns', 'exec', pair.netns, 'python3', '-m', 'http.server', String(WEB_PORT), '--bind', '0.0.0.0'], { stdio: 'ignore' });
    const until = Date.now() + 10_000;
    while (!sh('ip', ['netns', 'exec', pair.netns, 'ss', '-ltnH']).includes(`:${WEB_PORT} `)) {
      if (Date.now() > until) throw new Error('http.server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    sh('nft', ['-f', '-'], { input: `table inet ${table} {\n chain input {\n  type filter hook input priority 0;\n  iifname "${pair.host}" tcp dport ${BLOCKED_PORT} drop\n }\n}\n` });
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-observe-ui-'));
    ({ child: serve, url } = await startServe(['--listen', `unix:${join(dir, 'observe.sock')}`, '--iface', pair.host, '--ui', '127.0.0.1:0']));
    browser = await chromium.launch({ executablePath: sh('sh', ['-c', 'command -v chromium']).trim(), args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(url);
    await page.waitForSelector('#status[data-state="live"]', { timeout: WAIT_MS });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await stop(serve);
    web?.kill();
    sh('nft', ['delete', 'table', 'inet', table], { allowFail: true });
    pair?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ready = (t: TestContext): boolean => requireCommand(t, 'chromium', 'chromium') && requireCommand(t, 'python3', 'python3') && requireCommand(t, 'nft', 'nftables');

  kernelTest('the page shows the flows of a TCP connection the test makes, and its HTTP request', async (t) => {
    if (!ready(t)) return;
    const p = pair!;
    const res = await httpGet(p.peerAddr, WEB_PORT, '/from-the-ui-test');
    assert.equal(res.status, 404);
    localPort = res.localPort;
    const made = Date.now();
    const from = `${p.hostAddr}:${localPort}`;
    const to = `${p.peerAddr}:${WEB_PORT}`;
    await until('the SYN', async () => (await shownRows(page!)).some((r) => r.source === from && r.destination === to && r.summary === 'TCP Flags: SYN'));
    t.diagnostic(`the SYN was on the page ${Date.now() - made} ms after the response`);
    const rows = await shownRows(page!);
    const syn = rows.find((r) => r.source === from && r.summary === 'TCP Flags: SYN');
    assert.deepEqual(syn, { source: from, destination: to, protocol: 'tcp', summary: 'TCP Flags: SYN', verdict: 'FORWARDED' });
    await until('the HTTP request', async () => (await shownRows(page!)).some((r) => r.summary === `HTTP/1.1 GET http://${to}/from-the-ui-test` && r.protocol === 'http'));
    // The row says which process made the connection: this one.
    const who = await page!.$$eval('#flows tbody tr', (trs, from) => trs.find((tr) => tr.querySelector('td.source')?.textContent === from)?.querySelector('td.who')?.textContent, from);
    assert.match(who ?? '', new RegExp(`:${process.pid}\\b`));
  });

  kernelTest('a filter typed in the page hides the other flows, and a bad one shows the reason the command line gives', async (t) => {
    if (!ready(t)) return;
    const p = pair!;
    // Other flows: datagrams to a port nothing listens on.
    const udp = createSocket('udp4');
    try {
      for (let i = 0; i < 2; i++) await new Promise<void>((resolve, reject) => udp.send('x', UDP_PORT, p.peerAddr, (err) => (err ? reject(err) : resolve())));
    } finally {
      udp.close();
    }
    await until('the datagrams', async () => (await shownRows(page!)).some((r) => r.protocol === 'udp' && r.destination === `${p.peerAddr}:${UDP_PORT}`));
    await typeFilter(page!, `--port ${localPort} --protocol tcp`);
    await until('the filtered flows', async () => (await filtered(page!, `--port ${localPort} --protocol tcp`)) && (await shownRows(page!)).length >= 3);
    const rows = await shownRows(page!);
    assert.ok(rows.length >= 3, 'SYN, SYN-ACK and ACK at least');
    for (const r of rows) {
      assert.ok(r.protocol === 'tcp' || r.protocol === 'http', JSON.stringify(r));
      assert.ok(r.source.endsWith(`:${localPort}`) || r.destination.endsWith(`:${localPort}`), JSON.stringify(r));
    }
    // The same text on the command line, against the same server, selects the same flows.
    const cli = runCli(['observe', '--server', `unix:${join(dir, 'observe.sock')}`, '--last', '1000', '--port', String(localPort), '--protocol', 'tcp', '-o', 'json']);
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal(cli.stdout.trim().split('\n').length, rows.length);
    await typeFilter(page!, '--port 70000');
    await page!.waitForSelector('#filter-error:not([hidden])', { timeout: WAIT_MS });
    assert.equal(await page!.textContent('#filter-error'), "invalid port '70000' (0-65535)");
    assert.equal(await page!.getAttribute('#status', 'data-state'), 'error');
    assert.equal((await shownRows(page!)).length, 0);
  });

  kernelTest('the service map has an edge from this process to the HTTP server, with its protocols', async (t) => {
    if (!ready(t)) return;
    const p = pair!;
    await typeFilter(page!, `--ip ${p.peerAddr}`);
    const comm = readFileSync('/proc/self/comm', 'utf8').trim();
    const edge = `#map g.edge[data-from="process:${comm}@${p.hostAddr}"][data-to="address:${p.peerAddr}"]`;
    await page!.waitForSelector(edge, { timeout: WAIT_MS });
    const protocols = (await page!.getAttribute(edge, 'data-protocols'))?.split(' ') ?? [];
    // The connection, its HTTP request, and the datagrams: one client, one server.
    assert.deepEqual(protocols.sort(), ['http', `tcp/${WEB_PORT}`, `udp/${UDP_PORT}`], protocols.join(' '));
    assert.ok(Number(await page!.getAttribute(edge, 'data-flows')) >= 3);
    assert.equal(await page!.getAttribute(edge, 'data-drops'), '0');
    assert.equal(await page!.getAttribute(edge, 'class'), 'edge');
    assert.equal(await page!.textContent(`#map g.node[data-id="process:${comm}@${p.hostAddr}"] .nlabel`), comm);
  });

  kernelTest('a packet an nftables rule drops appears in the drop reasons, in red on the map and in the table', async (t) => {
    if (!ready(t)) return;
    const p = pair!;
    await typeFilter(page!, '--verdict DROPPED');
    await until('the filter applied', () => filtered(page!, '--verdict DROPPED'));
    // From the namespace towards this one, where the rule is.
    sh('ip', ['netns', 'exec', p.netns, 'python3', '-c', `import socket\ns = socket.socket(); s.settimeout(0.3)\ntry: s.connect(('${p.hostAddr}', ${BLOCKED_PORT}))\nexcept Exception: pass\ns.close()`]);
    await page!.waitForSelector('#drops tr[data-reason="NETFILTER_DROP"]', { timeout: WAIT_MS });
    assert.ok(Number(await page!.textContent('#drops tr[data-reason="NETFILTER_DROP"] td.num')) >= 1);
    const edge = `#map g.edge.drop[data-from="address:${p.peerAddr}"][data-to="address:${p.hostAddr}"]`;
    await page!.waitForSelector(edge, { timeout: WAIT_MS });
    assert.ok((await page!.getAttribute(edge, 'data-protocols'))?.split(' ').includes(`tcp/${BLOCKED_PORT}`));
    assert.ok(Number(await page!.getAttribute(edge, 'data-drops')) >= 1);
    const rows = await shownRows(page!);
    assert.ok(rows.some((r) => r.destination === `${p.hostAddr}:${BLOCKED_PORT}` && r.verdict === 'DROPPED: NETFILTER_DROP'), JSON.stringify(rows));
    assert.ok(rows.every((r) => r.verdict.startsWith('DROPPED')), JSON.stringify(rows));
    if (shots !== undefined) {
      mkdirSync(shots, { recursive: true });
      await page!.screenshot({ path: join(shots, 'observe-ui-drops.png') });
      await typeFilter(page!, '');
      await page!.waitForSelector('#drops tr[data-reason="NETFILTER_DROP"]', { timeout: WAIT_MS });
      await page!.waitForSelector(`#map g.edge[data-protocols~="http"]`, { timeout: WAIT_MS });
      await page!.screenshot({ path: join(shots, 'observe-ui.png') });
    }
  });

  kernelTest('--ui with a bad address or a busy port: one line, a non-zero exit, nothing left attached', async (t) => {
    if (!ready(t)) return;
    const p = pair!;
    const sock = join(dir, 'bad.sock');
    const base = ['observe', 'serve', '--listen', `unix:${sock}`, '--iface', p.host];
    const before = linksOn(p.ifindex);
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', () => resolve()));
    const busyPort = (busy.address() as { port: number }).port;
    try {
      const cases: Array<[string[], number, RegExp]> = [
        [['--ui', 'not-an-address'], 2, /^tsbpf observe serve: --ui: invalid address 'not-an-address' \(HOST:PORT, \[IPv6\]:PORT or PORT; port 0 picks a free one\)\n/],
        [['--ui', '127.0.0.1:70000'], 2, /^tsbpf observe serve: --ui: invalid address '127\.0\.0\.1:70000'/],
        [['--ui', '[not:v6]:80'], 2, /^tsbpf observe serve: --ui: invalid address '\[not:v6\]:80'/],
        [['--ui', `127.0.0.1:${busyPort}`], 1, new RegExp(`^tsbpf observe: --ui: cannot listen on 127\\.0\\.0\\.1:${busyPort}: the port is in use \\[EADDRINUSE\\]\\n$`)],
        [['--ui', '192.0.2.1:0'], 1, /^tsbpf observe: --ui: cannot listen on 192\.0\.2\.1:0: no interface of this host has that address \[EADDRNOTAVAIL\]\n$/],
      ];
      for (const [args, status, stderr] of cases) {
        const r = runCli([...base, ...args], { timeoutMs: 20_000 });
        assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, stderr, args.join(' '));
        assert.equal(r.stdout, '');
        assert.equal(existsSync(sock), false, 'no socket left');
      }
      // The page's port bound, then the datapath fails: the command still fails in one line.
      const r = runCli(['observe', 'serve', '--listen', `unix:${sock}`, '--iface', 'no-such-if0', '--ui', '127.0.0.1:0'], { timeoutMs: 20_000 });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^tsbpf observe: .*no-such-if0.*\n$/);
    } finally {
      busy.close();
    }
    assert.deepEqual(linksOn(p.ifindex), before);
    // The serving page was not disturbed by any of it.
    const still = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port: Number(new URL(url).port) }, () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    assert.ok(still);
  });
});
