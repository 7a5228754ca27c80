// Mutated real objects: reading them never crashes or hangs; every failure is a TsbpfError.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { corpus } from './bpf/corpus.js';
import { fuzz, type CaseResult } from './bpf/fuzz.js';
import { kernelTest } from './helpers/kernel.js';

const OBJECTS = ['maps.bpf.o', 'globals.bpf.o', 'subprogs.bpf.o', 'kfunc.bpf.o', 'core.bpf.o', 'legacy.bpf.o', 'realworld/biolatency.bpf.o'].map(corpus);

function report(crashes: CaseResult[]): string {
  return crashes
    .slice(0, 5)
    .map((c) => `${c.what}\n  ${c.error instanceof Error ? (c.error.stack ?? c.error.message) : String(c.error)}`)
    .join('\n');
}

describe('fuzzed objects', () => {
  it('400 mutations are read with typed errors only, none slow', () => {
    let slowest = 0;
    const outcomes = { ok: 0, 'typed error': 0, crash: 0 };
    const crashes = fuzz(OBJECTS, 400, 0x5eed, {
      onCase: (r) => {
        slowest = Math.max(slowest, r.ms);
        outcomes[r.outcome]++;
      },
    });
    assert.deepEqual(crashes, [], report(crashes));
    assert.ok(slowest < 2000, `slowest case took ${slowest} ms`);
    assert.ok(outcomes['typed error'] > 0 && outcomes.ok > 0, JSON.stringify(outcomes));
  });

  kernelTest('100 mutations that still read also load or fail with typed errors', () => {
    const crashes = fuzz(OBJECTS.slice(0, 4), 100, 0xb0a7, { load: true });
    assert.deepEqual(crashes, [], report(crashes));
  });
});
