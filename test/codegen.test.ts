// Generated types and codecs: naming rules, layouts, and decode/encode checked against the
// runtime BTF codec on the same bytes. No compiler or privileges needed: the objects are committed.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { parseBtf } from '../src/btf/parse.js';
import { btfCodec, type BtfValue } from '../src/btfcodec.js';
import type { OffsetCodec } from '../src/codec/codec.js';
import { parseElf } from '../src/elf/index.js';
import { GenError } from '../src/codegen/errors.js';
import { generateModule, type GenerateOptions } from '../src/codegen/generate.js';
import { camelCase, memberName, memberNames, pascalCase } from '../src/codegen/names.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root, from test/ or from dist/test/ (fixtures are not copied to dist). */
const root = existsSync(join(here, '..', 'package.json')) ? join(here, '..') : join(here, '..', '..');
const fixture = (p: string): string => join(root, 'test', 'fixtures', p);
const layoutsObject = readFileSync(fixture('gen/layouts.bpf.o'));
const progObject = readFileSync(fixture('btf/prog.bpfel.o'));

function gen(object: Uint8Array, name: string, extra: Partial<GenerateOptions> = {}): string {
  return generateModule({ name, object, objectFile: `${name}.bpf.o`, commandLine: `tsbpf gen ${name}`, runtime: 'RUNTIME', embed: false, ...extra });
}

const work = mkdtempSync(join(tmpdir(), 'tsbpf-codegen-'));
after(() => rmSync(work, { recursive: true, force: true }));
let modules = 0;

/**
 * Imports a generated module as JavaScript, its run-time support limited to the codec helpers:
 * these tests exercise types and codecs, not loading.
 */
async function importGenerated(text: string): Promise<Record<string, unknown>> {
  const helpers = new URL('../src/codegen/runtime-codec.js', import.meta.url).href;
  const shim = join(work, `runtime-${modules}.mjs`);
  writeFileSync(
    shim,
    `export * from ${JSON.stringify(helpers)};\n` +
      `const absent = () => { throw new Error('loading is not part of this test'); };\n` +
      `export const loadObject = absent, setConstants = absent, objectFile = () => ({}), objectBytes = () => ({});\n`,
  );
  const js = ts.transpileModule(text, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const file = join(work, `module-${modules++}.mjs`);
  writeFileSync(file, js.replace(`from 'RUNTIME'`, `from ${JSON.stringify(pathToFileURL(shim).href)}`));
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

function btfOf(object: Uint8Array): ReturnType<typeof parseBtf> {
  const elf = parseElf(object);
  return parseBtf(elf.sectionData(elf.section('.BTF')!));
}

function btfCodecFor(object: Uint8Array, kind: 'STRUCT' | 'UNION' | 'TYPEDEF', name: string): OffsetCodec<BtfValue> {
  const btf = btfOf(object);
  return btfCodec(btf, btf.typeByName(name, kind).id);
}

/**
 * Values compared across codecs: bigints that fit become numbers, absent union members and
 * zero-length arrays vanish, renamed members get their C names (`null`: not compared).
 */
function normalize(v: unknown, rename: Record<string, string | null> = {}): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN';
  if (v instanceof Uint8Array) return [...v];
  if (Array.isArray(v)) return v.map((x) => normalize(x, rename));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined || (Array.isArray(x) && x.length === 0)) continue;
      const name = Object.hasOwn(rename, k) ? rename[k] : k;
      if (name === null || name === undefined) continue;
      Object.defineProperty(out, name, { value: normalize(x, rename), enumerable: true });
    }
    return out;
  }
  return v;
}

/** Replaces what random bytes made of strings with ASCII, so encoding them fits again. */
function asciiStrings(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(/[^\x20-\x7e]/g, 'x');
  if (Array.isArray(v)) return v.map(asciiStrings);
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: asciiStrings(x), enumerable: true, writable: true });
    return out;
  }
  return v;
}

