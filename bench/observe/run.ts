// observe's cost to the traffic it watches: TCP throughput (iperf3) and HTTP request rate (wrk
// against nginx) between this namespace and one the benchmark creates, with `tsbpf observe -f`
// attached to the veth's host end (TCX ingress and egress, drops, L7 snap of 256 bytes, flows
// formatted as compact lines to /dev/null) and without it, alternating in one run; and the
// programs' own cost per packet from the kernel's bpf_stats (run time over run count).
//
//   npx tsx bench/observe/run.ts [--rounds N] [--seconds S]
//
// Needs root, ip, iperf3, nginx and wrk (Debian: apt-get install iperf3 nginx-light wrk).
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { type Program, RingBufReader } from '../../src/index.js';
import { cgroup2Root } from '../../src/tools/observe/context.js';
import { openDatapath, SNAP_LEN, type Aggregation, type Datapath } from '../../src/tools/observe/datapath.js';
import type { FlowItem } from '../../src/tools/observe/flow.js';
import { parseObserveArgs, type ObserveOptions } from '../../src/tools/observe/options.js';
import { runObserve } from '../../src/tools/observe/run.js';
import type { BenchResult } from '../result.js';

const exec = promisify(execFile);

interface Topology {
  netns: string;
  host: string;
  hostAddr: string;
  peerAddr: string;
  remove(): void;
}

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function topology(): Topology {
  const id = process.pid.toString(36);
  const netns = `obench${id}`;
  const host = `obh${id}`.slice(0, 15);
  const peer = `obp${id}`.slice(0, 15);
  const remove = (): void => {
    for (const args of [['netns', 'del', netns], ['link', 'del', host]]) {
      try {
        sh('ip', args);
      } catch {
        // Already gone.
      }
    }
  };
  remove();
  sh('ip', ['netns', 'add', netns]);
  sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', netns]);
  sh('ip', ['addr', 'add', '10.233.7.1/24', 'dev', host]);
  sh('ip', ['link', 'set', host, 'up']);
  sh('ip', ['netns', 'exec', netns, 'ip', 'addr', 'add', '10.233.7.2/24', 'dev', peer]);
  sh('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', peer, 'up']);
  sh('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up']);
  return { netns, host, hostAddr: '10.233.7.1', peerAddr: '10.233.7.2', remove };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const devNull = (): Writable =>
  new Writable({
    write(_c, _e, done) {
      done();
    },
  });

/** Starts `tsbpf observe -f` on the interface in this process; resolves once attached. */
async function startObserve(iface: string, aggregation: Aggregation, extra: string[] = []): Promise<{ datapath: Datapath; flows(): number; lost(): number; stop(): Promise<number> }> {
  const options = parseObserveArgs(['-f', '--iface', iface, '--monitor-aggregation', aggregation, ...extra]) as ObserveOptions;
  const controller = new AbortController();
  let flows = 0;
  let userLost = 0;
  let ready: (dp: Datapath) => void = () => {};
  const attached = new Promise<Datapath>((r) => (ready = r));
  const onItem = (item: FlowItem): void => {
    if ('flow' in item) flows++;
    else userLost += Number(item.lost_events.num_events_lost);
  };
  const running = runObserve(options, { stdout: devNull(), stderr: devNull() }, controller.signal, { onReady: (dp) => ready(dp), onItem, lostIntervalMs: 100 });
  const datapath = await attached;
  return {
    datapath,
    flows: () => flows,
    lost: () => datapath.lost() + userLost,
    async stop() {
      controller.abort();
      await running;
      return flows;
    },
  };
}

/** The length of a compact line of an HTTP flow with a process, as observe prints them. */
const FLOOR_LINE = 120;

/**
 * The datapath alone, as the default attaches it: its records read from the ring every 25 ms,
 * as observe reads them, and not decoded. The difference to the full run is the user side's.
 * With `line`, each record also costs a line of that many bytes, written to /dev/null in one
 * write per drain as observe writes: the least any user side that prints a line per flow does.
 */
