import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UsageError } from '../src/cli/framework/index.js';
import { command, parseBytes } from '../src/cli/map.js';
import { u32 } from '../src/codec/index.js';
import { Assembler, R0 } from '../src/asm/index.js';
import { BpfMap, possibleCpus } from '../src/map.js';
import { Program } from '../src/program.js';
import { MapType, ProgramType } from '../src/sys/types.js';
import { type InProcessRun, runCliInProcess } from './helpers/cli.js';
import { kernelTest, sh, uniqueName } from './helpers/kernel.js';

type Run = InProcessRun;

/** As `tsbpf map` runs: usage errors reach the caller, failures are one line and exit 1. */
const run = (...argv: string[]): Promise<Run> => runCliInProcess(argv, { command, reportAs: `map ${argv[0]}` });

function json<T>(r: Run): T {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

const usage = (e: unknown): boolean => e instanceof UsageError && e.code === 'EUSAGE';

describe('tsbpf map: arguments', () => {
  it('has a name, a summary and help', async () => {
    assert.equal(command.name, 'map');
    assert.ok(command.summary.length > 0);
    const r = await run('--help');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: tsbpf map/);
    assert.match(r.stdout, /key hex 01 00 00 00/);
    assert.equal((await run('dump', '-h')).stdout, command.help);
  });

  it('usage errors are UsageErrors (exit code 2 in main)', async () => {
    await assert.rejects(run(), usage);
    await assert.rejects(run('frobnicate'), usage);
    await assert.rejects(run('show'), usage);
    await assert.rejects(run('show', 'id'), usage);
    await assert.rejects(run('list', '--bogus'), usage);
    await assert.rejects(run('list', 'extra'), usage);
    await assert.rejects(run('update', '1', 'key', '1'), usage);
    await assert.rejects(run('update', '1', 'key', 'value', '1'), usage);
    await assert.rejects(run('update', '1', 'key', '0x100', 'value', '1'), usage);
    await assert.rejects(run('delete', '1', 'key', '1', 'value', '1'), usage);
    await assert.rejects(run('pin', '1'), usage);
  });

  it('parses both byte forms', () => {
    assert.deepEqual([...parseBytes(['0x01', '2', '0xff', '255'], 'key')], [1, 2, 255, 255]);
    assert.deepEqual([...parseBytes(['hex', '01', '0a0B'], 'key')], [1, 10, 11]);
    assert.throws(() => parseBytes(['256'], 'key'), usage);
    assert.throws(() => parseBytes(['abc'], 'key'), usage);
    assert.throws(() => parseBytes(['hex', '123'], 'key'), usage);
    assert.throws(() => parseBytes(['hex'], 'key'), usage);
  });
});

