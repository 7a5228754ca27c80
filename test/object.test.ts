// Reading BPF objects into specs: no privileges needed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { disassemble, isFunctionCall, isFunctionReference, isKfuncCall, slotOffsets, BPF_LD_IMM64, BPF_PSEUDO_BTF_ID, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE } from '../src/asm/index.js';
import { CoreReloKind } from '../src/btf/ext.js';
import { TsbpfError } from '../src/errors.js';
import { CollectionSpec, ObjectError, parseSectionName } from '../src/object/index.js';
import { AttachType, MapFlags, MapType, ProgFlags, ProgramType } from '../src/sys/types.js';
import { corpus, corpusObjects } from './bpf/corpus.js';
import { assertErrno } from './helpers/kernel.js';

describe('section names', () => {
  const cases: Array<[string, ProgramType, AttachType | undefined, string | undefined, boolean]> = [
    ['socket', ProgramType.SOCKET_FILTER, undefined, undefined, false],
    ['xdp', ProgramType.XDP, AttachType.XDP, undefined, false],
    ['xdp.frags', ProgramType.XDP, AttachType.XDP, undefined, false],
    ['xdp/devmap', ProgramType.XDP, AttachType.XDP_DEVMAP, undefined, false],
    ['xdp.frags/cpumap', ProgramType.XDP, AttachType.XDP_CPUMAP, undefined, false],
    ['tc', ProgramType.SCHED_CLS, undefined, undefined, false],
    ['classifier', ProgramType.SCHED_CLS, undefined, undefined, false],
    ['action', ProgramType.SCHED_ACT, undefined, undefined, false],
    ['tc/ingress', ProgramType.SCHED_CLS, AttachType.TCX_INGRESS, undefined, false],
    ['tcx/egress', ProgramType.SCHED_CLS, AttachType.TCX_EGRESS, undefined, false],
    ['netkit/peer', ProgramType.SCHED_CLS, AttachType.NETKIT_PEER, undefined, false],
    ['kprobe/do_sys_open', ProgramType.KPROBE, undefined, 'do_sys_open', false],
    ['kretprobe/tcp_connect+4', ProgramType.KPROBE, undefined, 'tcp_connect+4', false],
    ['kprobe', ProgramType.KPROBE, undefined, undefined, false],
    ['uprobe.s//bin/bash:readline', ProgramType.KPROBE, undefined, '/bin/bash:readline', true],
    ['uprobe.multi/libc.so.6:malloc*', ProgramType.KPROBE, AttachType.TRACE_UPROBE_MULTI, 'libc.so.6:malloc*', false],
    ['kprobe.multi/tcp_*', ProgramType.KPROBE, AttachType.TRACE_KPROBE_MULTI, 'tcp_*', false],
    ['kprobe.session/vfs_read', ProgramType.KPROBE, AttachType.TRACE_KPROBE_SESSION, 'vfs_read', false],
    ['ksyscall/openat', ProgramType.KPROBE, undefined, 'openat', false],
    ['usdt/./app:provider:probe', ProgramType.KPROBE, undefined, './app:provider:probe', false],
    ['tracepoint/syscalls/sys_enter_openat', ProgramType.TRACEPOINT, undefined, 'syscalls/sys_enter_openat', false],
    ['tp/sched/sched_switch', ProgramType.TRACEPOINT, undefined, 'sched/sched_switch', false],
    ['raw_tp/sys_enter', ProgramType.RAW_TRACEPOINT, undefined, 'sys_enter', false],
    ['raw_tracepoint.w/bpf_test_finish', ProgramType.RAW_TRACEPOINT_WRITABLE, undefined, 'bpf_test_finish', false],
    ['tp_btf/sched_process_exec', ProgramType.TRACING, AttachType.TRACE_RAW_TP, 'sched_process_exec', false],
    ['fentry/tcp_connect', ProgramType.TRACING, AttachType.TRACE_FENTRY, 'tcp_connect', false],
    ['fentry.s/bpf_fentry_test1', ProgramType.TRACING, AttachType.TRACE_FENTRY, 'bpf_fentry_test1', true],
    ['fexit/tcp_v4_connect', ProgramType.TRACING, AttachType.TRACE_FEXIT, 'tcp_v4_connect', false],
    ['fmod_ret/security_socket_connect', ProgramType.TRACING, AttachType.MODIFY_RETURN, 'security_socket_connect', false],
    ['freplace/handler', ProgramType.EXT, undefined, 'handler', false],
    ['lsm/file_open', ProgramType.LSM, AttachType.LSM_MAC, 'file_open', false],
    ['lsm.s/bprm_committed_creds', ProgramType.LSM, AttachType.LSM_MAC, 'bprm_committed_creds', true],
    ['lsm_cgroup/socket_bind', ProgramType.LSM, AttachType.LSM_CGROUP, 'socket_bind', false],
    ['iter/task', ProgramType.TRACING, AttachType.TRACE_ITER, 'task', false],
    ['iter.s/task_vma', ProgramType.TRACING, AttachType.TRACE_ITER, 'task_vma', true],
    ['syscall', ProgramType.SYSCALL, undefined, undefined, true],
    ['perf_event', ProgramType.PERF_EVENT, undefined, undefined, false],
    ['sockops', ProgramType.SOCK_OPS, AttachType.CGROUP_SOCK_OPS, undefined, false],
    ['sk_skb/stream_verdict', ProgramType.SK_SKB, AttachType.SK_SKB_STREAM_VERDICT, undefined, false],
    ['sk_msg', ProgramType.SK_MSG, AttachType.SK_MSG_VERDICT, undefined, false],
    ['sk_reuseport/migrate', ProgramType.SK_REUSEPORT, AttachType.SK_REUSEPORT_SELECT_OR_MIGRATE, undefined, false],
    ['sk_lookup', ProgramType.SK_LOOKUP, AttachType.SK_LOOKUP, undefined, false],
    ['flow_dissector', ProgramType.FLOW_DISSECTOR, AttachType.FLOW_DISSECTOR, undefined, false],
    ['cgroup_skb/ingress', ProgramType.CGROUP_SKB, AttachType.CGROUP_INET_INGRESS, undefined, false],
    ['cgroup/skb', ProgramType.CGROUP_SKB, undefined, undefined, false],
    ['cgroup/sock_create', ProgramType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_CREATE, undefined, false],
    ['cgroup/connect4', ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_CONNECT, undefined, false],
    ['cgroup/recvmsg_unix', ProgramType.CGROUP_SOCK_ADDR, AttachType.CGROUP_UNIX_RECVMSG, undefined, false],
    ['cgroup/getsockopt', ProgramType.CGROUP_SOCKOPT, AttachType.CGROUP_GETSOCKOPT, undefined, false],
    ['cgroup/sysctl', ProgramType.CGROUP_SYSCTL, AttachType.CGROUP_SYSCTL, undefined, false],
    ['cgroup/dev', ProgramType.CGROUP_DEVICE, AttachType.CGROUP_DEVICE, undefined, false],
    ['lwt_xmit', ProgramType.LWT_XMIT, undefined, undefined, false],
    ['struct_ops/dctcp_init', ProgramType.STRUCT_OPS, undefined, 'dctcp_init', false],
    ['netfilter', ProgramType.NETFILTER, AttachType.NETFILTER, undefined, false],
  ];
  for (const [name, type, attach, target, sleepable] of cases) {
    it(name, () => {
      const info = parseSectionName(name);
      assert.ok(info, `${name} is known`);
      assert.equal(info.type, type);
      assert.equal(info.expectedAttachType, attach);
      assert.equal(info.attachTo, target);
      assert.equal(info.sleepable, sleepable);
      assert.equal((info.flags & ProgFlags.SLEEPABLE) !== 0, sleepable);
    });
  }
  it('xdp.frags sets BPF_F_XDP_HAS_FRAGS', () => {
    assert.equal(parseSectionName('xdp.frags')!.flags, ProgFlags.XDP_HAS_FRAGS);
    assert.equal(parseSectionName('xdp')!.flags, 0);
  });
  it('follows libbpf: exact names stay exact, "type/" extras need a slash', () => {
    assert.equal(parseSectionName('xdp/foo'), undefined);
    assert.equal(parseSectionName('socket/foo'), undefined);
    assert.equal(parseSectionName('kprobex'), undefined);
    assert.equal(parseSectionName('tp_btfx/a'), undefined);
    assert.equal(parseSectionName('kprobe/'), undefined);
    assert.equal(parseSectionName('.text'), undefined);
  });
});

