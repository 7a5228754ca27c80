// Unit tests of src/link that need no privileges: section names, netlink encoding, the linker
// cache, ELF offsets, CPU lists, descriptions.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { linkJson, linkText } from '../src/cli/link.js';
import { parseElf } from '../src/elf/index.js';
import { NotSupportedError } from '../src/errors.js';
import { describeDetails, MissingTargetError, symbolOffset, TargetNotFoundError } from '../src/link/index.js';
import { addressToOffset, readLdCache } from '../src/link/binaries.js';
import { parseSection, type SectionPlan } from '../src/link/section.js';
import { parseCpuIds as parseCpuList } from '../src/sys/cpus.js';
import { encodeUsdtSpec, parseUsdtArgs } from '../src/link/usdt.js';
import { attrString, attrU32, NetlinkMessageBuilder, NLM_F, parseAttrs, parseMessages, RTM } from '../src/sys/netlink.js';
import { packageRoot } from '../src/sys/package.js';
import { AttachType, LinkType } from '../src/sys/types.js';
import { toolSkip } from './helpers/kernel.js';

describe('parseSection', () => {
  const cases: Array<[string, SectionPlan]> = [
    ['xdp', { hook: 'xdp' }],
    ['xdp.frags', { hook: 'xdp' }],
    ['tc', { hook: 'tc' }],
    ['tc/ingress', { hook: 'tc', direction: 'ingress' }],
    ['tcx/egress', { hook: 'tc', direction: 'egress' }],
    ['classifier', { hook: 'tc' }],
    ['netkit/peer', { hook: 'netkit', side: 'peer' }],
    ['tracepoint/sched/sched_process_exec', { hook: 'tracepoint', group: 'sched', name: 'sched_process_exec' }],
    ['tp/syscalls/sys_enter_openat', { hook: 'tracepoint', group: 'syscalls', name: 'sys_enter_openat' }],
    ['raw_tracepoint/sched_switch', { hook: 'raw_tracepoint', name: 'sched_switch' }],
    ['raw_tp.w/bpf_test_finish', { hook: 'raw_tracepoint', name: 'bpf_test_finish' }],
    ['tp_btf/sched_process_exec', { hook: 'tracing', kind: 'tp_btf', target: 'sched_process_exec' }],
    ['fentry/do_unlinkat', { hook: 'tracing', kind: 'fentry', target: 'do_unlinkat' }],
    ['fexit.s/do_unlinkat', { hook: 'tracing', kind: 'fexit', target: 'do_unlinkat' }],
    ['fmod_ret/security_file_open', { hook: 'tracing', kind: 'fmod_ret', target: 'security_file_open' }],
    ['lsm/file_open', { hook: 'tracing', kind: 'lsm', target: 'file_open' }],
    ['lsm.s/bprm_committed_creds', { hook: 'tracing', kind: 'lsm', target: 'bprm_committed_creds' }],
    ['freplace/handler', { hook: 'tracing', kind: 'freplace', target: 'handler' }],
    ['kprobe/tcp_v4_connect', { hook: 'kprobe', symbol: 'tcp_v4_connect', offset: 0, ret: false }],
    ['kprobe/do_sys_open+0x10', { hook: 'kprobe', symbol: 'do_sys_open', offset: 16, ret: false }],
    ['kretprobe/tcp_v4_connect', { hook: 'kprobe', symbol: 'tcp_v4_connect', offset: 0, ret: true }],
    ['kprobe.multi/tcp_*', { hook: 'kprobe_multi', pattern: 'tcp_*', ret: false }],
    ['kretprobe.multi/vfs_*', { hook: 'kprobe_multi', pattern: 'vfs_*', ret: true }],
    ['ksyscall/openat', { hook: 'ksyscall', syscall: 'openat', ret: false }],
    ['kretsyscall/execve', { hook: 'ksyscall', syscall: 'execve', ret: true }],
    ['uprobe//usr/lib/libc.so.6:malloc', { hook: 'uprobe', path: '/usr/lib/libc.so.6', symbol: 'malloc', offset: 0, ret: false }],
    ['uretprobe/libc.so.6:malloc+4', { hook: 'uprobe', path: 'libc.so.6', symbol: 'malloc', offset: 4, ret: true }],
    ['uprobe.s//bin/bash:0x1234', { hook: 'uprobe', path: '/bin/bash', offset: 0x1234, ret: false }],
    ['cgroup/connect4', { hook: 'cgroup', attachType: AttachType.CGROUP_INET4_CONNECT }],
    ['cgroup/sock', { hook: 'cgroup', attachType: AttachType.CGROUP_INET_SOCK_CREATE }],
    ['cgroup_skb/ingress', { hook: 'cgroup', attachType: AttachType.CGROUP_INET_INGRESS }],
    ['cgroup_skb/egress', { hook: 'cgroup', attachType: AttachType.CGROUP_INET_EGRESS }],
    ['cgroup/recvmsg_unix', { hook: 'cgroup', attachType: AttachType.CGROUP_UNIX_RECVMSG }],
    ['cgroup/dev', { hook: 'cgroup', attachType: AttachType.CGROUP_DEVICE }],
    ['sockops', { hook: 'cgroup', attachType: AttachType.CGROUP_SOCK_OPS }],
    ['lsm_cgroup/socket_bind', { hook: 'cgroup', attachType: AttachType.LSM_CGROUP }],
    ['sk_lookup', { hook: 'sk_lookup' }],
    ['flow_dissector', { hook: 'flow_dissector' }],
    ['socket', { hook: 'socket_filter' }],
    ['sk_msg', { hook: 'sk_msg' }],
    ['sk_skb/stream_verdict', { hook: 'sk_skb', attachType: 'stream_verdict' }],
    ['iter/task', { hook: 'iter', target: 'task' }],
    ['iter.s/bpf_map_elem', { hook: 'iter', target: 'bpf_map_elem' }],
    ['perf_event', { hook: 'perf_event' }],
    ['netfilter', { hook: 'netfilter' }],
    ['usdt/libc.so.6:libc:setjmp', { hook: 'usdt', path: 'libc.so.6', provider: 'libc', name: 'setjmp' }],
    ['usdt//opt/a:b/app:prov:probe', { hook: 'usdt', path: '/opt/a:b/app', provider: 'prov', name: 'probe' }],
  ];
  for (const [section, plan] of cases) {
    test(section, () => assert.deepEqual(parseSection(section), plan));
  }

  test('sections without an attach point say why', () => {
    for (const s of ['xdp/devmap', 'kprobe', 'tracepoint/sched', 'uprobe/libc.so.6', 'cgroup/skb', 'sk_skb', 'struct_ops/x', 'license', 'netkit/other', 'kretprobe/f+4', 'usdt', 'usdt/libc.so.6:setjmp', 'usdt/app::probe', 'usdt/app:prov:']) {
      assert.throws(() => parseSection(s), (err: unknown) => err instanceof Error && err.message.includes(s), s);
    }
  });
});

