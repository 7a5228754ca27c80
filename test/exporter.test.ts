// `tsbpf exporter` against the kernel: the example configs count exactly the events this test
// makes (told apart from the rest of the machine by a command name, pid or cgroup of its own),
// bad input fails with one line and leaves nothing attached.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { command, openExporter, parseExporterArgs } from '../src/tools/exporter/cli.js';
import { DecoderEnv } from '../src/tools/exporter/decoders.js';
import type { Exporter } from '../src/tools/exporter/exporter.js';
import { Sources } from '../src/tools/exporter/sources.js';
import { packageRoot } from '../src/sys/package.js';
import { allIds } from '../src/sys/attrs.js';
import { Cmd } from '../src/sys/types.js';
import { cliArgv, runCli, runCliInProcess } from './helpers/cli.js';
import { isRoot, kernelTest, openFds, ownNewLinks, requireCgroup2, settledCount, uniqueName } from './helpers/kernel.js';
import { samples } from './helpers/exposition.js';

const examples = join(packageRoot(), 'examples', 'exporter');
const NAMES = ['execs', 'sleep_latency', 'percpu_syscalls', 'cgroup_execs', 'exec_events'];

function value(text: string, series: string): number | undefined {
  return samples(text).get(series);
}

/** Runs `file args` to completion, failing on a non-zero exit. */
function run(file: string, args: string[] = [], opts: { uid?: number } = {}): void {
  const argv = opts.uid === undefined ? [file, ...args] : ['setpriv', `--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', file, ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  assert.equal(r.status, 0, `${argv.join(' ')} failed`);
}

describe('tsbpf exporter (kernel)', () => {
  let tmp: string;
  let exporter: Exporter | undefined;
  let cgroupDir: string | undefined;
  const kubeLog = () => join(tmp, 'log');
  const comm = uniqueName('xp', 15);
  const sleeper = uniqueName('zz', 15);
  const UID = '7e57c0de-1111-4222-8333-444455556666';
  const CID = 'c'.repeat(64);

  before(async () => {
    if (!isRoot()) return;
    tmp = mkdtempSync(join(tmpdir(), 'tsbpf-exporter-'));
    copyFileSync('/bin/true', join(tmp, comm));
    copyFileSync('/bin/sleep', join(tmp, sleeper));
    execFileSync('chmod', ['755', tmp, join(tmp, comm), join(tmp, sleeper)]);
    mkdirSync(join(tmp, 'log', 'pods', `shop_cart-1_${UID}`, 'server'), { recursive: true });
    mkdirSync(join(tmp, 'log', 'containers'), { recursive: true });
    symlinkSync('/dev/null', join(tmp, 'log', 'containers', `cart-1_shop_server-${CID}.log`));
    const o = parseExporterArgs(['--config.dir', examples, '--config.names', NAMES.join(','), '--kube.log-dir', kubeLog()]);
    assert.ok(o !== 'help');
    exporter = await openExporter(o, new DecoderEnv(new Sources({ kubeLogDir: kubeLog() })));
  });

  after(() => {
    exporter?.close();
    if (cgroupDir !== undefined) {
      const kube = join(cgroupDir, 'kubepods.slice', 'kubepods-besteffort.slice', `kubepods-besteffort-pod${UID.replaceAll('-', '_')}.slice`);
      for (const d of [join(kube, `cri-containerd-${CID}.scope`), kube, join(cgroupDir, 'kubepods.slice', 'kubepods-besteffort.slice'), join(cgroupDir, 'kubepods.slice'), cgroupDir]) {
        try {
          rmdirSync(d);
        } catch {
          // Not made, or already gone.
        }
      }
    }
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  kernelTest('a tracepoint counter with string and uint labels counts each exec once', async () => {
    for (let i = 0; i < 3; i++) run(join(tmp, comm));
    for (let i = 0; i < 2; i++) run(join(tmp, comm), [], { uid: 4242 });
    const { body } = await exporter!.scrape();
    assert.equal(value(body, `ebpf_exporter_execs_total{comm="${comm}",uid="0"}`), 3);
    assert.equal(value(body, `ebpf_exporter_execs_total{comm="${comm}",uid="4242"}`), 2);
    // The same execs through a perf event array.
    assert.equal(value(body, `ebpf_exporter_exec_events_total{comm="${comm}"}`), 5);
    assert.equal(value(body, 'ebpf_exporter_perf_event_array_lost_events_total{config="exec_events",counter="exec_events_total"}'), 0);
  });

  kernelTest('an exp2 histogram of sleep latencies has every sleep, none below its length', async () => {
    for (let i = 0; i < 3; i++) run(join(tmp, sleeper), ['0.02']);
    const { body } = await exporter!.scrape();
    const s = samples(body);
    assert.equal(s.get(`ebpf_exporter_sleep_latency_seconds_count{comm="${sleeper}"}`), 3);
    assert.equal(s.get(`ebpf_exporter_sleep_latency_seconds_bucket{le="+Inf",comm="${sleeper}"}`), 3);
    // 20 ms sleeps: nothing in the buckets up to 16.384 ms, everything by 2^26 us.
    assert.equal(s.get(`ebpf_exporter_sleep_latency_seconds_bucket{le="0.016384",comm="${sleeper}"}`), 0);
    assert.equal(s.get(`ebpf_exporter_sleep_latency_seconds_bucket{le="67.108864",comm="${sleeper}"}`), 3);
    assert.ok(s.get(`ebpf_exporter_sleep_latency_seconds_sum{comm="${sleeper}"}`)! >= 0.06);
  });

  kernelTest('per-CPU maps are summed, or split by CPU when the last label is cpu', async () => {
    const child = spawnSync('python3', ['-c', 'import os\nfor _ in range(1000): os.getsid(0)\nprint(os.getpid())'], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    const pid = child.stdout.trim();
    const { body } = await exporter!.scrape();
    const s = samples(body);
    assert.equal(s.get(`ebpf_exporter_syscalls_total{pid="${pid}",syscall="getsid"}`), 1000);
    let byCpu = 0;
    let cpus = 0;
    for (const [k, v] of s) {
      if (k.startsWith(`ebpf_exporter_syscalls_by_cpu_total{pid="${pid}",syscall="getsid",cpu="`)) {
        byCpu += v;
        cpus++;
      }
    }
    assert.equal(byCpu, 1000);
    assert.ok(cpus >= 1);
  });

  kernelTest('a cgroup-labelled counter names the cgroup, and pod labels under kubepods', async (t) => {
    const root = requireCgroup2(t);
    if (root === undefined) return;
    cgroupDir = join(root, uniqueName('tsbpf-xp-', 40));
    const kube = join(cgroupDir, 'kubepods.slice', 'kubepods-besteffort.slice', `kubepods-besteffort-pod${UID.replaceAll('-', '_')}.slice`, `cri-containerd-${CID}.scope`);
    mkdirSync(kube, { recursive: true });
    const inCgroup = (dir: string, n: number): void => {
      const script = `echo $$ > ${dir}/cgroup.procs && ${Array.from({ length: n }, () => join(tmp, comm)).join(' && ')}`;
      const r = spawnSync('sh', ['-c', script], { stdio: 'ignore' });
      assert.equal(r.status, 0);
    };
    inCgroup(cgroupDir, 2);
    inCgroup(kube, 4);
    const { body } = await exporter!.scrape();
    assert.equal(value(body, `ebpf_exporter_cgroup_execs_total{cgroup="${cgroupDir}",namespace="",pod="",container=""}`), 2);
    assert.equal(value(body, `ebpf_exporter_cgroup_execs_total{cgroup="${kube}",namespace="shop",pod="cart-1",container="server"}`), 4);
  });

  kernelTest('kaddrs writes a kernel address into the object, which ksym names again', async () => {
    const o = parseExporterArgs(['--config.dir', join(packageRoot(), 'test', 'bpf'), '--config.names', 'exporter_kaddrs']);
    assert.ok(o !== 'help');
    const e = await openExporter(o, new DecoderEnv(new Sources()));
    try {
      run(join(tmp, comm));
      const { body } = await e.scrape();
      assert.ok(value(body, 'ebpf_exporter_kaddr_execs_total{symbol="schedule"}')! >= 1, body.split('\n').filter((l) => l.includes('kaddr')).join('\n'));
      assert.equal([...samples(body).keys()].filter((k) => k.startsWith('ebpf_exporter_kaddr_execs_total')).length, 1);
    } finally {
      e.close();
    }
  });

  kernelTest('cgroup_id_map holds the cgroups whose path matches, and the program counts only those', async (t) => {
    const root = requireCgroup2(t);
    if (root === undefined) return;
    const inside = join(root, uniqueName('tsbpf-xp-in-', 40));
    const outside = join(root, uniqueName('tsbpf-xp-out-', 40));
    const o = parseExporterArgs(['--config.dir', join(packageRoot(), 'test', 'bpf'), '--config.names', 'exporter_cgroup_filter']);
    assert.ok(o !== 'help');
    const e = await openExporter(o, new DecoderEnv(new Sources()));
    try {
      mkdirSync(inside);
      mkdirSync(outside);
      // The map is filled at scrapes (at most once a second): one before the execs, after the
      // cgroups exist.
      await new Promise((r) => setTimeout(r, 1000));
      await e.scrape();
      for (const [dir, n] of [[inside, 3], [outside, 2]] as const) {
        const r = spawnSync('sh', ['-c', `echo $$ > ${dir}/cgroup.procs && ${Array.from({ length: n }, () => join(tmp, comm)).join(' && ')}`], { stdio: 'ignore' });
        assert.equal(r.status, 0);
      }
      const { body } = await e.scrape();
      assert.equal(value(body, `ebpf_exporter_filtered_execs_total{cgroup="${inside}"}`), 3);
      assert.equal([...samples(body).keys()].filter((k) => k.startsWith('ebpf_exporter_filtered_execs_total')).length, 1);
    } finally {
      e.close();
      for (const d of [inside, outside]) {
        try {
          rmdirSync(d);
        } catch {
          // Not made.
        }
      }
    }
  });

  kernelTest('built-in metrics name every config and program', async () => {
    const { body } = await exporter!.scrape();
    for (const n of NAMES) assert.equal(value(body, `ebpf_exporter_enabled_configs{name="${n}"}`), 1);
    const info = [...samples(body).keys()].filter((k) => k.startsWith('ebpf_exporter_ebpf_program_info{config="sleep_latency"'));
    assert.equal(info.length, 2);
    const id = /id="(\d+)"/.exec(info[0]!)![1];
    assert.equal(value(body, `ebpf_exporter_ebpf_program_attached{id="${id}"}`), 1);
    assert.ok(value(body, `ebpf_exporter_ebpf_program_run_count_total{id="${id}"}`)! >= 0);
    assert.equal(value(body, 'ebpf_exporter_decoder_errors_total{config="execs"}'), 0);
  });

  kernelTest('--config.check passes the examples and names the file, key and why of an error', () => {
    const ok = runCli(['exporter', '--config.dir', examples, '--config.names', NAMES.join(','), '--config.check', '--config.strict']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, NAMES.map((n) => `${n}: ok\n`).join(''));
    // It loads nothing: a user without privileges checks as well.
    const nobody = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...cliArgv(['exporter', '--config.dir', examples, '--config.names', 'execs', '--config.check'])], { encoding: 'utf8', cwd: packageRoot() });
    assert.equal(nobody.status, 0, nobody.stderr);
    assert.equal(nobody.stdout, 'execs: ok\n');
    const dir = join(tmp, 'bad');
    mkdirSync(dir);
    copyFileSync(join(examples, 'execs.bpf.o'), join(dir, 'execs.bpf.o'));
    const cases: Array<[string, RegExp]> = [
      [readFileSync(join(examples, 'execs.yaml'), 'utf8').replace('name: execs_total', 'name: nope_total'), /execs\.yaml: metrics\.counters\[0\]\.name: no map 'nope_total' in .*execs\.bpf\.o \(maps: execs_total\)/],
      [readFileSync(join(examples, 'execs.yaml'), 'utf8').replace('padding: 4', 'padding: 2'), /metrics\.counters\[0\]\.labels: the labels' sizes and padding add up to 22 bytes, but map 'execs_total' has 24-byte keys/],
      [readFileSync(join(examples, 'execs.yaml'), 'utf8').replace('name: uint', 'name: uint64'), /metrics\.counters\[0\]\.labels\[1\]\.decoders\[0\]\.name: unknown decoder 'uint64'/],
      [`${readFileSync(join(examples, 'execs.yaml'), 'utf8')}kaddrs: [jiffies]\n`, /kaddrs\[0\]: .* has no constant kaddr_jiffies/],
    ];
    for (const [yaml, why] of cases) {
      writeFileSync(join(dir, 'execs.yaml'), yaml);
      const r = runCli(['exporter', '--config.dir', dir, '--config.names', 'execs', '--config.check']);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, why);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    const btf = runCli(['exporter', '--config.dir', examples, '--config.names', 'sleep_latency', '--btf.path', join(tmp, 'no-such-btf'), '--web.listen-address', '127.0.0.1:0']);
    assert.equal(btf.status, 1);
    assert.match(btf.stderr, /no-such-btf: no such file \[ENOENT\]/);
    assert.equal(btf.stderr.trim().split('\n').length, 1, btf.stderr);
    writeFileSync(join(dir, 'execs.yaml'), `${readFileSync(join(examples, 'execs.yaml'), 'utf8')}programs: []\n`);
    const strict = runCli(['exporter', '--config.dir', dir, '--config.names', 'execs', '--config.check', '--config.strict']);
    assert.equal(strict.status, 1);
    assert.match(strict.stderr, /execs\.yaml: programs: unknown key/);
  });

  kernelTest('a config that fails after others loaded, or a busy port, leaves nothing attached', async () => {
    const dir = join(tmp, 'partial');
    mkdirSync(dir);
    for (const f of ['execs.yaml', 'execs.bpf.o', 'exec_events.yaml']) copyFileSync(join(examples, f), join(dir, f));
    writeFileSync(join(dir, 'exec_events.bpf.o'), readFileSync(join(examples, 'exec_events.bpf.o')).subarray(0, 200));
    const argv = ['--config.dir', dir, '--config.names', 'execs,exec_events', '--web.listen-address', '127.0.0.1:0'];
    // Once first: what the loader keeps open for good (the kernel's BTF) is not a leak.
    await runCliInProcess(argv, { command, reportAs: 'exporter' });
    const links = new Set(allIds(Cmd.LINK_GET_NEXT_ID));
    const fds = openFds();
    const r = await runCliInProcess(argv, { command, reportAs: 'exporter' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exec_events\.yaml: cannot read .*exec_events\.bpf\.o/);
    assert.equal(settledCount(() => ownNewLinks(links).length), 0);
    assert.equal(openFds(), fds);

    // A tool that fails to start after the configs loaded: they are detached again.
    const tool = await runCliInProcess(['--config.dir', examples, '--config.names', 'execs', '--tools', 'observe', '--observe.iface', 'no-such-if0', '--web.listen-address', '127.0.0.1:0'], { command, reportAs: 'exporter' });
    assert.equal(tool.code, 1);
    assert.match(tool.stderr, /^tsbpf exporter: interface no-such-if0 not found \[ENOENT\]\n$/);
    assert.equal(settledCount(() => ownNewLinks(links).length), 0);

    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const r2 = await runCliInProcess(['--config.dir', examples, '--config.names', 'execs', '--web.listen-address', `127.0.0.1:${port}`], { command, reportAs: 'exporter' });
      assert.equal(r2.code, 1);
      assert.match(r2.stderr, /EADDRINUSE/);
      assert.equal(r2.stderr.trim().split('\n').length, 1);
      assert.equal(settledCount(() => ownNewLinks(links).length), 0);
      assert.equal(openFds(), fds + 1, 'the fds of before, and the busy port');
    } finally {
      busy.close();
    }
  });

  kernelTest('serves over HTTP until SIGTERM, then exits 0', async () => {
    const child = spawn(process.execPath, [...cliArgv(['exporter', '--config.dir', examples, '--config.names', 'execs', '--web.listen-address', '127.0.0.1:0'])], { cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /at (http:\S+)/.exec(err);
        if (m) resolve(m[1]!);
      });
      child.on('exit', () => reject(new Error(`exited: ${err}`)));
    });
    run(join(tmp, comm));
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.equal(value(await res.text(), `ebpf_exporter_execs_total{comm="${comm}",uid="0"}`), 1);
    // The landing page the DaemonSet's probe asks for, and nothing else.
    assert.equal((await fetch(new URL('/', url))).status, 200);
    assert.equal((await fetch(new URL('/other', url))).status, 404);
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    assert.equal(code, 0, err);
  });
});

