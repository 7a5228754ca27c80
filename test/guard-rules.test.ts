// guard's rule language without the kernel: loading, validation errors, every operator,
// macros, lists, exceptions, override and append, output formatting, enforcement planning.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { containerOf } from '../src/tools/common/container.js';
import { ProcessTable } from '../src/tools/common/process-table.js';
import { defaultRulesFile } from '../src/tools/guard/default-rules.js';
import { EnforcementRefused, planEnforcement } from '../src/tools/guard/enforce.js';
import { alertLine, GuardEngine } from '../src/tools/guard/engine.js';
import { decodeEvent, EXEC_EVENT_SIZE, FLAG_ARGS_TRUNCATED, HDR_SIZE, KIND_EXEC, KIND_SYSCALL, SYS_EVENT_SIZE, type GuardEvent } from '../src/tools/guard/event.js';
import { eventHdrCodec, execEventCodec, sockTupleCodec, sysEventCodec } from '../src/tools/guard/guard_bpf.js';
import { RuleError } from '../src/tools/guard/errors.js';
import { loadRules, RuleLoader, type RuleSet } from '../src/tools/guard/loader.js';
import { pathFilter, pathPrefixes } from '../src/tools/guard/prefilter.js';
import { neededSyscalls } from '../src/tools/guard/session.js';
import { SYSCALL_BY_NAME } from '../src/tools/guard/syscalls.js';

