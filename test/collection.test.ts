// Loading objects into the running kernel and checking what their programs do.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import type { Collection } from '../src/collection.js';
import { BpfMap } from '../src/map.js';
import { makeBpffsDir } from '../src/map/bpffs.js';
import { CollectionSpec } from '../src/index.js';
import { ObjectError, ProgramVerifierError, readKernelConfig, kernelVersionCode } from '../src/object/index.js';
import { allIds, getFdById, rawTracepointOpen } from '../src/sys/attrs.js';
import { mapInfo, progInfo } from '../src/sys/info.js';
import { Cmd, MapType } from '../src/sys/types.js';
import { corpus } from './bpf/corpus.js';
import { isRoot, kernelTest, openFds, uniqueName } from './helpers/kernel.js';

const packet = (n = 64, fill = 0): Uint8Array => new Uint8Array(n).fill(fill);

/** Names of every loaded program and map, for checking that a failed load left nothing. */
function kernelObjectNames(): { programs: Set<string>; maps: Set<string> } {
  const programs = new Set<string>();
  const maps = new Set<string>();
  for (const id of allIds(Cmd.PROG_GET_NEXT_ID)) {
    try {
      using fd = getFdById(Cmd.PROG_GET_FD_BY_ID, id);
      programs.add(progInfo(fd.value).name);
    } catch {
      // Unloaded meanwhile.
    }
  }
  for (const id of allIds(Cmd.MAP_GET_NEXT_ID)) {
    try {
      using fd = getFdById(Cmd.MAP_GET_FD_BY_ID, id);
      maps.add(mapInfo(fd.value).name);
    } catch {
      // Unloaded meanwhile.
    }
  }
  return { programs, maps };
}

let pinDir = '';
before(() => {
  if (!isRoot()) return;
  pinDir = join('/sys/fs/bpf', uniqueName('tsbpfcoll', 40));
  makeBpffsDir(pinDir);
});
after(() => {
  if (pinDir !== '') rmSync(pinDir, { recursive: true, force: true });
});

describe('global data', () => {
  kernelTest('a .bss counter incremented by a test run reads back by name', () => {
    using c = CollectionSpec.fromFile(corpus('globals.bpf.o')).load();
    const prog = c.programs.globals!;
    assert.equal(c.variables.bss_counter!.value, 0n);
    for (let i = 1; i <= 3; i++) {
      prog.testRun({ data: packet() });
      assert.equal(c.variables.bss_counter!.value, BigInt(i));
    }
    assert.equal(c.variables.data_counter!.value, 5 + 3);
    assert.equal(c.variables.custom_data!.value, 42 + 6);
    assert.equal(c.variables.last_len!.value, 50);
    assert.deepEqual(c.variables.pair_var!.value, { a: 1, b: 2n + 3n });
    assert.deepEqual(c.variables.history!.value, [0, 50, 50, 50, 0, 0, 0, 0]);
  });

  kernelTest('rodata settings change what the program does', () => {
    const run = (settings: Record<string, unknown>): number => {
      const spec = CollectionSpec.fromFile(corpus('globals.bpf.o'));
      spec.rewriteConstants(settings);
      using c = spec.load();
      return c.programs.globals!.testRun({ data: packet() }).retval;
    };
    // ret_value (1) + tag[3] (4) + offset_by (-3) + custom_ro (7)
    assert.equal(run({}), 9);
    assert.equal(run({ ret_value: 10 }), 18);
    assert.equal(run({ ret_value: 10, double_it: true }), 28);
    assert.equal(run({ tag: [0, 0, 0, 100] }), 105);
    assert.equal(run({ offset_by: 10n }), 22);
    assert.equal(run({ custom_ro: 0 }), 2);
    assert.equal(run({ big_setting: 2n ** 40n }), 1009);
  });

  kernelTest('writing a .data variable after load changes the next run', () => {
    using c = CollectionSpec.fromFile(corpus('globals.bpf.o')).load();
    c.variables.data_counter!.set(100);
    c.programs.globals!.testRun({ data: packet() });
    assert.equal(c.variables.data_counter!.value, 101);
    c.variables.pair_var!.set({ a: 5, b: 1n });
    c.programs.globals!.testRun({ data: packet() });
    assert.deepEqual(c.variables.pair_var!.value, { a: 5, b: 6n });
    assert.throws(() => c.variables.ret_value!.set(3), /constant/);
    assert.equal(c.variables.ret_value!.value, 1);
  });

  kernelTest('the data maps are created as libbpf creates them', () => {
    using c = CollectionSpec.fromFile(corpus('globals.bpf.o')).load();
    const ro = c.maps['.rodata']!.info();
    assert.equal(ro.type, MapType.ARRAY);
    assert.equal(ro.maxEntries, 1);
    assert.equal(ro.mapFlags & (1 << 7), 1 << 7, 'BPF_F_RDONLY_PROG');
    assert.equal(ro.mapFlags & (1 << 10), 1 << 10, 'BPF_F_MMAPABLE');
    assert.ok(ro.btfValueTypeId > 0, 'the value is typed by the DATASEC');
    assert.throws(() => c.maps['.rodata']!.update(0, new Uint8Array(ro.valueSize)), 'frozen');
    const data = c.maps['.data']!.info();
    assert.equal(data.mapFlags & (1 << 10), 1 << 10);
  });
});

