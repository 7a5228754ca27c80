// Run-time compilation (compile(), like BCC's BPF(text=...)) and `tsbpf compile`.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { command } from '../src/cli/compile.js';
import { CompileError, compile, compileToObject } from '../src/compile.js';
import { GenError } from '../src/codegen/errors.js';
import { ProgramType } from '../src/sys/types.js';
import { requireBpfToolchain, requireRoot } from './helpers/kernel.js';
import { runCliInProcess } from './helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'tsbpf-compile-'));
after(() => rmSync(work, { recursive: true, force: true }));

const XDP = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile int verdict = XDP_PASS;
__u64 runs;

SEC("xdp")
int decide(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&runs, 1);
	return verdict;
}

char LICENSE[] SEC("license") = "GPL";
`;


describe('compile()', () => {
  it('turns C text into a CollectionSpec', async (t) => {
    if (!requireBpfToolchain(t)) return;
    const spec = await compile(XDP);
    assert.deepEqual(Object.keys(spec.programs), ['decide']);
    assert.equal(spec.programs.decide!.type, ProgramType.XDP);
    assert.equal(spec.variables.verdict?.constant, true);
    assert.equal(spec.license, 'GPL');
  });

  it('gives clang diagnostics with the name and line in a CompileError', async (t) => {
    if (!requireBpfToolchain(t)) return;
    await assert.rejects(compile('int main(void) {\n  return nope;\n}\n', { name: 'broken.bpf.c' }), (err: unknown) => {
      assert.ok(err instanceof CompileError);
      assert.equal(err.code, 'ECOMPILE');
      assert.match(err.diagnostics, /^broken\.bpf\.c:2:10: error: use of undeclared identifier 'nope'/m);
      assert.doesNotMatch(err.diagnostics, /tsbpf-compile-/, 'no temporary paths');
      return true;
    });
  });

  it('takes extra flags and include directories', async (t) => {
    if (!requireBpfToolchain(t)) return;
    const inc = join(work, 'inc');
    mkdirSync(inc, { recursive: true });
    writeFileSync(join(inc, 'answer.h'), '#define ANSWER_BASE 40\n');
    const object = await compileToObject('#include "answer.h"\nint answer = ANSWER_BASE + EXTRA;\nchar LICENSE[] __attribute__((section("license"))) = "GPL";\n', { includeDirs: [inc], cflags: ['-DEXTRA=2'] });
    assert.equal(object[0], 0x7f);
  });

  it('says how to install clang when it is missing', async () => {
    await assert.rejects(compile(XDP, { clang: join(work, 'no-such-clang') }), (err: unknown) => err instanceof GenError && err.code === 'ENOENT' && /is not an executable/.test(err.message));
    const saved = process.env.PATH;
    process.env.PATH = work;
    try {
      await assert.rejects(compile(XDP), /apt-get install clang-19 llvm-19 libbpf-dev/);
    } finally {
      process.env.PATH = saved;
    }
  });

  it('loads and runs what it compiled', async (t) => {
    if (!requireBpfToolchain(t) || !requireRoot(t)) return;
    const spec = await compile(XDP);
    spec.rewriteConstants({ verdict: 1 });
    using coll = spec.load();
    const r = coll.programs.decide!.testRun({ data: new Uint8Array(64), repeat: 3 });
    assert.equal(r.retval, 1);
    assert.equal(coll.variables.runs!.value, 3n);
  });
});

describe('tsbpf compile', () => {
  it('writes the object, or nothing with diagnostics', async (t) => {
    if (!requireBpfToolchain(t)) return;
    const src = join(work, 'ok.bpf.c');
    writeFileSync(src, XDP);
    const out = join(work, 'ok.o');
    const ok = await runCliInProcess([src, '-o', out], { command });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(readFileSync(out)[0], 0x7f);

    const bad = join(work, 'bad.bpf.c');
    writeFileSync(bad, 'int f(void) { return missing; }\n');
    const dir = mkdtempSync(join(work, 'out-'));
    const failed = await runCliInProcess([bad, '-o', join(dir, 'bad.o')], { command });
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /bad\.bpf\.c:1:22: error: use of undeclared identifier 'missing'/);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('requires -o', async () => {
    await assert.rejects(runCliInProcess([join(work, 'x.bpf.c')], { command }), /-o <out\.o> is required/);
  });
});