const dir = mkdtempSync(join(tmpdir(), 'guard-rules-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
function file(text: string): string {
  const f = join(dir, `rules${fileNo++}.yaml`);
  writeFileSync(f, text);
  return f;
}

function rulesOf(...texts: string[]): RuleSet {
  return loadRules(texts.map(file));
}

const PID = 4242;

function table(): ProcessTable {
  const t = new ProcessTable('/nonexistent-proc');
  const base = { uid: 1000, gid: 1000, loginuid: 1000, tty: 0, sid: 1, vpid: 1, startNs: 0n };
  t.exec({ ...base, pid: 1, ppid: 0, name: 'init', exepath: '/sbin/init', argv: ['/sbin/init'], cwd: '/' });
  t.exec({ ...base, pid: 100, ppid: 1, name: 'nginx', exepath: '/usr/sbin/nginx', argv: ['nginx', '-g', 'daemon off;'], cwd: '/' });
  t.exec({ ...base, pid: PID, ppid: 100, name: 'cat', exepath: '/usr/bin/cat', argv: ['cat', '/etc/shadow'], cwd: '/home/u' });
  return t;
}

function syscall(name: string, over: Partial<GuardEvent> = {}): GuardEvent {
  const info = SYSCALL_BY_NAME.get(name)!;
  return {
    kind: KIND_SYSCALL, nr: info.nr, type: name, tsNs: 1n, cgroupId: 1n, capEffective: 0n, startNs: 0n, ret: 3,
    args: [0n, 0n, 0n, 0n, 0n, 0n], pid: PID, tid: PID, ppid: 100, uid: 1000, gid: 1000, euid: 1000, loginuid: 1000,
    sid: 1, vpid: PID, tty: 0, flags: 0, aux: 0, comm: 'cat', ...over,
  };
}

function openat(path: string, flags = 0, ret = 3): GuardEvent {
  return syscall('openat', { str1: path, str2: '', args: [BigInt.asUintN(64, -100n), 0n, BigInt(flags), 0n, 0n, 0n], ret });
}

function fire(set: RuleSet, e: GuardEvent): string[] {
  return new GuardEngine(set, table()).handle(e).map((a) => a.rule);
}

/** A one-rule file with the condition; whether it matches the event. */
function matches(condition: string, e: GuardEvent, extra = ''): boolean {
  const set = rulesOf(`${extra}\n- rule: r\n  desc: d\n  condition: ${JSON.stringify(condition)}\n  output: o\n  priority: WARNING\n`);
  return fire(set, e).includes('r');
}

describe('guard rules: operators on real event shapes', () => {
  const e = openat('/etc/shadow');
  const cases: Array<[string, boolean]> = [
    ['fd.name = /etc/shadow', true],
    ['fd.name == /etc/shadow', true],
    ['fd.name != /etc/shadow', false],
    ['fd.num < 4', true],
    ['fd.num <= 3', true],
    ['fd.num > 3', false],
    ['fd.num >= 3', true],
    ['fd.name contains shad', true],
    ['fd.name icontains SHAD', true],
    ['fd.name startswith /etc/', true],
    ['fd.name endswith adow', true],
    ['fd.name glob "/etc/sh*"', true],
    ['fd.name glob "/etc/?hadow"', true],
    ['fd.name glob "/usr/*"', false],
    ['fd.name in (/etc/passwd, /etc/shadow)', true],
    ['fd.name pmatch (/etc)', true],
    ['fd.name pmatch (/et)', false],
    ['fd.name exists', true],
    ['fd.sip exists', false],
    ['fd.name regex "/etc/s.*w"', true],
    ['fd.name regex "s.*w"', false],
    ['fd.filename = shadow and fd.directory = /etc', true],
    ['not fd.name = /etc/shadow or proc.name = cat', true],
    ['(fd.name = /x or fd.name = /etc/shadow) and not proc.name = ls', true],
    ['evt.type = openat and evt.dir = <', true],
    ['evt.is_open_read = true and evt.is_open_write = false', true],
    ['evt.arg.flags = O_RDONLY', true],
    ['evt.res = SUCCESS and evt.rawres = 3', true],
    ['proc.pname = nginx and proc.aname[2] = init and proc.aname = init', true],
    ['proc.apid[1] = 100', true],
    ['proc.cmdline = "cat /etc/shadow"', true],
    ['proc.args = /etc/shadow', true],
    ['proc.pcmdline startswith "nginx -g"', true],
    ['tolower(proc.name) = cat and toupper(proc.name) = CAT', true],
    ['user.uid = 1000 and container.id = host', true],
    ['proc.exepath = val(proc.exepath)', true],
  ];
  for (const [cond, want] of cases) it(`${cond} is ${want}`, () => assert.equal(matches(cond, e), want));

  it('a failed open has fd.num -1; a field with no value compares false, with != too', () => {
    const failed = openat('/etc/shadow', 0, -13);
    assert.equal(matches('evt.res = EACCES and fd.num = -1 and evt.res startswith E', failed), true);
    assert.equal(matches('fd.sip != 1.2.3.4', failed), false);
    assert.equal(matches('fd.typechar = d', openat('/etc', 0o200000)), true);
  });

  it('quoted list items are condition strings', () => {
    const quoted = `- list: nets\n  items: ['"10.0.0.0/8"']\n- list: names\n  items: ['"(systemd)"', cat]\n`;
    const c = syscall('connect', { sock: { family: 2, type: 1, protocol: 6, laddr: '10.1.1.1', lport: 5, raddr: '10.2.2.2', rport: 80 }, args: [5n, 0n, 16n, 0n, 0n, 0n], ret: 0 });
    assert.equal(matches('fd.snet in (nets) and fd.connected = true and proc.name in (names)', c, quoted), true);
  });

  it('relative paths resolve against the process cwd', () => {
    assert.equal(matches('fd.name = /home/u/notes.txt and fd.nameraw = notes.txt', openat('notes.txt')), true);
  });

  it('network fields and CIDR matches on a connect', () => {
    const sa = new Uint8Array(16);
    const c = syscall('connect', {
      ret: -115,
      sock: { family: 2, type: 1, protocol: 6, laddr: '10.0.0.5', lport: 40000, raddr: '0.0.0.0', rport: 0 },
      sa: { family: 2, addr: '192.168.1.20', port: 443 },
      saRaw: sa,
      args: [5n, 0n, 16n, 0n, 0n, 0n],
    });
    assert.equal(matches('fd.sip = 192.168.1.20 and fd.sport = 443 and fd.cport = 40000 and fd.l4proto = tcp and fd.typechar = 4', c), true);
    assert.equal(matches('fd.snet in (192.168.0.0/16) and not fd.sip in (10.0.0.0/8)', c), true);
    assert.equal(matches('fd.name = "10.0.0.5:40000->192.168.1.20:443"', c), true);
    assert.equal(matches('evt.res = EINPROGRESS', c), true);
  });
});

describe('guard rules: lists, macros, exceptions, override and append', () => {
  const base = `
- list: readers
  items: [cat, less]
- list: more_readers
  items: [readers, head]
- macro: reading
  condition: evt.type = openat and evt.is_open_read = true
- rule: Read
  desc: d
  condition: reading and proc.name in (more_readers)
  output: "read %fd.name by %proc.name"
  priority: notice
  tags: [a]
`;
  it('nested lists and macros expand', () => {
    assert.deepEqual(fire(rulesOf(base), openat('/x')), ['Read']);
  });

  it('override append of a list, replace of a condition', () => {
    const set = rulesOf(base, `
- list: readers
  items: [tac]
  override:
    items: append
- rule: Read
  condition: reading and proc.name = tac
  override:
    condition: replace
`);
    assert.deepEqual(set.lists.get('more_readers'), ['cat', 'less', 'tac', 'head']);
    assert.deepEqual(fire(set, openat('/x')), []);
  });

  it('append: true adds to a condition, and enabled: false turns a rule off', () => {
    const appended = rulesOf(base, '- rule: Read\n  condition: and fd.name = /y\n  append: true\n');
    assert.deepEqual(fire(appended, openat('/x')), []);
    assert.deepEqual(fire(appended, openat('/y')), ['Read']);
    const off = rulesOf(base, '- rule: Read\n  enabled: false\n');
    assert.deepEqual(fire(off, openat('/x')), []);
  });

  it('exceptions, with one field and with tuples, and appended exception values', () => {
    const set = rulesOf(base.replace('  tags: [a]', `  tags: [a]
  exceptions:
    - name: files
      fields: fd.name
      values: [/skip1]
    - name: pairs
      fields: [proc.name, fd.directory]
      comps: [=, pmatch]
      values:
        - [cat, [/var/lib]]
`), `
- rule: Read
  exceptions:
    - name: files
      values: [/skip2]
  override:
    exceptions: append
`);
    assert.deepEqual(fire(set, openat('/skip1')), []);
    assert.deepEqual(fire(set, openat('/skip2')), []);
    assert.deepEqual(fire(set, openat('/var/lib/x/y')), []);
    assert.deepEqual(fire(set, openat('/etc/x')), ['Read']);
  });

  it('output substitutes %fields and collects them typed', () => {
    const engine = new GuardEngine(rulesOf(base), table());
    const [a] = engine.handle(openat('/etc/hosts'));
    assert.equal(a?.output, 'read /etc/hosts by cat');
    assert.deepEqual(a?.output_fields, { 'fd.name': '/etc/hosts', 'proc.name': 'cat' });
    assert.equal(a?.priority, 'Notice');
    assert.deepEqual(a?.tags, ['a']);
    assert.match(alertLine(a!), /^\d{4}-\d\d-\d\dT[\d:.]+Z Notice Read: read \/etc\/hosts by cat$/);
  });

  it('--priority drops less severe rules', () => {
    const engine = new GuardEngine(rulesOf(base), table(), { minPriority: 'Warning' });
    assert.deepEqual(engine.handle(openat('/x')), []);
  });

  it('exec events update the process table before rules see them', () => {
    const set = rulesOf('- rule: X\n  desc: d\n  condition: evt.type = execve and proc.name = sh and proc.pname = nginx and proc.cmdline = "sh -c id"\n  output: o\n  priority: info\n');
    const e: GuardEvent = { ...syscall('execve'), kind: KIND_EXEC, comm: 'sh', pid: 5000, ppid: 100, filename: '/bin/sh', exePath: '/usr/bin/dash', cwd: '/', argv: ['sh', '-c', 'id'] };
    assert.deepEqual(fire(set, e), ['X']);
  });
});

describe('guard rules: validation errors name file, line, item and reason', () => {
  const bad: Array<[string, string, RegExp]> = [
    ['unknown field', '- rule: A\n  desc: d\n  condition: proc.nmae = x\n  output: o\n  priority: info\n', /:3:14: rule 'A': unknown field 'proc\.nmae'/],
    ['undefined macro', '- rule: A\n  desc: d\n  condition: evt.type = open and no_such_macro\n  output: o\n  priority: info\n', /:3:34: rule 'A': undefined macro 'no_such_macro'/],
    ['syntax', '- rule: A\n  desc: d\n  condition: (proc.name = x\n  output: o\n  priority: info\n', /:3:\d+: rule 'A': expected '\)'/],
    ['operator', '- rule: A\n  desc: d\n  condition: proc.name like x\n  output: o\n  priority: info\n', /:3:24: rule 'A': expected an operator after proc\.name but found 'like'/],
    ['number', '- rule: A\n  desc: d\n  condition: proc.pid > abc\n  output: o\n  priority: info\n', /rule 'A': 'abc' is not a number/],
    ['output field', '- rule: A\n  desc: d\n  condition: proc.pid > 1\n  output: "x %proc.nope y"\n  priority: info\n', /:4:14: rule 'A': output: unknown field 'proc\.nope'/],
    ['priority', '- rule: A\n  desc: d\n  condition: proc.pid > 1\n  output: o\n  priority: loud\n', /:5:13: rule 'A': unknown priority 'loud'/],
    ['missing key', '- rule: A\n  desc: d\n  output: o\n  priority: info\n', /:1:3: rule 'A': 'condition' is missing/],
    ['unknown key', '- rule: A\n  desc: d\n  condition: proc.pid > 1\n  outptu: o\n  priority: info\n', /:4:3: rule 'A': unknown key 'outptu'/],
    ['append to nothing', '- rule: A\n  condition: and x\n  append: true\n', /rule 'A': appends to a rule that is not defined before/],
    ['macro loop', '- macro: a\n  condition: b\n- macro: b\n  condition: a\n', /macro 'a': .*refers to itself/],
    ['engine version', '- required_engine_version: 99.0.0\n', /required_engine_version 99\.0\.0 is newer/],
    ['yaml', '- rule: A\n  desc: [\n', /:\d+:\d+: YAML: /],
    ['bad regex', '- rule: A\n  desc: d\n  condition: proc.name regex "("\n  output: o\n  priority: info\n', /bad regular expression/],
  ];
  for (const [what, text, re] of bad) {
    it(what, () => {
      const f = file(text);
      assert.throws(() => loadRules([f]), (err: unknown) => err instanceof RuleError && err.code === 'EINVAL' && err.message.startsWith(f) && re.test(err.message));
    });
  }

  it('an error in an appended condition points into the file that appended it', () => {
    const a = file('- rule: A\n  desc: d\n  condition: proc.pid > 1\n  output: o\n  priority: info\n');
    const b = file('\n- rule: A\n  condition: and proc.bogus = 1\n  append: true\n');
    assert.throws(() => loadRules([a, b]), (err: unknown) => err instanceof RuleError && err.file === b && err.line === 3);
  });
});

describe('guard rules: the default rules', () => {
  it('load, every rule names its system calls, none matches any event type', () => {
    const set = loadRules([defaultRulesFile()]);
    assert.ok(set.rules.length >= 12);
    for (const r of set.rules) assert.ok(r.evtTypes !== undefined && r.evtTypes.size > 0, r.name);
    assert.deepEqual(set.warnings, []);
  });

  it('a rules file can extend a default list', () => {
    const loader = new RuleLoader();
    loader.addFile(defaultRulesFile());
    loader.addText('mine.yaml', '- list: trusted_shadow_readers\n  items: [cat]\n  override:\n    items: append\n');
    assert.deepEqual(fire(loader.compile(), openat('/etc/shadow')), []);
  });
});

describe('guard enforcement planning', () => {
  const rule = (cond: string, action = 'kill'): RuleSet => rulesOf(`- list: bad\n  items: [/tmp/a, /tmp/b]\n- rule: K\n  desc: d\n  condition: ${JSON.stringify(cond)}\n  output: o\n  priority: critical\n  action: ${action}\n`);

  it('exec paths and connect destinations become kernel map entries', () => {
    const p = planEnforcement(rule('evt.type = execve and proc.exepath in (bad)'));
    assert.deepEqual(p.execKills.map((k) => [k.path, k.signal]), [['/tmp/a', 9], ['/tmp/b', 9]]);
    const c = planEnforcement(rule('evt.type = connect and fd.sip = 127.0.0.1 and fd.sport in (80, 443)', 'SIGTERM'));
    assert.deepEqual(c.connectKills.map((k) => [k.addr, k.port, k.family, k.signal]), [['127.0.0.1', 80, 2, 15], ['127.0.0.1', 443, 2, 15]]);
  });

  it('deny: files, directories and process names for opens, exact paths for execs', () => {
    const p = planEnforcement(rule('evt.type in (open, openat) and fd.directory in (/srv/keys) and not proc.name in (sshd)', 'deny'));
    assert.deepEqual(p.denies, [{ rule: 'K', kind: 'open', files: [], dirs: ['/srv/keys'], names: { list: ['sshd'], negated: true } }]);
    const x = planEnforcement(rule('evt.type = execve and proc.exepath in (bad)', 'deny'));
    assert.deepEqual(x.denies.map((d) => [d.kind, d.files]), [['exec', ['/tmp/a', '/tmp/b']]]);
  });

  it('a condition the kernel cannot decide exactly is refused with the reason', () => {
    assert.throws(() => planEnforcement(rule('evt.type = execve and proc.exepath = /tmp/a and proc.pname = bash')), (e: unknown) => e instanceof EnforcementRefused && /proc\.pname =/.test(e.message));
    assert.throws(() => planEnforcement(rule('evt.type = execve and proc.exepath startswith /tmp')), /proc\.exepath startswith/);
    assert.throws(() => planEnforcement(rule('evt.type = openat and fd.name = /etc/shadow')), /exec|connect/);
    assert.throws(() => planEnforcement(rule('evt.type = openat and fd.name = /etc/shadow and evt.is_open_read = true', 'deny')), /evt\.is_open_read =.*fanotify decides/);
    assert.throws(() => planEnforcement(rule('evt.type = execve and proc.exepath = /tmp/a and proc.name = sh', 'deny')), /exact path only/);
    assert.throws(() => rule('evt.type = execve', 'explode'), /action 'explode'/);
    assert.throws(() => planEnforcement(rule('evt.type = socket and evt.arg.domain = AF_PACKET', 'deny')), /sees only AF_INET and AF_INET6 sockets; use action: kill/);
    assert.match(planEnforcement(rule('evt.type = socket and evt.arg.domain = AF_PACKET')).notes[0]!, /never returns to use it/);
    assert.throws(() => planEnforcement(rule('evt.type = bind and fd.sport = 80 and proc.name = nc')), /proc\.name =/);
  });
});

describe('guard path prefixes for the kernel filter', () => {
  const prefixes = (cond: string): string[] | undefined => {
    const set = rulesOf(`- list: dirs\n  items: [/usr/bin, /opt]\n- macro: opens\n  condition: evt.type in (open, openat)\n- rule: P\n  desc: d\n  condition: ${JSON.stringify(cond)}\n  output: o\n  priority: info\n`);
    return pathPrefixes(set.rules[0]!.exprTree, set);
  };

  it('names, lists, directories, globs, through and/or and macros', () => {
    assert.deepEqual(prefixes('opens and fd.name = /etc/shadow'), ['/etc/shadow']);
    assert.deepEqual(prefixes('opens and fd.directory pmatch (dirs)'), ['/usr/bin', '/opt']);
    assert.deepEqual(prefixes('opens and fd.directory = /etc'), ['/etc/']);
    assert.deepEqual(prefixes('opens and (fd.name startswith /var/log or fd.name glob "/tmp/x*")'), ['/var/log', '/tmp/x']);
  });

  it('anything that does not confine the path leaves the call unfiltered', () => {
    assert.equal(prefixes('opens and proc.name = cat'), undefined);
    assert.equal(prefixes('opens and not fd.name = /etc/shadow'), undefined);
    assert.equal(prefixes('opens and (fd.name = /etc/shadow or proc.name = cat)'), undefined);
    assert.equal(prefixes('opens and fd.name contains shadow'), undefined);
    assert.equal(prefixes('opens and fd.name glob "*shadow"'), undefined);
  });

  it('the default rules filter the open and unlink calls, and only them', () => {
    const set = loadRules([defaultRulesFile()]);
    const f = pathFilter(set, neededSyscalls(set, undefined));
    assert.deepEqual(f.syscalls.map((s) => s.name), ['open', 'openat', 'openat2', 'unlink', 'unlinkat']);
    assert.ok(f.prefixes.includes('/etc/shadow') && f.prefixes.includes('/var/log') && f.prefixes.includes('/usr/bin'));
  });
});

describe('guard records: the fixed offsets agree with the object\'s BTF', () => {
  const hdr = {
    ts_ns: 11n, cgroup_id: 22n, cap_effective: 1n << 21n, start_ns: 33n, ret: -2n, args: [1n, 2n, 3n, 4n, 5n, 6n] as [bigint, bigint, bigint, bigint, bigint, bigint],
    kind: KIND_SYSCALL, nr: 257, pid: 10, tid: 11, ppid: 12, uid: 13, gid: 14, euid: 15, loginuid: 16, sid: 17, vpid: 18, tty: 19, flags: FLAG_ARGS_TRUNCATED, aux: 20, comm: 'cat',
  };

  it('a sys_event record decodes to what the generated codec wrote', () => {
    const bytes = new Uint8Array(sysEventCodec.size);
    assert.equal(bytes.length, SYS_EVENT_SIZE);
    assert.equal(eventHdrCodec.size, HDR_SIZE);
    const sock = { laddr: new Uint8Array([127, 0, 0, 1, ...new Array(12).fill(0)]), raddr: new Uint8Array([10, 0, 0, 2, ...new Array(12).fill(0)]), lport: 4000, rport: 80, family: 2, type_: 1, protocol: 6, valid: 1 };
    assert.equal(sockTupleCodec.size, 44);
    const sa = new Uint8Array(112);
    sa.set([2, 0, 0, 80, 10, 0, 0, 2]);
    sysEventCodec.encodeAt({ h: hdr, sock, salen: 16, pad: 0, sa, str1: '/etc/shadow', str2: 'b' }, bytes, 0);
    const e = decodeEvent(bytes, 0, bytes.length);
    assert.deepEqual([e.kind, e.type, e.tsNs, e.cgroupId, e.ret, e.args, e.pid, e.tid, e.ppid, e.uid, e.gid, e.euid, e.loginuid, e.sid, e.vpid, e.tty, e.flags, e.aux, e.comm], [KIND_SYSCALL, 'openat', 11n, 22n, -2, [1n, 2n, 3n, 4n, 5n, 6n], 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, FLAG_ARGS_TRUNCATED, 20, 'cat']);
    assert.deepEqual(e.sock, { family: 2, type: 1, protocol: 6, laddr: '127.0.0.1', lport: 4000, raddr: '10.0.0.2', rport: 80 });
    assert.deepEqual(e.sa, { family: 2, addr: '10.0.0.2', port: 80 });
    assert.equal(e.str1, '/etc/shadow');
    assert.equal(e.str2, 'b');
  });

  it('an exec_event record: filename, walked paths and argv', () => {
    const bytes = new Uint8Array(execEventCodec.size);
    assert.equal(bytes.length, EXEC_EVENT_SIZE);
    execEventCodec.encodeAt({ h: { ...hdr, kind: KIND_EXEC }, args_len: 0, pad: 0, filename: '/bin/sh', exe: '', cwd: '', args: '' }, bytes, 0);
    const walked = (at: number, parts: string[]): void => void bytes.set(Buffer.from(`${parts.join('\0')}\0`), at);
    walked(424, ['dash', 'bin', 'usr', '/']);
    walked(936, ['tmp']);
    const argv = Buffer.from('sh\0-c\0id\0');
    bytes.set(argv, 1448);
    new DataView(bytes.buffer).setUint32(160, argv.length, true);
    const e = decodeEvent(bytes, 0, bytes.length);
    assert.deepEqual([e.filename, e.exePath, e.cwd, e.argv], ['/bin/sh', '/usr/bin/dash', '/tmp', ['sh', '-c', 'id']]);
  });
});

describe('guard reads the constructs of Falco rule files', () => {
  const falcoStyle = `
- required_engine_version: 26
- list: runtimes
  items: [containerd-shim, "runc:[1:CHILD]", '"puma reactor"', '"sh -c echo \\"hi\\""']
- list: private_nets
  items: ['"10.0.0.0/8"', '"192.168.0.0/16"']
- macro: ptrace_injection
  condition: >
    (evt.type=ptrace and evt.dir=> and
    (evt.arg.request contains PTRACE_ATTACH or evt.arg.request contains PTRACE_POKETEXT))
- rule: Injection
  desc: >
    Multi-line
    description.
  condition: ptrace_injection and proc.name!="<NA>"
  output: ptrace (request=%evt.arg.request target=%evt.arg.pid %container.info exe_flags=%evt.arg.flags)
  priority:
    WARNING
  tags: [maturity_stable, host]
- rule: Packet
  desc: d
  condition: evt.type=socket and evt.arg[0] contains AF_PACKET and evt.dir=<
  output: "packet socket %evt.args"
  priority: NOTICE
- rule: Redirect
  desc: d
  condition: evt.type in (dup, dup2, dup3) and evt.rawres in (0, 1, 2) and fd.type in ("ipv4", "ipv6") and not fd.snet in (private_nets)
  output: "redirect %fd.name"
  priority: NOTICE
- rule: Listed
  desc: d
  condition: evt.type = openat and proc.pname in (runtimes) and proc.cmdline in (runtimes)
  output: o
  priority: INFO
`;

  it('loads, and each rule matches its event', () => {
    const set = rulesOf(falcoStyle);
    assert.deepEqual(set.lists.get('runtimes'), ['containerd-shim', 'runc:[1:CHILD]', 'puma reactor', 'sh -c echo "hi"']);
    const ptrace = syscall('ptrace', { args: [16n, 99n, 0n, 0n, 0n, 0n], ret: 0 });
    const engine = new GuardEngine(set, table());
    const [a] = engine.handle(ptrace);
    assert.equal(a?.rule, 'Injection');
    assert.equal(a?.output, 'ptrace (request=PTRACE_ATTACH target=99 host exe_flags=<NA>)');
    assert.deepEqual(fire(set, syscall('socket', { args: [17n, 3n, 0n, 0n, 0n, 0n], ret: 4 })), ['Packet']);
    const sock = { family: 2, type: 1, protocol: 6, laddr: '10.1.1.1', lport: 5555, raddr: '203.0.113.7', rport: 4444 };
    assert.deepEqual(fire(set, syscall('dup2', { args: [3n, 0n, 0n, 0n, 0n, 0n], ret: 0, sock })), ['Redirect']);
    assert.deepEqual(fire(set, syscall('dup2', { args: [3n, 0n, 0n, 0n, 0n, 0n], ret: 0, sock: { ...sock, raddr: '10.9.9.9' } })), []);
  });
});

describe('guard containers: ids from cgroup paths, names from the runtime and the kubelet', () => {
  it('docker scopes, and kubepods paths named by the kubelet log directories', () => {
    const id = 'ab'.repeat(32);
    const docker = containerOf(`0::/system.slice/docker-${id}.scope\n`, join(dir, 'no-logs'));
    assert.deepEqual([docker?.id, docker?.runtime, docker?.podName], [id.slice(0, 12), 'docker', undefined]);
    const uid = '1234abcd-0000-1111-2222-333344445555';
    const cid = 'cd'.repeat(32);
    const logs = join(dir, 'kubelet-logs');
    mkdirSync(join(logs, 'pods', `shop_cart-7d9f_${uid}`), { recursive: true });
    mkdirSync(join(logs, 'containers'), { recursive: true });
    writeFileSync(join(logs, 'containers', `cart-7d9f_shop_web-${cid}.log`), '');
    const kube = containerOf(`0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replaceAll('-', '_')}.slice/cri-containerd-${cid}.scope\n`, logs);
    assert.deepEqual([kube?.id, kube?.runtime, kube?.podUid, kube?.podNamespace, kube?.podName, kube?.name], [cid.slice(0, 12), 'containerd', uid, 'shop', 'cart-7d9f', 'web']);
    assert.equal(containerOf('0::/user.slice/user-0.slice/session-1.scope\n'), undefined);
  });
});