describe('tsbpf map: kernel', () => {
  kernelTest('list and show report a map by id', async () => {
    using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 16, name: 'clilist' });
    const all = json<{ id: number; type: string; name: string; keySize: number; valueSize: number; maxEntries: number }[]>(await run('list', '--json'));
    const mine = all.find((r) => r.id === m.id);
    assert.deepEqual(
      { type: mine?.type, name: mine?.name, keySize: mine?.keySize, valueSize: mine?.valueSize, maxEntries: mine?.maxEntries },
      { type: 'hash', name: 'clilist', keySize: 4, valueSize: 8, maxEntries: 16 },
    );
    const text = await run('list');
    assert.match(text.stdout, new RegExp(`^${m.id}\\s+hash\\s+clilist\\s+0x0\\s+4\\s+8\\s+16$`, 'm'));
    const shown = json<{ id: number; frozen: boolean; memlock: number }>(await run('show', 'id', String(m.id), '-j'));
    assert.equal(shown.id, m.id);
    assert.equal(shown.frozen, false);
    assert.ok(shown.memlock > 0);
    assert.match((await run('show', String(m.id))).stdout, new RegExp(`^${m.id}: hash  name clilist  flags 0x0\\n\\tkey 4B  value 8B  max_entries 16`));
  });

  kernelTest('update, dump and delete elements', async () => {
    using m = BpfMap.create({ type: MapType.HASH, key: u32, value: u32, maxEntries: 16 });
    const id = String(m.id);
    assert.equal((await run('update', id, 'key', '0x01', '0', '0', '0', 'value', 'hex', '2a000000')).code, 0);
    assert.equal((await run('update', id, 'key', 'hex', '02000000', 'value', '7', '0', '0', '0', 'noexist')).code, 0);
    assert.equal(m.lookup(1), 42);
    assert.equal(m.lookup(2), 7);
    const exists = await run('update', id, 'key', '2', '0', '0', '0', 'value', '8', '0', '0', '0', 'noexist');
    assert.equal(exists.code, 1);
    assert.match(exists.stderr, /^tsbpf map update: .*EEXIST.*\n$/);
    assert.equal(exists.stderr.split('\n').length, 2, 'one line');
    assert.equal((await run('update', id, 'key', '3', '0', '0', '0', 'value', '8', '0', '0', '0', 'exist')).code, 1);
    const dump = json<{ key: string[]; value: string[] }[]>(await run('dump', id, '--json'));
    const byKey = new globalThis.Map(dump.map((e) => [e.key.join(' '), e.value.join(' ')]));
    assert.deepEqual(Object.fromEntries(byKey), { '0x01 0x00 0x00 0x00': '0x2a 0x00 0x00 0x00', '0x02 0x00 0x00 0x00': '0x07 0x00 0x00 0x00' });
    const text = await run('dump', id);
    assert.match(text.stdout, /^key: 01 00 00 00 {2}value: 2a 00 00 00$/m);
    assert.match(text.stdout, /^Found 2 elements$/m);
    assert.equal((await run('delete', id, 'key', 'hex', '01000000')).code, 0);
    assert.equal(m.lookup(1), undefined);
    const missing = await run('delete', id, 'key', 'hex', '01000000');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no element with key 01 00 00 00/);
    await assert.rejects(run('update', id, 'key', '1', '0', 'value', '1', '0', '0', '0'), (e: unknown) => usage(e) && /key has 2 bytes but map id \d+ \(HASH\) takes 4/.test((e as Error).message));
  });

  kernelTest('puts programs in prog arrays and maps in maps of maps by id or pinned path', async () => {
    using progs = BpfMap.create({ type: MapType.PROG_ARRAY, key: u32, value: u32, maxEntries: 4 });
    using prog = Program.load({ type: ProgramType.XDP, instructions: new Assembler().mov64Imm(R0, 2).exit().assemble(), license: 'GPL', name: 'cli_tail' });
    assert.equal((await run('update', String(progs.id), 'key', '1', '0', '0', '0', 'value', 'id', String(prog.info().id))).code, 0);
    assert.equal(progs.lookup(1), prog.info().id, 'the kernel reports the program id of the element');
    using template = BpfMap.create({ type: MapType.ARRAY, key: u32, value: u32, maxEntries: 1 });
    using outer = BpfMap.create({ type: MapType.HASH_OF_MAPS, key: u32, value: u32, maxEntries: 4, innerMap: template });
    using inner = BpfMap.create({ type: MapType.ARRAY, key: u32, value: u32, maxEntries: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-cli-bpffs-'));
    sh('mount', ['-t', 'bpf', 'bpf', dir]);
    try {
      inner.pin(join(dir, 'inner'));
      prog.pin(join(dir, 'prog'));
      assert.equal((await run('update', String(outer.id), 'key', '7', '0', '0', '0', 'value', 'pinned', join(dir, 'inner'), 'noexist')).code, 0);
      assert.equal(outer.lookup(7), inner.id);
      assert.equal((await run('update', String(progs.id), 'key', '2', '0', '0', '0', 'value', 'pinned', join(dir, 'prog'))).code, 0);
      assert.equal(progs.lookup(2), prog.info().id);
      // A map where a program is expected, and an id that names nothing: errors, nothing written.
      const wrong = await run('update', String(progs.id), 'key', '3', '0', '0', '0', 'value', 'pinned', join(dir, 'inner'));
      assert.equal(wrong.code, 1);
      const none = await run('update', String(progs.id), 'key', '3', '0', '0', '0', 'value', 'id', '4000000000');
      assert.equal(none.code, 1);
      assert.match(none.stderr, /ENOENT/);
      assert.equal(progs.lookup(3), undefined);
    } finally {
      sh('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    }
    using plain = BpfMap.create({ type: MapType.HASH, key: u32, value: u32, maxEntries: 2 });
    await assert.rejects(run('update', String(plain.id), 'key', '1', '0', '0', '0', 'value', 'id', '5'), (e: unknown) => usage(e) && /prog arrays and maps of maps/.test((e as Error).message));
    await assert.rejects(run('update', String(progs.id), 'key', '1', '0', '0', '0', 'value', 'id'), usage);
    await assert.rejects(run('update', String(progs.id), 'key', '1', '0', '0', '0', 'value', 'id', 'x'), usage);
  });

  kernelTest('per-CPU values are written to every CPU and dumped per CPU', async () => {
    using m = BpfMap.create({ type: MapType.PERCPU_ARRAY, key: u32, value: u32, maxEntries: 2 });
    assert.equal((await run('update', String(m.id), 'key', '1', '0', '0', '0', 'value', '9', '0', '0', '0')).code, 0);
    assert.deepEqual(m.lookup(1), Array(possibleCpus()).fill(9));
    const dump = json<{ key: string[]; values: { cpu: number; value: string[] }[] }[]>(await run('dump', String(m.id), '-j'));
    assert.equal(dump.length, 2);
    assert.deepEqual(dump[1]?.values.map((v) => v.value[0]), Array(possibleCpus()).fill('0x09'));
    assert.deepEqual(dump[1]?.values.map((v) => v.cpu), [...Array(possibleCpus()).keys()]);
    assert.match((await run('dump', String(m.id))).stdout, /^value \(CPU 00\): 09 00 00 00$/m);
  });

  kernelTest('pin, then show, dump and update through the pinned path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-cli-bpffs-'));
    sh('mount', ['-t', 'bpf', 'bpf', dir]);
    try {
      using m = BpfMap.create({ type: MapType.ARRAY, key: u32, value: u32, maxEntries: 1, name: 'clipin' });
      const path = join(dir, uniqueName('p', 30), 'm');
      const pinned = json<{ id: number; pinned: string }>(await run('pin', String(m.id), path, '--json'));
      assert.deepEqual(pinned, { id: m.id, pinned: path });
      assert.ok(existsSync(path));
      assert.equal(json<{ id: number }>(await run('show', 'pinned', path, '--json')).id, m.id);
      assert.equal((await run('update', path, 'key', '0', '0', '0', '0', 'value', '5', '0', '0', '0')).code, 0);
      assert.equal(m.lookup(0), 5);
    } finally {
      sh('umount', [dir], { allowFail: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  kernelTest('failures are one line on stderr with exit code 1', async () => {
    const r = await run('show', String(0x7ffffff0));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tsbpf map show: .*ENOENT.*\n$/);
    const noPin = await run('show', '/tmp/definitely-not-a-pin');
    assert.equal(noPin.code, 1);
    assert.match(noPin.stderr, /^tsbpf map show: no such pin: \/tmp\/definitely-not-a-pin \[ENOENT\]\n$/);
    const notBpffs = await run('show', '/etc/hostname');
    assert.equal(notBpffs.code, 1);
    assert.match(notBpffs.stderr, /not on a BPF filesystem .*mount -t bpf bpf \/sys\/fs\/bpf/);
    using q = BpfMap.create({ type: MapType.QUEUE, valueSize: 4, maxEntries: 2 });
    const dumpQueue = await run('dump', String(q.id));
    assert.equal(dumpQueue.code, 1);
    assert.match(dumpQueue.stderr, /\(QUEUE\) has no keys to dump/);
  });
});
