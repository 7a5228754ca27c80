// A generated module against the kernel: every map kind's typed view, config constants of each
// kind reaching the program, globals read and written live.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { generateModule } from '../src/codegen/generate.js';
import { kernelTest } from './helpers/kernel.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = existsSync(join(here, '..', 'package.json')) ? join(here, '..') : join(here, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'tsbpf-codegen-kernel-'));
after(() => rmSync(work, { recursive: true, force: true }));

interface Endpoint {
  mac: Uint8Array;
  port: number;
  addr: number;
}
interface Loaded extends Disposable {
  maps: Record<string, {
    get(k: unknown): unknown;
    set(k: unknown, v: unknown, mode?: string): void;
    delete(k: unknown): boolean;
    entries(): Iterable<[unknown, unknown]>;
    push(v: unknown): void;
    pop(): unknown;
    add(v: unknown): void;
    has(v: unknown): boolean;
    cpus: number;
    getBatch(): Iterable<{ count: number; key(i: number): unknown; value(i: number): unknown }>;
    setBatch(keys: unknown[], values: unknown[]): number;
  }>;
  programs: Record<string, { testRun(o: { data?: Uint8Array }): { retval: number } }>;
  globals: Record<string, unknown>;
  attach(): unknown[];
  close(): void;
}

/** The layouts fixture's module, generated and imported with the real run-time support. */
async function loadLayouts(config: Record<string, unknown>): Promise<Loaded> {
  const runtime = pathToFileURL(join(here, '..', 'src', 'codegen', 'runtime.js')).href;
  const text = generateModule({
    name: 'layouts',
    object: readFileSync(join(root, 'test', 'fixtures', 'gen', 'layouts.bpf.o')),
    objectFile: 'layouts.bpf.o',
    runtime,
    embed: true,
    types: ['names:ring'],
  });
  const file = join(work, `layouts-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, ts.transpileModule(text, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText);
  const mod = (await import(pathToFileURL(file).href)) as { loadLayouts(o: { config: Record<string, unknown> }): Promise<Loaded> };
  return mod.loadLayouts({ config });
}

function zeroRecord(): Record<string, unknown> {
  return {
    state: 'STATE_IDLE',
    wide: 'WIDE_SMALL',
    ok: false,
    small: 0,
    medium: 0,
    big: 0n,
    ratio: 0,
    ratio32: 0,
    name: '',
    names: ['', ''],
    four: [0, 0, 0, 0],
    many: new Array<number>(20).fill(0),
    flags: { a: 0, b: 0, wide: 0n, on: false, tail: 0 },
    num: { u: 0 },
    endpoint: { mac: new Uint8Array(6), port: 0, addr: 0 },
    point: { x: 0, y: 0 },
    raw: 0n,
    names_: { type__: 0, type_: 0, delete_: 0, new_: 0, class_: 0, constructor_: 0, __proto___: 0 },
  };
}

describe('a generated module in the kernel', () => {
  kernelTest('sets constants of every kind, which the program then sees', async () => {
    using obj = await loadLayouts({ initial_state: 'STATE_NEG', verbose: true, label: 'fix', port: 53, offset: -5n });
    obj.maps.delete_!.set(0, { x: 10 });
    assert.equal(obj.programs.handle!.testRun({ data: new Uint8Array(64) }).retval, 2);
    // new += x + port (the raw __be16: 53 in network order reads 0x3500 here) + offset + label[0]
    assert.equal(obj.globals.new_, 3 + 10 + 0x3500 - 5 + 'f'.charCodeAt(0));
    assert.equal(obj.globals.counter, 1n);
    assert.equal((obj.globals.last_record as Record<string, unknown>).state, 'STATE_NEG');
    assert.equal((obj.globals.history as number[]).length, 32);
  });

  kernelTest('reads and writes globals live', async () => {
    using obj = await loadLayouts({ verbose: false });
    obj.globals.new_ = 41;
    obj.globals.counter = 99n;
    const history = new Array<number>(32).fill(0).map((_, i) => i * 3);
    obj.globals.history = history;
    obj.programs.handle!.testRun({ data: new Uint8Array(64) });
    assert.equal(obj.globals.new_, 41);
    assert.equal(obj.globals.counter, 100n);
    const after = obj.globals.history as number[];
    assert.deepEqual(after.filter((_, i) => i !== 100 % 32), history.filter((_, i) => i !== 100 % 32));
    const record = { ...zeroRecord(), name: 'kept', four: [1, 2, 3, 4] };
    obj.globals.last_record = record;
    assert.equal((obj.globals.last_record as Record<string, unknown>).name, 'kept');
  });

  kernelTest('gives every map kind a typed view', async () => {
    using obj = await loadLayouts({});
    const key: Endpoint = { mac: new Uint8Array([1, 2, 3, 4, 5, 6]), port: 8080, addr: 0x7f000001 };
    const value = { ...zeroRecord(), state: 'STATE_BUSY', name: 'record', big: -7n, flags: { a: 3, b: -2, wide: 5n, on: true, tail: 9 }, many: new Array<number>(20).fill(7) };
    const records = obj.maps.records!;
    records.set(key, value);
    const got = records.get({ ...key }) as Record<string, unknown>;
    assert.equal(got.name, 'record');
    assert.equal(got.big, -7n);
    assert.deepEqual(got.flags, { a: 3, b: -2, wide: 5n, on: true, tail: 9 });
    assert.deepEqual((got.endpoint as Endpoint).port, 0);
    assert.throws(() => records.set(key, value, 'noexist'), /EEXIST/);
    const entries = [...records.entries()];
    assert.equal(entries.length, 1);
    assert.deepEqual((entries[0]![0] as Endpoint).mac, key.mac);
    assert.equal(records.delete(key), true);
    assert.equal(records.get(key), undefined);

    const numbers = obj.maps.numbers!;
    const perCpu = new Array(numbers.cpus).fill(0).map((_, i) => ({ u: i + 100 }));
    numbers.set(5n, perCpu);
    const back = numbers.get(5n) as { u: number; lo: number }[];
    assert.equal(back.length, numbers.cpus);
    assert.deepEqual(back.map((x) => x.u), perCpu.map((x) => x.u));
    assert.equal(numbers.setBatch([6n, 7n], [perCpu, perCpu]), 2);
    let batched = 0;
    for (const chunk of numbers.getBatch()) for (let i = 0; i < chunk.count; i++) {
      batched++;
      assert.equal((chunk.value(i) as { u: number }[])[0]!.u, 100);
    }
    assert.equal(batched, 3);

    const queue = obj.maps.queue!;
    queue.push({ value: 1 });
    queue.push({ value: 2 });
    assert.deepEqual(queue.pop(), { value: 1 });
    assert.deepEqual(queue.pop(), { value: 2 });
    assert.equal(queue.pop(), undefined);

    const seen = obj.maps.seen!;
    seen.add(42);
    assert.equal(seen.has(42), true);
  });

  kernelTest('attaches the programs whose sections name their hook', async () => {
    using obj = await loadLayouts({});
    // The tracepoint attaches; the XDP program needs an interface and is skipped.
    assert.equal(obj.attach().length, 1);
  });
});
