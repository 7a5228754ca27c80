// The balancer's lab: network namespaces joined by one bridge (in a namespace of its own): a
// client, the balancer and three reals, each real running an HTTP server that answers with its
// own name. Client and reals are in different subnets routed through the balancer, so NAT
// replies come back through it; replies from a DSR VIP's address go straight to the client.
// Every name is unique to the run and everything goes with the namespaces.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { DECAP_ROOT, PIN_ROOT } from '../../src/tools/lb/pins.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgv, type CliResult } from './cli.js';
import { packageRoot } from '../../src/sys/package.js';
import { uniqueName } from './kernel.js';

export const VIP4 = '10.200.9.1';
export const VIP6 = 'fd00:c8:9::1';
export const CLIENT4 = '10.200.1.2';
export const CLIENT6 = 'fd00:c8:1::2';
export const LB4 = '10.200.1.1';
export const LB6 = 'fd00:c8:1::1';
export const REALS4 = ['10.200.2.11', '10.200.2.12', '10.200.2.13'];
export const REALS6 = ['fd00:c8:2::11', 'fd00:c8:2::12', 'fd00:c8:2::13'];

export interface Lab {
  tag: string;
  client: string;
  balancer: string;
  sw: string;
  reals: string[];
  /** Interface names: the balancer's, the client's, each real's. */
  lbIf: string;
  clientIf: string;
  realIfs: string[];
  servers: ChildProcess[];
  dir: string;
  /** Bridge ports with a pass-all XDP program pinned. */
  passIfs: string[];
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

function inNs(ns: string, ...args: string[]): string {
  return run('ip', ['netns', 'exec', ns, ...args]);
}

/** Joins `ns` to the bridge with a veth pair; returns its end's name. */
function plug(lab: Lab, ns: string, name: string, mtu: number): string {
  const peer = `${name}p`.slice(0, 15);
  run('ip', ['link', 'add', name, 'netns', ns, 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', peer, 'netns', lab.sw, 'mtu', '1600']);
  inNs(lab.sw, 'ip', 'link', 'set', peer, 'master', 'br0', 'up');
  // A veth end takes the frames its peer sends with XDP_TX only with an XDP program of its
  // own: the decapsulator with no VIPs passes everything.
  const r = lbCli(lab.sw, ['lb', 'decap', peer]);
  if (r.status !== 0) throw new Error(`lb decap ${peer}: ${r.stderr}`);
  lab.passIfs.push(peer);
  inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
  inNs(ns, 'ip', 'link', 'set', name, 'up');
  // Checksums the stack leaves to the device would be stale after XDP rewrites an address.
  inNs(ns, 'ethtool', '-K', name, 'tx', 'off');
  inNs(ns, 'sysctl', '-qw', `net.ipv6.conf.${name}.accept_ra=0`);
  return name;
}

export function createLab(): Lab {
  const tag = uniqueName('l', 9);
  const lab: Lab = {
    tag,
    client: `tsbpf-lb-${tag}-c`,
    balancer: `tsbpf-lb-${tag}-b`,
    sw: `tsbpf-lb-${tag}-s`,
    reals: [1, 2, 3].map((i) => `tsbpf-lb-${tag}-r${i}`),
    lbIf: `${tag}b`,
    clientIf: `${tag}c`,
    realIfs: [1, 2, 3].map((i) => `${tag}r${i}`),
    servers: [],
    passIfs: [],
    dir: mkdtempSync(join(tmpdir(), 'tsbpf-lb-')),
  };
  try {
    for (const ns of [lab.client, lab.balancer, lab.sw, ...lab.reals]) run('ip', ['netns', 'add', ns]);
    inNs(lab.sw, 'ip', 'link', 'add', 'br0', 'type', 'bridge');
    inNs(lab.sw, 'ip', 'link', 'set', 'br0', 'up');
    // The client's link has the usual MTU; the balancer and the reals take the 20 or 40 bytes
    // of an IP-in-IP header on top.
    plug(lab, lab.client, lab.clientIf, 1500);
    plug(lab, lab.balancer, lab.lbIf, 1600);
    lab.reals.forEach((ns, i) => plug(lab, ns, lab.realIfs[i]!, 1600));
    const b = lab.balancer;
    for (const a of [`${LB4}/24`, '10.200.2.1/24']) inNs(b, 'ip', 'addr', 'add', a, 'dev', lab.lbIf);
    for (const a of [`${LB6}/64`, 'fd00:c8:2::1/64']) inNs(b, 'ip', '-6', 'addr', 'add', a, 'dev', lab.lbIf, 'nodad');
    inNs(b, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    inNs(b, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
    // The kernel forwards what XDP passes back out of the interface it came in by: no
    // redirect may teach the reals a way to the client around the balancer.
    for (const k of ['all', lab.lbIf]) inNs(b, 'sysctl', '-qw', `net.ipv4.conf.${k}.send_redirects=0`);
    inNs(lab.client, 'ip', 'addr', 'add', `${CLIENT4}/24`, 'dev', lab.clientIf);
    inNs(lab.client, 'ip', '-6', 'addr', 'add', `${CLIENT6}/64`, 'dev', lab.clientIf, 'nodad');
    inNs(lab.client, 'ip', 'route', 'add', 'default', 'via', LB4);
    inNs(lab.client, 'ip', '-6', 'route', 'add', 'default', 'via', LB6);
    lab.reals.forEach((ns, i) => {
      const ifn = lab.realIfs[i]!;
      inNs(ns, 'ip', 'addr', 'add', `${REALS4[i]}/24`, 'dev', ifn);
      inNs(ns, 'ip', '-6', 'addr', 'add', `${REALS6[i]}/64`, 'dev', ifn, 'nodad');
      inNs(ns, 'ip', 'route', 'add', 'default', 'via', '10.200.2.1');
      inNs(ns, 'ip', '-6', 'route', 'add', 'default', 'via', 'fd00:c8:2::1');
      // DSR: the VIP is a local address, and replies from it go to the client directly.
      inNs(ns, 'ip', 'addr', 'add', `${VIP4}/32`, 'dev', 'lo');
      inNs(ns, 'ip', '-6', 'addr', 'add', `${VIP6}/128`, 'dev', 'lo', 'nodad');
      inNs(ns, 'ip', 'route', 'add', '10.200.1.0/24', 'dev', ifn, 'table', '100');
      inNs(ns, 'ip', '-6', 'route', 'add', 'fd00:c8:1::/64', 'dev', ifn, 'table', '100');
      inNs(ns, 'ip', 'rule', 'add', 'from', VIP4, 'lookup', '100');
      inNs(ns, 'ip', '-6', 'rule', 'add', 'from', VIP6, 'lookup', '100');
      for (const k of ['all', 'default', ifn]) inNs(ns, 'sysctl', '-qw', `net.ipv4.conf.${k}.rp_filter=0`);
      const root = join(lab.dir, `r${i + 1}`);
      run('mkdir', ['-p', root]);
      writeFileSync(join(root, 'index.html'), `real${i + 1}\n`);
      lab.servers.push(startServer(lab, i));
    });
    return lab;
  } catch (err) {
    destroyLab(lab);
    throw err;
  }
}

/** Starts real `i`'s HTTP server, answering with its name on port 80. */
export function startServer(lab: Lab, i: number): ChildProcess {
  return spawn('ip', ['netns', 'exec', lab.reals[i]!, 'python3', '-m', 'http.server', '80', '--bind', '::', '--directory', join(lab.dir, `r${i + 1}`)], { stdio: 'ignore' });
}

/** Stops real `i`'s HTTP server (the health check's failure). */
export function stopServer(lab: Lab, i: number): void {
  lab.servers[i]?.kill('SIGKILL');
}

export function destroyLab(lab: Lab): void {
  for (const s of lab.servers) s.kill('SIGKILL');
  // Pins outlive namespaces: unload what the lab pinned, then whatever the test left.
  for (const p of lab.passIfs) lbCli(lab.sw, ['lb', 'decap', p, '--unload']);
  lab.realIfs.forEach((ifn, i) => {
    if (existsSync(join(DECAP_ROOT, ifn))) lbCli(lab.reals[i]!, ['lb', 'decap', ifn, '--unload']);
  });
  if (existsSync(join(PIN_ROOT, lab.lbIf))) lbCli(lab.balancer, ['lb', 'unload', lab.lbIf]);
  for (const ns of [lab.client, lab.balancer, lab.sw, ...lab.reals]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  rmSync(lab.dir, { recursive: true, force: true });
}

/**
 * Runs `tsbpf args` in a namespace's network only (nsenter --net), so it sees the namespace's
 * interfaces and the machine's bpffs (`ip netns exec` would hide /sys/fs/bpf).
 */
export function lbCli(ns: string, args: string[], timeoutMs = 60_000): CliResult {
  const r = spawnSync('nsenter', [`--net=/run/netns/${ns}`, process.execPath, ...cliArgv(args)], { cwd: packageRoot(), encoding: 'utf8', timeout: timeoutMs });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function spawnLbCli(ns: string, args: string[]): ChildProcess {
  return spawn('nsenter', [`--net=/run/netns/${ns}`, process.execPath, ...cliArgv(args)], { cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Waits until every real answers HTTP on its own address. */
export function waitForServers(lab: Lab): void {
  const script = `
const http = require('node:http');
const hosts = ${JSON.stringify(REALS4)};
const deadline = Date.now() + 15000;
const get = (h) => new Promise((ok) => http.get({ host: h, port: 80, path: '/', agent: false, timeout: 1000 }, (r) => { r.resume(); r.on('end', () => ok(true)); }).on('error', () => ok(false)).on('timeout', function () { this.destroy(); ok(false); }));
(async () => { for (const h of hosts) { while (!(await get(h))) { if (Date.now() > deadline) process.exit(1); await new Promise((r) => setTimeout(r, 100)); } } })();`;
  inNs(lab.balancer, process.execPath, '-e', script);
}

/**
 * Opens `count` HTTP connections from the client to `host`, one after another, each from its
 * own port; returns the body (the real's name) of each, or 'error: ...'.
 */
export function httpFromClient(lab: Lab, host: string, count: number, opts: { localAddress?: string } = {}): string[] {
  const script = `
const http = require('node:http');
const out = [];
const one = () => new Promise((ok) => {
  const req = http.get({ host: ${JSON.stringify(host)}, port: 80, path: '/', agent: false, timeout: 3000${opts.localAddress ? `, localAddress: ${JSON.stringify(opts.localAddress)}` : ''} }, (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => ok(b.trim())); });
  req.on('error', (e) => ok('error: ' + e.code)); req.on('timeout', () => { req.destroy(); ok('error: timeout'); });
});
(async () => { for (let i = 0; i < ${count}; i++) out.push(await one()); process.stdout.write(JSON.stringify(out)); })();`;
  return JSON.parse(inNs(lab.client, process.execPath, '-e', script)) as string[];
}

export function tally(names: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const n of names) t[n] = (t[n] ?? 0) + 1;
  return t;
}

export { inNs };