async function startDatapathOnly(iface: string, line = 0): Promise<{ stop(): { records: number; lost: number } }> {
  const dp = await openDatapath({ interfaces: [iface], filter: {}, snapLen: SNAP_LEN, drops: true, aggregation: 'medium', cgroupRoot: cgroup2Root() });
  const reader = new RingBufReader(dp.object.collection.maps.events!);
  const devNull = openSync('/dev/null', 'w');
  const text = `${'x'.repeat(Math.max(0, line - 1))}\n`;
  let records = 0;
  const count = (): void => {
    if (line === 0) {
      reader.drainRaw(() => records++);
      return;
    }
    let out = '';
    reader.drainRaw(() => {
      records++;
      out += text;
    });
    if (out !== '') writeSync(devNull, out);
  };
  const timer = setInterval(count, 25);
  return {
    stop() {
      clearInterval(timer);
      count();
      const lost = dp.lost();
      reader.close();
      dp.close();
      closeSync(devNull);
      return { records, lost };
    },
  };
}

function programStats(dp: Datapath, name: 'observe_ingress' | 'observe_egress' | 'observe_drop'): { ns: bigint; cnt: bigint } {
  const p = (dp.object.programs as Record<string, { program: Program } | undefined>)[name];
  if (p === undefined) return { ns: 0n, cnt: 0n };
  const info = p.program.info();
  return { ns: info.runTimeNs, cnt: info.runCount };
}

