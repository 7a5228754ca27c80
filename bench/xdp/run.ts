// Drop benchmark: packets per second dropped by source address on a veth pair between two
// network namespaces, by the project's XDP filter (native and generic mode) and by the netfilter
// rules people use for the same job (iptables raw PREROUTING with the legacy and the nft backend,
// an nftables netdev ingress chain), all fed by one generator (sender.c) in one run. Besides the
// rate, each case records the CPU time spent in softirq over its window, where the receive path
// and the filter run, as a share of all CPU time and per dropped packet: on a small machine the
// generator and the receiver share the CPUs, so the rate alone undersells a cheaper filter.
//
// Two kinds of traffic, each against every case: skbs from an AF_PACKET socket (on veth even
// "native" XDP then gets an skb that is already allocated), and XDP-redirected frames, which reach
// native XDP before any skb exists, as on a NIC.
//
//   npx tsx bench/xdp/run.ts [--rounds N] [--seconds S] [--threads N] [--batch N] [--traffic skb|frames]
//
// Needs root, ip, nsenter, cc, clang, bpftool, and for the references iptables and nftables
// (Debian: apt-get install -y iptables nftables). Cases whose tool is missing are skipped.
import { execFileSync, spawn, spawnSync, type ExecFileSyncOptions } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { packageRoot } from '../../src/sys/package.js';
import { loaderArgs } from '../loader-args.js';
import type { BenchResult } from '../result.js';
import type { CaseId, Measurement, MeasureRequest, Traffic } from './measure.js';
import { createTopology, destroyTopology, topologyNames } from './topology.js';
import { xdpPinDir } from './xdp.js';

export interface XdpBenchOptions {
  /** Rounds of every case (3); each round runs the cases in a rotated order. */
  rounds?: number | undefined;
  /** Length of one case's flood (2 s). */
  seconds?: number | undefined;
  /** Sender threads, one per CPU by default. */
  threads?: number | undefined;
  /** Frames per sendmmsg call, or per XDP batch for frames. */
  batch?: number | undefined;
  /** Kinds of traffic to measure with, both by default. */
  traffic?: Traffic[] | undefined;
  /** Progress lines on stderr. */
  verbose?: boolean;
}

/** One measurement, reduced. */
export interface CaseRun {
  pps: number;
  sentPps: number;
  /** Softirq time over all CPU time in the window. */
  softirqShare: number;
  /** Softirq CPU time per dropped packet. */
  softirqNsPerPacket: number;
  /** CPU time spent neither by the sender process nor by ksoftirqd (other work on the machine) over all CPU time. */
  otherShare: number;
  threads: number;
}

export interface CaseSummary {
  caseId: CaseId;
  traffic: Traffic;
  label: string;
  runs: CaseRun[];
  pps: number;
  ppsMin: number;
  ppsMax: number;
  /** Coefficient of variation of pps over the rounds. */
  ppsCv: number;
  sentPps: number;
  softirqShare: number;
  softirqNsPerPacket: number;
  otherShare: number;
}

export const caseLabels: Record<CaseId, string> = {
  'xdp-native': 'XDP native (driver)',
  'xdp-generic': 'XDP generic (skb)',
  'iptables-legacy': 'iptables raw PREROUTING (legacy)',
  'iptables-nft': 'iptables raw PREROUTING (nft backend)',
  'nft-ingress': 'nftables netdev ingress',
};

/** The tool each reference case needs on the PATH. */
const caseTools: Partial<Record<CaseId, string>> = {
  'iptables-legacy': 'iptables-legacy',
  'iptables-nft': 'iptables-nft',
  'nft-ingress': 'nft',
};

const allCases: CaseId[] = ['xdp-native', 'xdp-generic', 'iptables-legacy', 'iptables-nft', 'nft-ingress'];

export const trafficLabels: Record<Traffic, string> = {
  skb: 'skb traffic (AF_PACKET)',
  frames: 'XDP-redirected frames',
};

/** Rows of the report: XDP mode against reference. */
const comparisons: [CaseId, CaseId][] = [
  ['xdp-native', 'iptables-legacy'],
  ['xdp-native', 'iptables-nft'],
  ['xdp-native', 'nft-ingress'],
  ['xdp-generic', 'iptables-legacy'],
  ['xdp-generic', 'iptables-nft'],
  ['xdp-generic', 'nft-ingress'],
];

