// The guide's "eBPF vs iptables" service load balancing table, measured: the same VIP and the
// same three nginx reals in the lab of test/helpers/lb-lab.ts (client, balancer and reals in
// network namespaces joined by a bridge), served by (a) tsbpf lb in NAT mode, (b) iptables DNAT
// as kube-proxy's iptables mode writes it, (c) nftables DNAT as its nftables mode writes it.
//
//   npx tsx bench/lb/run.ts [--seconds 4] [--services 1,100,1000,10000]
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
import { CLIENT4, createLab, destroyLab, lbCli, REALS4, VIP4, type Lab } from '../../test/helpers/lb-lab.js';
import type { BenchResult } from '../result.js';
import { fillerServices, setupIptables, setupNft, type Service } from './netfilter.js';

const HTTP_PORT = 8080;
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
  forwarded: number;
  pps: number;
  ppsPerCpu: number;
  softirqNsPerPkt: number;
}

export interface CaseResult {
  name: string;
  services: number;
  http: HttpResult;
  pps?: PpsResult;
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
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

function wrk(lab: Lab, seconds: number): HttpResult {
  const hz = 100;
  const before = cpuTicks();
  const out = inNs(lab.client, 'wrk', ['-t1', '-c16', `-d${seconds}s`, '--latency', '-H', 'Connection: close', `http://${VIP4}:${HTTP_PORT}/`]);
  const after = cpuTicks();
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)?.slice(1).reduce((a, b) => a + Number(b), 0) ?? 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return {
    requests,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50Ms: ms(/50%\s+(\S+)/.exec(out)?.[1] ?? ''),
    p99Ms: ms(/99%\s+(\S+)/.exec(out)?.[1] ?? ''),
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

function flood(lab: Lab, sender: string, mac: string, seconds: number): PpsResult {
  const before = realRxPackets(lab);
  const report = JSON.parse(inNs(lab.client, sender, ['-i', lab.clientIf, '-d', mac, '-s', CLIENT4, '-D', VIP4, '-m', 'packet', '-t', String(seconds), '-n', '1'])) as { ns: number; userHz: number; cpu: number[] };
  execFileSync('sleep', ['0.2']);
  const forwarded = realRxPackets(lab) - before;
  const softirqSec = (report.cpu[6] ?? 0) / report.userHz;
  return { forwarded, pps: forwarded / (report.ns / 1e9), ppsPerCpu: softirqSec > 0 ? forwarded / softirqSec : Number.NaN, softirqNsPerPkt: forwarded > 0 ? (softirqSec * 1e9) / forwarded : Number.NaN };
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
  log?: (line: string) => void;
}

export async function measureAll(opts: LbBenchOptions = {}): Promise<CaseResult[]> {
  const seconds = opts.seconds ?? 4;
  const counts = opts.services ?? [1, 100, 1000, 10000];
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-bench-lb-'));
  const sender = join(tmp, 'sender');
  execFileSync('cc', ['-O2', '-pthread', '-Wall', '-o', sender, join(packageRoot(), 'bench', 'xdp', 'sender.c')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const lab = createLab();
  const nginx = startNginx(lab);
  const results: CaseResult[] = [];
  try {
    const mac = (JSON.parse(inNs(lab.balancer, 'ip', ['-j', 'link', 'show', 'dev', lab.lbIf])) as Array<{ address: string }>)[0]!.address;
    // Warm: the neighbours and nginx answer before anything is timed.
    execFileSync('sleep', ['1']);
    for (const r of REALS4) inNs(lab.client, 'ping', ['-c1', '-W1', r]);
    const record = (c: CaseResult): void => {
      results.push(c);
      log(`${c.name} (${c.services} service(s)): ${c.http.rps.toFixed(0)} req/s, p50 ${c.http.p50Ms} ms, p99 ${c.http.p99Ms} ms, ${c.http.cpuUsPerRequest.toFixed(0)} us CPU/req, ${c.http.errors} errors${c.pps ? `; UDP ${c.pps.pps.toFixed(0)} pkt/s forwarded, ${c.pps.ppsPerCpu.toFixed(0)} pkt/s per softirq CPU (${c.pps.softirqNsPerPkt.toFixed(0)} ns/pkt)` : ''}`);
    };

    const vipArgs = ['--iface', lab.lbIf];
    const ok = (args: string[]): void => {
      const r = lbCli(lab.balancer, args);
      if (r.status !== 0) throw new Error(`tsbpf ${args.join(' ')}: ${r.stderr}`);
    };
    ok(['lb', 'load', lab.lbIf]);
    try {
      for (const [port, proto] of [[HTTP_PORT, 'tcp'], [UDP_PORT, 'udp']] as const) {
        ok(['lb', 'vip', 'add', `${VIP4}:${port}/${proto}`, ...vipArgs]);
        for (const r of REALS4) ok(['lb', 'real', 'add', `${VIP4}:${port}/${proto}`, r, ...vipArgs]);
      }
      record({ name: 'tsbpf lb (XDP, NAT)', services: 1, http: wrk(lab, seconds), pps: flood(lab, sender, mac, 2) });
    } finally {
      ok(['lb', 'unload', lab.lbIf]);
    }

    let backend = 'unknown';
    for (const n of counts) {
      const services = [...fillerServices(n - 1), measured(HTTP_PORT, 'tcp'), measured(UDP_PORT, 'udp')];
      const ipt = setupIptables(lab.balancer, services);
      backend = ipt.backend;
      try {
        record({ name: `iptables DNAT (kube-proxy iptables mode, ${backend})`, services: n, http: wrk(lab, seconds), ...(n === 1 ? { pps: flood(lab, sender, mac, 2) } : {}) });
      } finally {
        ipt.teardown();
      }
      const nft = setupNft(lab.balancer, services);
      try {
        record({ name: 'nftables DNAT (kube-proxy nftables mode)', services: n, http: wrk(lab, seconds), ...(n === 1 ? { pps: flood(lab, sender, mac, 2) } : {}) });
      } finally {
        nft.teardown();
      }
    }
  } finally {
    for (const p of nginx) p.kill('SIGTERM');
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
    if (lb.pps && ref.pps) out.push({ name: `UDP packets forwarded per softirq CPU-second (vs ${short})`, unit: 'pkt/s', ts: lb.pps.ppsPerCpu, reference: ref.pps.ppsPerCpu, referenceName: ref.name, ratio: lb.pps.ppsPerCpu / ref.pps.ppsPerCpu, note: `${lb.pps.softirqNsPerPkt.toFixed(0)} vs ${ref.pps.softirqNsPerPkt.toFixed(0)} ns/pkt in softirq` });
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
  const rows = results.map((r) => `| ${r.name} | ${r.services.toLocaleString('en-US')} | ${r.http.rps.toFixed(0)} | ${r.http.p50Ms} | ${r.http.p99Ms} | ${r.http.cpuUsPerRequest.toFixed(0)} | ${r.pps ? r.pps.pps.toFixed(0) : ''} | ${r.pps ? r.pps.ppsPerCpu.toFixed(0) : ''} |`);
  return `| case | services | req/s | p50 ms | p99 ms | CPU us/req | UDP pkt/s | pkt/s per softirq CPU |\n|---|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2);
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const results = await measureAll({ seconds: Number(get('--seconds') ?? 4), services: (get('--services') ?? '1,100,1000,10000').split(',').map(Number) });
  process.stdout.write(table(results));
  for (const r of compare(results)) process.stdout.write(`${r.name}: tsbpf lb ${r.ts.toFixed(2)} ${r.unit}, ${r.referenceName} ${r.reference.toFixed(2)} ${r.unit}, ${r.ratio.toFixed(2)}x (${r.note ?? ''})\n`);
}
