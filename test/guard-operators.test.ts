// The rule language on real events: one child process opens a file and connects, and a rule
// file with a rule per operator, list, macro, exception and override decides which fire.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe } from 'node:test';
import type { Alert } from '../src/tools/guard/engine.js';
import type { GuardEvent } from '../src/tools/guard/event.js';
import { loadRules } from '../src/tools/guard/loader.js';
import { GuardSession } from '../src/tools/guard/session.js';
import { kernelTest } from './helpers/kernel.js';

const dir = mkdtempSync(join(tmpdir(), 'guard-ops-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('guard rules on real events', () => {
  kernelTest('each operator, list, macro, exception and override decides on a real open and connect', async () => {
    const target = join(dir, 'Target-File.txt');
    writeFileSync(target, 'x');
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const open = 'evt.type in (open, openat, openat2) and fd.num >= 0';
    // [rule name, condition, fires?]
    const cases: Array<[string, string, boolean]> = [
      ['eq', `${open} and fd.name = ${target}`, true],
      ['ne', `${open} and fd.filename = Target-File.txt and fd.name != ${target}`, false],
      ['lt', `${open} and fd.num < 100000`, true],
      ['gt', `${open} and fd.num > 100000`, false],
      ['contains', `${open} and fd.name contains Target-`, true],
      ['icontains', `${open} and fd.name icontains target-file`, true],
      ['startswith', `${open} and fd.name startswith ${dir}/`, true],
      ['endswith', `${open} and fd.name endswith .txt`, true],
      ['glob', `${open} and fd.name glob "${dir}/*-File.*"`, true],
      ['in', `${open} and fd.filename in (nothing, Target-File.txt)`, true],
      ['in-list', `${open} and fd.directory in (test_dirs)`, true],
      ['pmatch', `${open} and fd.name pmatch (${dir})`, true],
      ['exists', `${open} and fd.name exists and not fd.sip exists`, true],
      ['regex', `${open} and fd.filename regex "T[a-z]+-F.*"`, true],
      ['macro', 'opened_target and proc.name = python3', true],
      ['not', `${open} and fd.name = ${target} and not proc.name = python3`, false],
      ['or', `(${open} and fd.name = /nope) or (${open} and fd.name = ${target})`, true],
      ['ancestors', `${open} and fd.name = ${target} and proc.aname exists and proc.pid = val(thread.tid)`, true],
      ['excepted', `${open} and fd.name = ${target}`, false],
      ['overridden', `${open} and fd.name = /never`, true],
      ['appended', `${open} and fd.name startswith ${dir}`, false],
      ['connect', `evt.type = connect and fd.sip = 127.0.0.1 and fd.sport = ${port} and fd.snet in (127.0.0.0/8) and fd.l4proto = tcp and evt.res = SUCCESS`, true],
      ['connect-cidr-miss', `evt.type = connect and fd.snet in (10.0.0.0/8)`, false],
    ];
    const text = [
      `- list: test_dirs\n  items: [/nope, ${dir}]\n`,
      `- macro: opened_target\n  condition: ${open} and fd.name = ${target}\n`,
      ...cases.map(([name, cond]) => `- rule: ${name}\n  desc: d\n  condition: ${JSON.stringify(cond)}\n  output: "%proc.name %fd.name"\n  priority: info\n${name === 'excepted' ? `  exceptions:\n    - name: py\n      fields: [proc.name, fd.directory]\n      values:\n        - [python3, ${dir}]\n` : ''}`),
      `- rule: overridden\n  condition: ${JSON.stringify(`${open} and fd.name = ${target}`)}\n  override:\n    condition: replace\n`,
      `- rule: appended\n  condition: and fd.name = /never\n  append: true\n`,
    ].join('');
    const file = join(dir, 'ops.yaml');
    writeFileSync(file, text);
    const fired = new Set<string>();
    let child: ReturnType<typeof spawn> | undefined;
    const s = await GuardSession.open({
      rules: loadRules([file]),
      onAlert: (a: Alert, e: GuardEvent) => {
        if (child !== undefined && e.pid === child.pid) fired.add(a.rule);
      },
    });
    try {
      child = spawn('python3', ['-c', `import socket\nopen(${JSON.stringify(target)}).read()\nsocket.create_connection(('127.0.0.1', ${port})).close()\n`], { stdio: 'ignore' });
      const code = await new Promise<number | null>((r) => child!.on('exit', r));
      assert.equal(code, 0);
      assert.ok(await s.waitForExit(child.pid!));
    } finally {
      s.close();
      server.close();
    }
    const want = cases.filter(([, , f]) => f).map(([n]) => n).sort();
    assert.deepEqual([...fired].sort(), want);
  });
});