const here = dirname(fileURLToPath(import.meta.url));
const DEFAULT_ROUNDS = 3;
const DEFAULT_SECONDS = 2;
/** Set in measurement processes, which must never start a benchmark of their own. */
const CHILD_ENV = 'TSBPF_XDP_BENCH_MEASURING';

function hasCommand(cmd: string): boolean {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function cv(xs: number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  return mean > 0 ? Math.sqrt(variance) / mean : 0;
}

function reduce(m: Measurement): CaseRun {
  const s = m.sender;
  const seconds = s.ns / 1e9;
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const ticks = s.cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  const softirq = s.cpu[6] ?? 0;
  const cpuNs = (ticks / s.userHz) * 1e9;
  const busyNs = ((ticks - (s.cpu[3] ?? 0) - (s.cpu[4] ?? 0)) / s.userHz) * 1e9;
  const ksoftirqdNs = (s.ksoftirqd / s.userHz) * 1e9;
  return {
    pps: m.dropped / seconds,
    sentPps: s.sent / seconds,
    softirqShare: ticks > 0 ? softirq / ticks : 0,
    softirqNsPerPacket: m.dropped > 0 ? ((softirq / s.userHz) * 1e9) / m.dropped : 0,
    otherShare: cpuNs > 0 ? Math.max(0, busyNs - s.utimeNs - s.stimeNs - ksoftirqdNs) / cpuNs : 0,
    threads: s.threads,
  };
}

function summarize(traffic: Traffic, caseId: CaseId, runs: CaseRun[]): CaseSummary {
  const pps = runs.map((r) => r.pps);
  return {
    caseId,
    traffic,
    label: caseLabels[caseId],
    runs,
    pps: median(pps),
    ppsMin: Math.min(...pps),
    ppsMax: Math.max(...pps),
    ppsCv: cv(pps),
    sentPps: median(runs.map((r) => r.sentPps)),
    softirqShare: median(runs.map((r) => r.softirqShare)),
    softirqNsPerPacket: median(runs.map((r) => r.softirqNsPerPacket)),
    otherShare: median(runs.map((r) => r.otherShare)),
  };
}

/** Everything made under one run, so that a signal or a failure can remove it. */
class Leftovers {
  readonly topologies = new Set<{ txNs: string; rxNs: string }>();
  readonly pinDirs = new Set<string>();
  readonly children = new Set<ReturnType<typeof spawn>>();
  tmp: string | undefined;

  cleanup(): void {
    for (const c of this.children) c.kill('SIGTERM');
    for (const t of this.topologies) destroyTopology(t);
    for (const d of this.pinDirs) rmSync(d, { recursive: true, force: true });
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
    this.children.clear();
    this.topologies.clear();
    this.pinDirs.clear();
    this.tmp = undefined;
  }
}

/** Runs measure.ts in the receiver's namespace; resolves to its result line. */
function measureInNamespace(req: MeasureRequest, left: Leftovers): Promise<Measurement> {
  const script = join(here, `measure${extname(fileURLToPath(import.meta.url))}`);
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=/run/netns/${req.topology.rxNs}`, process.execPath, ...loaderArgs(), script, JSON.stringify(req)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, [CHILD_ENV]: '1' },
    });
    const what = `${trafficLabels[req.traffic]}, ${caseLabels[req.caseId]}`;
    const pins = child.pid === undefined ? undefined : xdpPinDir(child.pid, req.topology.rxIf);
    left.children.add(child);
    if (pins) left.pinDirs.add(pins);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (status) => {
      left.children.delete(child);
      if (pins) {
        rmSync(pins, { recursive: true, force: true });
        left.pinDirs.delete(pins);
      }
      if (status !== 0) return reject(new Error(`${what}: measurement failed (exit ${status}): ${err.trim()}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as Measurement);
      } catch (e) {
        reject(new Error(`${what}: unreadable result: ${out}${err}`, { cause: e }));
      }
    });
  });
}

