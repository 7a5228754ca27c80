// `tsbpf object ...` and `tsbpf btf dump`, run in-process through their command modules.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { command as btfCommand } from '../src/cli/btf.js';
import type { Command } from '../src/cli/framework/index.js';
import { command as objectCommand } from '../src/cli/object.js';
import { parseValue } from '../src/cli/object/shared.js';
import { corpus } from './bpf/corpus.js';
import { kernelTest, uniqueName } from './helpers/kernel.js';
import { type InProcessRun, runCliInProcess } from './helpers/cli.js';

type Run = InProcessRun;

/** Runs a command as `tsbpf` does: usage errors exit 2, other failures 1. */
const run = (cmd: Command, ...argv: string[]): Promise<Run> => runCliInProcess([cmd.name, ...argv]);

const object = (...argv: string[]): Promise<Run> => run(objectCommand, ...argv);

describe('tsbpf object inspect', () => {
  it('lists programs, maps, variables, externs and CO-RE relocations', async () => {
    const r = await object('inspect', corpus('maps.bpf.o'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^dispatch\s+tc\s+sched_cls\s+-\s+16\s+0$/m);
    assert.match(r.stdout, /^records\s+hash\s+8 \(struct point\)\s+48 \(struct record\)\s+64\s+0$/m);
    assert.match(r.stdout, /^pinned_counter\s+array\s+4 \(__u32\)\s+8 \(__u64\)\s+1\s+0 pinned$/m);
    assert.match(r.stdout, /^through_outer\s+tc\s+sched_cls\s+-\s+40\s+1$/m, "skb->len through vmlinux.h is a CO-RE access");
    assert.match(r.stdout, /^CO-RE relocations: 1$/m);
  });

  it('--json describes the object as data', async () => {
    const r = await object('inspect', corpus('kfunc.bpf.o'), '--json');
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as {
      programs: { name: string; section: string; type: string; attachType?: string; instructions: number }[];
      maps: { name: string; type: string }[];
      variables: { name: string; type?: string; value: unknown }[];
      externs: { name: string; kind: string; weak: boolean }[];
    };
    const exec = doc.programs.find((p) => p.name === 'on_exec')!;
    assert.equal(exec.section, 'tp_btf/sched_process_exec');
    assert.equal(exec.type, 'tracing');
    assert.equal(exec.attachType, 'trace_raw_tp');
    assert.ok(exec.instructions > 0);
    assert.ok(doc.maps.some((m) => m.name === '.kconfig'));
    assert.deepEqual(doc.variables.find((v) => v.name === 'found_tgid'), { name: 'found_tgid', section: '.data', offset: doc.variables.find((v) => v.name === 'found_tgid')!['offset' as never], size: 4, type: 'int', constant: false, value: -1 });
    assert.deepEqual(doc.externs.find((e) => e.name === 'CONFIG_THIS_OPTION_DOES_NOT_EXIST'), { name: 'CONFIG_THIS_OPTION_DOES_NOT_EXIST', kind: 'kconfig', weak: true });
    const core = JSON.parse((await object('inspect', corpus('core.bpf.o'), '-j')).stdout) as { coreRelocations: number };
    assert.ok(core.coreRelocations >= 13);
  });

  it('a file that is not an object fails with exit 1, a missing argument with 2', async () => {
    const dir = join(tmpdir(), uniqueName('tsbpfcli', 30));
    mkdirSync(dir);
    try {
      writeFileSync(join(dir, 'junk.o'), 'not an object');
      const r = await object('inspect', join(dir, 'junk.o'));
      assert.equal(r.code, 1);
      assert.match(r.stderr, /bad magic/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal((await object('inspect')).code, 2);
    assert.equal((await object('frobnicate', 'x')).code, 2);
  });
});

describe('tsbpf object dump', () => {
  it('interleaves C source lines with the instructions and names references', async () => {
    const r = await object('dump', corpus('subprogs.bpf.o'), '--program', 'loop');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Disassembly of section socket:/);
    assert.match(r.stdout, /^0000000000000000 <loop>:$/m);
    assert.match(r.stdout, /^; \tbpf_loop\(10, loop_cb, &c, 0\);$/m);
    assert.match(r.stdout, /^\s+\d+:\t.*; <loop_cb>$/m);
    assert.match(r.stdout, /^[0-9a-f]{16} <loop_cb>:$/m);
    assert.match(r.stdout, /; \.bss\+0$/m);
    const core = await object('dump', corpus('core.bpf.o'), '--program', 'core_values', '--json');
    const doc = JSON.parse(core.stdout) as { instructions: { reference?: string; source?: { file: string } }[] };
    assert.ok(doc.instructions.some((i) => i.reference?.startsWith('CO-RE FIELD_BYTE_OFFSET')));
    assert.ok(doc.instructions.some((i) => i.reference === 'kfunc bpf_task_from_pid'));
    assert.equal(doc.instructions[0]!.source?.file, 'core.bpf.c');
    assert.equal((await object('dump', corpus('core.bpf.o'), '--program', 'nope')).code, 2);
  });
});

describe('tsbpf object load and run', () => {
  kernelTest('load --json lists what was loaded', async () => {
    const r = await object('load', corpus('globals.bpf.o'), '--json');
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { programs: { name: string; section: string; type: string; loaded: boolean }[]; maps: { name: string; type: string; id: number }[] };
    assert.deepEqual(
      doc.programs.map((p) => ({ name: p.name, section: p.section, type: p.type, loaded: p.loaded })),
      [{ name: 'globals', section: 'socket', type: 'socket_filter', loaded: true }],
    );
    assert.equal(doc.maps.length, 5);
    assert.ok(doc.maps.every((m) => m.type === 'array' && m.id > 0));
  });

  kernelTest('a verifier failure exits 1 with the reason and the C source line on stderr', async () => {
    const r = await object('load', corpus('fail.bpf.o'), '--json');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tsbpf object load: program missing_null_check rejected by the verifier: R0 invalid mem access 'map_value_or_null' at fail\.bpf\.c:37:\d+: return \*v \+ 1;/);
    const doc = JSON.parse(r.stdout) as { programs: { name: string; loaded: boolean; error?: string }[]; maps: unknown[] };
    assert.deepEqual(doc.maps, []);
    const good = doc.programs.find((p) => p.name === 'good')!;
    const bad = doc.programs.find((p) => p.name === 'missing_null_check')!;
    assert.equal(good.loaded, false);
    assert.equal(good.error, undefined, 'good loads on its own');
    assert.equal(bad.loaded, false);
    assert.match(bad.error!, /fail\.bpf\.c:37/);
  });

  kernelTest('load --pin pins programs and maps, --set changes variables', async () => {
    const dir = join('/sys/fs/bpf', uniqueName('tsbpfcli', 40));
    try {
      const r = await object('load', corpus('globals.bpf.o'), '--pin', dir, '--set', 'ret_value=7');
      assert.equal(r.code, 0, r.stderr);
      assert.ok(existsSync(join(dir, 'globals')));
      assert.ok(existsSync(join(dir, 'maps', '_rodata')));
      assert.ok(existsSync(join(dir, 'maps', '_data_custom')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  kernelTest('run reports the return value, and --set changes it', async () => {
    const dir = join(tmpdir(), uniqueName('tsbpfrun', 30));
    mkdirSync(dir);
    try {
      const frame = new Uint8Array(64);
      frame.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      writeFileSync(join(dir, 'frame'), frame);
      const r = await object('run', corpus('net.bpf.o'), '--program', 'xdp_reflect', '--data', join(dir, 'frame'), '--json');
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as { program: string; retval: number; durationNs: number; dataOut: string };
      assert.equal(doc.program, 'xdp_reflect');
      assert.equal(doc.retval, 3);
      assert.ok(doc.dataOut.startsWith('0708090a0b0c010203040506'));
      const g = await object('run', corpus('globals.bpf.o'), '--program', 'globals', '--set', 'ret_value=100', '--set', 'double_it=true', '--set', 'tag=[0,0,0,1]', '--repeat', '3', '--json');
      assert.equal(g.code, 0, g.stderr);
      assert.equal((JSON.parse(g.stdout) as { retval: number }).retval, 200 + 1 - 3 + 7);
      const text = await object('run', corpus('globals.bpf.o'), '--program', 'globals');
      assert.match(text.stdout, /^globals: retval 9 \(0x9\), duration \d+ ns$/m);
      assert.equal((await object('run', corpus('globals.bpf.o'), '--program', 'globals', '--set', 'nope=1')).code, 2);
      assert.equal((await object('run', corpus('globals.bpf.o'))).code, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses --set values as numbers, booleans, JSON or strings', () => {
    assert.equal(parseValue('42'), 42n);
    assert.equal(parseValue('-0x10'), -16n);
    assert.equal(parseValue('18446744073709551615'), 18446744073709551615n);
    assert.equal(parseValue('true'), true);
    assert.deepEqual(parseValue('[1,2]'), [1n, 2n]);
    assert.deepEqual(parseValue('{"a":1}'), { a: 1n });
    assert.equal(parseValue('eth0'), 'eth0');
  });
});

describe('tsbpf btf dump', () => {
  it('dumps an object BTF as C, raw text and JSON', async () => {
    const c = await run(btfCommand, 'dump', '--file', corpus('core_target.bpf.o'), '--format', 'c');
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /struct widget \{\n\tlong pad\[3\];\n\tchar name\[16\];\n\tunsigned int spare: 5;/);
    const raw = await run(btfCommand, 'dump', '--file', corpus('core_target.bpf.o'));
    assert.match(raw.stdout, /^\[\d+\] STRUCT 'widget' size=64 vlen=8$/m);
    const json = await run(btfCommand, 'dump', '--file', corpus('core_target.bpf.o'), '-j');
    const doc = JSON.parse(json.stdout) as { types: { kind: string; name: string }[] };
    assert.ok(doc.types.some((t) => t.kind === 'ENUM' && t.name === 'shade'));
    assert.equal((await run(btfCommand, 'dump', '--format', 'yaml')).code, 2);
    assert.equal((await run(btfCommand, 'dump', '--file', '/nonexistent')).code, 1);
  });

  it('dumps the kernel BTF by default', async () => {
    const r = await run(btfCommand, 'dump');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\[1\] /);
    assert.match(r.stdout, /STRUCT 'task_struct' size=\d+/);
  });
});