describe('maps', () => {
  kernelTest('a prog array with initial values tail-calls the programs it names', () => {
    using c = CollectionSpec.fromFile(corpus('maps.bpf.o')).load({ pinPath: pinDir });
    const dispatch = c.programs.dispatch!;
    assert.equal(dispatch.testRun({ data: packet(64, 1) }).retval, 101);
    assert.equal(dispatch.testRun({ data: packet(64, 3) }).retval, 103);
    assert.equal(dispatch.testRun({ data: packet(64, 2) }).retval, 7);
    assert.equal(dispatch.testRun({ data: packet(64, 0) }).retval, 7);
  });

  kernelTest('a map of maps with initial values reaches the inner maps', () => {
    using c = CollectionSpec.fromFile(corpus('maps.bpf.o')).load({ pinPath: pinDir });
    assert.equal(c.programs.through_outer!.testRun({ data: packet(100) }).retval, 0);
    assert.equal(c.maps.inner_a!.lookup(1), 100n);
    assert.equal(c.maps.inner_b!.lookup(1), 1n);
    assert.equal(c.maps.inner_a!.lookup(0), 0n);
  });

  kernelTest('decodes keys and values by their BTF types', () => {
    using c = CollectionSpec.fromFile(corpus('maps.bpf.o')).load({ pinPath: pinDir });
    const data = packet(64);
    const v = new DataView(data.buffer);
    v.setInt32(0, 7, true);
    v.setInt32(4, 9, true);
    assert.equal(c.programs.store_record!.testRun({ data }).retval, 0);
    const rec = c.maps.records!.lookup({ x: 7, y: 9 });
    assert.deepEqual(rec, {
      count: 0x1122334455667788n,
      where: { x: 7, y: -9 },
      raw: { word: 0x04030201, bytes: [1, 2, 3, 4] },
      colour: 'BLUE',
      label: 'hello',
      flag: true,
      small: 5,
      rest: 17,
      delta: -2,
      ports: [80, 0, 443],
    });
    c.maps.records!.update({ x: 1, y: 2 }, { count: 5n, where: { x: 1, y: 2 }, colour: 'GREEN', label: 'x', small: 7, rest: 31, ports: [1, 2, 3] });
    const back = c.maps.records!.lookup({ x: 1, y: 2 }) as Record<string, unknown>;
    assert.equal(back.colour, 'GREEN');
    assert.equal(back.small, 7);
    assert.equal(back.rest, 31);
    assert.equal(back.flag, false);
    assert.deepEqual([...c.maps.records!.keys()].length, 2);
  });

  kernelTest('pins LIBBPF_PIN_BY_NAME maps under pinPath and reuses them on the next load', () => {
    const dir = join(pinDir, 'reuse');
    makeBpffsDir(dir);
    const spec = CollectionSpec.fromFile(corpus('maps.bpf.o'));
    {
      using c = spec.load({ pinPath: dir });
      assert.ok(existsSync(join(dir, 'pinned_counter')));
      c.programs.store_record!.testRun({ data: packet() });
      c.programs.store_record!.testRun({ data: packet() });
    }
    {
      using c = spec.load({ pinPath: dir });
      assert.equal(c.maps.pinned_counter!.lookup(0), 2n, 'the pinned map kept its value');
      c.programs.store_record!.testRun({ data: packet() });
      assert.equal(c.maps.pinned_counter!.lookup(0), 3n);
    }
    using m = BpfMap.openPinned(join(dir, 'pinned_counter'));
    assert.equal(m.type, MapType.ARRAY);
  });

  kernelTest('refuses a pinned map of another shape', () => {
    const dir = join(pinDir, 'clash');
    makeBpffsDir(dir);
    using other = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    other.pin(join(dir, 'pinned_counter'));
    const before = openFds();
    assert.throws(() => CollectionSpec.fromFile(corpus('maps.bpf.o')).load({ pinPath: dir }), /incompatible: value size 4 != 8/);
    assert.equal(openFds(), before);
  });

  kernelTest('sizes perf event arrays by CPU and ring buffers by pages, and keeps map_extra', () => {
    using c = CollectionSpec.fromFile(corpus('maps.bpf.o')).load({ pinPath: pinDir });
    assert.ok(c.maps.perf_events!.maxEntries >= 1);
    assert.equal(c.maps.events!.maxEntries % 4096, 0);
    assert.equal(c.maps.bloom!.info().mapExtra, 3n);
    assert.equal(c.maps.lru!.flags, 2);
    assert.equal(c.maps.noprealloc!.flags & 1, 1);
    assert.equal(c.maps.percpu!.perCpu, true);
  });

  kernelTest('uses replacement maps instead of creating them, without owning them', () => {
    using shared = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 2, name: 'shared' });
    const spec = CollectionSpec.fromFile(corpus('legacy.bpf.o'));
    {
      using c = spec.load({ mapReplacements: { counters: shared as BpfMap<unknown, unknown> } });
      assert.equal(c.maps.counters, shared);
      c.programs.count_packets!.testRun({ data: packet() });
    }
    assert.equal(shared.closed, false);
    const v = shared.lookup(new Uint8Array(4))!;
    assert.equal(new DataView(v.buffer, v.byteOffset).getBigUint64(0, true), 1n);
    assert.throws(
      () => spec.load({ mapReplacements: { lengths: shared as BpfMap<unknown, unknown> } }),
      (e: unknown) => e instanceof ObjectError && /incompatible/.test(e.message),
    );
  });

  kernelTest('legacy maps work like BTF ones', () => {
    using c = CollectionSpec.fromFile(corpus('legacy.bpf.o')).load();
    const prog = c.programs.count_packets!;
    prog.testRun({ data: packet(40) });
    prog.testRun({ data: packet(80) });
    const count = c.maps.counters!.lookup(new Uint8Array(4)) as Uint8Array;
    assert.equal(new DataView(count.buffer, count.byteOffset).getBigUint64(0, true), 2n);
    assert.equal([...c.maps.lengths!.keys()].length, 2);
  });
});

