// The guide's "eBPF vs iptables" service load balancing table, measured: the same VIP and the
// same three nginx reals in the lab of test/helpers/lb-lab.ts (client, balancer and reals in
// network namespaces joined by a bridge), served by (a) tsbpf lb in NAT mode, (b) iptables DNAT
// as kube-proxy's iptables mode writes it, (c) nftables DNAT as its nftables mode writes it.
//
//   npx tsx bench/lb/run.ts [--seconds 4] [--rounds 3] [--services 1,100,1000,10000]
//
// HTTP: wrk from the client, one new connection per request (Connection: close), so every
// request pays for choosing a real, which is the work a service proxy does; requests/s, p50 and
// p99 latency, and CPU per request (all CPUs' busy time from /proc/stat over the run, divided by
// the requests: client, balancer and reals share the machine). Packets: bench/xdp/sender.c
// floods UDP to the VIP from the client; forwarded packets are those the reals' interfaces
// received, and pkt/s per CPU is that count over the softirq CPU time of the window.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../../src/sys/package.js';
import { CLIENT4, createLab, destroyLab, lbCli, REALS4, VIP4, waitForServers, type Lab } from '../../test/helpers/lb-lab.js';
import type { BenchResult } from '../result.js';
import { fillerServices, setupIptables, setupNft, type Service } from './netfilter.js';

const HTTP_PORT = 8080;
const GEN4 = '10.200.3.2';
const UDP_PORT = 9;

export interface HttpResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerRequest: number;
  errors: number;
}

export interface PpsResult {
  /** What the sender sent: 'XDP frames' or 'skbs' (AF_PACKET). */
  traffic: string;
  forwarded: number;
  pps: number;
  ppsPerCpu: number;
  softirqNsPerPkt: number;
}

export interface CaseResult {
  name: string;
  services: number;
  http: HttpResult;
  /** UDP from the client through the bridge: skbs from AF_PACKET. */
  pps?: PpsResult;
  /** UDP from the generator's direct link: XDP frames (no skb before the balancer), or skbs where the kernel refuses live frames. */
  ppsFrames?: PpsResult;
}

function inNs(ns: string, cmd: string, args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function cpuTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!m) return Number.NaN;
  return Number((Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1)).toFixed(3));
}

/** Sockets of the client in TIME_WAIT: what earlier runs left, which connect() must step over. */
function timeWait(lab: Lab): number {
  return execFileSync('ip', ['netns', 'exec', lab.client, 'ss', '-Htan', 'state', 'time-wait'], { encoding: 'utf8' }).split('\n').filter((l) => l !== '').length;
}

function wrk(lab: Lab, seconds: number): HttpResult {
  const hz = 100;
  process.stderr.write(`  client sockets in TIME_WAIT before the run: ${timeWait(lab)}\n`);
  const before = cpuTicks();
  const out = inNs(lab.client, 'wrk', ['-t1', '-c16', `-d${seconds}s`, '--latency', '-H', 'Connection: close', `http://${VIP4}:${HTTP_PORT}/`]);
  const after = cpuTicks();
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)?.slice(1).reduce((a, b) => a + Number(b), 0) ?? 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return {
    requests,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    // The distribution's own lines: the thread stats' "+/- Stdev" column also ends in %.
    p50Ms: ms(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    p99Ms: ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    cpuUsPerRequest: requests > 0 ? (((after.busy - before.busy) / hz) * 1e6) / requests : Number.NaN,
    errors: errors + non2xx,
  };
}

function realRxPackets(lab: Lab): number {
  return lab.reals.reduce((sum, ns, i) => {
    const s = JSON.parse(inNs(ns, 'ip', ['-j', '-s', 'link', 'show', 'dev', lab.realIfs[i]!])) as Array<{ stats64: { rx: { packets: number } } }>;
    return sum + (s[0]?.stats64.rx.packets ?? 0);
  }, 0);
}

/** Where a flood comes from: the client through the bridge (skbs), or the generator's direct link (XDP frames). */
interface FloodSource {
  ns: string;
  iface: string;
  /** The balancer's MAC on that link. */
  mac: string;
  src: string;
  mode: 'packet' | 'xdp';
}