describe('USDT arguments', () => {
  test('registers, constants and register+offset, with sizes and signs', () => {
    assert.deepEqual(parseUsdtArgs('-4@%ebx 8@-8(%rbp) -4@$-9 1@%sil 2@0x10(%r12) 8@(%rsp) %rdi $5'), [
      { kind: 'reg', size: 4, signed: true, register: 'ebx' },
      { kind: 'deref', size: 8, signed: false, register: 'rbp', offset: -8n },
      { kind: 'const', size: 4, signed: true, value: -9n },
      { kind: 'reg', size: 1, signed: false, register: 'sil' },
      { kind: 'deref', size: 2, signed: false, register: 'r12', offset: 16n },
      { kind: 'deref', size: 8, signed: false, register: 'rsp', offset: 0n },
      { kind: 'reg', size: 8, signed: true, register: 'rdi' },
      { kind: 'const', size: 8, signed: true, value: 5n },
    ]);
    assert.deepEqual(parseUsdtArgs('  '), []);
  });

  test('what cannot be read is refused before anything is attached', () => {
    for (const bad of ['8@(%rax,%rbx,8)', '8@sym(%rip)', '1@%ah', '4@%xmm0', '8@foo']) {
      assert.throws(() => parseUsdtArgs(bad), NotSupportedError, bad);
    }
    assert.throws(() => parseUsdtArgs(Array(13).fill('4@%eax').join(' ')), NotSupportedError);
  });

  test('the spec bytes: 16 per argument, the cookie at 192, the count at 200', () => {
    const spec = encodeUsdtSpec(parseUsdtArgs('-4@%eax 8@-24(%rbp) -2@$-3'), 0x1122334455n);
    const v = new DataView(spec.buffer);
    assert.equal(spec.length, 208);
    // %eax: a register (1) at pt_regs offset 80, signed, 32 bits cleared on the way to 64.
    assert.deepEqual([v.getBigUint64(0, true), v.getUint32(8, true), v.getInt16(12, true), spec[14], spec[15]], [0n, 1, 80, 1, 32]);
    // -24(%rbp): a dereference (2) of rbp (offset 32) plus -24.
    assert.deepEqual([v.getBigInt64(16, true), v.getUint32(24, true), v.getInt16(28, true), spec[30], spec[31]], [-24n, 2, 32, 0, 0]);
    // $-3: a constant (0) held in val_off.
    assert.deepEqual([v.getBigInt64(32, true), v.getUint32(40, true), spec[46], spec[47]], [-3n, 0, 1, 48]);
    assert.equal(v.getBigUint64(192, true), 0x1122334455n);
    assert.equal(v.getInt16(200, true), 3);
  });
});

