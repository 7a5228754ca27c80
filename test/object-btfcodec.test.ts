// Codecs derived from BTF types.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Btf } from '../src/btf/btf.js';
import type { BtfTypeInit } from '../src/btf/types.js';
import { btfCodec } from '../src/btfcodec.js';
import { InvalidArgumentError } from '../src/errors.js';
import { CollectionSpec } from '../src/index.js';
import { corpus } from './bpf/corpus.js';

const types: BtfTypeInit[] = [
  { kind: 'INT', name: 'int', size: 4, encoding: 'SIGNED', bitsOffset: 0, nrBits: 32 }, // 1
  { kind: 'INT', name: 'unsigned char', size: 1, encoding: 'NONE', bitsOffset: 0, nrBits: 8 }, // 2
  { kind: 'INT', name: 'char', size: 1, encoding: 'SIGNED', bitsOffset: 0, nrBits: 8 }, // 3
  { kind: 'INT', name: 'long long unsigned int', size: 8, encoding: 'NONE', bitsOffset: 0, nrBits: 64 }, // 4
  { kind: 'INT', name: '_Bool', size: 1, encoding: 'BOOL', bitsOffset: 0, nrBits: 8 }, // 5
  { kind: 'TYPEDEF', name: '__u8', type: 2 }, // 6
  { kind: 'ARRAY', name: '', type: 3, indexType: 1, nelems: 8 }, // 7 char[8]
  { kind: 'ARRAY', name: '', type: 6, indexType: 1, nelems: 3 }, // 8 __u8[3]
  { kind: 'ENUM', name: 'mode', size: 4, signed: false, values: [{ name: 'OFF', value: 0 }, { name: 'ON', value: 7 }] }, // 9
  { kind: 'STRUCT', name: 'inner', size: 8, members: [{ name: 'lo', type: 1, bitOffset: 0, bitfieldSize: 0 }, { name: 'hi', type: 1, bitOffset: 32, bitfieldSize: 0 }] }, // 10
  { kind: 'UNION', name: '', size: 4, members: [{ name: 'word', type: 1, bitOffset: 0, bitfieldSize: 0 }, { name: 'b', type: 8, bitOffset: 0, bitfieldSize: 0 }] }, // 11 anonymous union
  {
    kind: 'STRUCT',
    name: 'outer',
    size: 48,
    members: [
      { name: 'id', type: 4, bitOffset: 0, bitfieldSize: 0 },
      { name: 'in', type: 10, bitOffset: 64, bitfieldSize: 0 },
      { name: 'name', type: 7, bitOffset: 128, bitfieldSize: 0 },
      { name: '', type: 11, bitOffset: 192, bitfieldSize: 0 },
      { name: 'mode', type: 9, bitOffset: 224, bitfieldSize: 0 },
      { name: 'on', type: 5, bitOffset: 256, bitfieldSize: 0 },
      { name: 'flags', type: 1, bitOffset: 264, bitfieldSize: 3 },
      { name: 'level', type: 1, bitOffset: 267, bitfieldSize: 5 },
      { name: 'm2', type: 9, bitOffset: 272, bitfieldSize: 4 },
      { name: 'tail', type: 8, bitOffset: 288, bitfieldSize: 0 },
    ],
  }, // 12
  { kind: 'PTR', name: '', type: 12 }, // 13
  { kind: 'ENUM64', name: 'big', size: 8, signed: false, values: [{ name: 'HUGE', value: 1n << 40n }] }, // 14
];

const btf = Btf.fromTypes(types);