function flood(lab: Lab, sender: string, from: FloodSource, seconds: number): PpsResult {
  const before = realRxPackets(lab);
  const report = JSON.parse(inNs(from.ns, sender, ['-i', from.iface, '-d', from.mac, '-s', from.src, '-D', VIP4, '-m', from.mode, '-t', String(seconds), '-n', '1'])) as { ns: number; userHz: number; cpu: number[] };
  execFileSync('sleep', ['0.2']);
  const forwarded = realRxPackets(lab) - before;
  const softirqSec = (report.cpu[6] ?? 0) / report.userHz;
  return { traffic: from.mode === 'xdp' ? 'XDP frames' : 'skbs', forwarded, pps: forwarded / (report.ns / 1e9), ppsPerCpu: softirqSec > 0 ? forwarded / softirqSec : Number.NaN, softirqNsPerPkt: forwarded > 0 ? (softirqSec * 1e9) / forwarded : Number.NaN };
}

function startNginx(lab: Lab): ChildProcess[] {
  return lab.reals.map((ns, i) => {
    const dir = join(lab.dir, `nginx${i + 1}`);
    mkdirSync(dir, { recursive: true });
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      `worker_processes 1;\ndaemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  client_body_temp_path ${dir};\n  proxy_temp_path ${dir};\n  fastcgi_temp_path ${dir};\n  uwsgi_temp_path ${dir};\n  scgi_temp_path ${dir};\n  server {\n    listen ${HTTP_PORT} reuseport backlog=4096;\n    location / { return 200 "real${i + 1}\\n"; }\n  }\n}\n`,
    );
    return spawn('ip', ['netns', 'exec', ns, 'nginx', '-p', dir, '-c', conf], { stdio: 'ignore' });
  });
}

const measured = (port: number, proto: 'tcp' | 'udp'): Service => ({ vip: VIP4, port, proto, endpoints: REALS4.map((addr) => ({ addr, port })) });

