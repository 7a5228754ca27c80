// Prints one line per exec() as it happens, read from a ring buffer.
//   sudo npx tsx examples/exec-stream/main.ts [--children-of PID] [--count N]
import { integer, parseOptions, run, stopSignal, type Program } from '../cli.js';
import { loadExecStream } from './exec_stream_bpf.js';

const program: Program = { name: 'exec-stream', usage: 'main.ts [--children-of PID] [--count N]' };
const { values } = parseOptions(program, { 'children-of': { type: 'string' }, count: { type: 'string' } }, { min: 0, max: 0 });
const parent = values['children-of'] !== undefined ? integer(program, '--children-of', values['children-of'], 1, 4_194_304) : 0;
const count = values.count !== undefined ? integer(program, '--count', values.count, 1, Number.MAX_SAFE_INTEGER) : Infinity;

await run(program, async () => {
  using exec = await loadExecStream({ config: { parent_pid: parent } });
  exec.attach();
  const stop = stopSignal();
  process.stdout.write(`${'PID'.padStart(7)} ${'PPID'.padStart(7)} ${'UID'.padStart(6)} ${'COMM'.padEnd(16)} FILENAME\n`);
  let seen = 0;
  for await (const e of exec.readers.events({ signal: stop })) {
    process.stdout.write(`${String(e.pid).padStart(7)} ${String(e.ppid).padStart(7)} ${String(e.uid).padStart(6)} ${e.comm.padEnd(16)} ${e.filename}\n`);
    if (++seen >= count) break;
  }
  if (exec.globals.dropped > 0n) process.stderr.write(`${exec.globals.dropped} events did not fit in the ring buffer\n`);
});