describe('CollectionSpec.fromFile', () => {
  it('reads every corpus object', () => {
    for (const f of corpusObjects()) {
      const spec = CollectionSpec.fromFile(f);
      assert.ok(spec.btf, `${f} has BTF`);
      assert.equal(spec.byteOrder, 'little');
    }
  });

  it('reads BTF-defined maps of every kind with their attributes', () => {
    const spec = CollectionSpec.fromFile(corpus('maps.bpf.o'));
    const m = spec.maps;
    assert.equal(m.records!.type, MapType.HASH);
    assert.equal(m.records!.keySize, 8);
    assert.equal(m.records!.valueSize, 48);
    assert.equal(m.records!.maxEntries, 64);
    assert.equal(m.records!.keyType?.name, 'point');
    assert.equal(m.records!.valueType?.name, 'record');
    assert.equal(m.lru!.type, MapType.LRU_HASH);
    assert.equal(m.lru!.flags, MapFlags.NO_COMMON_LRU);
    assert.equal(m.percpu!.type, MapType.PERCPU_ARRAY);
    assert.equal(m.noprealloc!.flags, MapFlags.NO_PREALLOC);
    assert.equal(m.noprealloc!.numaNode, 0);
    assert.equal(m.events!.type, MapType.RINGBUF);
    assert.equal(m.events!.maxEntries, 4096);
    assert.equal(m.perf_events!.type, MapType.PERF_EVENT_ARRAY);
    assert.equal(m.perf_events!.keySize, 4);
    assert.equal(m.perf_events!.valueSize, 4);
    assert.equal(m.bloom!.type, MapType.BLOOM_FILTER);
    assert.equal(m.bloom!.mapExtra, 3n);
    assert.equal(m.bloom!.keySize, 0);
    assert.equal(m.pinned_counter!.pinning, 'byName');
    assert.equal(m.records!.pinning, 'none');
  });

  it('reads maps of maps and prog arrays with their initial values', () => {
    const spec = CollectionSpec.fromFile(corpus('maps.bpf.o'));
    const outer = spec.maps.outer!;
    assert.equal(outer.type, MapType.ARRAY_OF_MAPS);
    assert.equal(outer.valueSize, 4);
    assert.equal(outer.innerMap?.type, MapType.ARRAY);
    assert.equal(outer.innerMap?.maxEntries, 4);
    assert.equal(outer.innerMap?.valueSize, 8);
    assert.deepEqual(outer.values, [
      { key: 0, value: { map: 'inner_a' } },
      { key: 2, value: { map: 'inner_b' } },
    ]);
    assert.equal(spec.maps.outer_hash!.type, MapType.HASH_OF_MAPS);
    assert.deepEqual(spec.maps.outer_hash!.values, []);
    const jt = spec.maps.jump_table!;
    assert.equal(jt.type, MapType.PROG_ARRAY);
    assert.deepEqual(jt.values, [
      { key: 1, value: { program: 'tail_one' } },
      { key: 3, value: { program: 'tail_three' } },
    ]);
  });

  it('reads the legacy maps section', () => {
    const spec = CollectionSpec.fromFile(corpus('legacy.bpf.o'));
    assert.deepEqual(
      Object.values(spec.maps).map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags]),
      [
        ['counters', MapType.ARRAY, 4, 8, 2, 0],
        ['lengths', MapType.HASH, 4, 4, 32, MapFlags.NO_PREALLOC],
      ],
    );
    const prog = spec.programs.count_packets!;
    const refs = prog.instructions.filter((i) => i.opcode === BPF_LD_IMM64 && i.src === BPF_PSEUDO_MAP_FD).map((i) => i.reference);
    assert.deepEqual(refs, ['counters', 'lengths']);
  });

  it('reads global data sections as maps, with variables typed by BTF', () => {
    const spec = CollectionSpec.fromFile(corpus('globals.bpf.o'));
    const names = Object.keys(spec.maps).sort();
    assert.deepEqual(names, ['.bss', '.data', '.data.custom', '.rodata', '.rodata.custom']);
    const rodata = spec.maps['.rodata']!;
    assert.equal(rodata.internal, 'rodata');
    assert.equal(rodata.freeze, true);
    assert.equal(rodata.flags & MapFlags.RDONLY_PROG, MapFlags.RDONLY_PROG);
    assert.equal(rodata.valueType?.kind, 'DATASEC');
    assert.equal(spec.maps['.bss']!.internal, 'bss');
    assert.equal(spec.maps['.data']!.flags & MapFlags.MMAPABLE, MapFlags.MMAPABLE);
    const v = spec.variables;
    assert.equal(v.data_counter!.value, 5);
    assert.equal(v.data_counter!.constant, false);
    assert.equal(v.bss_counter!.value, 0n);
    assert.equal(v.bss_counter!.section, '.bss');
    assert.equal(v.ret_value!.value, 1);
    assert.equal(v.ret_value!.constant, true);
    assert.equal(v.double_it!.value, false);
    assert.deepEqual(v.tag!.value, [1, 2, 3, 4]);
    assert.equal(v.offset_by!.value, -3n);
    assert.equal(v.custom_data!.value, 42);
    assert.equal(v.custom_data!.section, '.data.custom');
    assert.equal(v.custom_ro!.value, 7);
    assert.deepEqual(v.pair_var!.value, { a: 1, b: 2n });
    assert.deepEqual(v.history!.value, [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(v.history!.size, 32);
  });

  it('rewriteConstants encodes values by each variable type', () => {
    const spec = CollectionSpec.fromFile(corpus('globals.bpf.o'));
    spec.rewriteConstants({ ret_value: 0xdeadbeef, double_it: true, tag: [9, 8, 7, 6], offset_by: -1234567890123n, big_setting: 2n ** 63n });
    assert.equal(spec.variables.ret_value!.value, 0xdeadbeef);
    assert.equal(spec.variables.double_it!.value, true);
    assert.deepEqual(spec.variables.tag!.value, [9, 8, 7, 6]);
    assert.equal(spec.variables.offset_by!.value, -1234567890123n);
    assert.equal(spec.variables.big_setting!.value, 2n ** 63n);
    const data = spec.maps['.rodata']!.values[0]!.value as Uint8Array;
    const off = spec.variables.ret_value!.offset;
    assert.equal(new DataView(data.buffer, data.byteOffset).getUint32(off, true), 0xdeadbeef);
  });

  it('rewriteConstants refuses unknown names, non-constants and values that do not fit', () => {
    const spec = CollectionSpec.fromFile(corpus('globals.bpf.o'));
    assert.throws(() => spec.rewriteConstants({ no_such: 1 }), /no such constant: no_such/);
    assert.throws(() => spec.rewriteConstants({ data_counter: 1 }), /data_counter \(not constant\)/);
    assertErrno(() => spec.rewriteConstants({ ret_value: 2 ** 32 }), 'EINVAL');
    assert.throws(() => spec.rewriteConstants({ tag: [1, 2, 3, 4, 5] }), /does not fit/);
    assert.throws(() => spec.rewriteConstants({ double_it: 'yes' }), /bool/);
  });

  it('variables can be set through spec.variables and copies are independent', () => {
    const spec = CollectionSpec.fromFile(corpus('globals.bpf.o'));
    const copy = spec.copy();
    copy.variables.data_counter!.set(77);
    copy.variables.ret_value!.set(3);
    delete copy.programs.globals;
    copy.maps['.data']!.maxEntries = 1;
    assert.equal(spec.variables.data_counter!.value, 5);
    assert.equal(copy.variables.data_counter!.value, 77);
    assert.equal(spec.variables.ret_value!.value, 1);
    assert.ok(spec.programs.globals);
  });

  it('links static and global subprograms into each program that calls them', () => {
    const spec = CollectionSpec.fromFile(corpus('subprogs.bpf.o'));
    const calls = spec.programs.calls!;
    const symbols = calls.instructions.filter((i) => i.symbol !== undefined).map((i) => i.symbol);
    assert.deepEqual(symbols, ['calls', 'static_add', 'static_twice', 'global_mul']);
    checkCallTargets(calls.instructions);
    const loop = spec.programs.loop!;
    assert.deepEqual(
      loop.instructions.filter((i) => i.symbol !== undefined).map((i) => i.symbol),
      ['loop', 'loop_cb'],
    );
    const ref = loop.instructions.find(isFunctionReference);
    assert.equal(ref?.reference, 'loop_cb');
    checkCallTargets(loop.instructions);
    const arm = spec.programs.arm_timer!;
    assert.ok(arm.instructions.some((i) => isFunctionReference(i) && i.reference === 'timer_cb'));
    assert.ok(arm.instructions.some((i) => i.symbol === 'global_mul'));
    assert.ok(!spec.programs.calls!.instructions.some((i) => i.symbol === 'loop_cb'), 'only reachable functions are linked');
  });

  it('keeps func_info on every function start and line info with source text', () => {
    const spec = CollectionSpec.fromFile(corpus('subprogs.bpf.o'));
    for (const p of Object.values(spec.programs)) {
      for (const insn of p.instructions) {
        if (insn.symbol !== undefined) assert.ok(insn.func !== undefined, `${p.name}: ${insn.symbol} has func_info`);
      }
      assert.ok(p.instructions[0]!.source?.file === 'subprogs.bpf.c');
    }
    const text = disassemble(spec.programs.calls!.instructions);
    assert.match(text, /; \treturn static_add\(3, 4\) \+ static_twice\(5\) \+ global_mul\(6, 7\);/);
    assert.match(text, /<static_add>:/);
  });

  it('several programs in one section are separate programs', () => {
    const spec = CollectionSpec.fromFile(corpus('subprogs.bpf.o'));
    const socket = Object.values(spec.programs).filter((p) => p.sectionName === 'socket').map((p) => p.name);
    assert.deepEqual(socket.sort(), ['calls', 'for_each', 'loop']);
    assert.equal(spec.programs.arm_timer!.type, ProgramType.SCHED_CLS);
  });

  it('marks global data references with the map and offset', () => {
    const spec = CollectionSpec.fromFile(corpus('globals.bpf.o'));
    const loads = spec.programs.globals!.instructions.filter((i) => i.opcode === BPF_LD_IMM64 && i.src === BPF_PSEUDO_MAP_VALUE);
    const refs = new Set(loads.map((i) => `${i.reference}+${i.imm2}`));
    for (const name of ['bss_counter', 'data_counter', 'custom_data', 'ret_value', 'custom_ro']) {
      const v = spec.variables[name]!;
      assert.ok(refs.has(`${v.section}+${v.offset}`) || loads.some((i) => i.reference === v.section), `${name} is referenced`);
    }
  });

  it('reads program types, attach targets and sleepable flags from sections', () => {
    const spec = CollectionSpec.fromFile(corpus('kfunc.bpf.o'));
    const exec = spec.programs.on_exec!;
    assert.equal(exec.type, ProgramType.TRACING);
    assert.equal(exec.expectedAttachType, AttachType.TRACE_RAW_TP);
    assert.equal(exec.attachTo, 'sched_process_exec');
    assert.equal(exec.attachBtf, 'raw_tp');
    const sys = spec.programs.lookup_task!;
    assert.equal(sys.type, ProgramType.SYSCALL);
    assert.equal(sys.sleepable, true);
    assert.equal(sys.flags, ProgFlags.SLEEPABLE);
    assert.equal(sys.license, 'GPL');
  });

  it('collects __kconfig and __ksym externs, weak or strong, typed or not', () => {
    const spec = CollectionSpec.fromFile(corpus('kfunc.bpf.o'));
    const e = spec.externs;
    assert.equal(e.LINUX_KERNEL_VERSION?.kind, 'kconfig');
    assert.equal(e.CONFIG_HZ?.kind, 'kconfig');
    assert.equal(e.CONFIG_THIS_OPTION_DOES_NOT_EXIST?.weak, true);
    assert.equal(e.CONFIG_HZ?.weak, false);
    assert.equal(e.bpf_task_from_pid?.kind, 'kfunc');
    assert.equal(e.bpf_kfunc_this_kernel_lacks?.weak, true);
    assert.equal(e.runqueues?.kind, 'ksym');
    assert.equal(e.runqueues?.typed, true);
    assert.ok(spec.maps['.kconfig']);
    assert.equal(spec.maps['.kconfig']!.internal, 'kconfig');
    const kfuncCalls = spec.programs.lookup_task!.instructions.filter((i) => isKfuncCall(i)).map((i) => i.reference);
    assert.deepEqual([...new Set(kfuncCalls)].sort(), ['bpf_kfunc_this_kernel_lacks', 'bpf_rcu_read_lock', 'bpf_rcu_read_unlock', 'bpf_task_from_pid', 'bpf_task_release']);
    const btfIds = spec.programs.percpu_ksym!.instructions.filter((i) => i.opcode === BPF_LD_IMM64 && i.src === BPF_PSEUDO_BTF_ID).map((i) => i.reference);
    assert.deepEqual(btfIds.sort(), ['bpf_prog_active', 'runqueues']);
    const untyped = CollectionSpec.fromFile(corpus('ksym_untyped.bpf.o'));
    assert.equal(untyped.externs.bpf_prog_put?.typed, false);
    assert.equal(untyped.externs.ksym_untyped_absent?.weak, true);
  });

  it('attaches CO-RE relocations to the instructions they patch', () => {
    const spec = CollectionSpec.fromFile(corpus('core.bpf.o'));
    const relos = spec.programs.core_values!.instructions.filter((i) => i.core !== undefined).map((i) => i.core!);
    const kinds = new Set(relos.map((r) => r.kind));
    for (const k of Object.values(CoreReloKind)) assert.ok(kinds.has(k), `relocation kind ${k} is in core.bpf.o`);
    const btf = spec.btf!;
    const task = relos.find((r) => r.kind === CoreReloKind.TYPE_SIZE && btf.type(r.typeId).name === 'task_struct');
    assert.ok(task);
  });

  it('the object BTF has the DATASEC sizes and variable offsets of the ELF', () => {
    const spec = CollectionSpec.fromFile(corpus('globals.bpf.o'));
    const ds = spec.btf!.typesByName('.data', 'DATASEC')[0]!;
    assert.equal(ds.size, spec.maps['.data']!.valueSize);
    assert.ok(ds.vars.some((v) => v.offset > 0));
    const ksyms = CollectionSpec.fromFile(corpus('kfunc.bpf.o')).btf!;
    for (const t of ksyms.types()) {
      if (t.kind === 'VAR') assert.notEqual(t.linkage, 'extern', `${t.name} is no longer extern`);
      if (t.kind === 'FUNC') assert.notEqual(t.linkage, 'extern', `${t.name} is no longer extern`);
    }
  });
});

