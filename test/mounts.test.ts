// Without bpffs and tracefs mounted (a private mount namespace where both are unmounted), pins
// and hooks either mount what they need (as root) or fail at once saying how to mount it: never
// a hang (Node's recursive mkdir loops forever on sysfs), never a half-made directory.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'node:test';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../src/sys/package.js';
import { cliArgv } from './helpers/cli.js';
import { kernelTest, uniqueName } from './helpers/kernel.js';

const root = packageRoot();
const fromTs = fileURLToPath(import.meta.url).endsWith('.ts');

// Unmounts every bpffs at /sys/fs/bpf and every tracefs (and debugfs, whose tracing directory
// mounts tracefs on access) in the namespace, then runs the snippet.
const BARE = `
set -u
for d in /sys/fs/bpf /sys/kernel/debug/tracing /sys/kernel/tracing /sys/kernel/debug; do
  while awk -v d="$d" '$2 == d { found = 1 } END { exit !found }' /proc/mounts; do umount -l "$d" || exit 90; done
done
`;

const NOBODY = 'setpriv --reuid 65534 --regid 65534 --clear-groups';

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `tsbpf args` as a shell word list. */
function tsbpf(args: string[]): string {
  return [process.execPath, ...cliArgv(args)].map(quote).join(' ');
}

