// Objects that leave map sizes and program types to the program that loads them (bcc's profile
// and offcputime size their stack maps from the command line): the library, `object load` and
// generated modules each let the caller say.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { generateModule } from '../src/codegen/generate.js';
import { InvalidArgumentError } from '../src/errors.js';
import { CollectionSpec } from '../src/index.js';
import { resizeMap } from '../src/object/index.js';
import { ProgramType } from '../src/sys/types.js';
import { root } from './bpf/corpus.js';
import { runCli } from './helpers/cli.js';
import { kernelTest } from './helpers/kernel.js';

const object = join(root, 'test', 'fixtures', 'loader', 'user_sized.bpf.o');
const SIZES = ['--map', 'stackmap.value_size=1016,max_entries=1024', '--map', 'counts.max_entries=64'];
const work = mkdtempSync(join(tmpdir(), 'tsbpf-sizing-'));
after(() => rmSync(work, { recursive: true, force: true }));

describe('resizeMap', () => {
  it('sets value size and max entries, dropping a value type that no longer fits', () => {
    const spec = CollectionSpec.fromFile(object);
    assert.deepEqual([spec.maps.stackmap!.valueSize, spec.maps.stackmap!.maxEntries], [0, 0]);
    resizeMap(spec, 'stackmap', { valueSize: 127 * 8, maxEntries: 1024 });
    assert.deepEqual([spec.maps.stackmap!.valueSize, spec.maps.stackmap!.maxEntries], [1016, 1024]);
    assert.equal(spec.maps.counts!.valueType?.name, '__u64');
    resizeMap(spec, 'counts', { valueSize: 16 });
    assert.equal(spec.maps.counts!.valueType, undefined, 'a __u64 type does not describe 16 bytes');
    assert.throws(() => resizeMap(spec, 'nope', { maxEntries: 1 }), InvalidArgumentError);
    assert.throws(() => resizeMap(spec, 'counts', { maxEntries: 0 }), /max_entries: 0 is not a size/);
  });

  it('global data keeps its size', () => {
    const spec = CollectionSpec.fromFile(join(root, 'test', 'fixtures', 'loader', 'typed_buffers.bpf.o'));
    assert.throws(() => resizeMap(spec, '.bss', { valueSize: 64 }), /holds global data/);
  });
});

describe('object load --map and --type', () => {
  kernelTest('fails without them, naming the attribute, and loads with them', () => {
    const bare = runCli(['object', 'load', object]);
    assert.equal(bare.status, 1);
    assert.match(bare.stderr, /max_entries 0/);
    const untyped = runCli(['object', 'load', object, ...SIZES]);
    assert.equal(untyped.status, 1);
    assert.match(untyped.stderr, /section socket\/1 does not name a program type.*--type count_packets=TYPE/);
    const r = runCli(['object', 'load', object, ...SIZES, '--type', 'count_packets=socket', '--type', 'pass=sched_cls', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { programs: { name: string; type: string; loaded: boolean }[]; maps: { name: string }[] };
    assert.deepEqual(doc.programs.map((p) => [p.name, p.type, p.loaded]).sort(), [['count_packets', 'socket_filter', true], ['pass', 'sched_cls', true]]);
    assert.deepEqual(doc.maps.map((m) => m.name).sort(), ['counts', 'stackmap']);
  });

  kernelTest('the sizes reach the kernel', () => {
    const spec = CollectionSpec.fromFile(object);
    resizeMap(spec, 'stackmap', { valueSize: 1016, maxEntries: 1024 });
    resizeMap(spec, 'counts', { maxEntries: 64 });
    spec.programs.count_packets!.type = ProgramType.SOCKET_FILTER;
    spec.programs.pass!.type = ProgramType.SCHED_CLS;
    using c = spec.load();
    const info = c.maps.stackmap!.info();
    assert.deepEqual([info.valueSize, info.maxEntries], [1016, 1024]);
  });

  it('usage errors exit 2', () => {
    for (const bad of [['--map', 'stackmap.depth=3'], ['--map', 'value_size=8'], ['--map', 'nomap.max_entries=4'], ['--type', 'pass'], ['--type', 'pass=nonsense'], ['--type', 'nope=xdp']]) {
      const r = runCli(['object', 'load', object, ...bad]);
      assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
    }
  });
});

describe('generated modules: valueSize next to maxEntries', () => {
  kernelTest('sizes a stack map from the load options; its values are raw bytes of that size', async () => {
    const runtime = new URL('../src/codegen/runtime.js', import.meta.url).href;
    const text = generateModule({ name: 'user_sized', object: readFileSync(object), objectFile: 'user_sized.bpf.o', runtime, embed: true });
    const file = join(work, 'user_sized.mjs');
    writeFileSync(file, ts.transpileModule(text, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText);
    interface Loaded extends Disposable {
      maps: { stackmap: { map: { valueSize: number; maxEntries: number; lookup(k: number): Uint8Array | undefined } } };
    }
    const mod = (await import(pathToFileURL(file).href)) as {
      loadUserSized(o: { programs: string[]; maxEntries: Record<string, number>; valueSize: Record<string, number> }): Promise<Loaded>;
    };
    using obj = await mod.loadUserSized({ programs: [], maxEntries: { stackmap: 256, counts: 8 }, valueSize: { stackmap: 64 * 8 } });
    assert.deepEqual([obj.maps.stackmap.map.valueSize, obj.maps.stackmap.map.maxEntries], [512, 256]);
    assert.equal(obj.maps.stackmap.map.lookup(1), undefined);
    await assert.rejects(mod.loadUserSized({ programs: [], maxEntries: { stackmap: 256, counts: 8 }, valueSize: { nope: 8 } }), /valueSize: nope is not a map of this object/);
  });
});
