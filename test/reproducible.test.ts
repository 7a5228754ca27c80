// `npm run build:bpf` must reproduce the committed objects on any machine and at any path: they
// are built from the committed vmlinux/x86/vmlinux.h, never from the running kernel's BTF.
// (The generated modules and gen's objects are held to the same by gen.test.ts and
// gen-corpus.test.ts.)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../src/sys/package.js';
import { requireBpfToolchain } from './helpers/kernel.js';

const root = packageRoot();

describe('reproducible BPF objects', () => {
  it('scripts/build-bpf.mjs rebuilds every committed corpus and tool object byte for byte', (t) => {
    if (!requireBpfToolchain(t)) return;
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-bpf.mjs'), '--check'], { cwd: root, encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.error, undefined);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}\nrebuild with \`npm run build:bpf\` and commit the objects`);
    assert.match(r.stdout, /, 0 failed, 0 differ from the committed ones$/m);
  });
});