/** Runs a snippet in a new mount namespace without bpffs and tracefs; 60 s at most. */
function bare(snippet: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', BARE + snippet], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.error, undefined, `the namespace's commands ended within 60 s (${String(r.error)})`);
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A node command running an ES module snippet that imports the library's `module`. */
function library(module: string, body: string): string {
  const file = fromTs ? join(root, 'src', `${module}.ts`) : join(root, 'dist', 'src', `${module}.js`);
  const code = `const m = await import(${JSON.stringify(file)}); ${body}`;
  return [process.execPath, ...(fromTs ? ['--import', 'tsx'] : []), '--input-type=module', '-e', code].map(quote).join(' ');
}

const OBJECT = join(root, 'examples', 'xdp-drop', 'xdp_drop.bpf.o');

describe('without bpffs and tracefs mounted', () => {
  kernelTest('object load --pin as a user fails at once, saying how to mount bpffs, and creates nothing', () => {
    const pin = join('/sys/fs/bpf', uniqueName('tsbpfbare', 40));
    const r = bare(`${NOBODY} ${tsbpf(['object', 'load', OBJECT, '--pin', pin])}; echo "rc=$?"; ls -d ${quote(pin)} 2>/dev/null; true`);
    assert.match(r.stdout, /^rc=1$/m, r.stderr);
    assert.match(r.stderr, /mount -t bpf bpf \/sys\/fs\/bpf/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(!r.stdout.includes(pin), 'nothing was created');
  });

  kernelTest('object load --pin as root mounts bpffs at /sys/fs/bpf, says so once, and pins there', () => {
    const pin = join('/sys/fs/bpf', uniqueName('tsbpfbare', 40));
    const r = bare(`${tsbpf(['object', 'load', OBJECT, '--pin', pin])}; echo "rc=$?"; stat -f -c 'fs=%t' /sys/fs/bpf; ls ${quote(pin)} ${quote(join(pin, 'maps'))}`);
    assert.match(r.stdout, /^rc=0$/m, r.stderr);
    assert.equal(r.stderr.match(/mounted bpf at \/sys\/fs\/bpf/g)?.length, 1, r.stderr);
    assert.match(r.stdout, /^fs=cafe4a11$/m);
    assert.match(r.stdout, /xdp_drop_udp/);
  });

  kernelTest('object load --pin outside bpffs says so before creating anything', () => {
    const dir = join(tmpdir(), uniqueName('tsbpfnotbpf', 40));
    const r = bare(`${tsbpf(['object', 'load', OBJECT, '--pin', join(dir, 'x')])}; echo "rc=$?"`);
    assert.match(r.stdout, /^rc=1$/m);
    assert.match(r.stderr, /is not on a BPF filesystem/);
    assert.equal(existsSync(dir), false);
  });

  kernelTest('map dump of a path with nothing pinned says "no such pin"', () => {
    const r = bare(`${tsbpf(['map', 'dump', '/nonexistent'])}; echo "rc=$?"`);
    assert.match(r.stdout, /^rc=1$/m);
    assert.match(r.stderr, /^tsbpf( map dump)?: no such pin: \/nonexistent( \[ENOENT\])?$/m, r.stderr);
  });

  kernelTest('the library, as a user: BpffsError and TracefsError saying how to mount, nothing made', () => {
    const dir = join('/sys/fs/bpf', uniqueName('tsbpfbare', 40), 'maps');
    const r = bare(
      `${NOBODY} ${library('map/bpffs', `try { m.makeBpffsDir(${JSON.stringify(dir)}); } catch (e) { console.log(e.name, e.code, e.message); }`)}; ` +
        `${NOBODY} ${library('link/tracefs', `try { m.tracefsRoot(); } catch (e) { console.log(e.name, e.code, e.message); }`)}; ` +
        `ls -A /sys/fs/bpf | wc -l`,
    );
    assert.match(r.stdout, /^BpffsError ENOTBPFFS .*mount -t bpf bpf \/sys\/fs\/bpf/m, r.stderr);
    assert.match(r.stdout, /^TracefsError ENOTRACEFS .*mount -t tracefs nodev \/sys\/kernel\/tracing/m, r.stderr);
    assert.match(r.stdout, /^0$/m, 'nothing was created under /sys/fs/bpf');
  });

  kernelTest('the library, as root: mounts tracefs and bpffs where they are missing', () => {
    const dir = join('/sys/fs/bpf', uniqueName('tsbpfbare', 40), 'maps');
    const r = bare(
      `${library('link/tracefs', `console.log('tracefs', m.tracefsRoot());`)}; ` +
        `${library('map/bpffs', `console.log('made', m.makeBpffsDir(${JSON.stringify(dir)}));`)}; ` +
        `stat -f -c 'fs=%t' /sys/kernel/tracing /sys/fs/bpf; ls -d ${quote(dir)}`,
    );
    assert.match(r.stdout, /^tracefs \/sys\/kernel\/tracing$/m, r.stderr);
    assert.match(r.stdout, /^fs=74726163$/m);
    assert.match(r.stdout, /^fs=cafe4a11$/m);
    assert.ok(r.stdout.includes(`made ${dir}`), r.stdout);
  });
});

describe("npm test's setup step (scripts/setup-system.mjs) without bpffs and tracefs", () => {
  const setup = [process.execPath, join(root, 'scripts', 'setup-system.mjs')].map(quote).join(' ');

  kernelTest('as a user: prints the mount commands to run, and mounts nothing', () => {
    const r = bare(`${NOBODY} ${setup}; echo "rc=$?"; stat -f -c 'fs=%t' /sys/fs/bpf`);
    assert.match(r.stdout, /^rc=0$/m, r.stderr);
    assert.match(r.stdout, /^setup-system: not mounted: bpffs at \/sys\/fs\/bpf$/m);
    assert.match(r.stdout, /^ {2}sudo mount -t bpf bpf \/sys\/fs\/bpf$/m);
    assert.match(r.stdout, /^ {2}sudo mount -t tracefs nodev \/sys\/kernel\/tracing$/m);
    assert.doesNotMatch(r.stdout, /^fs=cafe4a11$/m);
  });

  kernelTest('as root: mounts bpffs and tracefs and says so', () => {
    const r = bare(`${setup}; echo "rc=$?"; stat -f -c 'fs=%t' /sys/fs/bpf /sys/kernel/tracing`);
    assert.match(r.stdout, /^rc=0$/m, r.stderr);
    assert.match(r.stdout, /^setup-system: mounted bpffs at \/sys\/fs\/bpf$/m);
    assert.match(r.stdout, /^setup-system: mounted tracefs at \/sys\/kernel\/tracing$/m);
    assert.match(r.stdout, /^fs=cafe4a11$/m);
    assert.match(r.stdout, /^fs=74726163$/m);
  });
});
