import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { accessSync, constants, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  KERNEL_BTF_DIR,
  findMember,
  formatC,
  formatRaw,
  marshalBtf,
  parseBtf,
  parseBtfExt,
  readKernelBtf,
  readModuleBtf,
  resolveType,
  sizeOf,
} from '../src/btf/index.js';
import { parseElf } from '../src/elf/index.js';
import { fixturePath, hasCommand, UNDER_CI } from './fixtures/btf/fixture.js';

const VMLINUX = join(KERNEL_BTF_DIR, 'vmlinux');
const CLANG = process.env.CLANG ?? 'clang-19';
const BPFTOOL = process.env.BPFTOOL ?? 'bpftool';

function unreadable(path: string): string | false {
  try {
    accessSync(path, constants.R_OK);
    return false;
  } catch (e) {
    if (UNDER_CI) throw e;
    return `${path} is not readable (${(e as NodeJS.ErrnoException).code}); kernel without CONFIG_DEBUG_INFO_BTF?`;
  }
}

const bpftoolDumps = new Map<string, string>();

function bpftoolRaw(args: string[]): string {
  const key = args.join(' ');
  let dump = bpftoolDumps.get(key);
  if (dump === undefined) {
    dump = execFileSync(BPFTOOL, ['btf', 'dump', ...args, 'format', 'raw'], { encoding: 'utf8', maxBuffer: 256 << 20 });
    bpftoolDumps.set(key, dump);
  }
  return dump;
}

const skipKernel = unreadable(VMLINUX);
const skipBpftool = skipKernel || (!hasCommand(BPFTOOL) && !UNDER_CI && `${BPFTOOL} not found (apt-get install bpftool; npm test installs it when run as root on Debian or Ubuntu)`);
const skipClang = skipKernel || (!hasCommand(CLANG) && !UNDER_CI && `${CLANG} not found (apt-get install clang-19 libbpf-dev; npm test installs it when run as root on Debian or Ubuntu)`);

