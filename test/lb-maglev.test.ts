// Maglev's table against the published algorithm's properties, on 1,000 simulated reals:
// balance (each backend owns M/N entries, rounded either way) and minimal disruption (removing
// one backend moves its own entries and few others).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkRingSize, DEFAULT_RING_SIZE, isPrime, maglevTable, type MaglevBackend } from '../src/tools/lb/maglev.js';

const reals = (n: number, weight = (_i: number) => 1): MaglevBackend[] => Array.from({ length: n }, (_, i) => ({ name: `10.${(i >> 8) & 255}.${i & 255}.1`, weight: weight(i) }));

function counts(table: Int32Array, n: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (const owner of table) c[owner]!++;
  return c;
}

test('maglev: equal weights give each of 1,000 reals floor or ceil of M/N entries', () => {
  const n = 1000;
  const table = maglevTable(reals(n), DEFAULT_RING_SIZE);
  assert.equal(table.length, 65537);
  assert.ok(table.every((o) => o >= 0 && o < n));
  const c = counts(table, n);
  assert.equal(Math.min(...c), Math.floor(65537 / n));
  assert.equal(Math.max(...c), Math.ceil(65537 / n));
});

test('maglev: removing one of 1,000 reals moves its entries and under 1% of the others', () => {
  const n = 1000;
  const all = reals(n);
  const before = maglevTable(all);
  const removed = 417;
  const after = maglevTable(all.filter((_, i) => i !== removed));
  // Indices after the removed one shift down by one in the second table.
  const nameAfter = (o: number): string => all[o >= removed ? o + 1 : o]!.name;
  let own = 0;
  let others = 0;
  for (let slot = 0; slot < before.length; slot++) {
    const was = all[before[slot]!]!.name;
    const now = nameAfter(after[slot]!);
    if (before[slot] === removed) {
      own++;
      assert.notEqual(now, was);
    } else if (now !== was) {
      others++;
    }
  }
  assert.ok(own >= 65 && own <= 66, `the removed real owned ${own} entries`);
  // The paper's figure 9: a few entries beyond the removed backend's own move; far fewer than
  // the 100% a modulo hash would move.
  assert.ok(others / (before.length - own) < 0.01, `${others} of ${before.length - own} other entries moved`);
});

test('maglev: new flows after a removal land ~1/N on new reals, the rest stay', () => {
  const n = 3;
  const all = reals(n);
  const before = maglevTable(all, 65537);
  const after = maglevTable(all.slice(0, 2), 65537);
  let moved = 0;
  for (let slot = 0; slot < before.length; slot++) if (before[slot] !== 2 && after[slot] !== before[slot]) moved++;
  assert.ok(moved / before.length < 0.02, `${moved} entries of kept reals moved`);
});

test('maglev: weights set the shares', () => {
  const n = 1000;
  // Weights 1, 2 and 3 in turn: shares 1/6, 2/6, 3/6 of the table per group.
  const table = maglevTable(reals(n, (i) => (i % 3) + 1));
  const c = counts(table, n);
  const byWeight = [0, 0, 0];
  for (let i = 0; i < n; i++) byWeight[i % 3]! += c[i]!;
  const total = byWeight[0]! + byWeight[1]! + byWeight[2]!;
  const perUnit = total / (byWeight.length === 3 ? 334 * 1 + 333 * 2 + 333 * 3 : 1);
  for (let w = 1; w <= 3; w++) {
    const groupSize = w === 1 ? 334 : 333;
    const expected = perUnit * w * groupSize;
    assert.ok(Math.abs(byWeight[w - 1]! - expected) / expected < 0.01, `weight ${w}: ${byWeight[w - 1]} entries, expected ${expected.toFixed(0)}`);
  }
  // Three reals weighted 1:1:2 on a small table.
  const small = counts(maglevTable(reals(3, (i) => (i === 2 ? 2 : 1)), 1021), 3);
  assert.ok(Math.abs(small[2]! / 1021 - 0.5) < 0.01, `weight 2 of 4 got ${small[2]} of 1021`);
});

test('maglev: the table is a function of the set, not of the order given', () => {
  const a = reals(50);
  const t1 = maglevTable(a, 4099);
  const reversed = [...a].reverse();
  const t2 = maglevTable(reversed, 4099);
  assert.deepEqual([...t1].map((o) => a[o]!.name), [...t2].map((o) => reversed[o]!.name));
});

test('maglev: table size is prime and bounded; weights are positive', () => {
  assert.equal(isPrime(65537), true);
  assert.equal(isPrime(65535), false);
  assert.throws(() => checkRingSize(65536), /prime/);
  assert.throws(() => checkRingSize(131071), /prime/);
  assert.throws(() => maglevTable([{ name: 'a', weight: 0 }], 7), /weight/);
  assert.deepEqual([...maglevTable([], 7)], [-1, -1, -1, -1, -1, -1, -1]);
});
