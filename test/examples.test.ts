// The examples against the running kernel: their generated modules loaded, configured, run and
// read; their main programs run the way their READMEs say.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadExecCount } from '../examples/exec-count/exec_count_bpf.js';
import { loadExecStream, type Event } from '../examples/exec-stream/exec_stream_bpf.js';
import { loadXdpDrop, type Counters } from '../examples/xdp-drop/xdp_drop_bpf.js';
import { createVethPair, kernelTest, openFds, sh } from './helpers/kernel.js';

const here = dirname(fileURLToPath(import.meta.url));
const TRUE = existsSync('/bin/true') ? '/bin/true' : '/usr/bin/true';

function runTrue(times: number): number[] {
  const pids: number[] = [];
  for (let i = 0; i < times; i++) {
    const r = spawnSync(TRUE);
    assert.equal(r.status, 0);
    pids.push(r.pid!);
  }
  return pids;
}

/** The command that runs an example's main: the built .js, or the .ts through tsx. */
function mainCommand(example: string): string[] {
  const js = join(here, '..', 'examples', example, 'main.js');
  if (existsSync(js)) return [process.execPath, js];
  return [process.execPath, '--import', 'tsx', join(here, '..', 'examples', example, 'main.ts')];
}

function runMain(example: string, args: string[], during?: () => void): Promise<{ code: number | null; out: string; err: string }> {
  const [cmd, ...rest] = mainCommand(example);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, [...rest, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let triggered = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!triggered && during !== undefined) {
        triggered = true;
        during();
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      // Every example says on stderr when it is attached (or prints its table header on stdout).
      if (!triggered && during !== undefined && /Ctrl-C/.test(err)) {
        triggered = true;
        during();
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

function sum(perCpu: Counters[] | undefined): { packets: bigint; bytes: bigint } {
  return (perCpu ?? []).reduce((s, c) => ({ packets: s.packets + c.packets, bytes: s.bytes + c.bytes }), { packets: 0n, bytes: 0n });
}

/** An Ethernet frame with IPv4 (or IPv6) and a UDP or TCP header to `port`. */
function packet(opts: { port: number; proto?: 'udp' | 'tcp'; ipv6?: boolean }): Uint8Array {
  const l4 = opts.proto === 'tcp' ? 20 : 8;
  const l3 = opts.ipv6 ? 40 : 20;
  const p = new Uint8Array(14 + l3 + l4 + 16);
  const v = new DataView(p.buffer);
  v.setUint16(12, opts.ipv6 ? 0x86dd : 0x0800);
  if (opts.ipv6) {
    p[14] = 0x60;
    v.setUint16(14 + 4, l4 + 16);
    p[14 + 6] = opts.proto === 'tcp' ? 6 : 17;
    p[14 + 7] = 64;
  } else {
    p[14] = 0x45;
    v.setUint16(14 + 2, l3 + l4 + 16);
    p[14 + 8] = 64;
    p[14 + 9] = opts.proto === 'tcp' ? 6 : 17;
  }
  v.setUint16(14 + l3, 40000);
  v.setUint16(14 + l3 + 2, opts.port);
  return p;
}

const XDP_DROP = 1;
const XDP_PASS = 2;

describe('exec-count example', () => {
  kernelTest('counts execs per command name, in a hash map, a per-CPU array and globals', async () => {
    const before = openFds();
    {
      using counter = await loadExecCount();
      const links = counter.attach();
      assert.equal(links.length, 1);
      runTrue(5);
      const count = counter.maps.counts.get('true');
      assert.ok(count !== undefined && count >= 5n, `counts['true'] = ${count}`);
      assert.ok(counter.globals.total_execs >= 5n);
      const perCpu = counter.maps.per_cpu.get(0)!;
      assert.equal(perCpu.length, counter.maps.per_cpu.cpus);
      assert.ok(perCpu.reduce((a, b) => a + b, 0n) >= 5n);
      assert.ok([...counter.maps.counts.keys()].includes('true'));
      // Globals are writable from user space too.
      counter.globals.total_execs = 1000n;
      assert.ok(counter.globals.total_execs >= 1000n);
      assert.equal(counter.maps.counts.delete('true'), true);
      assert.equal(counter.maps.counts.get('true'), undefined);
    }
    assert.equal(openFds(), before, 'close() releases every fd');
  });

  kernelTest('filters by the target_uid config constant', async () => {
    using counter = await loadExecCount({ config: { target_uid: 54321 } });
    counter.attach();
    runTrue(3);
    assert.equal(counter.maps.counts.get('true'), undefined);
    assert.equal(counter.globals.total_execs, 0n);
  });

  kernelTest('runs with one command', async () => {
    const r = await runMain('exec-count', ['--seconds', '2'], () => runTrue(3));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\d+ execs \(last pid \d+; per CPU [\d ]+\)/);
  });
});

describe('exec-stream example', () => {
  kernelTest('streams exec events of the children of a process, decoded to Event', async () => {
    using exec = await loadExecStream({ config: { parent_pid: process.pid } });
    exec.attach();
    const reader = exec.readers.events({ signal: AbortSignal.timeout(10_000) });
    const pids = runTrue(3);
    const got: Event[] = [];
    for await (const e of reader) {
      got.push(e);
      if (got.length === 3) break;
    }
    assert.deepEqual(
      got.map((e) => e.pid),
      pids,
    );
    for (const e of got) {
      assert.equal(e.ppid, process.pid);
      assert.equal(e.comm, 'true');
      assert.equal(e.filename, TRUE);
      assert.equal(e.uid, process.getuid!());
      assert.equal(typeof e.timestamp_ns, 'bigint');
    }
    assert.equal(exec.globals.dropped, 0n);
  });

  kernelTest('runs with one command', async () => {
    const r = await runMain('exec-stream', ['--children-of', String(process.pid), '--count', '1'], () => runTrue(1));
    // Once the example is attached, this test runs /bin/true: a child of this process.
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /PID +PPID +UID COMM +FILENAME\n/);
  });
});

describe('xdp-drop example', () => {
  kernelTest('drops UDP to the configured port and counts per verdict (test runs)', async () => {
    using xdp = await loadXdpDrop({ config: { blocked_port: 9999 } });
    const prog = xdp.programs.xdp_drop_udp;
    assert.equal(prog.testRun({ data: packet({ port: 9999 }) }).retval, XDP_DROP);
    assert.equal(prog.testRun({ data: packet({ port: 9999, ipv6: true }) }).retval, XDP_DROP);
    assert.equal(prog.testRun({ data: packet({ port: 53 }) }).retval, XDP_PASS);
    assert.equal(prog.testRun({ data: packet({ port: 9999, proto: 'tcp' }) }).retval, XDP_PASS);
    const r = prog.testRun({ data: packet({ port: 9999 }), repeat: 100 });
    assert.equal(r.retval, XDP_DROP);
    assert.ok(r.durationNs >= 0);
    const dropped = sum(xdp.maps.stats.get('VERDICT_DROP'));
    const passed = sum(xdp.maps.stats.get('VERDICT_PASS'));
    assert.equal(dropped.packets, 102n);
    assert.equal(passed.packets, 2n);
    assert.equal(dropped.bytes, 101n * BigInt(packet({ port: 9999 }).length) + BigInt(packet({ port: 9999, ipv6: true }).length));
    // Enum keys by name or number, per-CPU values as arrays.
    assert.deepEqual(xdp.maps.stats.get(1), xdp.maps.stats.get('VERDICT_DROP'));
    const zero = new Array<Counters>(xdp.maps.stats.cpus).fill({ packets: 0n, bytes: 0n });
    xdp.maps.stats.set('VERDICT_DROP', zero);
    assert.equal(sum(xdp.maps.stats.get('VERDICT_DROP')).packets, 0n);
  });

  kernelTest('drops nothing with blocked_port 0', async () => {
    using xdp = await loadXdpDrop({ config: { blocked_port: 0 } });
    assert.equal(xdp.programs.xdp_drop_udp.testRun({ data: packet({ port: 0 }) }).retval, XDP_PASS);
    assert.equal(xdp.programs.xdp_drop_udp.testRun({ data: packet({ port: 53 }) }).retval, XDP_PASS);
  });

  kernelTest('drops real datagrams on a veth pair, from its main with one command', async () => {
    const veth = createVethPair('xd');
    const server = createSocket('udp4');
    try {
      await new Promise<void>((resolve) => server.bind(0, veth.hostAddr, resolve));
      const port = server.address().port;
      const received: string[] = [];
      server.on('message', (m) => received.push(m.toString()));
      const send = (p: number, text: string): void => {
        sh('ip', ['netns', 'exec', veth.netns, process.execPath, '-e', `const s=require('dgram').createSocket('udp4');s.send(${JSON.stringify(text)},${p},${JSON.stringify(veth.hostAddr)},()=>s.close())`]);
      };
      const r = await runMain('xdp-drop', [veth.host, '--port', String(port), '--seconds', '2'], () => {
        send(port, 'blocked');
        send(port, 'blocked');
      });
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /dropped [1-9]\d* \(/);
      assert.deepEqual(received, []);
      // With the program gone, the same datagram arrives.
      send(port, 'after');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(received, ['after']);
    } finally {
      server.close();
      veth.remove();
    }
  });
});
