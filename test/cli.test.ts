import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Assembler, R0 } from '../src/asm/index.js';
import { Program } from '../src/program.js';
import { mapCreate } from '../src/sys/attrs.js';
import { mapInfo } from '../src/sys/info.js';
import { MapType, ProgramType } from '../src/sys/types.js';
import { kernelTest } from './helpers/kernel.js';
import { type InProcessRun, runCliInProcess } from './helpers/cli.js';

const run = (...argv: string[]): Promise<InProcessRun> => runCliInProcess(argv);

function loadXdp(name: string): Program {
  const insns = new Assembler().mov64Imm(R0, 2).exit().assemble();
  return Program.load({ type: ProgramType.XDP, instructions: insns, license: 'GPL', name });
}

describe('tsbpf top level', () => {
  test('--help lists the commands', async () => {
    const r = await run('--help');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: tsbpf <command>/);
    assert.match(r.stdout, /^\s+prog\s+list, show and dump/m);
    assert.match(r.stdout, /^\s+feature\s+probe the running kernel/m);
    assert.match(r.stdout, /^\s+map\s/m);
    assert.equal(r.stderr, '');
  });

  test('--version prints the package version', async () => {
    const r = await run('--version');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^tsbpf \d+\.\d+\.\d+/);
  });

  test('no arguments, unknown commands and options are usage errors', async () => {
    const none = await run();
    assert.equal(none.code, 2);
    assert.match(none.stderr, /Usage: tsbpf/);
    const unknown = await run('frobnicate');
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, "tsbpf: unknown command 'frobnicate'\nsee tsbpf --help\n");
    const option = await run('--frob');
    assert.equal(option.code, 2);
    assert.match(option.stderr, /^tsbpf: unknown option '--frob'\nsee tsbpf --help\n$/);
  });

  test('help for a command, at every level', async () => {
    for (const argv of [['prog', '--help'], ['help', 'prog'], ['prog', 'list', '--help'], ['prog', 'show', '-h'], ['prog', 'dump', '--help'], ['feature', '--help'], ['feature', 'probe', '--help']]) {
      const r = await run(...argv);
      assert.equal(r.code, 0, argv.join(' '));
      assert.match(r.stdout, /^Usage: tsbpf /, argv.join(' '));
    }
  });

  test('subcommand usage errors say where the help is', async () => {
    const verb = await run('prog', 'frob');
    assert.equal(verb.code, 2);
    assert.equal(verb.stderr, "tsbpf prog: unknown verb 'frob' (list, show, dump)\nsee tsbpf prog --help\n");
    const option = await run('prog', 'list', '--frob');
    assert.equal(option.code, 2);
    assert.equal(option.stderr, "tsbpf prog list: Unknown option '--frob'\nsee tsbpf prog list --help\n");
    const missing = await run('prog', 'dump', 'xlated');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^tsbpf prog dump: expected an id, a pinned path\nsee tsbpf prog dump --help\n$/);
    const badId = await run('prog', 'show', 'id', 'x');
    assert.equal(badId.code, 2);
    const kind = await run('prog', 'dump', 'jited', '1');
    assert.equal(kind.code, 2);
  });

  kernelTest('failures are one line with the error code, no stack', async () => {
    const r = await run('prog', 'show', '4294967295');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^tsbpf prog show: .*4294967295.*\[ENOENT\]\n$/);
  });

  kernelTest('TSBPF_DEBUG=1 adds the stack', async () => {
    process.env.TSBPF_DEBUG = '1';
    try {
      const r = await run('prog', 'show', '4294967295');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^tsbpf prog show: .*\n.*Error.*\n\s+at /);
    } finally {
      delete process.env.TSBPF_DEBUG;
    }
  });

  kernelTest('commands match by unique prefix', async () => {
    const r = await run('p', 'l', '--json');
    assert.equal(r.code, 0);
    assert.ok(Array.isArray(JSON.parse(r.stdout)));
  });

  kernelTest('ls is list for every command that lists', async () => {
    for (const cmd of ['prog', 'map', 'link']) {
      const r = await run(cmd, 'ls', '--json');
      assert.equal(r.code, 0, `${cmd} ls: ${r.stderr}`);
      assert.ok(Array.isArray(JSON.parse(r.stdout)), `${cmd} ls`);
    }
  });

  test('a command whose verb table and help name different verbs is refused', async () => {
    const { defineCommand } = await import('../src/cli/framework/index.js');
    const help = { HELP: 'Usage: x', verbs: { list: 'Usage: x list' } };
    assert.throws(() => defineCommand({ name: 'x', summary: 'x', help, verbs: { list: () => 0, show: () => 0 } }), /the help and the verb table name different verbs/);
  });
});