describe('tsbpf exporter series expiry and cap (kernel)', () => {
  let tmp: string | undefined;
  const open: Exporter[] = [];
  after(() => {
    for (const e of open) e.close();
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  async function start(args: string[]): Promise<Exporter> {
    const o = parseExporterArgs(['--config.dir', examples, '--config.names', 'execs', ...args]);
    assert.ok(o !== 'help');
    const e = await openExporter(o, new DecoderEnv(new Sources()));
    open.push(e);
    return e;
  }

  function binary(prefix: string): string {
    tmp ??= mkdtempSync(join(tmpdir(), 'tsbpf-exporter-series-'));
    execFileSync('chmod', ['755', tmp]);
    const p = join(tmp, uniqueName(prefix, 15));
    copyFileSync('/bin/true', p);
    execFileSync('chmod', ['755', p]);
    return p;
  }

  kernelTest('a series unchanged for --series.expire is hidden, and back when it changes', async () => {
    const e = await start(['--series.expire', '300ms']);
    const b = binary('ex');
    const series = `ebpf_exporter_execs_total{comm="${b.split('/').pop()}",uid="0"}`;
    run(b);
    assert.equal(value((await e.scrape()).body, series), 1);
    await new Promise((r) => setTimeout(r, 400));
    const hidden = (await e.scrape()).body;
    assert.equal(value(hidden, series), undefined);
    assert.ok(value(hidden, 'ebpf_exporter_series_expired_total{config="execs"}')! >= 1);
    run(b);
    assert.equal(value((await e.scrape()).body, series), 2);
  });

  kernelTest('a perf event array counter with flush_interval starts again from zero', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-exporter-flush-'));
    try {
      copyFileSync(join(examples, 'exec_events.bpf.o'), join(dir, 'exec_events.bpf.o'));
      writeFileSync(join(dir, 'exec_events.yaml'), readFileSync(join(examples, 'exec_events.yaml'), 'utf8').replace('perf_event_array: true', 'perf_event_array: true\n      flush_interval: 300ms'));
      const o = parseExporterArgs(['--config.dir', dir, '--config.names', 'exec_events']);
      assert.ok(o !== 'help');
      const e = await openExporter(o, new DecoderEnv(new Sources()));
      open.push(e);
      const b = binary('fl');
      const series = `ebpf_exporter_exec_events_total{comm="${b.split('/').pop()}"}`;
      run(b);
      run(b);
      assert.equal(value((await e.scrape()).body, series), 2);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(value((await e.scrape()).body, series), undefined);
      run(b);
      assert.equal(value((await e.scrape()).body, series), 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  kernelTest('a label that fails to decode drops its series and counts a decoder error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-exporter-decode-'));
    try {
      copyFileSync(join(examples, 'execs.bpf.o'), join(dir, 'execs.bpf.o'));
      // Command names read as DNS wire format: 'x' (120) is no label length (at most 63).
      writeFileSync(join(dir, 'execs.yaml'), readFileSync(join(examples, 'execs.yaml'), 'utf8').replace('            - name: string', '            - name: string\n            - name: dname'));
      const o = parseExporterArgs(['--config.dir', dir, '--config.names', 'execs']);
      assert.ok(o !== 'help');
      const e = await openExporter(o, new DecoderEnv(new Sources()));
      open.push(e);
      const b = binary('xd');
      run(b);
      const body = (await e.scrape()).body;
      assert.equal([...samples(body).keys()].filter((k) => k.includes(b.split('/').pop()!)).length, 0);
      assert.ok(value(body, 'ebpf_exporter_decoder_errors_total{config="execs"}')! >= 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  kernelTest('--series.max exports that many series of a config and counts the rest refused', async () => {
    const e = await start(['--series.max', '2']);
    for (const p of ['ca', 'cb', 'cc']) run(binary(p));
    const body = (await e.scrape()).body;
    const exported = [...samples(body).keys()].filter((k) => k.startsWith('ebpf_exporter_execs_total{'));
    assert.equal(exported.length, 2);
    assert.ok(value(body, 'ebpf_exporter_series_refused_total{config="execs"}')! >= 1);
    assert.equal(value(body, 'ebpf_exporter_series{config="execs"}'), 2);
  });
});