describe('subprograms and callbacks', () => {
  kernelTest('static and global subprograms, bpf_loop and bpf_for_each_map_elem callbacks run', () => {
    using c = CollectionSpec.fromFile(corpus('subprogs.bpf.o')).load();
    assert.equal(c.programs.calls!.testRun({ data: packet() }).retval, 59);
    assert.equal(c.programs.loop!.testRun({ data: packet() }).retval, 90);
    assert.equal(c.variables.callback_calls!.value, 10n);
    for (let i = 0; i < 4; i++) c.maps.numbers!.update(i, BigInt(10 ** i));
    assert.equal(c.programs.for_each!.testRun({ data: packet() }).retval, 1111);
    assert.equal(c.programs.arm_timer!.testRun({ data: packet() }).retval, 1);
  });

  kernelTest('loads a program without the others when they are removed from the spec', () => {
    const spec = CollectionSpec.fromFile(corpus('subprogs.bpf.o'));
    for (const name of ['calls', 'for_each', 'arm_timer']) delete spec.programs[name];
    using c = spec.load();
    assert.deepEqual(Object.keys(c.programs), ['loop']);
  });
});

describe('kernel functions, variables and configuration', () => {
  kernelTest('calls kfuncs from a syscall program and reads kconfig externs', () => {
    const spec = CollectionSpec.fromFile(corpus('kfunc.bpf.o'));
    delete spec.programs.percpu_ksym;
    delete spec.programs.unguarded_kfunc;
    using c = spec.load();
    const ctx = new Uint8Array(4);
    new DataView(ctx.buffer).setInt32(0, process.pid, true);
    assert.equal(c.programs.lookup_task!.testRun({ ctx }).retval, 0);
    const v = c.variables;
    assert.equal(v.found_tgid!.value, process.pid);
    assert.equal(v.found_pid!.value, process.pid);
    assert.equal(v.kernel_version!.value, kernelVersionCode());
    assert.equal(v.missing_option!.value, 0);
    assert.equal(v.missing_kfunc!.value, 0);
    assert.equal(v.missing_ksym!.value, 0);
    const config = readKernelConfig();
    if (config !== undefined) {
      assert.equal(v.hz!.value, Number(config.get('CONFIG_HZ')));
      assert.equal(v.bpf_syscall!.value, config.get('CONFIG_BPF_SYSCALL') === 'y' ? 1 : 0);
      const jit = config.get('CONFIG_BPF_JIT');
      assert.equal(v.bpf_jit!.value, jit === 'y' ? 1 : jit === 'm' ? 2 : 0);
      assert.equal(v.localversion!.value, (config.get('CONFIG_LOCALVERSION') ?? '""').slice(1, -1));
    }
    const wrapper = readFileSync('/proc/kallsyms', 'utf8').includes(' __x64_sys_bpf\n');
    if (process.arch === 'x64') assert.equal(v.has_syscall_wrapper!.value, wrapper ? 1 : 0);
  });

  kernelTest('a tp_btf program acquiring the exec-ing task counts execs', () => {
    const spec = CollectionSpec.fromFile(corpus('kfunc.bpf.o'));
    delete spec.programs.percpu_ksym;
    delete spec.programs.unguarded_kfunc;
    using c = spec.load();
    using link = rawTracepointOpen(c.programs.on_exec!.fd, undefined);
    const child = spawnSync('/bin/true');
    assert.equal(child.status, 0);
    assert.ok((c.variables.execs!.value as bigint) >= 1n);
    assert.ok(link);
  });

  kernelTest('typed per-CPU kernel variables load, or say why this kernel cannot', () => {
    const spec = CollectionSpec.fromFile(corpus('kfunc.bpf.o'));
    for (const n of ['lookup_task', 'on_exec', 'unguarded_kfunc']) delete spec.programs[n];
    let c: Collection | undefined;
    try {
      c = spec.load();
    } catch (err) {
      assert.ok(err instanceof ProgramVerifierError, String(err));
      assert.match(err.message, /kernel symbol 'runqueues'/);
      assert.match(err.message, /this kernel's \/proc\/kallsyms has no data symbols \(CONFIG_KALLSYMS_ALL is off\)/);
      return;
    }
    using loaded = c;
    loaded.programs.percpu_ksym!.testRun({ ctx: new Uint8Array(8) });
    assert.ok((loaded.variables.rq_cpu!.value as number) >= 0);
  });

  kernelTest('a reachable call of a weak kfunc the kernel lacks is explained', () => {
    const spec = CollectionSpec.fromFile(corpus('kfunc.bpf.o'));
    for (const n of ['lookup_task', 'on_exec', 'percpu_ksym']) delete spec.programs[n];
    assert.throws(
      () => spec.load(),
      (e: unknown) =>
        e instanceof ProgramVerifierError &&
        /kfunc bpf_kfunc_this_kernel_lacks is not in this kernel, and its call at instruction \d+ is reachable/.test(e.message) &&
        e.source?.text?.includes('bpf_kfunc_this_kernel_lacks();') === true,
    );
  });

  kernelTest('untyped ksyms resolve through kallsyms; data symbols need CONFIG_KALLSYMS_ALL', () => {
    const kallsyms = readFileSync('/proc/kallsyms', 'utf8');
    const addr = /^([0-9a-f]+) [tT] bpf_prog_put$/m.exec(kallsyms);
    const spec = CollectionSpec.fromFile(corpus('ksym_untyped.bpf.o'));
    const withData = spec.copy();
    delete spec.programs.data_address;
    using c = spec.load();
    c.programs.addresses!.testRun({ ctx: new Uint8Array(8) });
    assert.equal(c.variables.func_addr!.value, BigInt(`0x${addr![1]}`));
    assert.equal(c.variables.absent_addr!.value, 0n);
    if (/^[0-9a-f]+ [bBdD] bpf_prog_active$/m.test(kallsyms)) {
      using all = withData.load();
      assert.ok(all);
    } else {
      assert.throws(() => withData.load(), /kernel symbol bpf_prog_active is not in \/proc\/kallsyms: this kernel's \/proc\/kallsyms has no data symbols \(CONFIG_KALLSYMS_ALL is off\)/);
    }
  });
});

describe('failed loads', () => {
  kernelTest('a verifier failure names the C source line, and nothing is left loaded', async () => {
    const spec = CollectionSpec.fromFile(corpus('fail.bpf.o'));
    const tag = uniqueName('f', 12);
    spec.maps.values!.name = `${tag}v`;
    spec.maps.more!.name = `${tag}m`;
    spec.programs.good!.name = `${tag}g`;
    const fds = openFds();
    let error: unknown;
    try {
      spec.load();
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ProgramVerifierError, String(error));
    assert.equal(error.program, 'missing_null_check');
    assert.equal(error.source?.file, 'fail.bpf.c');
    assert.equal(error.source?.line, 37);
    assert.equal(error.source?.text?.trim(), 'return *v + 1;');
    assert.match(error.message, /fail\.bpf\.c:37: return \*v \+ 1;/);
    assert.match(error.message, /invalid mem access 'map_value_or_null'/);
    assert.equal(error.failedInstruction, 7);
    assert.equal(openFds(), fds, 'every fd was closed');
    // The kernel frees programs and then their maps after an RCU grace period: wait for it.
    let left = kernelObjectNames();
    for (let i = 0; i < 100 && (left.maps.has(`${tag}v`) || left.maps.has(`${tag}m`) || left.programs.has(`${tag}g`)); i++) {
      await new Promise((r) => setTimeout(r, 20));
      left = kernelObjectNames();
    }
    for (const n of [`${tag}v`, `${tag}m`]) assert.ok(!left.maps.has(n), `map ${n} is gone`);
    assert.ok(!left.programs.has(`${tag}g`), 'the program that loaded is gone');
  });

  kernelTest('a failure after pinning leaves no pins', () => {
    const dir = join(pinDir, 'failpin');
    makeBpffsDir(dir);
    const spec = CollectionSpec.fromFile(corpus('maps.bpf.o'));
    const bad = spec.programs.tail_one!;
    spec.programs.unfinished = { ...bad, name: 'unfinished', instructions: [{ opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 }] };
    assert.throws(() => spec.load({ pinPath: dir }), (e: unknown) => e instanceof ProgramVerifierError && e.program === 'unfinished');
    assert.ok(!existsSync(join(dir, 'pinned_counter')));
  });

  kernelTest('an invalid map spec fails with the map named and nothing left', () => {
    const spec = CollectionSpec.fromFile(corpus('subprogs.bpf.o'));
    spec.maps.numbers!.maxEntries = 0;
    const fds = openFds();
    assert.throws(() => spec.load(), (e: unknown) => e instanceof ObjectError && e.map === 'numbers');
    assert.equal(openFds(), fds);
  });
});

describe('packet programs', () => {
  kernelTest('XDP reflects the frame, tc and socket filters see the packet', () => {
    using c = CollectionSpec.fromFile(corpus('net.bpf.o')).load();
    const frame = packet(64);
    frame.set([1, 2, 3, 4, 5, 6], 0);
    frame.set([7, 8, 9, 10, 11, 12], 6);
    const r = c.programs.xdp_reflect!.testRun({ data: frame });
    assert.equal(r.retval, 3);
    assert.deepEqual([...r.dataOut!.subarray(0, 12)], [7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6]);
    assert.equal(c.variables.xdp_packets!.value, 1n);
    assert.equal(c.programs.socket_len!.testRun({ data: packet(100) }).retval, 86);
    assert.equal(c.programs.tc_drop_short!.testRun({ data: packet(40) }).retval, 2);
    assert.equal(c.programs.tc_drop_short!.testRun({ data: packet(200) }).retval, 0);
    assert.equal(c.variables.tc_packets!.value, 2n);
    assert.equal(c.programs.xdp_frags_pass!.testRun({ data: packet(64) }).retval, 2);
  });
});
