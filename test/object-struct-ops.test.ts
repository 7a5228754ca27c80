// `.struct_ops` maps: a TCP congestion control written in BPF registers when its object loads,
// sockets can use it, and it is gone when the collection closes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BpfMap } from '../src/map.js';
import { CollectionSpec } from '../src/index.js';
import { MapFlags, MapType, ProgramType } from '../src/sys/types.js';
import { root } from './bpf/corpus.js';
import { kernelTest, uniqueName } from './helpers/kernel.js';

const object = join(root, 'test', 'fixtures', 'loader', 'struct_ops.bpf.o');
const AVAILABLE = '/proc/sys/net/ipv4/tcp_available_congestion_control';

/** The spec with the congestion control renamed, so parallel runs register different ones. */
function specNamed(name: string, link = false): CollectionSpec {
  const spec = CollectionSpec.fromFile(object);
  const m = spec.maps.tsbpf_ca!;
  const member = m.valueType!.kind === 'STRUCT' ? m.valueType!.members.find((x) => x.name === 'name')! : undefined;
  const bytes = m.values[0]!.value as Uint8Array;
  bytes.fill(0, member!.bitOffset / 8, member!.bitOffset / 8 + 16);
  bytes.set(new TextEncoder().encode(name), member!.bitOffset / 8);
  if (link) m.flags |= MapFlags.LINK;
  return spec;
}

const available = (): string[] => readFileSync(AVAILABLE, 'utf8').trim().split(/\s+/);

/** Connects a socket over loopback with congestion control `name`; what the socket says it uses. */
function connectWith(name: string): string {
  const script = [
    'import socket',
    "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()",
    'c = socket.socket()',
    `c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b'${name}')`,
    'c.connect(s.getsockname()); a, _ = s.accept()',
    "c.sendall(b'x' * 65536); a.recv(65536)",
    "print(c.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b'\\0').decode())",
  ].join('\n');
  const r = spawnSync('python3', ['-c', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

describe('.struct_ops maps', () => {
  it('read: a STRUCT_OPS map of the kernel struct, its function pointers naming programs', () => {
    const spec = CollectionSpec.fromFile(object);
    const m = spec.maps.tsbpf_ca!;
    assert.equal(m.type, MapType.STRUCT_OPS);
    assert.deepEqual(m.structOps, {
      type: 'tcp_congestion_ops',
      programs: { ssthresh: 'tsbpf_ssthresh', cong_avoid: 'tsbpf_cong_avoid', init: 'tsbpf_init', undo_cwnd: 'tsbpf_undo_cwnd' },
    });
    assert.equal(spec.programs.tsbpf_init!.type, ProgramType.STRUCT_OPS);
  });

  kernelTest('a TCP congestion control registers at load, sockets use it, and close unregisters it', () => {
    const name = uniqueName('tsbpf_ca', 15);
    const spec = specNamed(name);
    {
      using c = spec.load();
      assert.ok(available().includes(name), `${name} is available`);
      assert.equal(connectWith(name), name);
      assert.ok((c.variables.inits!.value as bigint) >= 1n, 'the init program ran for the connection');
    }
    assert.ok(!available().includes(name), 'closing the collection unregistered it');
  });

  kernelTest('a pinned one stays registered after close, until its element is deleted', () => {
    const name = uniqueName('tsbpf_pn', 15);
    const pin = join('/sys/fs/bpf', uniqueName('tsbpf_so', 40));
    try {
      {
        using c = specNamed(name).load();
        c.maps.tsbpf_ca!.pin(pin);
      }
      assert.ok(available().includes(name), 'still registered');
      using m = BpfMap.openPinned(pin);
      m.delete(new Uint8Array(4));
      assert.ok(!available().includes(name), 'deleting the element unregisters it');
    } finally {
      rmSync(pin, { force: true });
    }
  });

  kernelTest('.struct_ops.link maps register when attached, and detach with the link', () => {
    const name = uniqueName('tsbpf_cl', 15);
    using c = specNamed(name, true).load();
    assert.ok(!available().includes(name), 'not registered by load');
    {
      using links = c.attach();
      assert.ok(links.links[`struct_ops tsbpf_ca`] !== undefined);
      assert.ok(available().includes(name));
      assert.equal(connectWith(name), name);
    }
    assert.ok(!available().includes(name), 'closing the link unregistered it');
  });

  kernelTest('a kernel without the struct says so', () => {
    const spec = specNamed(uniqueName('tsbpf_no', 15));
    spec.maps.tsbpf_ca!.structOps = { ...spec.maps.tsbpf_ca!.structOps!, type: 'no_such_ops' };
    assert.throws(() => spec.load(), /this kernel does not support struct_ops no_such_ops/);
  });
});
