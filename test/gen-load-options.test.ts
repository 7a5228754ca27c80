// The options of generated loaders beyond config: `programs` (load only these), `maxEntries`
// (map sizes before creation) and `object` (another build of the same source), on a corpus
// module. The module's object is passed by path, so the compiled tests find it too.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../src/errors.js';
import { corpus } from './bpf/corpus.js';
import { loadSubprogs } from './bpf/gen/subprogs_bpf.js';
import { kernelTest } from './helpers/kernel.js';

const object = corpus('subprogs.bpf.o');
const packet = new Uint8Array(64);

describe('generated loader options', () => {
  kernelTest('programs: only the named programs are loaded, and only they are in programs', async () => {
    const s = await loadSubprogs({ object, programs: ['for_each', 'calls'], maxEntries: { numbers: 8 } });
    try {
      assert.deepEqual(Object.keys(s.programs), ['calls', 'for_each'], 'in the order of the module');
      assert.deepEqual(Object.keys(s.collection.programs).sort(), ['calls', 'for_each'], 'the others never reached the kernel');
      assert.equal(s.programs.calls.testRun({ data: packet }).retval, 59);
      // @ts-expect-error loop was not asked for, so the type has no such program
      assert.equal(s.programs.loop, undefined);
      assert.equal(s.maps.numbers.map.maxEntries, 8);
      s.maps.numbers.set(7, 5n);
      s.maps.numbers.set(1, 2n);
      assert.equal(s.programs.for_each.testRun({ data: packet }).retval, 7, 'the sum over all 8 entries');
    } finally {
      s.close();
    }
  });

  kernelTest('without programs every program is loaded', async () => {
    const s = await loadSubprogs({ object });
    try {
      assert.deepEqual(Object.keys(s.programs), ['calls', 'loop', 'for_each', 'arm_timer']);
      assert.equal(s.programs.loop.testRun({ data: packet }).retval, 90);
      assert.equal(s.maps.numbers.map.maxEntries, 4);
    } finally {
      s.close();
    }
  });

  kernelTest('an empty programs list loads the maps alone', async () => {
    const s = await loadSubprogs({ object, programs: [] });
    try {
      assert.deepEqual(Object.keys(s.programs), []);
      assert.deepEqual(Object.keys(s.collection.programs), []);
      assert.equal(s.maps.timers.map.maxEntries, 1);
    } finally {
      s.close();
    }
  });

  it('names that are not in the module are errors before anything is loaded', async () => {
    await assert.rejects(loadSubprogs({ object, programs: ['nope' as never] }), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.match(err.message, /^programs: nope is not a program of this object \(it has: calls, loop, for_each, arm_timer\)$/);
      return true;
    });
    await assert.rejects(loadSubprogs({ object, maxEntries: { nope: 1 } as never }), /maxEntries: nope is not a map of this object \(it has: numbers, timers\)/);
    await assert.rejects(loadSubprogs({ object, maxEntries: { numbers: 0 } }), /maxEntries\.numbers: 0 is not a size/);
    await assert.rejects(loadSubprogs({ object: corpus('missing.bpf.o') }), /cannot read the BPF object .*missing\.bpf\.o/);
  });
});