describe('btfCodec', () => {
  it('decodes and encodes a struct with nested structs, anonymous unions, enums, bitfields and arrays', () => {
    const c = btfCodec(btf, 12);
    assert.equal(c.size, 48);
    const value = {
      id: 0xffff_ffff_ffffn,
      in: { lo: -1, hi: 2 },
      name: 'tsbpf',
      word: 0x01020304,
      b: [4, 3, 2],
      mode: 'ON',
      on: true,
      flags: -2,
      level: 9,
      m2: 'ON',
      tail: [1, 2, 3],
    };
    const out = new Uint8Array(48);
    c.encode(value, out);
    const back = c.decode(out);
    assert.deepEqual(back, { ...value, b: [4, 3, 2] });
    assert.equal(out[32], 1);
    assert.equal(out[33]! & 7, 6, 'flags -2 in 3 bits');
    assert.equal(out[33]! >> 3, 9);
  });

  it('writes missing fields as zero and unknown enum values as numbers', () => {
    const c = btfCodec(btf, 12);
    const out = new Uint8Array(48).fill(0xff);
    c.encode({ id: 1n }, out);
    const back = c.decode(out) as Record<string, unknown>;
    assert.equal(back.id, 1n);
    assert.equal(back.name, '');
    assert.equal(back.mode, 'OFF');
    out[28] = 3;
    assert.equal((c.decode(out) as Record<string, unknown>).mode, 3);
  });

  it('rejects values that do not fit', () => {
    const c = btfCodec(btf, 12);
    const out = new Uint8Array(48);
    assert.throws(() => c.encode({ name: 'much too long' }, out), InvalidArgumentError);
    assert.throws(() => c.encode({ flags: 4 }, out), /does not fit/);
    assert.throws(() => c.encode({ mode: 'MAYBE' }, out), /no enumerator/);
    assert.throws(() => c.encode({ tail: [1, 2, 3, 4] }, out), /does not fit/);
    assert.throws(() => c.encode({ in: { lo: 2 ** 31 } }, out), /out of range/);
    assert.throws(() => c.encode(5, out), /expected an object/);
    assert.throws(() => c.decode(new Uint8Array(4)), /needs 48 bytes/);
  });

  it('pointers and 64-bit integers are bigints, ENUM64 by name', () => {
    const p = btfCodec(btf, 13);
    const out = new Uint8Array(8);
    p.encode(0xdead_beef_cafen, out);
    assert.equal(p.decode(out), 0xdead_beef_cafen);
    const e = btfCodec(btf, 14);
    e.encode('HUGE', out);
    assert.equal(e.decode(out), 'HUGE');
    e.encode(5n, out);
    assert.equal(e.decode(out), 5n);
  });

  it('is cached per type and works at offsets', () => {
    assert.equal(btfCodec(btf, 10), btfCodec(btf, 10));
    const c = btfCodec(btf, 10);
    const out = new Uint8Array(20);
    c.encodeAt({ lo: 5, hi: 6 }, out, 12);
    assert.deepEqual(c.decodeAt(out, 12), { lo: 5, hi: 6 });
    assert.equal(btfCodec(btf, 9, { enumNames: false }).decode(new Uint8Array([7, 0, 0, 0])), 7);
    assert.deepEqual(btfCodec(btf, 7, { charStrings: false }).decode(new Uint8Array([65, 66, 0, 0, 0, 0, 0, 0])), [65, 66, 0, 0, 0, 0, 0, 0]);
  });

  it('decodes a global data section into its variables', () => {
    const spec = CollectionSpec.fromFile(corpus('globals.bpf.o'));
    const ds = spec.maps['.data']!.valueType!;
    const c = btfCodec(spec.btf!, ds.id);
    const v = c.decode(spec.maps['.data']!.values[0]!.value as Uint8Array) as Record<string, unknown>;
    assert.equal(v.data_counter, 5);
    assert.deepEqual(v.pair_var, { a: 1, b: 2n });
  });

  it('decoding does not allocate type walks: a million decodes stay fast', () => {
    const c = btfCodec(btf, 10);
    const buf = new Uint8Array(8);
    const t0 = performance.now();
    for (let i = 0; i < 1_000_000; i++) c.decode(buf);
    assert.ok(performance.now() - t0 < 5000);
  });
});