const swap16 = (n: number): number => ((n & 0xff) << 8) | (n >>> 8);
const swap32 = (n: number): number => (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;

/** The BTF codec reads __be16/__be32 as stored; generated codecs in network order. */
function hostOrder(v: Record<string, unknown>, path: string[]): void {
  let o: Record<string, unknown> = v;
  for (const p of path) o = o[p] as Record<string, unknown>;
  o.port = swap16(o.port as number);
  o.addr = swap32(o.addr as number);
}

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('names', () => {
  it('renames TypeScript keywords with a trailing _', () => {
    for (const k of ['type', 'delete', 'new', 'class', 'constructor', 'function', 'interface', 'number', 'of']) assert.equal(memberName(k), `${k}_`);
    assert.equal(memberName('pid'), 'pid');
    assert.equal(memberName('__proto__'), '__proto___');
    assert.equal(memberName('handle.cnt'), 'handle_cnt');
  });

  it('settles clashes in declaration order, names that need no change first', () => {
    assert.deepEqual(memberNames(['type', 'type_', 'x']), ['type__', 'type_', 'x']);
    assert.deepEqual(memberNames(['a.b', 'a_b']), ['a_b_', 'a_b']);
  });

  it('PascalCases module and type names', () => {
    assert.equal(pascalCase('exec_stream'), 'ExecStream');
    assert.equal(pascalCase('xdp-drop'), 'XdpDrop');
    assert.equal(pascalCase('__u32'), 'U32');
    assert.equal(pascalCase('9lives'), '_9lives');
    assert.equal(camelCase('task_struct'), 'taskStruct');
  });
});

describe('generated module text', () => {
  const text = gen(layoutsObject, 'layouts', { types: ['names'] });

  it('is deterministic', () => {
    assert.equal(gen(layoutsObject, 'layouts', { types: ['names'] }), text);
  });

  it('has a header with the command line and no timestamp', () => {
    const [first] = text.split('\n');
    assert.equal(first, '// Code generated by tsbpf gen layouts; DO NOT EDIT.');
    assert.doesNotMatch(text, /\b20\d\d-\d\d-\d\d\b/);
  });

  it('renames keywords and clashing names predictably', () => {
    assert.match(text, /export interface Names \{\n {2}type__: number;\n {2}type_: number;\n {2}delete_: number;\n {2}new_: number;\n {2}class_: number;\n {2}constructor_: number;\n {2}__proto___: number;\n\}/);
    // struct Promise would shadow the global the loader's signature uses.
    assert.match(text, /export interface Promise_ \{/);
    // struct layouts_config would take the module's own LayoutsConfig.
    assert.match(text, /export interface LayoutsConfig_ \{/);
    assert.match(text, /export interface LayoutsConfig \{/);
    assert.match(text, /readonly delete_: KeyedMap<number, LayoutsConfig_>;/);
    assert.match(text, /readonly class_: GeneratedProgram;/);
    assert.match(text, /new_: number;/);
    assert.match(text, /get new_\(\): number/);
  });

  it('types maps by kind and BTF', () => {
    assert.match(text, /readonly records: KeyedMap<EndpointT, Record_>;/);
    assert.match(text, /readonly numbers: PerCpuMap<bigint, Number_>;/);
    assert.match(text, /readonly queue: QueueMap<Promise_>;/);
    assert.match(text, /readonly seen: BloomFilterMap<number>;/);
    assert.match(text, /readonly ring: RawMap;/);
  });

  it('types fields: enums, tuples, arrays, strings, bytes, unions, bitfields', () => {
    assert.match(text, /state: State \| number;/);
    assert.match(text, /wide: Wide \| bigint;/);
    assert.match(text, /ok: boolean;/);
    assert.match(text, /names: \[string, string\];/);
    assert.match(text, /four: \[number, number, number, number\];/);
    assert.match(text, /many: number\[\];/);
    assert.match(text, /mac: Uint8Array;/);
    assert.match(text, /raw\?: bigint;\n {2}halves\?: \[number, number\];/);
    assert.match(text, /export interface Flags \{\n {2}a: number;\n {2}b: number;\n {2}wide: bigint;\n {2}on: boolean;\n {2}tail: number;\n\}/);
    assert.match(text, /export const State = \{\n {2}STATE_IDLE: 0,\n {2}STATE_BUSY: 1,\n {2}STATE_ALIAS: 1,\n {2}STATE_NEG: -2,\n\} as const;\nexport type State = keyof typeof State;/);
    assert.doesNotMatch(text, /trailing/);
  });

  it('types config from .rodata and documents compiled-in values', () => {
    assert.match(text, /enum state initial_state in \.rodata; compiled-in value 'STATE_BUSY' \*\/\n {2}initial_state: State \| number;/);
    assert.match(text, /_Bool verbose in \.rodata; compiled-in value true/);
    assert.match(text, /char label\[8\] in \.rodata; compiled-in value "fixture"/);
    assert.match(text, /__be16 port in \.rodata; compiled-in value 53/);
    assert.match(text, /__s64 offset in \.rodata; compiled-in value -5n/);
  });

  it('leaves pointer globals (type anchors) out of the API', () => {
    assert.doesNotMatch(text, /unused_names/);
  });

  it('uses only DataView reads at constant offsets in codecs', () => {
    const fn = /function readEndpointT\(v: DataView, o: number\): EndpointT \{\n([\s\S]*?)\n\}/.exec(text);
    assert.ok(fn);
    assert.equal(fn[1], '  return {\n    mac: readBytes(v, o, 6),\n    port: v.getUint16(o + 6, false),\n    addr: v.getUint32(o + 8, false),\n  };');
  });

  it('binds a --type to a ring buffer with TYPE:MAP', () => {
    const bound = gen(layoutsObject, 'layouts', { types: ['names:ring'] });
    assert.match(bound, /ring\(options\?: Omit<RingBufReaderOptions<Names>, 'codec'>\): RingBufReader<Names>;/);
    assert.match(bound, /ring: \(opts\) => o\.ringBuf\('ring', namesCodec, opts\),/);
  });

  it('binds a lone --type to the only buffer map', () => {
    const t = gen(progObject, 'prog', { types: ['task_like'] });
    assert.match(t, /events\(options\?: Omit<RingBufReaderOptions<TaskLike>, 'codec'>\): RingBufReader<TaskLike>;/);
  });

  it('rejects a --type that is not in the BTF, naming it', () => {
    assert.throws(
      () => gen(layoutsObject, 'layouts', { types: ['no_such_type'] }),
      (err: unknown) => err instanceof GenError && err.code === 'ENOENT' && /--type no_such_type: no struct, union, enum or typedef named 'no_such_type'/.test(err.message),
    );
  });

  it('rejects binding a type to a map that is not a buffer', () => {
    assert.throws(() => gen(layoutsObject, 'layouts', { types: ['names:records'] }), /records is not a ring or perf buffer map/);
  });

  it('embeds the object as base64 unless told not to', () => {
    const embedded = gen(layoutsObject, 'layouts', { embed: undefined });
    const m = /const OBJECT = objectBytes\('layouts\.bpf\.o', `\n([A-Za-z0-9+/=\n]+)\n`\);/.exec(embedded);
    assert.ok(m);
    assert.deepEqual(new Uint8Array(Buffer.from(m[1]!, 'base64')), new Uint8Array(layoutsObject));
    assert.match(text, /const OBJECT = objectFile\(new URL\('\.\/layouts\.bpf\.o', import\.meta\.url\)\);/);
  });
});

describe('generated codecs', () => {
  const modulePromise = importGenerated(gen(layoutsObject, 'layouts', { types: ['names'] }));
  const progPromise = importGenerated(gen(progObject, 'prog', { types: ['task_like', 'packed_rec', 'union number', 'flags'] }));

  async function codecOf(name: string, from = modulePromise): Promise<OffsetCodec<unknown>> {
    const m = await from;
    const c = m[name] as OffsetCodec<unknown> | undefined;
    assert.ok(c, `module exports ${name}`);
    return c;
  }

  // Keyword-renamed members compare under their C names; `__proto__` only as generated (a plain
  // object cannot hold it as data).
  const cNames = { type__: 'type', delete_: 'delete', new_: 'new', class_: 'class', constructor_: 'constructor', __proto___: null };
  const cases: [string, string, 'STRUCT' | 'UNION' | 'TYPEDEF', string, Record<string, string | null>, string[] | undefined][] = [
    ['layouts', 'recordCodec', 'STRUCT', 'record', cNames, ['endpoint']],
    ['layouts', 'flagsCodec', 'STRUCT', 'flags', {}, undefined],
    ['layouts', 'numberCodec', 'UNION', 'number', {}, undefined],
    ['layouts', 'endpointTCodec', 'TYPEDEF', 'endpoint_t', {}, []],
    ['layouts', 'namesCodec', 'STRUCT', 'names', cNames, undefined],
    ['prog', 'taskLikeCodec', 'STRUCT', 'task_like', {}, undefined],
    ['prog', 'packedRecCodec', 'STRUCT', 'packed_rec', {}, undefined],
    ['prog', 'flagsCodec', 'STRUCT', 'flags', {}, undefined],
  ];
  const comparable = (v: unknown, be: string[] | undefined): unknown => {
    if (be !== undefined) hostOrder(v as Record<string, unknown>, be);
    return v;
  };

  for (const [obj, codecName, kind, cName, rename, be] of cases) {
    it(`${codecName} decodes as the BTF codec does (${cName})`, async () => {
      const object = obj === 'layouts' ? layoutsObject : progObject;
      const mine = await codecOf(codecName, obj === 'layouts' ? modulePromise : progPromise);
      const reference = btfCodecFor(object, kind, cName);
      assert.equal(mine.size, reference.size);
      for (let seed = 1; seed <= 20; seed++) {
        const bytes = randomBytes(mine.size + 16, seed * 7919);
        // At an offset inside a larger buffer, as ring buffers and batches use it.
        const a = normalize(comparable(mine.decodeAt(bytes, 8), be), rename);
        const b = normalize(reference.decodeAt(bytes, 8));
        assert.deepEqual(a, b, `seed ${seed}`);
      }
    });

    it(`${codecName} round-trips and writes what the BTF codec reads (${cName})`, async () => {
      const object = obj === 'layouts' ? layoutsObject : progObject;
      const mine = await codecOf(codecName, obj === 'layouts' ? modulePromise : progPromise);
      const reference = btfCodecFor(object, kind, cName);
      for (let seed = 1; seed <= 10; seed++) {
        const value = asciiStrings(mine.decode(randomBytes(mine.size, seed * 104729)));
        const out = new Uint8Array(mine.size + 8).fill(0xa5);
        mine.encodeAt(value, out, 4);
        assert.deepEqual(normalize(mine.decodeAt(out, 4)), normalize(value), `seed ${seed}: decode(encode(x)) = x`);
        assert.deepEqual(normalize(reference.decodeAt(out, 4)), normalize(comparable(mine.decodeAt(out, 4), be), rename), `seed ${seed}: the BTF codec reads it back`);
        assert.equal(out[3], 0xa5, 'writes nothing before the value');
        assert.equal(out[4 + mine.size], 0xa5, 'writes nothing after the value');
      }
    });
  }

  it('zeroes padding and the bytes of unions not written', async () => {
    const c = (await codecOf('recordCodec')) as OffsetCodec<Record<string, unknown>>;
    const v = c.decode(new Uint8Array(c.size));
    const out = new Uint8Array(c.size).fill(0xff);
    c.encode({ ...v, raw: undefined, halves: [1, 2] }, out);
    // struct record: 4 bytes of padding after `state` and after `medium`; 4 at the end.
    assert.deepEqual([...out.subarray(4, 8)], [0, 0, 0, 0]);
    assert.deepEqual([...out.subarray(20, 24)], [0, 0, 0, 0]);
    assert.deepEqual([...out.subarray(196, 200)], [0, 0, 0, 0]);
    assert.deepEqual([...out.subarray(160, 168)], [1, 0, 0, 0, 2, 0, 0, 0]);
  });

  it('writes the first union alternative present, zeroing the rest', async () => {
    const c = (await codecOf('numberCodec')) as OffsetCodec<Record<string, number | undefined>>;
    const out = new Uint8Array(4).fill(0xff);
    c.encode({ lo: 0x1234 }, out);
    assert.deepEqual([...out], [0x34, 0x12, 0, 0]);
    c.encode({ i: -1, lo: 7 }, out);
    assert.deepEqual([...out], [0xff, 0xff, 0xff, 0xff]);
    assert.deepEqual(c.decode(new Uint8Array([1, 0, 2, 0])), { u: 0x20001, i: 0x20001, f: c.decode(new Uint8Array([1, 0, 2, 0])).f, lo: 1, hi: 2 });
  });

  it('packs bitfields as C does', async () => {
    const c = (await codecOf('flagsCodec')) as OffsetCodec<Record<string, number | bigint | boolean>>;
    const out = new Uint8Array(8);
    c.encode({ a: 5, b: -3, wide: (1n << 39n) | 1n, on: true, tail: 7 }, out);
    // a: bits 0-2, b: bits 3-7, wide: bits 8-47, on: bit 48, tail: byte 7.
    const bits = new DataView(out.buffer).getBigUint64(0, true);
    assert.equal(bits & 7n, 5n);
    assert.equal((bits >> 3n) & 0x1fn, 0x1dn);
    assert.equal((bits >> 8n) & 0xffffffffffn, (1n << 39n) | 1n);
    assert.equal((bits >> 48n) & 1n, 1n);
    assert.equal(out[7], 7);
    assert.deepEqual(c.decode(out), { a: 5, b: -3, wide: (1n << 39n) | 1n, on: true, tail: 7 });
  });

  it('reads enums as names, unnamed values as numbers; writes either', async () => {
    const c = (await codecOf('stateCodec')) as OffsetCodec<string | number>;
    const out = new Uint8Array(4);
    c.encode('STATE_NEG', out);
    assert.deepEqual([...out], [0xfe, 0xff, 0xff, 0xff]);
    assert.equal(c.decode(out), 'STATE_NEG');
    c.encode(77, out);
    assert.equal(c.decode(out), 77);
    c.encode('STATE_ALIAS', out);
    assert.equal(c.decode(out), 'STATE_BUSY', 'an alias reads as the first name of its value');
    const m = await modulePromise;
    assert.deepEqual(m.State, { STATE_IDLE: 0, STATE_BUSY: 1, STATE_ALIAS: 1, STATE_NEG: -2 });
  });

  it('keeps __be16/__be32 in network byte order on the wire, host numbers in JavaScript', async () => {
    const c = (await codecOf('endpointTCodec')) as OffsetCodec<{ mac: Uint8Array; port: number; addr: number }>;
    const out = new Uint8Array(12);
    c.encode({ mac: new Uint8Array([1, 2, 3]), port: 53, addr: 0x0a000001 }, out);
    assert.deepEqual([...out], [1, 2, 3, 0, 0, 0, 0, 53, 10, 0, 0, 1]);
  });

  it('rejects strings and byte arrays that do not fit, and arrays of the wrong length', async () => {
    const c = (await codecOf('recordCodec')) as OffsetCodec<Record<string, unknown>>;
    const v = c.decode(new Uint8Array(c.size));
    const out = new Uint8Array(c.size);
    assert.throws(() => c.encode({ ...v, name: 'a name far longer than twelve bytes' }, out), /name: "a name far longer than twelve bytes" is longer than 12 bytes/);
    assert.throws(() => c.encode({ ...v, many: [1, 2, 3] }, out), /many: expected 20 elements, got 3/);
    const e = (await codecOf('endpointTCodec')) as OffsetCodec<{ mac: Uint8Array; port: number; addr: number }>;
    assert.throws(() => e.encode({ mac: new Uint8Array(7), port: 0, addr: 0 }, new Uint8Array(12)), /mac: 7 bytes do not fit in 6/);
    c.encode({ ...v, name: 'ünïcode' }, out);
    assert.equal(c.decode(out).name, 'ünïcode');
  });

  it('checks the size of what it decodes', async () => {
    const c = await codecOf('flagsCodec');
    assert.throws(() => c.decode(new Uint8Array(4)), /does not fit in 4 bytes/);
  });
});
