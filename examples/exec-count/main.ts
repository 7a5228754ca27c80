// Counts exec() calls per command name and prints the busiest every second.
//   sudo npx tsx examples/exec-count/main.ts [--uid UID] [--seconds N]
import { integer, parseOptions, run, stopSignal, wait, type Program } from '../cli.js';
import { loadExecCount } from './exec_count_bpf.js';

const program: Program = { name: 'exec-count', usage: 'main.ts [--uid UID] [--seconds N]' };
const { values } = parseOptions(program, { uid: { type: 'string' }, seconds: { type: 'string' } }, { min: 0, max: 0 });
const uid = values.uid !== undefined ? integer(program, '--uid', values.uid, 0, 0xfffffffe) : undefined;
const seconds = values.seconds !== undefined ? integer(program, '--seconds', values.seconds, 1, 2_000_000) : Infinity;

await run(program, async () => {
  using counter = await loadExecCount({ config: uid !== undefined ? { target_uid: uid } : {} });
  counter.attach();
  const stop = stopSignal();
  process.stderr.write(`counting exec() per command${uid !== undefined ? ` of uid ${uid}` : ''}; Ctrl-C to stop\n`);
  for (let elapsed = 0; elapsed < seconds && (await wait(1000, stop)); elapsed++) {
    const top = [...counter.maps.counts.entries()].sort((a, b) => Number(b[1] - a[1])).slice(0, 10);
    const perCpu = counter.maps.per_cpu.get(0) ?? [];
    process.stdout.write(`${counter.globals.total_execs} execs (last pid ${counter.globals.last_pid}; per CPU ${perCpu.join(' ')})\n`);
    for (const [comm, count] of top) process.stdout.write(`  ${comm.padEnd(16)} ${count}\n`);
  }
});