async function iperf(t: Topology, seconds: number): Promise<number> {
  const { stdout } = await exec('iperf3', ['-c', t.peerAddr, '-t', String(seconds), '-J'], { maxBuffer: 16 << 20 });
  return (JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
}

/** UDP datagrams of 64 bytes at `pps` for `seconds` (iperf3 -u); the number sent. */
async function udpFlood(t: Topology, pps: number, seconds: number): Promise<number> {
  const { stdout } = await exec('iperf3', ['-c', t.peerAddr, '-u', '-l', '64', '-b', String(pps * 64 * 8), '-t', String(seconds), '-J'], { maxBuffer: 16 << 20 });
  return (JSON.parse(stdout) as { end: { sum: { packets: number } } }).end.sum.packets;
}

/**
 * The highest rate of new flows observe takes with nothing lost: with a record per packet
 * (--monitor-aggregation none), UDP datagrams at rates doubling from 5,000/s until the kernel
 * or observe's own process loses a record; the last rate before that.
 */
async function losslessRate(t: Topology, seconds: number): Promise<{ best: number; firstLossy?: { pps: number; lost: number; sent: number } }> {
  let best = 0;
  for (let pps = 5000; pps <= 640_000; pps *= 2) {
    const o = await startObserve(t.host, 'none');
    try {
      const lostBefore = o.lost();
      const sent = await udpFlood(t, pps, seconds);
      // The last records leave the ring within the reader's next wake-ups.
      await new Promise((r) => setTimeout(r, 500));
      const lost = o.lost() - lostBefore;
      if (lost > 0) return { best, firstLossy: { pps: Math.round(sent / seconds), lost, sent } };
      best = Math.round(sent / seconds);
    } finally {
      await o.stop();
    }
  }
  return { best };
}

async function wrk(t: Topology, seconds: number): Promise<number> {
  const { stdout } = await exec('wrk', ['-t1', '-c16', `-d${seconds}s`, `http://${t.peerAddr}:8080/`]);
  const m = /Requests\/sec:\s*([\d.]+)/.exec(stdout);
  if (m === null) throw new Error(`wrk: no rate in\n${stdout}`);
  return Number(m[1]);
}

export async function run(argv: string[] = []): Promise<BenchResult[]> {
  const { values } = parseArgs({ args: argv, options: { rounds: { type: 'string' }, seconds: { type: 'string' } }, strict: true });
  const rounds = Number(values.rounds ?? 3);
  const seconds = Number(values.seconds ?? 3);
  const t = topology();
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-observe-bench-'));
  const servers: ChildProcess[] = [];
  const statsBefore = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
  try {
    writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '1');
    servers.push(spawn('ip', ['netns', 'exec', t.netns, 'iperf3', '-s'], { stdio: 'ignore' }));
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n access_log off;\n server {\n  listen ${t.peerAddr}:8080;\n  location / { return 200 "ok\\n"; }\n }\n}\n`,
    );
    servers.push(spawn('ip', ['netns', 'exec', t.netns, 'nginx', '-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' }));
    await new Promise((r) => setTimeout(r, 1000));
    const plain = { iperf: [] as number[], wrk: [] as number[] };
    const datapathOnly: number[] = [];
    let datapathOnlyLost = 0;
    const lineFloor: number[] = [];
    let lineFloorLost = 0;
    // The default, a record per packet, and the default without L7 (Hubble without an L7 policy).
    const configs: Array<{ label: string; aggregation: Aggregation; extra: string[] }> = [
      { label: '--monitor-aggregation medium', aggregation: 'medium', extra: [] },
      { label: '--monitor-aggregation none', aggregation: 'none', extra: [] },
      { label: '--monitor-aggregation medium --snap-len 0', aggregation: 'medium', extra: ['--snap-len', '0'] },
    ];
    const levels = configs.map((c) => c.label);
    const observed = Object.fromEntries(levels.map((l) => [l, { iperf: [] as number[], wrk: [] as number[], perPacket: [] as number[], dropNs: [] as number[], flowsPerSecond: 0, cpuPerFlow: [] as number[], flowsPerRequest: [] as number[], lost: 0 }]));
    for (let round = 0; round < rounds; round++) {
      plain.iperf.push(await iperf(t, seconds));
      plain.wrk.push(await wrk(t, seconds));
      const bare = await startDatapathOnly(t.host);
      try {
        datapathOnly.push(await wrk(t, seconds));
      } finally {
        datapathOnlyLost += bare.stop().lost;
      }
      const floor = await startDatapathOnly(t.host, FLOOR_LINE);
      try {
        lineFloor.push(await wrk(t, seconds));
      } finally {
        lineFloorLost += floor.stop().lost;
      }
      for (const level of levels) {
        const r = observed[level]!;
        const config = configs.find((c) => c.label === level)!;
        const o = await startObserve(t.host, config.aggregation, config.extra);
        const names = ['observe_ingress', 'observe_egress'] as const;
        const before = names.map((n) => programStats(o.datapath, n));
        const dropBefore = programStats(o.datapath, 'observe_drop');
        const started = Date.now();
        r.iperf.push(await iperf(t, seconds));
        const after = names.map((n) => programStats(o.datapath, n));
        const ns = after.reduce((a, x, i) => a + x.ns - before[i]!.ns, 0n);
        const cnt = after.reduce((a, x, i) => a + x.cnt - before[i]!.cnt, 0n);
        if (cnt > 0n) r.perPacket.push(Number(ns) / Number(cnt));
        // observe runs in this process, which does nothing else while wrk runs: its CPU time
        // over the flows printed meanwhile is the user side's cost per flow.
        const cpuBefore = process.cpuUsage();
        const flowsBefore = o.flows();
        const lostBefore = o.lost();
        const rate = await wrk(t, seconds);
        r.lost += o.lost() - lostBefore;
        const cpu = process.cpuUsage(cpuBefore);
        const flowsDuring = o.flows() - flowsBefore;
        r.wrk.push(rate);
        if (flowsDuring > 0) {
          r.cpuPerFlow.push((cpu.user + cpu.system) / flowsDuring);
          r.flowsPerRequest.push(flowsDuring / (rate * seconds));
        }
        const dropAfter = programStats(o.datapath, 'observe_drop');
        if (dropAfter.cnt > dropBefore.cnt) r.dropNs.push(Number(dropAfter.ns - dropBefore.ns) / Number(dropAfter.cnt - dropBefore.cnt));
        r.flowsPerSecond = Math.max(r.flowsPerSecond, (await o.stop()) / ((Date.now() - started) / 1000));
      }
    }
    const note = `median of ${rounds} x ${seconds} s, alternating; veth between two namespaces`;
    const out: BenchResult[] = [];
    const lossless = await losslessRate(t, seconds);
    const lossy = lossless.firstLossy === undefined ? 'no loss up to the ladder\'s top' : `at ${lossless.firstLossy.pps.toLocaleString('en-US')}/s ${lossless.firstLossy.lost.toLocaleString('en-US')} of ${lossless.firstLossy.sent.toLocaleString('en-US')} records were lost`;
    out.push({ name: 'highest flow rate with nothing lost (64-byte UDP datagrams, a record each: --monitor-aggregation none)', unit: 'flows/s', ts: lossless.best, reference: lossless.best, referenceName: 'itself', ratio: 1, note: `rates doubling from 5,000/s, ${seconds} s each; ${lossy}` });
    out.push({ name: 'HTTP requests (wrk, nginx), the default datapath alone (records read, not decoded), vs not observed', unit: 'req/s', ts: median(datapathOnly), reference: median(plain.wrk), referenceName: 'not observed', ratio: median(datapathOnly) / median(plain.wrk), note: `${note}; the kernel side's cost, without observe's user side; ${datapathOnlyLost.toLocaleString('en-US')} records lost` });
    out.push({ name: `HTTP requests (wrk, nginx), the default datapath and a ${FLOOR_LINE}-byte line per record (no decoding), vs not observed`, unit: 'req/s', ts: median(lineFloor), reference: median(plain.wrk), referenceName: 'not observed', ratio: median(lineFloor) / median(plain.wrk), note: `${note}; the floor of any user side that prints a line per flow; ${lineFloorLost.toLocaleString('en-US')} records lost` });
    for (const level of levels) {
      const r = observed[level]!;
      const ip = { ts: median(r.iperf), ref: median(plain.iperf) };
      const http = { ts: median(r.wrk), ref: median(plain.wrk) };
      const how = `observe -f, ${level}`;
      out.push(
        { name: `TCP throughput (iperf3), ${how}, vs not observed`, unit: 'Gbit/s', ts: ip.ts / 1e9, reference: ip.ref / 1e9, referenceName: 'not observed', ratio: ip.ts / ip.ref, target: '>= 0.9', note },
        { name: `HTTP requests (wrk, nginx), ${how}, vs not observed`, unit: 'req/s', ts: http.ts, reference: http.ref, referenceName: 'not observed', ratio: http.ts / http.ref, target: '>= 0.9', note: `${note}; up to ${Math.round(r.flowsPerSecond).toLocaleString('en-US')} flows/s printed, ${median(r.flowsPerRequest).toFixed(1)} per request; observe's user side ${median(r.cpuPerFlow).toFixed(2)} us of CPU per flow; ${r.lost.toLocaleString('en-US')} records lost` },
        { name: `BPF run time per packet at TCX (bpf_stats), ${how}`, unit: 'ns', ts: median(r.perPacket), reference: median(r.perPacket), referenceName: 'itself', ratio: 1, note: `run_time_ns / run_cnt of observe_ingress and observe_egress during iperf3; kfree_skb program ${median(r.dropNs).toFixed(0)} ns per call` },
      );
    }
    return out;
  } finally {
    for (const s of servers) s.kill();
    writeFileSync('/proc/sys/kernel/bpf_stats_enabled', statsBefore);
    t.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const r of await run(process.argv.slice(2))) process.stdout.write(`${r.name}: ${r.ts.toFixed(3)} ${r.unit} vs ${r.reference.toFixed(3)} ${r.unit} (${r.referenceName}), ratio ${r.ratio.toFixed(2)}x${r.note ? ` (${r.note})` : ''}\n`);
}