function build(tmp: string): { senderPath: string; groPath: string; objectFile: string } {
  const root = packageRoot();
  const senderPath = join(tmp, 'sender');
  const groPath = join(tmp, 'gro');
  const objectFile = join(tmp, 'xdp_filter.bpf.o');
  const quiet: ExecFileSyncOptions = { stdio: ['ignore', 'ignore', 'inherit'] };
  execFileSync('cc', ['-O2', '-pthread', '-Wall', '-o', senderPath, join(root, 'bench', 'xdp', 'sender.c')], quiet);
  execFileSync('cc', ['-O2', '-Wall', '-o', groPath, join(root, 'bench', 'xdp', 'gro.c')], quiet);
  const triple = execFileSync('cc', ['-dumpmachine'], { encoding: 'utf8' }).trim();
  const clang = process.env.CLANG ?? 'clang-19';
  const args = ['-target', 'bpf', '-O2', '-g'];
  if (existsSync(`/usr/include/${triple}`)) args.push(`-I/usr/include/${triple}`);
  args.push('-c', join(root, 'src', 'tools', 'xdp-filter', 'xdp_filter.bpf.c'), '-o', objectFile);
  execFileSync(clang, args, quiet);
  return { senderPath, groPath, objectFile };
}

/** Measures every case `rounds` times and summarizes each. */
export async function measureCases(opts: XdpBenchOptions = {}): Promise<CaseSummary[]> {
  if (process.getuid?.() !== 0) throw new Error('the XDP drop benchmark needs root (namespaces, XDP, netfilter)');
  if (process.env[CHILD_ENV]) throw new Error('the XDP drop benchmark was started from one of its own measurements');
  const rounds = opts.rounds ?? DEFAULT_ROUNDS;
  const seconds = opts.seconds ?? DEFAULT_SECONDS;
  const threads = opts.threads ?? 0;
  const batch = opts.batch ?? 64;
  const traffics = opts.traffic ?? ['skb', 'frames'];
  if (!(rounds >= 1 && seconds > 0 && threads >= 0 && batch >= 1 && traffics.length > 0)) {
    throw new Error(`invalid options: rounds ${rounds}, seconds ${seconds}, threads ${threads}, batch ${batch}, traffic ${traffics.join(',')}`);
  }
  const log = (s: string): void => {
    if (opts.verbose) process.stderr.write(`${s}\n`);
  };

  const cases = allCases.filter((c) => {
    const tool = caseTools[c];
    if (tool === undefined || hasCommand(tool)) return true;
    process.stderr.write(`xdp bench: ${tool} not found, skipping ${caseLabels[c]} (Debian: apt-get install -y iptables nftables)\n`);
    return false;
  });

  const left = new Leftovers();
  const onSignal = (signal: NodeJS.Signals): void => {
    left.cleanup();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15));
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onExit = (): void => left.cleanup();
  for (const s of signals) process.on(s, onSignal);
  // Also on an uncaught exception, which skips the finally below.
  process.on('exit', onExit);
  try {
    left.tmp = mkdtempSync(join(tmpdir(), 'tsbpf-bench-xdp-'));
    const built = build(left.tmp);
    const runs = new Map<string, CaseRun[]>();
    for (let round = 0; round < rounds; round++) {
      for (const traffic of traffics) {
        const order = cases.map((_, i) => cases[(i + round) % cases.length] as CaseId);
        for (const caseId of order) {
          // Fresh namespaces per case: a legacy iptables table stays hooked in its namespace
          // until the namespace goes, and would tax every later case there.
          const names = topologyNames();
          left.topologies.add(names);
          try {
            const topology = await createTopology(names);
            const m = await measureInNamespace({ caseId, traffic, topology, ...built, seconds, threads, batch }, left);
            const r = reduce(m);
            const key = `${traffic}/${caseId}`;
            runs.set(key, [...(runs.get(key) ?? []), r]);
            log(
              `round ${round + 1}/${rounds}, ${trafficLabels[traffic]}, ${caseLabels[caseId]}: ${Math.round(r.pps)} pkt/s dropped of ` +
                `${Math.round(r.sentPps)} sent, softirq ${pct(r.softirqShare)}, ${Math.round(r.softirqNsPerPacket)} ns/pkt, other CPU ${pct(r.otherShare)}`,
            );
          } finally {
            destroyTopology(names);
            left.topologies.delete(names);
          }
        }
      }
    }
    return traffics.flatMap((t) => cases.map((c) => summarize(t, c, runs.get(`${t}/${c}`) ?? [])));
  } finally {
    left.cleanup();
    for (const s of signals) process.off(s, onSignal);
    process.off('exit', onExit);
  }
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** The report rows: each XDP mode against each reference that was measured. */
export function compare(summaries: CaseSummary[], opts: XdpBenchOptions = {}): BenchResult[] {
  const by = new Map(summaries.map((s) => [`${s.traffic}/${s.caseId}`, s]));
  const out: BenchResult[] = [];
  for (const [traffic, [a, b]] of (Object.keys(trafficLabels) as Traffic[]).flatMap((t) => comparisons.map((c) => [t, c] as const))) {
    const x = by.get(`${traffic}/${a}`);
    const ref = by.get(`${traffic}/${b}`);
    if (!x || !ref) continue;
    const perRound = x.runs.map((r, i) => r.pps / (ref.runs[i]?.pps ?? Number.NaN)).filter(Number.isFinite);
    out.push({
      name: `drop by source IP, ${trafficLabels[traffic]}: ${x.label} vs ${ref.label}`,
      unit: 'pkt/s',
      ts: x.pps,
      reference: ref.pps,
      referenceName: ref.label,
      ratio: x.pps / ref.pps,
      note:
        `softirq CPU per dropped packet ${Math.round(x.softirqNsPerPacket)} vs ${Math.round(ref.softirqNsPerPacket)} ns ` +
        `(${(ref.softirqNsPerPacket / x.softirqNsPerPacket).toFixed(2)}x), softirq ${pct(x.softirqShare)} vs ${pct(ref.softirqShare)} of CPU; ` +
        `pkt/s ratio per round ${Math.min(...perRound).toFixed(2)}-${Math.max(...perRound).toFixed(2)}; ` +
        `median of ${x.runs.length} x ${opts.seconds ?? DEFAULT_SECONDS} s on veth, ${x.runs[0]?.threads ?? '?'} sender thread(s), ` +
        `other load on the machine ${pct(x.otherShare)} / ${pct(ref.otherShare)}`,
    });
  }
  return out;
}

