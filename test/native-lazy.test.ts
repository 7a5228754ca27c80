import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { loadNative, NATIVE_METHODS } from '../src/sys/native.js';
import { packageRoot } from '../src/sys/package.js';

test('the method list is every function of the addon', () => {
  const addon = loadNative() as unknown as Record<string, unknown>;
  const functions = Object.getOwnPropertyNames(addon).filter((k) => typeof addon[k] === 'function').sort();
  assert.deepEqual([...NATIVE_METHODS].sort(), functions);
});

test('importing the loader does not load the addon; the first system call does', () => {
  // A fresh process: which shared objects it has mapped, before and after a call.
  const script = `
    const { CollectionSpec } = await import('./dist/src/object/index.js');
    const { nativeAddonPath } = await import('./dist/src/sys/native.js');
    const addon = require('node:fs').realpathSync(nativeAddonPath());
    const mapped = () => require('node:fs').readFileSync('/proc/self/maps', 'utf8').includes(addon);
    const before = mapped();
    CollectionSpec.fromFile('examples/xdp-drop/xdp_drop.bpf.o');
    const afterRead = mapped();
    const { native } = await import('./dist/src/sys/native.js');
    native.close(-1);
    console.log(JSON.stringify([before, afterRead, mapped()]));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); ${script}`], { cwd: packageRoot(), encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), [false, false, true]);
});
