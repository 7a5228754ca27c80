// The command table, the help modules kept apart from the commands, and how verbs are found.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { COMMANDS } from '../src/cli/main.js';
import { DEFAULT_RUNTIME, EMBED_LIMIT } from '../src/codegen/generate.js';
import { packageRoot } from '../src/sys/package.js';
import { type InProcessRun, runCliInProcess } from './helpers/cli.js';

const run = (...argv: string[]): Promise<InProcessRun> => runCliInProcess(argv);

test('the table has each command module’s name and summary, and its help module the module’s help', async () => {
  for (const entry of COMMANDS) {
    const { command } = await entry.load();
    assert.equal(command.name, entry.name);
    assert.equal(command.summary, entry.summary, entry.name);
    if (entry.help !== undefined) assert.equal(command.help, (await entry.help()).HELP, entry.name);
  }
});

test('help modules import nothing, so help loads no library code', () => {
  const dir = join(packageRoot(), 'src', 'cli', 'help');
  for (const file of readdirSync(dir)) assert.doesNotMatch(readFileSync(join(dir, file), 'utf8'), /^import /m, file);
});

test("gen's help states the module's defaults", async () => {
  const help = (await import('../src/cli/help/gen.js')).HELP;
  assert.ok(help.includes(`(default '${DEFAULT_RUNTIME}')`));
  assert.ok(help.includes(`(default up to ${EMBED_LIMIT / 1024 / 1024} MiB)`));
});

test('every verb: `<cmd> <verb> --help` prints its help, and the command module takes the verb', async () => {
  for (const entry of COMMANDS) {
    const help = entry.help === undefined ? undefined : await entry.help();
    if (help?.verbs === undefined) continue;
    const { command } = await entry.load();
    for (const [verb, text] of Object.entries(help.verbs)) {
      const r = await run(entry.name, verb, '--help');
      assert.equal(r.code, 0, `${entry.name} ${verb}`);
      assert.equal(r.stdout, text);
      assert.equal((await runCliInProcess([verb, '--help'], { command })).code, 0, `${entry.name} ${verb}`);
    }
  }
});

test('a command with no verb or arguments prints its help on stderr and exits 2', async () => {
  for (const entry of COMMANDS) {
    if (entry.help === undefined) continue;
    const r = await run(entry.name);
    assert.equal(r.code, 2, entry.name);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, (await entry.help()).HELP, entry.name);
  }
});

test('verbs match by unique prefix and alias, as commands do; an ambiguous prefix says which verbs it could be', async () => {
  const load = await run('obj', 'l', '--help');
  assert.equal(load.code, 0);
  assert.match(load.stdout, /^Usage: tsbpf object load /);
  assert.match((await run('map', 'ls', '-h')).stdout, /^Usage: tsbpf map /);
  const ambiguous = await run('map', 'd', 'x');
  assert.equal(ambiguous.code, 2);
  assert.equal(ambiguous.stderr, "tsbpf map: 'd' is ambiguous: dump, delete\nsee tsbpf map --help\n");
  const unknown = await run('usdt', 'frob');
  assert.equal(unknown.stderr, "tsbpf usdt: unknown verb 'frob' (list)\nsee tsbpf usdt --help\n");
  const option = await run('object', '--json');
  assert.equal(option.code, 2);
  assert.match(option.stderr, /^tsbpf object: expected a verb \(inspect, load, run, dump, attach, unload\) before '--json'\n/);
});

test('failures and usage errors share one prefix, `tsbpf <command> <verb>:`, and the hint names the verb', async () => {
  const failure = await run('object', 'inspect', '/nonexistent/x.bpf.o');
  assert.equal(failure.code, 1);
  assert.match(failure.stderr, /^tsbpf object inspect: \/nonexistent\/x\.bpf\.o: cannot read: no such file \[ENOENT\]\n$/);
  const usage = await run('object', 'run', 'x.o');
  assert.equal(usage.code, 2);
  assert.equal(usage.stderr, 'tsbpf object run: --program NAME is required\nsee tsbpf object run --help\n');
  const top = await run('help', 'object', 'run');
  assert.match(top.stdout, /^Usage: tsbpf object run /);
});

test('main.ts and entry.ts import no tsbpf module at start (types only; the rest on use)', () => {
  const dir = join(packageRoot(), 'src', 'cli');
  const main = readFileSync(join(dir, 'main.ts'), 'utf8');
  for (const line of main.split('\n').filter((l) => /^import /.test(l) && /from '\./.test(l))) assert.match(line, /^import type /, line);
  const entry = readFileSync(join(dir, 'entry.ts'), 'utf8');
  assert.deepEqual(entry.split('\n').filter((l) => /^import /.test(l)), ["import { main } from './main.js';"]);
});

/** Every .ts file under dir, recursively. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

test('tools import nothing of src/cli/ but the framework\'s public module', () => {
  const tools = join(packageRoot(), 'src', 'tools');
  const offending = sources(tools).flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => /^import .* from '(\.\.\/)+cli\//.test(l) && !/from '\.\.\/\.\.\/(\.\.\/)?cli\/framework\/index\.js'/.test(l))
      .map((l) => `${f.slice(tools.length + 1)}: ${l}`),
  );
  assert.deepEqual(offending, []);
});

test('every command with verbs declares them with defineCommand, none dispatches them itself', async () => {
  for (const entry of COMMANDS) {
    const help = await entry.help?.();
    if (help?.verbs === undefined) continue;
    const module = entry.load.toString().match(/import\('(.+)\.js'\)/)![1]!;
    const text = readFileSync(join(packageRoot(), 'src', 'cli', `${module}.ts`), 'utf8');
    assert.match(text, /= defineCommand\(\{/, entry.name);
    assert.doesNotMatch(text, /\.startsWith\(verb\)/, entry.name);
  }
});
