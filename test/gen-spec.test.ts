// `gen` reads objects as the loader does (through CollectionSpec). Buffer maps that name their
// records' type as the value (`__type(value, struct event)`, as bpf2go users write them): the
// kernel gets the sizes it takes, and `gen` types the readers with that type, with no global to
// anchor it and no --type.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { generateModule } from '../src/codegen/generate.js';
import { ElfFile } from '../src/elf/file.js';
import { TsbpfError } from '../src/errors.js';
import { CollectionSpec } from '../src/index.js';
import { MapType } from '../src/sys/types.js';
import { root } from './bpf/corpus.js';
import { kernelTest } from './helpers/kernel.js';

const object = join(root, 'test', 'fixtures', 'loader', 'typed_buffers.bpf.o');
const work = mkdtempSync(join(tmpdir(), 'tsbpf-gen-spec-'));
after(() => rmSync(work, { recursive: true, force: true }));

function generate(runtime: string, bytes: Uint8Array = readFileSync(object)): string {
  return generateModule({ name: 'typed_buffers', object: bytes, objectFile: 'typed_buffers.bpf.o', runtime, embed: true });
}

describe('gen reads through CollectionSpec', () => {
  it('an object the loader refuses gets no module, and the same error', () => {
    // The map load of the program becomes a move: a relocation on neither a call nor a load.
    const bytes = new Uint8Array(readFileSync(object));
    const elf = new ElfFile(bytes);
    const xdp = elf.sections.find((s) => s.name === 'xdp')!;
    const code = bytes.subarray(xdp.offset, xdp.offset + xdp.size);
    let patched = 0;
    for (let o = 0; o < code.length; o += 8) {
      if (code[o] === 0x18) {
        code[o] = 0xb7;
        code[o + 8] = 0xb7;
        patched++;
        o += 8;
      }
    }
    assert.ok(patched > 0);
    let refusal: unknown;
    try {
      CollectionSpec.fromBuffer(bytes, { name: 'typed_buffers.bpf.o' });
    } catch (err) {
      refusal = err;
    }
    assert.ok(refusal instanceof TsbpfError, 'CollectionSpec refuses it');
    assert.throws(() => generate('RUNTIME', bytes), (err: unknown) => err instanceof TsbpfError && err.message === refusal.message);
  });
});

describe('__type(value, struct ...) on buffer maps', () => {
  it('keeps the type and gives the kernel the sizes it takes', () => {
    const spec = CollectionSpec.fromFile(object);
    const { events, samples } = spec.maps;
    assert.deepEqual([events!.type, events!.keySize, events!.valueSize], [MapType.RINGBUF, 0, 0]);
    assert.equal(events!.valueType?.name, 'event');
    assert.deepEqual([samples!.type, samples!.keySize, samples!.valueSize], [MapType.PERF_EVENT_ARRAY, 4, 4]);
    assert.equal(samples!.valueType?.name, 'sample');
  });

  it('gen types the readers with it', () => {
    const text = generate('RUNTIME');
    assert.match(text, /^export interface Event \{$/m);
    assert.match(text, /events\(options\?: Omit<RingBufReaderOptions<Event>, 'codec'>\): RingBufReader<Event>;/);
    assert.match(text, /samples\(options\?: Omit<PerfReaderOptions<Sample>, 'codec'>\): PerfReader<Sample>;/);
  });

  kernelTest('loads, and the typed readers decode what the program wrote', async () => {
    const runtime = new URL('../src/codegen/runtime.js', import.meta.url).href;
    const file = join(work, 'typed_buffers.mjs');
    writeFileSync(file, ts.transpileModule(generate(runtime), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText);
    interface Loaded extends Disposable {
      programs: { emit: { testRun(o: { data: Uint8Array }): { retval: number } } };
      readers: {
        events(o: { signal: AbortSignal }): AsyncIterable<{ ifindex: number; len: number; seq: bigint }>;
        samples(o: { signal: AbortSignal }): AsyncIterable<{ record?: { proto: number; queue: number } }>;
      };
    }
    const mod = (await import(pathToFileURL(file).href)) as { loadTypedBuffers(): Promise<Loaded> };
    using obj = await mod.loadTypedBuffers();
    const events = obj.readers.events({ signal: AbortSignal.timeout(10_000) });
    const samples = obj.readers.samples({ signal: AbortSignal.timeout(10_000) });
    assert.equal(obj.programs.emit.testRun({ data: new Uint8Array(64) }).retval, 2);
    for await (const e of events) {
      assert.deepEqual(e, { ifindex: e.ifindex, len: 64, seq: 1n });
      break;
    }
    for await (const s of samples) {
      assert.equal(s.record?.proto, 17);
      break;
    }
  });
});