describe('kernel BTF', { skip: skipKernel }, () => {
  it('parses lazily in well under 100 ms and keeps little on the JS heap', (t) => {
    const bytes = new Uint8Array(readFileSync(VMLINUX));
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const before = process.memoryUsage();
    const start = performance.now();
    const btf = parseBtf(bytes);
    const elapsed = performance.now() - start;
    gc?.();
    const after = process.memoryUsage();
    const retained = after.heapUsed - before.heapUsed;
    const external = after.arrayBuffers - before.arrayBuffers;
    t.diagnostic(
      `${btf.typeCount} types parsed in ${elapsed.toFixed(1)} ms, heap +${(retained / 1e6).toFixed(1)} MB, ` +
        `array buffers +${(external / 1e6).toFixed(1)} MB (the ${(bytes.length / 1e6).toFixed(1)} MB blob is kept)`,
    );
    assert.ok(btf.typeCount > 10000);
    assert.ok(elapsed < 100, `parse took ${elapsed} ms`);
    if (gc !== undefined) assert.ok(retained < 30e6, `retained ${retained} bytes`);
  });

  it('maps vmlinux where the kernel allows it, and reads the same types as a plain read', () => {
    const mapped = (): number =>
      readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .filter((l) => l.endsWith(` ${VMLINUX}`)).length;
    const before = mapped();
    const btf = readKernelBtf(VMLINUX);
    const read = parseBtf(new Uint8Array(readFileSync(VMLINUX)));
    // Linux 6.16 and later let /sys/kernel/btf/vmlinux be mapped; older kernels are read.
    const [major, minor] = release().split('.').map(Number) as [number, number];
    if (major > 6 || (major === 6 && minor >= 16)) assert.equal(mapped(), before + 1, 'one more mapping of the file');
    assert.equal(btf.typeCount, read.typeCount);
    const task = btf.typeByName('task_struct', 'STRUCT');
    assert.deepEqual(task, read.typeByName('task_struct', 'STRUCT'));
    assert.equal(btf.strings.bytes.byteLength, read.strings.bytes.byteLength);
  });

  it('finds task_struct and its members', () => {
    const btf = readKernelBtf();
    assert.equal(readKernelBtf(), btf, 'the running kernel BTF is parsed once');
    const task = btf.typeByName('task_struct', 'STRUCT');
    const pid = findMember(btf, task.id, 'pid');
    assert.ok(pid !== undefined);
    assert.equal(resolveType(btf, pid.member.type).name, 'int');
    assert.equal(sizeOf(btf, pid.member.type), 4);
    assert.equal(pid.bitOffset % 32, 0);
    assert.ok(pid.bitOffset / 8 < task.size);
    assert.equal(btf.typesByName('pid_t', 'TYPEDEF').length, 1);
    assert.ok(btf.typesByName('bpf_prog_load', 'FUNC').length <= 1);
  });

  it('gives the same pid offset as bpftool', { skip: skipBpftool }, () => {
    const btf = readKernelBtf();
    const task = btf.typeByName('task_struct', 'STRUCT');
    const dump = bpftoolRaw(['file', VMLINUX]);
    const start = dump.indexOf(`[${task.id}] STRUCT 'task_struct' `);
    assert.ok(start >= 0, 'bpftool lists task_struct at the same id');
    const end = dump.indexOf('\n[', start + 1);
    const line = dump.slice(start, end).split('\n').find((l) => l.startsWith("\t'pid' "));
    const offset = Number(/bits_offset=(\d+)/.exec(line ?? '')?.[1]);
    assert.equal(findMember(btf, task.id, 'pid')!.bitOffset, offset);
  });

  it('dumps exactly what bpftool dumps in raw format', { skip: skipBpftool }, () => {
    const ours = formatRaw(readKernelBtf()).split('\n');
    const theirs = bpftoolRaw(['file', VMLINUX]).split('\n');
    assert.equal(ours.length, theirs.length);
    const first = ours.findIndex((l, i) => l !== theirs[i]);
    assert.equal(first, -1, `first difference at line ${first + 1}: ${ours[first]} / ${theirs[first]}`);
  });

  it('marshals back to the identical blob', () => {
    const bytes = new Uint8Array(readFileSync(VMLINUX));
    assert.ok(Buffer.from(marshalBtf(parseBtf(bytes))).equals(bytes));
  });

  it('parses module BTF split on top of vmlinux', (t) => {
    const modules = readdirSync(KERNEL_BTF_DIR).filter((name) => name !== 'vmlinux');
    if (modules.length === 0) {
      t.skip('no module BTF in /sys/kernel/btf (no modules with BTF loaded)');
      return;
    }
    const base = readKernelBtf();
    for (const name of modules.slice(0, 5)) {
      const mod = readModuleBtf(name, base);
      assert.equal(mod.firstTypeId, base.nextTypeId, name);
      for (const ty of mod.types()) void ty;
      if (!skipBpftool) {
        assert.equal(formatRaw(mod), bpftoolRaw(['-B', VMLINUX, 'file', join(KERNEL_BTF_DIR, name)]), name);
      }
    }
  });

  it('formats a vmlinux.h that clang compiles into a CO-RE program', { skip: skipClang }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'btf-vmlinux-'));
    try {
      writeFileSync(join(dir, 'vmlinux.h'), formatC(readKernelBtf()));
      copyFileSync(fixturePath('core.bpf.c'), join(dir, 'core.bpf.c'));
      execFileSync(
        CLANG,
        ['-target', 'bpf', '-O2', '-g', '-D__TARGET_ARCH_x86', '-Werror', '-c', 'core.bpf.c', '-o', 'core.bpf.o'],
        { cwd: dir, stdio: 'pipe' },
      );
      const elf = parseElf(new Uint8Array(readFileSync(join(dir, 'core.bpf.o'))));
      const local = parseBtf(elf.sectionData(elf.section('.BTF')!));
      const ext = parseBtfExt(elf.sectionData(elf.section('.BTF.ext')!), local);
      const relos = ext.coreRelos.get('tp_btf/sched_process_exec') ?? [];
      const accessed = relos.map((r) => `${local.type(r.typeId).name}:${r.accessString}`);
      const kernel = readKernelBtf();
      const task = kernel.typeByName('task_struct', 'STRUCT');
      const index = (name: string): number => task.members.findIndex((m) => m.name === name);
      assert.ok(accessed.includes(`task_struct:0:${index('pid')}`), accessed.join(' '));
      assert.ok(accessed.includes(`task_struct:0:${index('real_parent')}`), accessed.join(' '));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
