// Prints one line per exec() as it happens, read from a ring buffer.
//   sudo npx tsx examples/exec-stream/main.ts [--children-of PID] [--count N]
import { parseArgs } from 'node:util';
import { loadExecStream } from './exec_stream.js';

const { values } = parseArgs({ options: { 'children-of': { type: 'string' }, count: { type: 'string' } } });
const parent = values['children-of'] !== undefined ? Number(values['children-of']) : 0;
const count = values.count !== undefined ? Number(values.count) : Infinity;

using exec = await loadExecStream({ config: { parent_pid: parent } });
exec.attach();

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.stdout.write(`${'PID'.padStart(7)} ${'PPID'.padStart(7)} ${'UID'.padStart(6)} ${'COMM'.padEnd(16)} FILENAME\n`);
let seen = 0;
for await (const e of exec.readers.events({ signal: stop.signal })) {
  process.stdout.write(`${String(e.pid).padStart(7)} ${String(e.ppid).padStart(7)} ${String(e.uid).padStart(6)} ${e.comm.padEnd(16)} ${e.filename}\n`);
  if (++seen >= count) break;
}
if (exec.globals.dropped > 0n) process.stderr.write(`${exec.globals.dropped} events did not fit in the ring buffer\n`);