describe('malformed objects', () => {
  it('rejects what is not an ELF BPF object with an ObjectError', () => {
    assertErrno(() => CollectionSpec.fromBuffer(new Uint8Array([1, 2, 3])), 'EBADELF', ObjectError);
    const elf = new Uint8Array(readFileSync(corpus('globals.bpf.o')));
    elf[18] = 62;
    assert.throws(() => CollectionSpec.fromBuffer(elf), /not a BPF object/);
  });

  it('a missing file is an ObjectError with ENOENT', () => {
    assertErrno(() => CollectionSpec.fromFile('/nonexistent/x.bpf.o'), 'ENOENT', ObjectError);
  });

  it('truncated objects fail with typed errors', () => {
    const bytes = readFileSync(corpus('maps.bpf.o'));
    for (const n of [10, 64, 100, 1000, bytes.length - 1]) {
      assert.throws(
        () => CollectionSpec.fromBuffer(bytes.subarray(0, n)),
        (e: unknown) => e instanceof TsbpfError,
      );
    }
  });
});

/** Every call and function reference lands on the first instruction of the function it names. */
function checkCallTargets(insns: ReadonlyArray<{ opcode: number; src: number; imm: number; reference?: string; symbol?: string }>): void {
  const slots = slotOffsets(insns as never);
  const bySlot = new Map<number, (typeof insns)[number]>();
  insns.forEach((insn, i) => bySlot.set(slots[i]!, insn));
  insns.forEach((insn, i) => {
    if (!isFunctionCall(insn as never) && !isFunctionReference(insn as never)) return;
    const target = bySlot.get(slots[i]! + insn.imm + 1);
    assert.equal(target?.symbol, insn.reference, `instruction ${i} lands on ${insn.reference}`);
  });
}
