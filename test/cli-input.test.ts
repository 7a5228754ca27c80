// Bad input to the command line: values that do not fit, files that are not what a command reads.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse } from '../src/cli/framework/index.js';
import { UsageError } from '../src/cli/framework/index.js';
import { FileError, readRegularFile } from '../src/sys/readfile.js';
import { runCli } from './helpers/cli.js';
import { kernelTest } from './helpers/kernel.js';

const XDP = 'examples/xdp-drop/xdp_drop.bpf.o';
const dir = mkdtempSync(join(tmpdir(), 'tsbpf-input-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function fifo(): string {
  const path = join(dir, `fifo${Math.random().toString(36).slice(2)}`);
  execFileSync('mkfifo', [path]);
  return path;
}

describe('input files', () => {
  test('readRegularFile refuses directories, devices and FIFOs without reading them, with the errno as code', () => {
    const refused = (path: string, code: string, reason: RegExp): void => {
      assert.throws(() => readRegularFile(path), (e: unknown) => e instanceof FileError && e.code === code && reason.test(e.reason) && e.message.startsWith(`${path}: `), path);
    };
    refused(dir, 'EISDIR', /^is a directory$/);
    refused('/dev/zero', 'EINVAL', /^is a character device, not a regular file$/);
    refused(fifo(), 'EINVAL', /^is a FIFO, not a regular file$/);
    refused(join(dir, 'missing'), 'ENOENT', /^no such file$/);
    const small = join(dir, 'small');
    writeFileSync(small, 'hello');
    assert.equal(readRegularFile(small).toString(), 'hello');
    assert.throws(() => readRegularFile(small, 4), (e: unknown) => e instanceof FileError && e.code === 'EFBIG' && e.reason === 'is 5 bytes; the most read is 4');
  });

  test('object inspect and usdt list refuse /dev/zero and a FIFO at once (they read without end before)', () => {
    for (const path of ['/dev/zero', fifo()]) {
      for (const args of [['object', 'inspect', path], ['usdt', 'list', path]]) {
        const r = runCli(args, { timeoutMs: 20_000 });
        assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /not a regular file \[EINVAL\]\n$/);
      }
    }
  });

  test('an error reading a file carries its own code, not ENOENT', () => {
    for (const args of [['btf', 'dump', '--file', dir], ['object', 'inspect', dir], ['usdt', 'list', dir]]) {
      const r = runCli(args);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /is a directory \[EISDIR\]\n$/, args.join(' '));
    }
  });

  test('usdt list says a script is a script, and looks past shims on PATH for the ELF binary', () => {
    const script = join(dir, 'shim');
    writeFileSync(script, '#!/bin/sh\nexec /usr/bin/true "$@"\n');
    chmodSync(script, 0o755);
    const r = runCli(['usdt', 'list', script]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /shim not found: is a script \(#!\/bin\/sh\), not an ELF binary/);
    assert.doesNotMatch(r.stderr, /not an ELF file/);
    // A shim named like a real program, first on PATH: the program is found behind it.
    const shims = join(dir, 'bin');
    execFileSync('mkdir', ['-p', shims]);
    writeFileSync(join(shims, 'true'), '#!/bin/sh\nexec /usr/bin/true "$@"\n');
    chmodSync(join(shims, 'true'), 0o755);
    const path = runCli(['usdt', 'list', 'true', '--json'], { env: { PATH: `${shims}:/usr/bin:/bin` } });
    assert.equal(path.status, 0, path.stderr);
    assert.doesNotMatch(path.stderr, /script/);
  });
});

describe('object option values', () => {
  test('--set of an integer variable takes a number in its range, or is a usage error naming it', () => {
    for (const value of ['abc', '99999', '-1', '1.5']) {
      // Refused before anything loads: no privileges needed.
      const r = runCli(['object', 'load', XDP, '--set', `blocked_port=${value}`]);
      assert.equal(r.status, 2, r.stderr);
      assert.ok(r.stderr.includes(`--set blocked_port: expected a number 0-65535, got '${value}'`), r.stderr);
    }
  });

  test('--repeat above 2^32-1 is refused, not truncated', () => {
    for (const value of ['99999999999', '4294967296', '0', '-1', 'x']) {
      const r = runCli(['object', 'run', XDP, '--program', 'xdp_drop_udp', '--repeat', value]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /--repeat '.*': expected a number 1-4294967295/);
    }
  });

  kernelTest('--data shorter than an Ethernet header is refused for packet programs; counts are singular for one', () => {
    const short = join(dir, 'short');
    writeFileSync(short, 'abc');
    const r = runCli(['object', 'run', XDP, '--program', 'xdp_drop_udp', '--data', short]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /the packet is 3 bytes, shorter than the 14-byte Ethernet header that xdp programs need/);
    assert.doesNotMatch(r.stderr, /EINVAL/);
    const load = runCli(['object', 'load', XDP]);
    assert.equal(load.status, 0, load.stderr);
    assert.match(load.stdout, /loaded 1 program and 2 maps/);
  });
});

describe('the shared option parser', () => {
  test('a negative number after an option that takes a value is its value, for the option to judge', () => {
    const options = { repeat: { type: 'string' }, time: { type: 'string', short: 't' }, json: { type: 'boolean' } } as const;
    assert.equal(parse('x', ['--repeat', '-1'], options).values.repeat, '-1');
    assert.equal(parse('x', ['-t', '-5'], options).values.time, '-5');
    assert.equal(parse('x', ['-t', '-.5s'], options).values.time, '-.5s');
    assert.deepEqual(parse('x', ['--', '--repeat', '-1'], options).positionals, ['--repeat', '-1']);
    assert.throws(() => parse('x', ['--repeat', '-x'], options), UsageError);
  });

  test('tcptrack -t -5 and -n -1 say what is wrong with the value', () => {
    for (const [args, message] of [[['-t', '-5'], /-t '-5' must be positive/], [['-n', '-1'], /-n '-1' must be positive/]] as const) {
      const r = runCli(['tcptrack', ...args]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /ambiguous/);
    }
  });
});

describe('--set ranges', () => {
  test('signed ranges read as "from LO to HI"', async () => {
    const { checkIntegerSetting } = await import('../src/cli/settings.js');
    assert.throws(() => checkIntegerSetting('x', 'abc', 'abc', [-128n, 127n]), /--set x: expected a number from -128 to 127, got 'abc'/);
    assert.throws(() => checkIntegerSetting('x', '300', 300n, [0n, 255n]), /--set x: expected a number 0-255, got '300'/);
    assert.doesNotThrow(() => checkIntegerSetting('x', '-5', -5n, [-128n, 127n]));
    assert.doesNotThrow(() => checkIntegerSetting('x', 'abc', 'abc', undefined));
  });
});
