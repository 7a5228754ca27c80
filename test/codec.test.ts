import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../src/errors.js';
import { array, atOffset, bytes, chars, f32, f64, perCpu, s16, s32, s64, s8, struct, u16, u16be, u32, u32be, u64, u64be, u8, type Codec } from '../src/codec/index.js';

function roundTrip<T>(c: Codec<T>, v: T): Uint8Array {
  const out = new Uint8Array(c.size);
  c.encode(v, out);
  assert.deepEqual(c.decode(out), v);
  return out;
}

describe('integer codecs', () => {
  it('encode in host (little-endian) order and round-trip their ranges', () => {
    assert.deepEqual([...roundTrip(u8, 0xfe)], [0xfe]);
    assert.deepEqual([...roundTrip(s8, -2)], [0xfe]);
    assert.deepEqual([...roundTrip(u16, 0x1234)], [0x34, 0x12]);
    assert.deepEqual([...roundTrip(s16, -32768)], [0x00, 0x80]);
    assert.deepEqual([...roundTrip(u32, 0xdeadbeef)], [0xef, 0xbe, 0xad, 0xde]);
    assert.deepEqual([...roundTrip(s32, -1)], [0xff, 0xff, 0xff, 0xff]);
    assert.deepEqual([...roundTrip(u64, 0x0102030405060708n)], [8, 7, 6, 5, 4, 3, 2, 1]);
    assert.deepEqual([...roundTrip(s64, -2n)], [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    roundTrip(u64, 0xffffffffffffffffn);
    roundTrip(s64, -(1n << 63n));
  });

  it('network-order variants are big-endian', () => {
    assert.deepEqual([...roundTrip(u16be, 8080)], [0x1f, 0x90]);
    assert.deepEqual([...roundTrip(u32be, 0x0a000001)], [10, 0, 0, 1]);
    assert.deepEqual([...roundTrip(u64be, 0x0102030405060708n)], [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('floats round-trip', () => {
    roundTrip(f64, Math.PI);
    const out = new Uint8Array(4);
    f32.encode(1.5, out);
    assert.equal(f32.decode(out), 1.5);
  });

  it('reject values outside their range or of the wrong type', () => {
    const out = new Uint8Array(8);
    assert.throws(() => u8.encode(256, out), InvalidArgumentError);
    assert.throws(() => u8.encode(-1, out), InvalidArgumentError);
    assert.throws(() => s8.encode(128, out), InvalidArgumentError);
    assert.throws(() => u16.encode(65536, out), InvalidArgumentError);
    assert.throws(() => u32.encode(2 ** 32, out), InvalidArgumentError);
    assert.throws(() => u32.encode(1.5, out), InvalidArgumentError);
    assert.throws(() => u32.encode(Number.NaN, out), InvalidArgumentError);
    assert.throws(() => s32.encode(2 ** 31, out), InvalidArgumentError);
    assert.throws(() => u64.encode(-1n, out), InvalidArgumentError);
    assert.throws(() => u64.encode(1n << 64n, out), InvalidArgumentError);
    assert.throws(() => u64.encode(1 as unknown as bigint, out), InvalidArgumentError);
    assert.throws(() => s64.encode(1n << 63n, out), InvalidArgumentError);
  });

  it('write only their own bytes and read at offset 0 of a longer view', () => {
    const out = new Uint8Array(8).fill(0xaa);
    u16.encode(1, out);
    assert.deepEqual([...out], [1, 0, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa]);
    const backing = new Uint8Array([9, 9, 0x78, 0x56, 0x34, 0x12]);
    assert.equal(u32.decode(backing.subarray(2)), 0x12345678);
  });
});

describe('bytes codec', () => {
  it('passes through exactly its size and copies on decode', () => {
    const c = bytes(4, 'key of map x');
    const out = new Uint8Array(6);
    c.encode(Uint8Array.of(1, 2, 3, 4), out);
    assert.deepEqual([...out], [1, 2, 3, 4, 0, 0]);
    const d = c.decode(out);
    assert.deepEqual([...d], [1, 2, 3, 4]);
    out[0] = 99;
    assert.equal(d[0], 1, 'decode must not alias the buffer');
  });

  it('names the thing in size errors', () => {
    const c = bytes(4, 'key of map x');
    assert.throws(() => c.encode(new Uint8Array(3), new Uint8Array(4)), { name: 'InvalidArgumentError', message: /key of map x must be 4 bytes, got 3/ });
    assert.throws(() => c.encode('abcd' as unknown as Uint8Array, new Uint8Array(4)), /must be a Uint8Array of 4 bytes, got string/);
  });

  it('handles large sizes and offsets', () => {
    const c = bytes(100);
    const v = Uint8Array.from({ length: 100 }, (_, i) => i);
    const out = new Uint8Array(110);
    c.encodeAt(v, out, 10);
    assert.deepEqual(c.decodeAt(out, 10), v);
  });
});

describe('struct codec', () => {
  it('lays fields out by C rules, zeroes padding and round-trips', () => {
    const flow = struct({ proto: u8, port: u16, addr: u32, count: u64 });
    assert.equal(flow.size, 16);
    assert.deepEqual(
      flow.fields.map((f) => [f.name, f.offset]),
      [
        ['proto', 0],
        ['port', 2],
        ['addr', 4],
        ['count', 8],
      ],
    );
    const out = new Uint8Array(16).fill(0xff);
    flow.encode({ proto: 6, port: 443, addr: 1, count: 5n }, out);
    assert.deepEqual([...out], [6, 0, 0xbb, 0x01, 1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(flow.decode(out), { proto: 6, port: 443, addr: 1, count: 5n });
  });

  it('takes explicit offsets, arrays, char arrays and a total size', () => {
    const stats = struct({ pid: u32, hist: [array(u32, 4), 8], comm: chars(16) }, { size: 48 });
    assert.equal(stats.size, 48);
    assert.deepEqual(
      stats.fields.map((f) => [f.name, f.offset, f.size]),
      [
        ['pid', 0, 4],
        ['hist', 8, 16],
        ['comm', 24, 16],
      ],
    );
    const v = { pid: 42, hist: [1, 2, 3, 4], comm: 'node' };
    const out = new Uint8Array(48).fill(0xee);
    stats.encode(v, out);
    assert.deepEqual(stats.decode(out), v);
    assert.equal(out[4], 0, 'gap before an explicit offset is zeroed');
    assert.equal(out[47], 0, 'tail padding is zeroed');
  });

  it('nests structs and honours packed', () => {
    const inner = struct({ a: u8, b: u32 });
    assert.equal(inner.size, 8);
    const outer = struct({ x: u8, inner });
    assert.equal(outer.fields[1]?.offset, 4);
    const packed = struct({ a: u8, b: u32 }, { packed: true });
    assert.equal(packed.size, 5);
    roundTrip(outer, { x: 1, inner: { a: 2, b: 3 } });
  });

  it('works with a foreign codec that only implements Codec', () => {
    const rev: Codec<string> = {
      size: 3,
      encode(v, out) {
        for (let i = 0; i < 3; i++) out[i] = v.charCodeAt(2 - i);
      },
      decode(b) {
        return String.fromCharCode(b[2] as number, b[1] as number, b[0] as number);
      },
    };
    const s = struct({ n: u8, r: rev, m: u8 });
    const out = roundTrip(s, { n: 1, r: 'abc', m: 2 });
    assert.deepEqual([...out], [1, 0x63, 0x62, 0x61, 2]);
    assert.equal(atOffset(rev).decodeAt(out, 1), 'abc');
  });

  it('rejects missing fields, overlaps and short sizes', () => {
    const s = struct({ a: u32, b: u32 });
    assert.throws(() => s.encode({ a: 1 } as never, new Uint8Array(8)), /missing field b/);
    assert.throws(() => struct({ a: u64, b: [u32, 4] }), /overlap/);
    assert.throws(() => struct({ a: u64 }, { size: 4 }), /smaller than its fields/);
  });
});

describe('chars and array codecs', () => {
  it('chars pads with NULs, reads to the first NUL, handles UTF-8 and exact fits', () => {
    const c = chars(8);
    const out = new Uint8Array(8).fill(0xff);
    c.encode('abc', out);
    assert.deepEqual([...out], [0x61, 0x62, 0x63, 0, 0, 0, 0, 0]);
    assert.equal(c.decode(out), 'abc');
    roundTrip(c, 'héllo');
    roundTrip(c, '12345678');
    assert.throws(() => c.encode('123456789', out), /longer than 8 bytes/);
    assert.throws(() => c.encode('ééééé', out), /longer than 8 bytes in UTF-8/);
  });

  it('array checks its length', () => {
    const a = array(u16, 3);
    roundTrip(a, [1, 2, 3]);
    assert.throws(() => a.encode([1, 2], new Uint8Array(6)), /3 elements, got 2/);
  });
});

describe('perCpu codec', () => {
  it('pads each CPU slot to 8 bytes', () => {
    const c = perCpu(u32, 3);
    assert.equal(c.size, 24);
    const out = new Uint8Array(24).fill(0xff);
    c.encode([1, 2, 3], out);
    assert.deepEqual([...out], [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(c.decode(out), [1, 2, 3]);
    assert.throws(() => c.encode([1, 2], out), /3 values \(one per possible CPU\), got 2/);
  });

  it('keeps 8-byte multiples unpadded', () => {
    const c = perCpu(bytes(16), 2);
    assert.equal(c.size, 32);
  });
});
