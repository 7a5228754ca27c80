#!/usr/bin/env node
// Before/after on the hot paths of the ring buffer reader and map element calls: the same
// drain and lookup/update loops (those of bench/ringbuf and bench/map) run by two built
// checkouts in turn, pair after pair, so that the machine's drift moves both alike. Each pair
// gives a ratio after/before; the median ratio is printed per case.
//
//   git worktree add /tmp/before <rev> && (cd /tmp/before && npm install)
//   node scripts/compare-trees.mjs /tmp/before . [--pairs 7]
//
// Needs root (maps, BPF_PROG_TEST_RUN). Each measurement is a process of its own.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const CASES = [
  ['ring', 8, 'raw'],
  ['ring', 8, 'view'],
  ['ring', 64, 'raw'],
  ['ring', 64, 'view'],
  ['map', 0, 'lookup'],
  ['map', 0, 'update'],
];

async function measure(tree, kind, size, mode) {
  const url = (p) => pathToFileURL(resolve(tree, p)).href;
  const m = await import(url('dist/src/map.js'));
  const MapCls = m.BpfMap ?? m.Map;
  const { MapType } = await import(url('dist/src/sys/types.js'));
  if (kind === 'map') {
    const map = MapCls.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4096, name: 'cmp_map' });
    const k = new Uint8Array(4);
    const v = new Uint8Array(8);
    for (let i = 0; i < 256; i++) {
      k[0] = i;
      map.update(k, v);
    }
    const n = 200_000;
    let best = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 3; round++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        k[0] = i & 255;
        if (mode === 'lookup') map.lookup(k);
        else map.update(k, v);
      }
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
    }
    map.close();
    return n / best;
  }
  const { RingBufReader } = await import(url('dist/src/ringbuf/index.js'));
  const p = await import(url('dist/bench/ringbuf/producers.js'));
  const n = 1_000_000;
  let bytes = 4096;
  while (bytes < n * ((size + 15) & ~7) + 4096) bytes *= 2;
  const ring = MapCls.create({ type: MapType.RINGBUF, maxEntries: bytes, name: 'cmp_ring' });
  const counters = p.createCounters();
  const prog = p.loadProducer(ring, counters, { kind: 'output', size });
  const reader = new RingBufReader(ring);
  let sink = 0;
  let count = 0;
  let view;
  let viewOf;
  const onView = (rec) => {
    sink += rec[0];
    count++;
  };
  const onRaw = (data, off) => {
    if (data !== viewOf) {
      viewOf = data;
      view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    }
    sink += view.getUint32(off, true);
    count++;
  };
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    count = 0;
    p.produce(prog, n);
    const t0 = process.hrtime.bigint();
    if (mode === 'raw') reader.drainRaw(onRaw);
    else reader.drain(onView);
    const t = Number(process.hrtime.bigint() - t0) / 1e9;
    if (count !== n) throw new Error(`drained ${count} of ${n}`);
    best = Math.min(best, t);
  }
  reader.close();
  prog.close();
  counters.close();
  ring.close();
  if (sink === -1) process.stdout.write('');
  return n / best;
}

const args = process.argv.slice(2);
if (args[0] === '--one') {
  const [, tree, kind, size, mode] = args;
  process.stdout.write(`${Math.round(await measure(tree, kind, Number(size), mode))}\n`);
} else {
  const [before, after] = args;
  if (before === undefined || after === undefined) {
    process.stderr.write('usage: node scripts/compare-trees.mjs BEFORE_TREE AFTER_TREE [--pairs N]\n');
    process.exit(2);
  }
  const i = args.indexOf('--pairs');
  const pairs = i > 0 ? Number(args[i + 1]) : 7;
  const one = (tree, c) => Number(execFileSync(process.execPath, [process.argv[1], '--one', tree, String(c[0]), String(c[1]), String(c[2])], { encoding: 'utf8' }).trim());
  for (const c of CASES) {
    const ratios = [];
    for (let k = 0; k < pairs; k++) ratios.push(one(after, c) / one(before, c));
    ratios.sort((a, b) => a - b);
    const unit = c[0] === 'map' ? `hash map ${c[2]}` : `ring buffer drain, ${c[1]} B records, ${c[2] === 'raw' ? 'drainRaw' : 'view per record'}`;
    process.stdout.write(`${unit}: after/before median ${ratios[ratios.length >> 1].toFixed(3)} (${ratios.map((r) => r.toFixed(2)).join(' ')})\n`);
  }
}