export interface LbBenchOptions {
  seconds?: number;
  services?: number[];
  /** Rounds of the three one-service cases, each round in a rotated order; medians are kept. */
  rounds?: number;
  log?: (line: string) => void;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function medianHttp(rs: HttpResult[]): HttpResult {
  return {
    requests: median(rs.map((r) => r.requests)),
    rps: median(rs.map((r) => r.rps)),
    p50Ms: median(rs.map((r) => r.p50Ms)),
    p99Ms: median(rs.map((r) => r.p99Ms)),
    cpuUsPerRequest: median(rs.map((r) => r.cpuUsPerRequest)),
    errors: rs.reduce((a, r) => a + r.errors, 0),
  };
}

function medianPps(rs: PpsResult[]): PpsResult {
  return { traffic: rs[0]!.traffic, forwarded: median(rs.map((r) => r.forwarded)), pps: median(rs.map((r) => r.pps)), ppsPerCpu: median(rs.map((r) => r.ppsPerCpu)), softirqNsPerPkt: median(rs.map((r) => r.softirqNsPerPkt)) };
}

interface Case {
  name: string;
  setup(): () => void;
  /** What the generator's link needs for this case: its own balancer, or an XDP program that passes. */
  setupFrames(): () => void;
}

export async function measureAll(opts: LbBenchOptions = {}): Promise<CaseResult[]> {
  const seconds = opts.seconds ?? 4;
  const counts = opts.services ?? [1, 100, 1000, 10000];
  const rounds = opts.rounds ?? 3;
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-bench-lb-'));
  const sender = join(tmp, 'sender');
  execFileSync('cc', ['-O2', '-pthread', '-Wall', '-o', sender, join(packageRoot(), 'bench', 'xdp', 'sender.c')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const lab = createLab();
  const genNs = `${lab.balancer}-g`;
  const genIf = `${lab.tag}g`;
  const nginx = startNginx(lab);
  const results: CaseResult[] = [];
  try {
    const macOf = (ns: string, ifname: string): string => (JSON.parse(inNs(ns, 'ip', ['-j', 'link', 'show', 'dev', ifname])) as Array<{ address: string }>)[0]!.address;
    const mac = macOf(lab.balancer, lab.lbIf);
    // The generator: a namespace of its own with a veth pair straight to the balancer (no
    // bridge), so the sender's XDP frames reach the balancer's interface as xdp_frames.
    execFileSync('ip', ['netns', 'add', genNs]);
    execFileSync('ip', ['link', 'add', 'gen0', 'netns', genNs, 'type', 'veth', 'peer', 'name', genIf, 'netns', lab.balancer]);
    inNs(genNs, 'ip', ['link', 'set', 'gen0', 'up']);
    inNs(lab.balancer, 'ip', ['link', 'set', genIf, 'up']);
    inNs(lab.balancer, 'ip', ['addr', 'add', '10.200.3.1/24', 'dev', genIf]);
    inNs(genNs, 'ip', ['addr', 'add', `${GEN4}/24`, 'dev', 'gen0']);
    const skbFrom: FloodSource = { ns: lab.client, iface: lab.clientIf, mac, src: CLIENT4, mode: 'packet' };
    const framesFrom: FloodSource = { ns: genNs, iface: 'gen0', mac: macOf(lab.balancer, genIf), src: GEN4, mode: 'xdp' };
    // The client is a load generator: every request is a new connection from one address to
    // one VIP, and most leave a client socket in TIME_WAIT for 60 s. With the default port
    // range (28,232 ports, half of them for connect()) and no reuse, the runs before a case
    // held about 14,100 of them and connect() spent its time looking for a free port: 100
    // services (nftables) made 3,766 req/s at p99 35 ms after three rounds of the one-service
    // cases, and 8,257 after one. Reusing TIME_WAIT ports (timestamps make that safe) over
    // the whole range, as load generators are set up, keeps about 3,000 in TIME_WAIT and makes
    // each case cost only itself.
    inNs(lab.client, 'sysctl', ['-qw', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=1024 65535']);
    // Warm: the reals answer (and the balancer knows their neighbours) before anything is timed.
    waitForServers(lab);
    execFileSync('sleep', ['1']);
    const record = (c: CaseResult): void => {
      results.push(c);
      if (c.ppsFrames) log(`  direct link, ${c.ppsFrames.traffic}: ${c.ppsFrames.pps.toFixed(0)} pkt/s forwarded, ${c.ppsFrames.ppsPerCpu.toFixed(0)} pkt/s per softirq CPU (${c.ppsFrames.softirqNsPerPkt.toFixed(0)} ns/pkt)`);
      log(`${c.name} (${c.services} service(s)): ${c.http.rps.toFixed(0)} req/s, p50 ${c.http.p50Ms} ms, p99 ${c.http.p99Ms} ms, ${c.http.cpuUsPerRequest.toFixed(0)} us CPU/req, ${c.http.errors} errors${c.pps ? `; UDP ${c.pps.pps.toFixed(0)} pkt/s forwarded, ${c.pps.ppsPerCpu.toFixed(0)} pkt/s per softirq CPU (${c.pps.softirqNsPerPkt.toFixed(0)} ns/pkt)` : ''}`);
    };

    const vipArgs = ['--iface', lab.lbIf];
    const ok = (args: string[]): void => {
      const r = lbCli(lab.balancer, args);
      if (r.status !== 0) throw new Error(`tsbpf ${args.join(' ')}: ${r.stderr}`);
    };
    const servicesOf = (n: number): Service[] => [...fillerServices(n - 1), measured(HTTP_PORT, 'tcp'), measured(UDP_PORT, 'udp')];
    let backend = 'unknown';
    // veth takes XDP frames only at an end with an XDP program: the references get one that
    // passes everything, so their packets go on to netfilter.
    const passOnGen = (): (() => void) => {
      ok(['lb', 'decap', genIf]);
      return () => ok(['lb', 'decap', genIf, '--unload']);
    };
    const iptables = (n: number): Case => ({
      name: `iptables DNAT (kube-proxy iptables mode, ${backend})`,
      setup: () => {
        const ipt = setupIptables(lab.balancer, servicesOf(n));
        backend = ipt.backend;
        return ipt.teardown;
      },
      setupFrames: passOnGen,
    });
    const nft = (n: number): Case => ({ name: 'nftables DNAT (kube-proxy nftables mode)', setup: () => setupNft(lab.balancer, servicesOf(n)).teardown, setupFrames: passOnGen });
    const lb: Case = {
      name: 'tsbpf lb (XDP, NAT)',
      setup: () => {
        ok(['lb', 'load', lab.lbIf]);
        for (const [port, proto] of [[HTTP_PORT, 'tcp'], [UDP_PORT, 'udp']] as const) {
          ok(['lb', 'vip', 'add', `${VIP4}:${port}/${proto}`, ...vipArgs]);
          for (const r of REALS4) ok(['lb', 'real', 'add', `${VIP4}:${port}/${proto}`, r, ...vipArgs]);
        }
        return () => ok(['lb', 'unload', lab.lbIf]);
      },
      // A second balancer on the generator's link, with the same UDP VIP and reals: it
      // forwards to the reals through the bridge's interface with a redirect.
      setupFrames: () => {
        ok(['lb', 'load', genIf]);
        ok(['lb', 'vip', 'add', `${VIP4}:${UDP_PORT}/udp`, '--iface', genIf]);
        for (const r of REALS4) ok(['lb', 'real', 'add', `${VIP4}:${UDP_PORT}/udp`, r, '--iface', genIf]);
        return () => ok(['lb', 'unload', genIf]);
      },
    };
    type Run = { name: string; http: HttpResult; pps?: PpsResult; ppsFrames?: PpsResult };
    const once = (c: Case, pps: boolean): Run => {
      const teardown = c.setup();
      try {
        execFileSync('sleep', ['1']);
        const name = c.name.replace('unknown', backend);
        const run: Run = { name, http: wrk(lab, seconds) };
        if (!pps) return run;
        run.pps = flood(lab, sender, skbFrom, 2);
        const frames = c.setupFrames();
        try {
          run.ppsFrames = flood(lab, sender, framesFrom, 2);
        } catch (err) {
          // The sender's live frames need BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES,
          // which some kernels and machines refuse: then AF_PACKET on the same link.
          log(`${name}: XDP frames refused (${((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}); skbs on the direct link instead`);
          run.ppsFrames = flood(lab, sender, { ...framesFrom, mode: 'packet' }, 2);
        } finally {
          frames();
        }
        return run;
      } finally {
        teardown();
      }
    };
    // The three one-service cases in rounds, each round in another order, so that a slow
    // moment of the shared machine does not land on one case only.
    const base = [lb, iptables(1), nft(1)];
    const runs = new Map<number, Run[]>();
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < base.length; k++) {
        const i = (k + round) % base.length;
        const r = once(base[i]!, true);
        log(`round ${round + 1}: ${r.name}: ${r.http.rps.toFixed(0)} req/s, p50 ${r.http.p50Ms} ms, p99 ${r.http.p99Ms} ms, ${r.http.cpuUsPerRequest.toFixed(0)} us CPU/req; UDP ${r.pps?.pps.toFixed(0)} pkt/s (skb through the bridge)${r.ppsFrames ? `, ${r.ppsFrames.pps.toFixed(0)} pkt/s (${r.ppsFrames.traffic} on the direct link)` : ''}`);
        runs.set(i, [...(runs.get(i) ?? []), r]);
      }
    }
    base.forEach((_, i) => {
      const rs = runs.get(i)!;
      const frames = rs.flatMap((r) => (r.ppsFrames ? [r.ppsFrames] : []));
      record({ name: rs[0]!.name, services: 1, http: medianHttp(rs.map((r) => r.http)), pps: medianPps(rs.map((r) => r.pps!)), ...(frames.length ? { ppsFrames: medianPps(frames) } : {}) });
    });
    // With many services the rules are loaded once per case (10,000 take seconds) and wrk
    // runs `rounds` times on them; the median is kept.
    // The order alternates from one count to the next, and each measurement waits for the
    // kernel's deferred work of loading (and of freeing the case before: 60,000 iptables
    // rules) to pass.
    for (const [k, n] of counts.filter((c) => c > 1).entries()) {
      for (const c of k % 2 ? [nft(n), iptables(n)] : [iptables(n), nft(n)]) {
        const teardown = c.setup();
        try {
          execFileSync('sleep', ['3']);
          const runs = Array.from({ length: rounds }, () => wrk(lab, seconds));
          record({ name: c.name.replace('unknown', backend), services: n, http: medianHttp(runs) });
        } finally {
          teardown();
        }
      }
    }
  } finally {
    for (const p of nginx) p.kill('SIGTERM');
    execFileSync('ip', ['netns', 'del', genNs], { stdio: 'ignore' });
    destroyLab(lab);
    rmSync(tmp, { recursive: true, force: true });
  }
  return results;
}

/** The guide's claims: eBPF against iptables, for service load balancing. */
export const GUIDE = { throughput: 2.5, latency: 5, cpu: 2.7 };

export function compare(results: CaseResult[]): BenchResult[] {
  const lb = results.find((r) => r.name.startsWith('tsbpf'))!;
  const out: BenchResult[] = [];
  for (const ref of results.filter((r) => r !== lb && r.services === 1)) {
    const short = ref.name.startsWith('iptables') ? 'iptables' : 'nftables';
    out.push(
      { name: `HTTP requests/s through the VIP, new connection each (vs ${short})`, unit: 'req/s', ts: lb.http.rps, reference: ref.http.rps, referenceName: ref.name, ratio: lb.http.rps / ref.http.rps, note: `guide: ${GUIDE.throughput}x for eBPF over iptables` },
      { name: `HTTP p99 latency (vs ${short})`, unit: 'ms', ts: lb.http.p99Ms, reference: ref.http.p99Ms, referenceName: ref.name, ratio: ref.http.p99Ms / lb.http.p99Ms, note: `p50 ${lb.http.p50Ms} vs ${ref.http.p50Ms} ms; guide: ${GUIDE.latency}x lower` },
      { name: `CPU per HTTP request, whole machine (vs ${short})`, unit: 'us', ts: lb.http.cpuUsPerRequest, reference: ref.http.cpuUsPerRequest, referenceName: ref.name, ratio: ref.http.cpuUsPerRequest / lb.http.cpuUsPerRequest, note: `guide: ${GUIDE.cpu}x less` },
    );
    if (lb.pps && ref.pps) out.push({ name: `UDP packets forwarded per softirq CPU-second, skb traffic through the bridge (vs ${short})`, unit: 'pkt/s', ts: lb.pps.ppsPerCpu, reference: ref.pps.ppsPerCpu, referenceName: ref.name, ratio: lb.pps.ppsPerCpu / ref.pps.ppsPerCpu, note: `${lb.pps.softirqNsPerPkt.toFixed(0)} vs ${ref.pps.softirqNsPerPkt.toFixed(0)} ns/pkt in softirq` });
    if (lb.ppsFrames && ref.ppsFrames) out.push({ name: `UDP packets forwarded per softirq CPU-second, ${lb.ppsFrames.traffic} on a direct link (vs ${short})`, unit: 'pkt/s', ts: lb.ppsFrames.ppsPerCpu, reference: ref.ppsFrames.ppsPerCpu, referenceName: ref.name, ratio: lb.ppsFrames.ppsPerCpu / ref.ppsFrames.ppsPerCpu, note: `${lb.ppsFrames.softirqNsPerPkt.toFixed(0)} vs ${ref.ppsFrames.softirqNsPerPkt.toFixed(0)} ns/pkt in softirq; ${lb.ppsFrames.pps.toFixed(0)} vs ${ref.ppsFrames.pps.toFixed(0)} pkt/s` });
  }
  for (const ref of results.filter((r) => r.services > 1)) {
    out.push({ name: `HTTP requests/s with ${ref.services.toLocaleString('en-US')} services`, unit: 'req/s', ts: lb.http.rps, reference: ref.http.rps, referenceName: ref.name, ratio: lb.http.rps / ref.http.rps, note: `p99 ${ref.http.p99Ms} ms, ${ref.http.cpuUsPerRequest.toFixed(0)} us CPU/req` });
  }
  return out;
}

export async function run(opts: LbBenchOptions = {}): Promise<BenchResult[]> {
  return compare(await measureAll(opts));
}

function table(results: CaseResult[]): string {
  const pps = (p: PpsResult | undefined): string => (p ? `${p.pps.toFixed(0)} | ${p.ppsPerCpu.toFixed(0)}` : ' | ');
  const rows = results.map((r) => `| ${r.name} | ${r.services.toLocaleString('en-US')} | ${r.http.rps.toFixed(0)} | ${r.http.p50Ms} | ${r.http.p99Ms} | ${r.http.cpuUsPerRequest.toFixed(0)} | ${pps(r.pps)} | ${pps(r.ppsFrames)} |`);
  return `| case | services | req/s | p50 ms | p99 ms | CPU us/req | UDP pkt/s via bridge | per softirq CPU | UDP pkt/s direct link | per softirq CPU |\n|---|---|---|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2);
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const results = await measureAll({ seconds: Number(get('--seconds') ?? 4), rounds: Number(get('--rounds') ?? 3), services: (get('--services') ?? '1,100,1000,10000').split(',').map(Number) });
  process.stdout.write(table(results));
  for (const r of compare(results)) process.stdout.write(`${r.name}: tsbpf lb ${r.ts.toFixed(2)} ${r.unit}, ${r.referenceName} ${r.reference.toFixed(2)} ${r.unit}, ${r.ratio.toFixed(2)}x (${r.note ?? ''})\n`);
}
