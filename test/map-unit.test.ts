// Map helpers that need no privileges: CPU lists, the BTF writer, vmlinux BTF lookup, kinds.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { BtfBuilder } from '../src/map/btf.js';
import { cpuCount as parseCpuList, possibleCpus } from '../src/sys/cpus.js';
import { isIndexed, isKeyless, isKnownMapType, isPerCpu } from '../src/map/kinds.js';
import { mapTypeName } from '../src/program/names.js';
import { KeySet } from '../src/map/keyset.js';
import { findVmlinuxStruct } from '../src/map/vmlinux.js';
import { MapType } from '../src/sys/types.js';

describe('CPU lists', () => {
  it('count the CPUs a kernel list names', () => {
    assert.equal(parseCpuList('0\n'), 1);
    assert.equal(parseCpuList('0-3'), 4);
    assert.equal(parseCpuList('0-3,5,7-9\n'), 8);
    assert.throws(() => parseCpuList('3-1'), /cannot parse/);
    assert.throws(() => parseCpuList('x'), /cannot parse/);
    assert.throws(() => parseCpuList(''), /empty/);
  });

  it('possibleCpus() reads sysfs', () => {
    assert.ok(possibleCpus() >= 1);
  });
});

describe('BTF writer', () => {
  it('writes the header, types and string table the kernel expects', () => {
    const b = new BtfBuilder();
    const int = b.addInt('int', 4, true);
    const uchar = b.addInt('unsigned char', 1, false);
    const arr = b.addArray(uchar, int, 3);
    const st = b.addStruct('s', 4, [{ name: 'data', type: arr, offset: 1 }]);
    assert.deepEqual([int, uchar, arr, st], [1, 2, 3, 4]);
    const blob = b.build();
    const v = new DataView(blob.buffer);
    assert.equal(v.getUint16(0, true), 0xeb9f);
    assert.equal(v.getUint8(2), 1);
    assert.equal(v.getUint32(4, true), 24);
    const typeLen = v.getUint32(12, true);
    assert.equal(typeLen, (4 * 4) * 2 + 6 * 4 + 6 * 4);
    assert.equal(v.getUint32(16, true), typeLen);
    const strs = Buffer.from(blob.subarray(24 + typeLen)).toString('latin1');
    assert.equal(strs, '\0int\0unsigned char\0s\0data\0');
    // int: name "int", kind 1, size 4, encoding SIGNED, 32 bits
    assert.deepEqual([v.getUint32(24, true), v.getUint32(28, true), v.getUint32(32, true), v.getUint32(36, true)], [1, 1 << 24, 4, (1 << 24) | 32]);
    // the struct member at byte 1 is recorded in bits
    const member = 24 + 16 + 16 + 24 + 12;
    assert.equal(v.getUint32(member + 8, true), 8);
  });
});

describe('vmlinux BTF', () => {
  it('finds struct types by name', (t) => {
    if (!existsSync('/sys/kernel/btf/vmlinux')) {
      t.skip('this kernel has no /sys/kernel/btf/vmlinux');
      return;
    }
    const task = findVmlinuxStruct('task_struct');
    assert.ok(task && task.id > 0 && task.size > 1000);
    assert.equal(findVmlinuxStruct('no_such_struct_anywhere'), undefined);
  });
});

describe('map kinds', () => {
  it('classify map types', () => {
    assert.ok(isPerCpu(MapType.LRU_PERCPU_HASH) && !isPerCpu(MapType.HASH));
    assert.ok(isIndexed(MapType.DEVMAP) && !isIndexed(MapType.DEVMAP_HASH));
    assert.ok(isKeyless(MapType.BLOOM_FILTER) && !isKeyless(MapType.LPM_TRIE));
    assert.ok(isKnownMapType(MapType.ARENA) && !isKnownMapType(0) && !isKnownMapType(1000) && !isKnownMapType('1'));
    assert.equal(mapTypeName(MapType.CGRP_STORAGE, 'uapi'), 'CGRP_STORAGE');
    assert.equal(mapTypeName(77, 'uapi'), 'type 77');
  });
});

describe('KeySet', () => {
  it('remembers byte keys across growth and tells new from seen', () => {
    const s = new KeySet(6, 4);
    const key = new Uint8Array(6);
    const v = new DataView(key.buffer);
    for (let i = 0; i < 5000; i++) {
      v.setUint32(0, i * 2654435761, true);
      v.setUint16(4, i & 0xffff, true);
      assert.equal(s.add(key), true);
    }
    assert.equal(s.size, 5000);
    for (let i = 0; i < 5000; i++) {
      v.setUint32(0, i * 2654435761, true);
      v.setUint16(4, i & 0xffff, true);
      assert.equal(s.add(key), false);
    }
    assert.equal(s.size, 5000);
  });

  it('handles zero-length and all-zero keys', () => {
    const z = new KeySet(0);
    assert.equal(z.add(new Uint8Array(0)), true);
    assert.equal(z.add(new Uint8Array(0)), false);
    const s = new KeySet(4);
    assert.equal(s.add(new Uint8Array(4)), true);
    assert.equal(s.add(new Uint8Array(4)), false);
  });
});
