// The addon ships prebuilt for linux-x64 (prebuilds/), so installing needs no C compiler there:
// npm's install script (node-gyp-build) loads the prebuilt binary and builds only when none fits.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../src/sys/package.js';

const root = packageRoot();
const fits = process.platform === 'linux' && process.arch === 'x64' && !existsSync('/etc/alpine-release');

describe('the prebuilt addon', { skip: !fits && `no prebuilt binary is shipped for ${process.platform}-${process.arch}` }, () => {
  it('is committed for linux-x64 and loads on its own (no build/ directory)', () => {
    const r = spawnSync(process.execPath, ['-e', `const a = require('node-gyp-build')(${JSON.stringify(root)}); process.stdout.write(String(a.constants.PAGE_SIZE))`], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, PREBUILDS_ONLY: '1' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\d+$/);
  });

  it("npm's install script takes it where there is no compiler, make, python or node-gyp", () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-install-'));
    try {
      cpSync(join(root, 'package.json'), join(dir, 'package.json'));
      cpSync(join(root, 'prebuilds'), join(dir, 'prebuilds'), { recursive: true });
      cpSync(join(root, 'node_modules', 'node-gyp-build'), join(dir, 'node_modules', 'node-gyp-build'), { recursive: true });
      // A PATH with node, a shell and node-gyp-build's own commands, and nothing else.
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      symlinkSync(process.execPath, join(bin, 'node'));
      symlinkSync('/bin/sh', join(bin, 'sh'));
      for (const cmd of ['node-gyp-build', 'node-gyp-build-test']) symlinkSync(join(dir, 'node_modules', 'node-gyp-build', cmd === 'node-gyp-build' ? 'bin.js' : 'build-test.js'), join(bin, cmd));
      const r = spawnSync('/bin/sh', ['-c', 'node-gyp-build'], { cwd: dir, encoding: 'utf8', env: { PATH: bin, HOME: dir } });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      assert.equal(existsSync(join(dir, 'build')), false, 'nothing was compiled');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
