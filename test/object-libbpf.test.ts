// Objects written here in the shapes real-world ones have: tsbpf lays out their programs as
// libbpf does, so both load the same instructions (the same tag).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CollectionSpec } from '../src/object/index.js';
import { root } from './bpf/corpus.js';
import { requireRoot } from './helpers/kernel.js';
import { haveBpftool, libbpfTags } from './helpers/libbpf.js';

export const fixture = (name: string): string => join(root, 'test', 'fixtures', 'loader', name);

function sameTagsAsLibbpf(object: string): void {
  const reference = libbpfTags(object);
  assert.ok(reference instanceof Map, `libbpf loads ${object}: ${'error' in reference ? reference.error : ''}`);
  using c = CollectionSpec.fromFile(object).load();
  assert.deepEqual(Object.keys(c.programs).sort(), [...reference.keys()].sort());
  for (const [name, prog] of Object.entries(c.programs)) assert.equal(prog.tag, reference.get(name), `${name}: libbpf's tag`);
}

describe('programs laid out as libbpf lays them out', () => {
  it('subprograms follow their program depth-first in call order (handle, a, b, c)', () => {
    const spec = CollectionSpec.fromFile(fixture('subprog_order.bpf.o'));
    const starts = spec.programs.handle!.instructions.filter((i) => i.symbol !== undefined).map((i) => i.symbol);
    assert.deepEqual(starts, ['handle', 'a', 'b', 'c']);
  });

  it('subprog_order: the tag libbpf gives handle', (t) => {
    if (!requireRoot(t)) return;
    if (!haveBpftool()) return t.skip('bpftool is not installed');
    sameTagsAsLibbpf(fixture('subprog_order.bpf.o'));
  });
});