describe('tsbpf prog', () => {
  kernelTest('a loaded program appears in prog list --json', async () => {
    using prog = loadXdp('cli_list');
    const r = await run('prog', 'list', '--json');
    assert.equal(r.code, 0);
    const list = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    const mine = list.find((p) => p.id === prog.id);
    assert.ok(mine, `program ${prog.id} is listed`);
    assert.equal(mine.type, 'xdp');
    assert.equal(mine.name, 'cli_list');
    assert.equal(mine.tag, prog.tag);
    assert.equal(mine.gpl_compatible, true);
    assert.equal(typeof mine.loaded_at, 'number');
    assert.equal(mine.uid, 0);
    assert.equal(typeof mine.bytes_xlated, 'number');
    assert.deepEqual(mine.map_ids, []);
  });

  kernelTest('prog show by id, as text and JSON, with map ids', async () => {
    using map = mapCreate({ mapType: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 });
    const insns = new Assembler().ldMapFd(1, map.value).mov64Imm(R0, 2).exit().assemble();
    using prog = Program.load({ type: ProgramType.XDP, instructions: insns, license: 'GPL', name: 'cli_show' });
    const mapId = mapInfo(map.value).id;

    const text = await run('prog', 'show', String(prog.id));
    assert.equal(text.code, 0);
    assert.match(text.stdout, new RegExp(`^${prog.id}: xdp  name cli_show  tag ${prog.tag}  gpl\\n`));
    assert.match(text.stdout, /\tloaded_at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000 {2}uid 0\n/);
    assert.match(text.stdout, new RegExp(`\\txlated \\d+B  jited \\d+B  memlock \\d+B  map_ids ${mapId}\\n`));

    const json = await run('prog', 'show', 'id', String(prog.id), '--json');
    assert.equal(json.code, 0);
    const doc = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.equal(doc.id, prog.id);
    assert.deepEqual(doc.map_ids, [mapId]);

    const byName = await run('prog', 'show', 'name', 'cli_show', '--json');
    assert.equal(byName.code, 0);
    assert.ok((JSON.parse(byName.stdout) as Array<{ id: number }>).some((p) => p.id === prog.id));
  });

  kernelTest('prog dump xlated disassembles the program', async () => {
    using map = mapCreate({ mapType: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 1 });
    const insns = new Assembler()
      .st(0, 10, -4, 0)
      .mov64Reg(2, 10)
      .add64Imm(2, -4)
      .ldMapFd(1, map.value)
      .call('map_lookup_elem')
      .mov64Imm(R0, 2)
      .exit()
      .assemble();
    using prog = Program.load({ type: ProgramType.XDP, instructions: insns, license: 'GPL', name: 'cli_dump' });
    const r = await run('prog', 'dump', 'xlated', String(prog.id));
    assert.equal(r.code, 0);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^\s+0: \*\(u32 \*\)\(r10 - 0x4\) = 0x0$/);
    assert.ok(lines.some((l) => new RegExp(`r1 = map\\[id:${mapInfo(map.value).id}\\]$`).test(l)));
    assert.ok(lines.some((l) => /call (bpf_map_lookup_elem|__htab_map_lookup_elem|htab_map_lookup_elem)\S*#/.test(l)), r.stdout);
    assert.match(lines.at(-1) ?? '', /: exit$/);

    const json = await run('prog', 'dump', 'xlated', '--json', String(prog.id));
    const doc = JSON.parse(json.stdout) as Array<{ slot: number; code: string; disasm: string }>;
    assert.equal(doc[0]?.slot, 0);
    assert.match(doc[0]?.code ?? '', /^[0-9a-f]{16}$/);
    assert.equal(doc.at(-1)?.disasm, 'exit');
  });
});

describe('tsbpf feature', () => {
  kernelTest('feature probe --json has the documented shape', async () => {
    const r = await run('feature', 'probe', '--json');
    assert.equal(r.code, 0);
    const doc = JSON.parse(r.stdout) as {
      programTypes: Record<string, boolean | null>;
      mapTypes: Record<string, boolean | null>;
      helpers: Record<string, string[]>;
      attachTypes: Record<string, string[]>;
      kernel: Record<string, boolean | null>;
      system: Record<string, unknown>;
      notes: Record<string, string>;
    };
    assert.equal(doc.programTypes.xdp, true);
    assert.equal(doc.mapTypes.ringbuf, true);
    assert.ok(doc.helpers.xdp?.includes('map_lookup_elem'));
    assert.ok(doc.helpers.sched_cls?.includes('skb_store_bytes'));
    assert.deepEqual(Object.keys(doc.kernel).sort(), ['btf', 'fentry', 'kprobes', 'ringbuf', 'tcx', 'uprobes', 'vmlinuxBtf', 'xdpLink']);
    assert.equal(doc.kernel.ringbuf, true);
    assert.equal(typeof doc.system.bpffsMounted, 'boolean');
  });

  kernelTest('feature probe prints bpftool-style text', async () => {
    const r = await run('feature', 'probe', '--no-helpers');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^eBPF program_type xdp is available$/m);
    assert.match(r.stdout, /^eBPF map_type ringbuf is available$/m);
    assert.doesNotMatch(r.stdout, /helpers supported/);
  });

  test('feature usage errors', async () => {
    assert.equal((await run('feature')).code, 2);
    assert.equal((await run('feature', 'probe', 'dev')).code, 2);
  });
});
