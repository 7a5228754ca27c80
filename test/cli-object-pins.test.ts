// `object load --pin DIR` twice, and `object unload DIR`.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { kernelTest, uniqueName } from './helpers/kernel.js';

const XDP = 'examples/xdp-drop/xdp_drop.bpf.o';

kernelTest('a second load into the same DIR is refused before loading; object unload DIR removes the pins and DIR', () => {
  const dir = join('/sys/fs/bpf', uniqueName('tsbpfunload', 40));
  try {
    const first = runCli(['object', 'load', XDP, '--pin', dir]);
    assert.equal(first.status, 0, first.stderr);
    const pins = [...readdirSync(dir), ...readdirSync(join(dir, 'maps'))].sort();
    const second = runCli(['object', 'load', XDP, '--pin', dir]);
    assert.equal(second.status, 1);
    assert.equal(second.stderr, `tsbpf object load: ${dir} is already used by an earlier load (it holds ${join(dir, 'xdp_drop_udp')} and 2 more); run \`tsbpf object unload ${dir}\` first, or pin elsewhere [EEXIST]\n`);
    assert.deepEqual([...readdirSync(dir), ...readdirSync(join(dir, 'maps'))].sort(), pins);
    const unload = runCli(['object', 'unload', dir, '--json']);
    assert.equal(unload.status, 0, unload.stderr);
    assert.deepEqual((JSON.parse(unload.stdout) as { removed: string[] }).removed.sort(), [join(dir, 'maps', '_rodata'), join(dir, 'maps', 'stats'), join(dir, 'xdp_drop_udp')]);
    assert.equal(existsSync(dir), false);
    const again = runCli(['object', 'unload', dir]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /no such directory \(nothing is pinned there\) \[ENOENT\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

kernelTest('object unload removes nothing from a DIR that holds what a load does not make, or that is not on bpffs', () => {
  const dir = join('/sys/fs/bpf', uniqueName('tsbpfunload', 40));
  try {
    assert.equal(runCli(['object', 'load', XDP, '--pin', dir]).status, 0);
    mkdirSync(join(dir, 'other'));
    const r = runCli(['object', 'unload', dir]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /holds .*\/other, which object load does not make; nothing was removed \[ENOTEMPTY\]/);
    assert.ok(existsSync(join(dir, 'xdp_drop_udp')));
    const tmp = runCli(['object', 'unload', '/tmp']);
    assert.equal(tmp.status, 1);
    assert.match(tmp.stderr, /\/tmp is not on a BPF filesystem/);
    assert.equal(runCli(['object', 'unload']).status, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
