// Collection.attach: every program where its section says, skipped programs reported with the
// reason, strict mode, all or nothing on failure, and close() detaching every link.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { Collection } from '../src/collection.js';
import { planAttach } from '../src/collection/attach.js';
import { MissingTargetError, TargetNotFoundError } from '../src/link/errors.js';
import { CollectionSpec } from '../src/index.js';
import { corpus } from './bpf/corpus.js';
import { createVethPair, kernelTest, linksOfPrograms, requireCgroup2, uniqueName } from './helpers/kernel.js';

/** The ids of the links in the kernel whose program is one of the collection's. */
function kernelLinks(c: Collection): number[] {
  return linksOfPrograms(Object.values(c.programs).map((p) => p.id));
}

function execTrue(): void {
  assert.equal(spawnSync('/bin/true').status, 0);
}

function execs(c: Collection): bigint {
  return c.variables.execs!.value as bigint;
}


function makeCgroup(t: TestContext): string | undefined {
  const root = requireCgroup2(t);
  if (root === undefined) return undefined;
  const path = join(root, uniqueName('tsbpf-cattach-', 40));
  mkdirSync(path);
  return path;
}

const mixed = (): Collection => CollectionSpec.fromFile(corpus('attach_mixed.bpf.o')).load();

describe('planAttach', () => {
  test('says which targets each hook needs and which sections name no attach point', () => {
    const sections = {
      a: 'xdp',
      b: 'tc',
      c: 'tcx/ingress',
      d: 'cgroup/connect4',
      e: 'sk_lookup',
      f: 'iter/bpf_map_elem',
      g: 'iter/task',
      h: 'tracepoint/sched/sched_process_exec',
      i: 'struct_ops/init',
      j: 'usdt',
      l: 'usdt/libc.so.6:libc:setjmp',
      k: 'uprobe/bin/true:main',
    };
    const none = planAttach(sections);
    const missing = Object.fromEntries(none.map((s) => [s.program, s.skip?.missing ?? (s.skip !== undefined ? 'unattachable' : 'attach')]));
    assert.deepEqual(missing, {
      a: 'interface',
      b: 'interface',
      c: 'interface',
      d: 'cgroup',
      e: 'netns',
      f: 'map',
      g: 'attach',
      h: 'attach',
      i: 'unattachable',
      j: 'unattachable',
      k: 'attach',
      l: 'attach',
    });
    assert.match(none.find((s) => s.program === 'i')!.skip!.reason, /a struct_ops program runs through the .struct_ops map that points to it/);
    assert.match(none.find((s) => s.program === 'a')!.skip!.reason, /section xdp attaches to a network interface, and targets\.interface was not given/);
    const some = planAttach(sections, { interface: 'lo', netns: '/proc/self/ns/net' });
    assert.equal(some.find((s) => s.program === 'b')!.skip?.missing, 'direction', 'plain tc needs a direction besides the interface');
    assert.deepEqual(
      some.filter((s) => s.skip === undefined).map((s) => s.program),
      ['a', 'c', 'e', 'g', 'h', 'l', 'k'],
    );
  });
});

describe('Collection.attach', () => {
  kernelTest('attaches what needs no target and reports every skipped program with the reason', () => {
    const c = mixed();
    try {
      const links = c.attach();
      try {
        assert.deepEqual(Object.keys(links.links), ['mixed_exec']);
        assert.equal(links.links.mixed_exec!.hook, 'tracepoint');
        assert.deepEqual(
          links.skipped.map((s) => [s.program, s.section, s.missing]),
          [
            ['mixed_socket', 'socket', 'socket'],
            ['mixed_devmap', 'xdp/devmap', undefined],
            ['mixed_egress', 'cgroup_skb/egress', 'cgroup'],
            ['mixed_xdp', 'xdp', 'interface'],
          ],
        );
        assert.match(links.skipped[1]!.reason, /devmap programs run from map entries/);
        assert.match(links.skipped[3]!.reason, /attaches to a network interface/);
        assert.equal(kernelLinks(c).length, 1);
        const before = execs(c);
        execTrue();
        assert.ok(execs(c) > before, 'the tracepoint program runs');
      } finally {
        links.close();
      }
      assert.deepEqual(kernelLinks(c), []);
    } finally {
      c.close();
    }
  });

  kernelTest('with an interface and a cgroup, attaches those hooks too; close() detaches every link', async (t) => {
    const cg = makeCgroup(t);
    if (cg === undefined) return;
    const v = createVethPair('ca');
    const c = mixed();
    try {
      const links = c.attach({ interface: v.host, cgroup: cg });
      assert.deepEqual(Object.keys(links.links), ['mixed_exec', 'mixed_egress', 'mixed_xdp']);
      assert.deepEqual(
        links.skipped.map((s) => s.program),
        ['mixed_socket', 'mixed_devmap'],
      );
      assert.equal(kernelLinks(c).length, 3);
      assert.equal(links.links.mixed_xdp!.info().progId, c.programs.mixed_xdp!.id);
      links.close();
      assert.equal(links.closed, true);
      assert.deepEqual(kernelLinks(c), [], 'no link of the collection is left');
      assert.ok(Object.values(links.links).every((l) => l.closed));
      const before = execs(c);
      execTrue();
      assert.equal(execs(c), before, 'the tracepoint program no longer runs');
      links.close();
    } finally {
      c.close();
      v.remove();
      rmdirSync(cg);
    }
  });

  kernelTest('`using` detaches at the end of the block', () => {
    const c = mixed();
    try {
      {
        using links = c.attach();
        assert.equal(Object.keys(links.links).length, 1);
        assert.equal(kernelLinks(c).length, 1);
      }
      assert.deepEqual(kernelLinks(c), []);
    } finally {
      c.close();
    }
  });

  kernelTest('strict mode throws MissingTargetError before attaching anything', () => {
    const c = mixed();
    try {
      assert.throws(
        () => c.attach({}, { strict: true }),
        (e: unknown) => e instanceof MissingTargetError && e.section === 'socket' && e.missing === 'socket',
      );
      assert.deepEqual(kernelLinks(c), []);
      assert.throws(
        () => c.attach({}, { strict: ['interface'] }),
        (e: unknown) => e instanceof MissingTargetError && e.section === 'xdp' && e.missing === 'interface',
      );
      assert.deepEqual(kernelLinks(c), []);
      const before = execs(c);
      execTrue();
      assert.equal(execs(c), before, 'nothing was attached, even for a moment long enough to see an exec');
      using links = c.attach({}, { strict: ['netns'] });
      assert.deepEqual(Object.keys(links.links), ['mixed_exec'], 'strict about a target no section needs');
    } finally {
      c.close();
    }
  });

  kernelTest('all or nothing: a failed attach closes the links already made and rethrows', () => {
    const c = mixed();
    try {
      const order = Object.keys(c.programs);
      assert.ok(order.indexOf('mixed_exec') < order.indexOf('mixed_xdp'), 'the tracepoint is attached before the xdp program fails');
      const missingIf = uniqueName('tsbpfnoif');
      assert.throws(
        () => c.attach({ interface: missingIf }),
        (e: unknown) => e instanceof TargetNotFoundError && e.kind === 'interface' && e.target.includes(missingIf),
      );
      assert.deepEqual(kernelLinks(c), [], 'the tracepoint link was closed');
      const before = execs(c);
      execTrue();
      assert.equal(execs(c), before, 'the tracepoint program does not run');
      using links = c.attach();
      assert.deepEqual(Object.keys(links.links), ['mixed_exec'], 'the programs can be attached again');
    } finally {
      c.close();
    }
  });
});