describe('netlink messages', () => {
  test('build, then parse: header, family struct, attributes, nesting', () => {
    const msg = new NetlinkMessageBuilder(RTM.SETLINK, NLM_F.REQUEST | NLM_F.ACK)
      .struct(16, (v, at) => v.setInt32(at + 4, 7, true))
      .string(3, 'eth0')
      .nest(43, (b) => b.s32(1, -1).u32(3, 0x12))
      .u8(5, 9);
    const bytes = msg.finish(42);
    const v = new DataView(bytes.buffer);
    assert.equal(v.getUint32(0, true), bytes.length);
    assert.equal(bytes.length % 4, 0);
    const [m, ...rest] = parseMessages(bytes);
    assert.equal(rest.length, 0);
    assert.ok(m);
    assert.equal(m.type, RTM.SETLINK);
    assert.equal(m.flags, NLM_F.REQUEST | NLM_F.ACK);
    assert.equal(m.seq, 42);
    assert.equal(new DataView(m.body.buffer, m.body.byteOffset).getInt32(4, true), 7);
    const attrs = parseAttrs(m.body.subarray(16));
    assert.equal(attrString(attrs.get(3)), 'eth0');
    assert.equal(attrs.get(5)?.[0], 9);
    const nested = parseAttrs(attrs.get(43) ?? new Uint8Array(0));
    assert.equal(attrU32(nested.get(1)), 0xffffffff);
    assert.equal(attrU32(nested.get(3)), 0x12);
    // The nested flag is on the wire; parseAttrs strips it from the type.
    const at = 16 + 16 + 12;
    assert.equal(v.getUint16(at + 2, true), 43 | 0x8000);
  });

  test('parseMessages splits a datagram of several messages and stops at a short one', () => {
    const a = new NetlinkMessageBuilder(RTM.NEWLINK, NLM_F.MULTI).u32(1, 1).finish(1);
    const b = new NetlinkMessageBuilder(3, NLM_F.MULTI).finish(1);
    const both = new Uint8Array(a.length + b.length + 7);
    both.set(a);
    both.set(b, a.length);
    const msgs = parseMessages(both);
    assert.deepEqual(
      msgs.map((m) => m.type),
      [RTM.NEWLINK, 3],
    );
  });
});

describe('the linker cache', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-ldcache-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function newFormat(entries: Array<[string, string]>): Buffer {
    const header = 48;
    const table = header + entries.length * 24;
    const strings: Buffer[] = [];
    let off = table;
    const offs: Array<[number, number]> = [];
    for (const [k, p] of entries) {
      const kb = Buffer.from(`${k}\0`);
      const pb = Buffer.from(`${p}\0`);
      offs.push([off, off + kb.length]);
      strings.push(kb, pb);
      off += kb.length + pb.length;
    }
    const out = Buffer.alloc(off);
    out.write('glibc-ld.so.cache1.1', 0, 'latin1');
    out.writeUInt32LE(entries.length, 20);
    offs.forEach(([k, p], i) => {
      out.writeInt32LE(0x0303, header + i * 24);
      out.writeUInt32LE(k, header + i * 24 + 4);
      out.writeUInt32LE(p, header + i * 24 + 8);
    });
    Buffer.concat(strings).copy(out, table);
    return out;
  }

  test('reads the new format', () => {
    const file = join(dir, 'new.cache');
    writeFileSync(file, newFormat([['libz.so.1', '/lib/libz.so.1'], ['libc.so.6', '/lib/libc.so.6']]));
    assert.deepEqual(readLdCache(file), [
      ['libz.so.1', '/lib/libz.so.1'],
      ['libc.so.6', '/lib/libc.so.6'],
    ]);
  });

  test('reads the new format behind an old-format table', () => {
    const old = Buffer.alloc(16 + 2 * 12);
    old.write('ld.so-1.7.0', 0, 'latin1');
    old.writeUInt32LE(2, 12);
    const file = join(dir, 'compat.cache');
    writeFileSync(file, Buffer.concat([old, newFormat([['libm.so.6', '/lib/libm.so.6']])]));
    assert.deepEqual(readLdCache(file), [['libm.so.6', '/lib/libm.so.6']]);
  });

  test('a missing or foreign file is an empty cache', () => {
    assert.deepEqual(readLdCache(join(dir, 'absent')), []);
    const file = join(dir, 'junk');
    writeFileSync(file, 'not a cache');
    assert.deepEqual(readLdCache(file), []);
  });
});

