// Objects whose problems only matter at load time still read: every program and map is listed,
// those that cannot load say why, and loading fails with that same message.
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CollectionSpec } from '../src/index.js';
import { ObjectError } from '../src/object/index.js';
import { MapType } from '../src/sys/types.js';
import { root } from './bpf/corpus.js';
import { runCli } from './helpers/cli.js';
import { kernelTest, uniqueName } from './helpers/kernel.js';

const fixture = (name: string): string => join(root, 'test', 'fixtures', 'loader', name);

/** The error loading (or relocating: no privileges needed) the spec fails with. */
function loadError(spec: CollectionSpec): ObjectError {
  let caught: unknown;
  try {
    spec.relocate();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ObjectError, `relocation fails with an ObjectError, not ${String(caught)}`);
  return caught;
}

describe('objects with load-time problems read', () => {
  it('a static function in a program section is listed with its problem and still called', () => {
    const spec = CollectionSpec.fromFile(fixture('static_prog.bpf.o'));
    assert.deepEqual(Object.keys(spec.programs).sort(), ['sock_prog', 'static_fn', 'xdp_prog']);
    const problem = spec.programs.static_fn!.problem;
    assert.equal(problem?.code, 'ENOTSUP');
    assert.match(problem!.message, /static function in a program section/);
    assert.equal(spec.programs.xdp_prog!.problem, undefined);
    const starts = spec.programs.xdp_prog!.instructions.filter((i) => i.symbol !== undefined).map((i) => i.symbol);
    assert.deepEqual(starts, ['xdp_prog', 'static_fn'], 'the static function is a subprogram of its caller');
    const err = loadError(spec);
    assert.equal(err.code, 'ENOTSUP');
    assert.equal(err.program, 'static_fn');
    assert.ok(err.message.endsWith(problem!.message), err.message);
  });

  it('calls and loads of symbols another object defines fail only the programs that reach them', () => {
    const spec = CollectionSpec.fromFile(fixture('unlinked.bpf.o'));
    assert.deepEqual(Object.keys(spec.programs).sort(), ['calls_extern', 'reads_extern', 'standalone']);
    assert.match(spec.programs.calls_extern!.problem!.message, /^calls defined_elsewhere\(\), which this object does not define/);
    assert.match(spec.programs.reads_extern!.problem!.message, /^refers to shared_counter, which this object does not define/);
    assert.equal(spec.programs.standalone!.problem, undefined);
    const err = loadError(spec);
    assert.equal(err.code, 'ENOENT');
    assert.ok(err.message.endsWith(spec.programs[err.program!]!.problem!.message), err.message);
  });

  it('arena globals (.addr_space.1) fail only the program that uses them', () => {
    const spec = CollectionSpec.fromFile(fixture('arena_globals.bpf.o'));
    assert.equal(spec.programs.count_hit!.problem?.code, 'ENOTSUP');
    assert.match(spec.programs.count_hit!.problem!.message, /^refers to hits in section \.addr_space\.1/);
    assert.equal(spec.programs.plain!.problem, undefined);
    const err = loadError(spec);
    assert.equal(err.program, 'count_hit');
  });

  it('__ulong() attributes: 64-bit map_extra from an enum member', () => {
    const spec = CollectionSpec.fromFile(fixture('ulong_map.bpf.o'));
    assert.equal(spec.maps.arena!.type, MapType.ARENA);
    assert.equal(spec.maps.arena!.mapExtra, 0x1000_0000_0000n);
    assert.equal(spec.maps.bloom!.mapExtra, 3n);
  });

  it('an unknown map attribute is a problem of that map only', () => {
    const spec = CollectionSpec.fromFile(fixture('ulong_map.bpf.o'));
    assert.deepEqual(spec.maps.future!.problem, { code: 'ENOTSUP', message: "unknown map attribute 'future_attribute'" });
    assert.equal(spec.maps.bloom!.problem, undefined);
  });

  it('legacy map definitions of different sizes, each as long as its symbol', () => {
    const spec = CollectionSpec.fromFile(fixture('legacy_uneven.bpf.o'));
    const { first, second } = spec.maps;
    assert.deepEqual([first!.type, first!.keySize, first!.valueSize, first!.maxEntries], [MapType.ARRAY, 4, 8, 3]);
    assert.deepEqual([second!.type, second!.keySize, second!.valueSize, second!.maxEntries], [MapType.HASH, 4, 16, 5]);
  });

  it('object inspect lists the programs that cannot load with the reason', () => {
    const text = runCli(['object', 'inspect', fixture('unlinked.bpf.o')]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^standalone\s+xdp\s+xdp/m);
    assert.match(text.stdout, /^ {2}program calls_extern: calls defined_elsewhere\(\), which this object does not define/m);
    const json = runCli(['object', 'inspect', '--json', fixture('static_prog.bpf.o')]);
    const doc = JSON.parse(json.stdout) as { programs: { name: string; problem?: string }[] };
    assert.match(doc.programs.find((p) => p.name === 'static_fn')!.problem!, /static function/);
    assert.equal(doc.programs.find((p) => p.name === 'xdp_prog')!.problem, undefined);
  });
});

