// Counts exec() calls per command name and prints the busiest every second.
//   sudo npx tsx examples/exec-count/main.ts [--uid UID] [--seconds N]
import { parseArgs } from 'node:util';
import { loadExecCount } from './exec_count.js';

const { values } = parseArgs({ options: { uid: { type: 'string' }, seconds: { type: 'string' } } });
const uid = values.uid !== undefined ? Number(values.uid) : undefined;
const seconds = values.seconds !== undefined ? Number(values.seconds) : Infinity;

using counter = await loadExecCount({ config: uid !== undefined ? { target_uid: uid } : {} });
counter.attach();
process.stderr.write(`counting exec() per command${uid !== undefined ? ` of uid ${uid}` : ''}; Ctrl-C to stop\n`);

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
for (let elapsed = 0; elapsed < seconds && !stop.signal.aborted; elapsed++) {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const top = [...counter.maps.counts.entries()].sort((a, b) => Number(b[1] - a[1])).slice(0, 10);
  const perCpu = counter.maps.per_cpu.get(0) ?? [];
  process.stdout.write(`${counter.globals.total_execs} execs (last pid ${counter.globals.last_pid}; per CPU ${perCpu.join(' ')})\n`);
  for (const [comm, count] of top) process.stdout.write(`  ${comm.padEnd(16)} ${count}\n`);
}
