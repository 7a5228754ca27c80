// Kernel tests of USDT probes: a binary built here with <sys/sdt.h> probes (one with four
// arguments in a register, on the stack and as a constant; one at two sites), traced by the
// programs of test/bpf/usdt.bpf.c, which read the arguments with BPF_USDT().
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { UsageError } from '../src/cli/framework/index.js';
import { command as usdtCommand } from '../src/cli/usdt.js';
import type { Collection } from '../src/collection.js';
import { InvalidArgumentError } from '../src/errors.js';
import { attachUsdt, type Link, ProgramTypeError, TargetNotFoundError, usdtSites } from '../src/link/index.js';
import { attachBySection } from '../src/link/section.js';
import { BpfMap } from '../src/map.js';
import { CollectionSpec } from '../src/index.js';
import { packageRoot } from '../src/sys/package.js';
import { MapType } from '../src/sys/types.js';
import { corpus } from './bpf/corpus.js';
import type { ReqStats, TickStats } from './bpf/gen/usdt_bpf.js';
import { isRoot, linksOfPrograms, requireRoot, runWaitingChild, settledCount } from './helpers/kernel.js';
import { runCliInProcess } from './helpers/cli.js';

describe('USDT probes', () => {
  let dir = '';
  let binary = '';
  let unbuilt = '';
  before(() => {
    if (!isRoot()) return;
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-usdt-'));
    try {
      execFileSync('cc', ['-O1', '-o', join(dir, 'target'), join(packageRoot(), 'test', 'fixtures', 'usdt', 'target.c')], { stdio: 'pipe' });
      binary = join(dir, 'target');
    } catch (err) {
      unbuilt = String((err as { stderr?: Buffer }).stderr ?? err);
    }
  });

  /** Root and the probe target: skips without <sys/sdt.h> (systemtap-sdt-dev), except under CI. */
  const ready = (t: TestContext): boolean => {
    if (!requireRoot(t)) return false;
    if (binary !== '') return true;
    if (process.env.CI === 'true') throw new Error(`the USDT target did not build: ${unbuilt}`);
    t.skip('building the USDT target needs <sys/sdt.h> (apt-get install systemtap-sdt-dev)');
    return false;
  };
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const load = (): Collection => CollectionSpec.fromFile(corpus('usdt.bpf.o')).load();
  const reqs = (c: Collection): ReqStats => c.maps.reqs!.lookup(0) as unknown as ReqStats;
  const ticks = (c: Collection): TickStats => c.maps.ticks!.lookup(0) as unknown as TickStats;

  test('the notes give every site of every probe, with its arguments and semaphore', (t) => {
    if (!ready(t)) return;
    const sites = usdtSites(binary);
    assert.deepEqual(sites.map((s) => `${s.provider}:${s.name}`).sort(), ['tsbpf:req', 'tsbpf:tick', 'tsbpf:tick']);
    const req = sites.find((s) => s.name === 'req')!;
    assert.equal(req.args.split(' ').length, 4);
    assert.match(req.args, /@\$7$/, 'the constant argument');
    const tickSites = sites.filter((s) => s.name === 'tick');
    assert.notEqual(tickSites[0]!.offset, tickSites[1]!.offset);
    assert.equal(tickSites[0]!.semaphoreOffset, tickSites[1]!.semaphoreOffset, 'one semaphore per probe');
    assert.ok(req.semaphoreOffset > 0 && req.semaphoreOffset !== tickSites[0]!.semaphoreOffset);
  });

  test('BPF_USDT reads every argument at every site; the semaphore counts the attachment', async (t) => {
    if (!ready(t)) return;
    const c = load();
    // Only the links of this collection's programs: other processes may attach meanwhile.
    const links = (): number => linksOfPrograms(Object.values(c.programs).map((p) => p.id)).length;
    try {
      const n = 5;
      const specs = c.maps.__bpf_usdt_specs!;
      const run = await runWaitingChild(binary, [String(n)], (pid) => [
        attachUsdt({ program: c.programs.on_req!, path: binary, provider: 'tsbpf', name: 'req', pid, cookie: 42n, specs }),
        attachUsdt({ program: c.programs.on_tick!, path: binary, provider: 'tsbpf', name: 'tick', pid, specs }),
      ]);
      const [req, tick] = run.attached as [Link, Link];
      assert.equal(run.out.trim(), String(n), 'the program saw its semaphore set at every req');
      assert.deepEqual(reqs(c), { count: 5n, sum_i: 10n, last_neg: -5n, last_big: 5_000_000_004n, last_const: 7n, arg_cnt: 4n, cookie: 42n });
      // Two sites: i at one, i + 1000 at the other.
      assert.deepEqual(ticks(c), { count: 10n, sum: 10n + 5010n });
      assert.equal(req.hook, 'usdt');
      assert.match(req.target, /:tsbpf:req pid \d+$/);
      assert.equal(req.parts.length, 1);
      assert.equal(tick.parts.length, 2);
      req.close();
      tick.close();
      assert.equal(settledCount(links), 0, 'no link of the probes remains');
      // Detached: the semaphore is back at zero and nothing more is counted.
      const again = await runWaitingChild(binary, ['3']);
      assert.equal(again.out.trim(), '0');
      assert.equal(reqs(c).count, 5n);
    } finally {
      c.close();
    }
  });

  test('attaches through its section, with the specs map the collection gives', async (t) => {
    if (!ready(t)) return;
    const c = load();
    try {
      const run = await runWaitingChild(binary, ['2'], (pid) => [attachBySection(c.programs.on_tick!, `usdt/${binary}:tsbpf:tick`, { pid, usdtSpecs: c.maps.__bpf_usdt_specs! })]);
      for (const l of run.attached ?? []) l.close();
      assert.deepEqual(ticks(c), { count: 4n, sum: 0n + 1n + 1000n + 1001n });
    } finally {
      c.close();
    }
  });

  test('a missing probe, a file without probes, a wrong program or specs map: typed errors, nothing left attached', (t) => {
    if (!ready(t)) return;
    const c = load();
    // Only the links of this collection's programs: other processes may attach meanwhile.
    const links = (): number => linksOfPrograms(Object.values(c.programs).map((p) => p.id)).length;
    try {
      const prog = c.programs.on_req!;
      assert.throws(() => attachUsdt({ program: prog, path: binary, provider: 'tsbpf', name: 'nope' }), (e: unknown) => e instanceof TargetNotFoundError && /tsbpf:nope/.test(e.message));
      assert.throws(() => attachUsdt({ program: prog, path: corpus('usdt.bpf.c'), provider: 'tsbpf', name: 'req' }), TargetNotFoundError);
      assert.throws(() => attachUsdt({ program: prog, path: join(dir, 'missing'), provider: 'tsbpf', name: 'req' }), TargetNotFoundError);
      assert.throws(() => attachUsdt({ program: prog, path: binary, provider: '', name: 'req' }), InvalidArgumentError);
      assert.throws(() => attachUsdt({ program: prog, path: binary, provider: 'tsbpf', name: 'tick', pid: 0x3ffffff, specs: c.maps.__bpf_usdt_specs! }), (e: unknown) => e instanceof TargetNotFoundError && e.kind === 'process');
      using wrong = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 16, maxEntries: 4 });
      assert.throws(() => attachUsdt({ program: prog, path: binary, provider: 'tsbpf', name: 'req', specs: wrong }), (e: unknown) => e instanceof InvalidArgumentError && /208/.test(e.message));
      const xdp = CollectionSpec.fromFile(corpus('attach_xdp.bpf.o')).load();
      try {
        assert.throws(() => attachUsdt({ program: Object.values(xdp.programs)[0]!, path: binary, provider: 'tsbpf', name: 'req' }), ProgramTypeError);
      } finally {
        xdp.close();
      }
      assert.equal(settledCount(links), 0);
      // Spec slots run out with a clear error, and come back when links close.
      using small = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 208, maxEntries: 2 });
      const take = (): Link => attachUsdt({ program: prog, path: binary, provider: 'tsbpf', name: 'req', specs: small });
      const first = [take(), take()];
      assert.throws(take, /all 2 USDT spec slots/);
      first[0]!.close();
      const third = take();
      for (const l of [...first, third]) l.close();
      assert.equal(settledCount(links), 0);
    } finally {
      c.close();
    }
  });

  test('tsbpf usdt list: the probes of a file or a process, as text or JSON; bad input is a usage error', async (t) => {
    if (!ready(t)) return;
    const run = async (...argv: string[]): Promise<string> => {
      const r = await runCliInProcess(argv, { command: usdtCommand });
      assert.equal(r.code, 0);
      return r.stdout;
    };
    const probes = JSON.parse(await run('list', binary, '--json')) as Array<{ file: string; provider: string; name: string; sites: number[]; semaphoreOffset: number; args: string }>;
    const sites = usdtSites(binary);
    assert.deepEqual(
      probes.map((p) => [p.file, `${p.provider}:${p.name}`, p.sites.length]).sort(),
      [
        [binary, 'tsbpf:req', 1],
        [binary, 'tsbpf:tick', 2],
      ],
    );
    assert.deepEqual(probes.find((p) => p.name === 'tick')!.sites.sort(), sites.filter((s) => s.name === 'tick').map((s) => s.offset).sort());
    const text = await run('list', binary);
    assert.match(text, new RegExp(`^${binary}\n`));
    assert.match(text, /tsbpf:req +1 site +semaphore 0x[0-9a-f]+ +-4@%\w+ /);
    // A running process: its executable's probes, found through /proc/PID/maps.
    const viaPid = await runWaitingChild(binary, ['1'], (pid) => run('list', '--pid', String(pid), '--json'));
    const listed = JSON.parse(await viaPid.attached!) as Array<{ file: string; name: string }>;
    assert.deepEqual(listed.filter((p) => p.file === binary).map((p) => p.name).sort(), ['req', 'tick']);
    for (const bad of [['list'], ['list', binary, '--pid', '1'], ['list', '--pid', 'x'], ['nope']]) {
      await assert.rejects(usdtCommand.run(bad, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }), UsageError, bad.join(' '));
    }
    await assert.rejects(run('list', corpus('usdt.bpf.c')), (e: unknown) => e instanceof TargetNotFoundError && /not an ELF file/.test(e.message));
  });

  test("<bpf/usdt.bpf.h>'s hidden global helpers are static in the loaded BTF", () => {
    const spec = CollectionSpec.fromFile(corpus('usdt.bpf.o'));
    const fn = spec.btf!.typeByName('bpf_usdt_arg', 'FUNC');
    assert.equal(fn.linkage, 'static');
    assert.equal(spec.btf!.typeByName('on_req', 'FUNC').linkage, 'global', 'programs keep theirs');
  });
});