describe('loading what can load', () => {
  kernelTest('the object fails with the problem; without those programs the rest loads', () => {
    for (const [file, bad] of [
      ['static_prog.bpf.o', ['static_fn']],
      ['unlinked.bpf.o', ['calls_extern', 'reads_extern']],
    ] as const) {
      const spec = CollectionSpec.fromFile(fixture(file));
      assert.throws(() => spec.load(), (err: unknown) => err instanceof ObjectError && bad.includes(err.program as never) && err.message.endsWith(spec.programs[err.program!]!.problem!.message));
      for (const name of bad) delete spec.programs[name];
      using c = spec.load();
      assert.ok(Object.keys(c.programs).length > 0);
    }
    const cli = runCli(['object', 'load', fixture('unlinked.bpf.o')]);
    assert.equal(cli.status, 1);
    assert.match(cli.stderr, /which this object does not define/);
  });

  kernelTest('a __ulong() bloom filter is created with its hash count; legacy maps of two sizes load', () => {
    const spec = CollectionSpec.fromFile(fixture('ulong_map.bpf.o'));
    // This kernel refuses arena maps to everyone.
    delete spec.maps.arena;
    assert.throws(() => spec.copy().load(), (err: unknown) => err instanceof ObjectError && err.map === 'future' && /unknown map attribute 'future_attribute'/.test(err.message));
    delete spec.maps.future;
    using c = spec.load();
    assert.equal(c.maps.bloom!.info().mapExtra, 3n);
    using legacy = CollectionSpec.fromFile(fixture('legacy_uneven.bpf.o')).load();
    assert.equal(legacy.maps.second!.info().maxEntries, 5);
  });
});

describe("legacy map definitions: libbpf's and iproute2's", () => {
  it("iproute2's struct bpf_elf_map: id is a name, PIN_GLOBAL_NS pins (not NUMA node 2)", () => {
    const spec = CollectionSpec.fromFile(fixture('iproute2_map.bpf.o'));
    const { shared_counts: shared, private_counts: priv } = spec.maps;
    assert.equal(shared!.pinning, 'globalNs');
    assert.equal(shared!.numaNode, undefined);
    assert.equal(shared!.problem, undefined);
    assert.equal(priv!.pinning, 'none');
    assert.equal(priv!.problem, undefined, 'a non-zero id is only a name for inner_id references');
  });

  it('unknown non-zero fields and per-object pinning read, and fail the load', () => {
    const spec = CollectionSpec.fromFile(fixture('invalid_map.bpf.o'));
    assert.equal(spec.maps.invalid_map!.problem?.code, 'EINVAL');
    assert.match(spec.maps.invalid_map!.problem!.message, /non-zero field at byte 36/);
    assert.equal(spec.maps.object_ns_map!.problem?.code, 'ENOTSUP');
    assert.match(spec.maps.object_ns_map!.problem!.message, /PIN_OBJECT_NS/);
  });

  kernelTest('creating a map with a problem fails with it, before anything reaches the kernel', () => {
    const spec = CollectionSpec.fromFile(fixture('invalid_map.bpf.o'));
    assert.throws(
      () => spec.load(),
      (err: unknown) => err instanceof ObjectError && err.map === 'invalid_map' && err.code === 'EINVAL' && err.message.endsWith(spec.maps.invalid_map!.problem!.message),
    );
  });

  kernelTest('a PIN_GLOBAL_NS map is pinned in tc/globals and shared by the next load', () => {
    const dir = join('/sys/fs/bpf', uniqueName('tsbpfgns', 40));
    try {
      const spec = CollectionSpec.fromFile(fixture('iproute2_map.bpf.o'));
      using first = spec.load({ globalNsPinPath: dir });
      assert.ok(existsSync(join(dir, 'shared_counts')));
      assert.ok(!existsSync(join(dir, 'private_counts')));
      using second = spec.load({ globalNsPinPath: dir });
      assert.equal(second.maps.shared_counts!.info().id, first.maps.shared_counts!.info().id, 'the pinned map is reused');
      assert.notEqual(second.maps.private_counts!.info().id, first.maps.private_counts!.info().id);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Without a directory given, where tc puts them.
    const spec = CollectionSpec.fromFile(fixture('iproute2_map.bpf.o'));
    const name = uniqueName('tsbpf_shared', 15);
    spec.maps.shared_counts!.name = name;
    const pinned = join('/sys/fs/bpf/tc/globals', name);
    try {
      using c = spec.load();
      assert.ok(c.maps.shared_counts !== undefined);
      assert.ok(existsSync(pinned));
    } finally {
      rmSync(pinned, { force: true });
    }
  });
});