export async function run(opts: XdpBenchOptions = {}): Promise<BenchResult[]> {
  return compare(await measureCases(opts), opts);
}

function formatCases(summaries: CaseSummary[]): string {
  const head = ['traffic', 'case', 'dropped pkt/s (median)', 'min', 'max', 'cv', 'sent pkt/s', 'softirq CPU', 'softirq ns/pkt', 'other CPU'];
  const rows = summaries.map((s) => [
    trafficLabels[s.traffic],
    s.label,
    Math.round(s.pps).toLocaleString('en-US'),
    Math.round(s.ppsMin).toLocaleString('en-US'),
    Math.round(s.ppsMax).toLocaleString('en-US'),
    pct(s.ppsCv),
    Math.round(s.sentPps).toLocaleString('en-US'),
    pct(s.softirqShare),
    String(Math.round(s.softirqNsPerPacket)),
    pct(s.otherShare),
  ]);
  return table(head, rows);
}

function formatResults(results: BenchResult[]): string {
  const head = ['comparison', 'XDP pkt/s', 'reference pkt/s', 'ratio', 'note'];
  const rows = results.map((r) => [r.name.replace('drop by source IP, ', ''), Math.round(r.ts).toLocaleString('en-US'), Math.round(r.reference).toLocaleString('en-US'), `${r.ratio.toFixed(2)}x`, r.note ?? '']);
  return table(head, rows);
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      threads: { type: 'string' },
      batch: { type: 'string' },
      traffic: { type: 'string', multiple: true },
      quiet: { type: 'boolean' },
    },
  });
  const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
  const opts: XdpBenchOptions = {
    rounds: num(values.rounds),
    seconds: num(values.seconds),
    threads: num(values.threads),
    batch: num(values.batch),
    traffic: values.traffic?.flatMap((t) => t.split(',')).map((t) => {
      if (!(t in trafficLabels)) {
        process.stderr.write(`unknown traffic '${t}' (skb or frames)\n`);
        process.exit(2);
      }
      return t as Traffic;
    }),
    verbose: !values.quiet,
  };
  try {
    const summaries = await measureCases(opts);
    process.stdout.write(`${formatCases(summaries)}\n\n${formatResults(compare(summaries, opts))}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