describe('ELF offsets', { skip: toolSkip('cc', 'gcc') }, () => {
  let dir = '';
  let binary = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-elf-'));
    binary = join(dir, 'target');
    execFileSync('cc', ['-O1', '-g', '-o', binary, join(packageRoot(), 'test', 'fixtures', 'uprobe', 'target.c')], { stdio: 'pipe' });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a symbol maps to its file offset through its PT_LOAD segment', () => {
    const elf = parseElf(new Uint8Array(readFileSync(binary)));
    const sym = elf.symbols().find((s) => s.name === 'tsbpf_probe_target');
    assert.ok(sym);
    const text = elf.sections.find((s) => s.name === '.text');
    assert.ok(text);
    // Through .text's own address and offset, a different path to the same answer.
    const expected = Number(sym.value - text.addr) + text.offset;
    assert.equal(addressToOffset(elf, sym.value), expected);
    assert.equal(symbolOffset(binary, 'tsbpf_probe_target'), expected);
    assert.equal(addressToOffset(elf, 0xffff_ffff_0000n), undefined);
  });

  test('unknown symbols and non-ELF files name what was missing', () => {
    assert.throws(() => symbolOffset(binary, 'tsbpf_absent'), (err: unknown) => err instanceof TargetNotFoundError && err.kind === 'symbol' && err.message.includes('tsbpf_absent'));
    const junk = join(dir, 'junk');
    writeFileSync(junk, 'text');
    assert.throws(() => symbolOffset(junk, 'main'), (err: unknown) => err instanceof TargetNotFoundError && err.message.includes('not an ELF file'));
  });
});

describe('small parts', () => {
  test('CPU lists', () => {
    assert.deepEqual(parseCpuList('0-3,6,8-9\n'), [0, 1, 2, 3, 6, 8, 9]);
    assert.deepEqual(parseCpuList('0'), [0]);
    assert.deepEqual(parseCpuList(''), []);
  });

  test('descriptions and bpftool-style output', () => {
    assert.equal(describeDetails({ kind: 'xdp', ifindex: 3, interface: 'eth0', mode: 'driver' }), 'eth0 (ifindex 3) driver');
    assert.equal(describeDetails({ kind: 'tcx', ifindex: 3, attachType: AttachType.TCX_EGRESS, direction: 'egress' }), 'ifindex 3 egress');
    assert.equal(describeDetails({ kind: 'perf_event', event: 'uprobe', name: '/bin/x', offset: 0x40 }), 'uprobe /bin/x+0x40');
    const info = {
      id: 7,
      type: LinkType.CGROUP,
      typeName: 'cgroup',
      progId: 9,
      mechanism: 'bpf_link' as const,
      details: { kind: 'cgroup' as const, cgroupId: 1234n, attachType: AttachType.CGROUP_INET4_CONNECT, attachTypeName: 'cgroup_inet4_connect' },
    };
    assert.deepEqual(linkJson(info), { id: 7, type: 'cgroup', prog_id: 9, cgroup_id: 1234n, attach_type: AttachType.CGROUP_INET4_CONNECT, attach_type_name: 'cgroup_inet4_connect' });
    assert.equal(linkText(info), '7: cgroup  prog 9\n\tcgroup_inet4_connect on cgroup id 1234\n');
  });

  test('typed errors carry what they name', () => {
    const e = new TargetNotFoundError('interface', 'eth9');
    assert.equal(e.code, 'ENOENT');
    assert.equal(e.kind, 'interface');
    assert.equal(e.target, 'eth9');
    assert.equal(e.message, 'interface eth9 not found');
    const m = new MissingTargetError('xdp', 'interface');
    assert.equal(m.code, 'EINVAL');
    assert.match(m.message, /targets\.interface/);
  });
});
