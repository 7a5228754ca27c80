// Errors that name their cause: the attribute a map creation was refused for, EPERM that is not
// the verifier's doing, and features missing from the kernel or from tsbpf, in plain words.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BpfError, NotSupportedError, VerifierError } from '../src/errors.js';
import { BpfMap } from '../src/map.js';
import { MapCreateError } from '../src/map/errors.js';
import { CollectionSpec } from '../src/index.js';
import { ObjectError, ProgramNotSupportedError } from '../src/object/index.js';
import { Program } from '../src/program.js';
import { MapType } from '../src/sys/types.js';
import { root } from './bpf/corpus.js';
import { runCli } from './helpers/cli.js';
import { kernelTest } from './helpers/kernel.js';

const fixture = (name: string): string => join(root, 'test', 'fixtures', 'loader', name);

function createFault(opts: Parameters<typeof BpfMap.create>[0]): MapCreateError {
  let caught: unknown;
  try {
    BpfMap.create(opts).close();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof MapCreateError, `a MapCreateError, not ${String(caught)}`);
  assert.equal(caught.code, 'EINVAL');
  return caught;
}

describe('map creation names the attribute the kernel refused', () => {
  kernelTest('value size on a ring buffer, max_entries 0, a NUMA node the machine lacks', () => {
    assert.match(createFault({ type: MapType.RINGBUF, valueSize: 16, maxEntries: 4096 }).message, /\[EINVAL\]: value_size 16 on a ring buffer, which takes none/);
    assert.match(createFault({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 0 }).message, /\[EINVAL\]: max_entries 0: ARRAY maps need room for at least one entry/);
    assert.match(createFault({ type: MapType.RINGBUF, maxEntries: 5000 }).message, /max_entries 5000 of a ring buffer is its size in bytes: a power of 2/);
    assert.match(createFault({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4, numaNode: 63 }).message, /numa_node 63 is not a NUMA node of this machine \(online: /);
  });

  kernelTest('through a collection: the map and the attribute', () => {
    const spec = CollectionSpec.fromFile(fixture('typed_buffers.bpf.o'));
    spec.maps.events!.valueSize = 16;
    assert.throws(
      () => spec.load(),
      (err: unknown) => err instanceof ObjectError && err.map === 'events' && err.code === 'EINVAL' && /value_size 16 on a ring buffer/.test(err.message),
    );
  });
});

describe('EPERM before the verifier', () => {
  kernelTest('is a BpfError, and as root does not say to run as root', (t) => {
    const spec = CollectionSpec.fromFile(fixture('fentry.bpf.o'));
    const ps = spec.programs.on_unlink!;
    const r = spec.relocate().on_unlink!;
    let caught: unknown;
    try {
      Program.load({ type: ps.type, instructions: r.instructions, license: ps.license, name: 'on_unlink', expectedAttachType: ps.expectedAttachType!, attachBtfId: r.attachBtfId!, logLevel: 1 }).close();
    } catch (err) {
      caught = err;
    }
    if (caught === undefined) return t.skip('this kernel has BPF trampolines: fentry loads');
    assert.ok(caught instanceof BpfError && !(caught instanceof VerifierError), `not a verifier rejection: ${String(caught)}`);
    assert.equal(caught.code, 'EPERM');
    assert.doesNotMatch(caught.message, /run as root/);
    assert.match(caught.message, /not for lack of privileges/);
  });

  kernelTest('object load says what the kernel lacks, once, in words that read right', (t) => {
    const r = runCli(['object', 'load', fixture('fentry.bpf.o')]);
    if (r.status === 0) return t.skip('this kernel has BPF trampolines: fentry loads');
    assert.equal(r.status, 1);
    assert.doesNotMatch(r.stderr, /rejected by the verifier/);
    assert.doesNotMatch(r.stderr, /is not supported/);
    assert.match(r.stderr, /this kernel does not support fentry programs/);
    assert.equal(r.stderr.match(/\[(EPERM|ENOTSUP)\]/g)?.length, 1, r.stderr);
  });
});

describe('NotSupportedError says whose the gap is', () => {
  it('this kernel, or tsbpf, in a sentence that reads right for plural features', () => {
    assert.equal(new NotSupportedError('fentry programs', 'no trampolines').message, 'this kernel does not support fentry programs: no trampolines');
    const ours = new NotSupportedError('USDT arguments', 'argument locations on arm64', { by: 'tsbpf' });
    assert.equal(ours.message, 'tsbpf does not support USDT arguments yet: argument locations on arm64');
    assert.equal(ours.by, 'tsbpf');
    const p = new ProgramNotSupportedError('p', 'fentry/x', 'fentry programs', 'no trampolines');
    assert.equal(p.message, 'this kernel does not support fentry programs: no trampolines (program p in section fentry/x)');
  });
});
