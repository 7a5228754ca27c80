// `tsbpf guard`: Falco rules evaluated on tsbpf's events, alerts out, optional enforcement.
import { parse, printHelp, UsageError, type Command, type CommandIO } from '../../cli/framework/index.js';
import { parseDuration } from '../common/duration.js';
import { defaultRulesFile } from './default-rules.js';
import { HELP } from './help.js';
import { DEFAULT_SOCKET, queryStatus, runGuard, type GuardRunOptions } from './run.js';
import { fieldList } from './fields.js';
import { loadRules, type RuleSet } from './loader.js';
import { parsePriority } from './priority.js';
import { neededSyscalls } from './session.js';
import { planEnforcement } from './enforce.js';
import { untilInterrupted } from '../common/interrupt.js';


const OPTIONS = {
  rules: { type: 'string', short: 'r', multiple: true },
  output: { type: 'string', short: 'o' },
  json: { type: 'boolean', short: 'j' },
  priority: { type: 'string' },
  duration: { type: 'string', short: 'M' },
  enforce: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  pid: { type: 'string' },
  file: { type: 'string' },
  program: { type: 'string' },
  http: { type: 'string' },
  list: { type: 'boolean', short: 'L' },
  describe: { type: 'string', short: 'l' },
  validate: { type: 'string', short: 'V', multiple: true },
  'list-fields': { type: 'boolean' },
  'list-syscalls': { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  stats: { type: 'boolean' },
  socket: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function listRules(set: RuleSet, io: CommandIO): void {
  const rows = set.rules.map((r) => [r.name, r.priority, r.enabled ? '' : '(disabled)', r.evtTypes === undefined ? 'any' : [...r.evtTypes].join(',')]);
  const w = Math.max(4, ...rows.map((r) => r[0]!.length));
  io.stdout.write(`${'RULE'.padEnd(w)}  PRIORITY       SYSCALLS\n`);
  for (const [name, prio, off, types] of rows) io.stdout.write(`${name!.padEnd(w)}  ${prio!.padEnd(13)}  ${types}${off ? ` ${off}` : ''}\n`);
}

function describeRule(set: RuleSet, name: string, io: CommandIO): number {
  const r = set.rules.find((x) => x.name === name);
  if (r === undefined) {
    io.stderr.write(`tsbpf guard: no rule named '${name}'\n`);
    return 1;
  }
  io.stdout.write(
    [
      `rule: ${r.name}`,
      `file: ${r.file}:${r.line}`,
      `desc: ${r.desc.trim()}`,
      `priority: ${r.priority}`,
      `enabled: ${r.enabled}`,
      `tags: ${r.tags.join(', ')}`,
      `syscalls: ${r.evtTypes === undefined ? 'any' : [...r.evtTypes].join(', ')}`,
      `condition: ${r.condition.trim()}`,
      `output: ${r.output.trim()}`,
      ...(r.action !== undefined ? [`action: ${r.action.kind === 'kill' ? r.action.signalName : 'deny'}`] : []),
      '',
    ].join('\n'),
  );
  return 0;
}

/** `tsbpf guard status`: what the running guard has seen, from its socket. */
async function printStatus(socket: string, json: boolean, io: CommandIO): Promise<number> {
  const st = await queryStatus(socket);
  if (json) {
    io.stdout.write(`${JSON.stringify(st)}\n`);
    return 0;
  }
  const lines = [
    `guard pid ${st.pid}, running since ${st.startedAt}`,
    `rules: ${st.rules}; tracing ${st.syscalls.join(', ') || 'no system calls'} and process exec, fork, exit`,
    `events: ${st.events}, alerts: ${st.alerts}, dropped in the kernel: ${st.kernelDrops}`,
    ...Object.entries(st.hits).map(([rule, n]) => `  ${n}\t${rule}`),
    ...st.enforcement.map((n) => `enforcing: ${n}`),
  ];
  io.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

async function run(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('guard', argv, OPTIONS);
  if (values.help) return printHelp(io, HELP);
  if (positionals[0] === 'status' && positionals.length === 1) return printStatus(values.socket ?? DEFAULT_SOCKET, values.json === true, io);
  if (positionals.length > 0) throw new UsageError(`guard: unexpected argument '${positionals[0]}'`);
  if (values['list-fields']) {
    for (const f of fieldList()) io.stdout.write(`${f.name.padEnd(44)} ${f.type.padEnd(7)} ${f.desc}\n`);
    return 0;
  }
  if (values.validate !== undefined) {
    const set = loadRules(values.validate);
    for (const w of set.warnings) io.stderr.write(`tsbpf guard: warning: ${w}\n`);
    io.stdout.write(`${values.validate.join(', ')}: ${set.rules.length} rules, ${set.macros.size} macros, ${set.lists.size} lists: ok\n`);
    return 0;
  }
  const files = values.rules ?? [defaultRulesFile()];
  const format = values.json ? 'json' : (values.output ?? 'text');
  if (format !== 'text' && format !== 'json') throw new UsageError(`guard: -o: unknown format '${format}' (text, json)`);
  if (values.json && values.output !== undefined && values.output !== 'json') throw new UsageError(`guard: --json and -o ${values.output} contradict each other`);
  const minPriority = values.priority === undefined ? undefined : parsePriority(values.priority);
  if (values.priority !== undefined && minPriority === undefined) throw new UsageError(`guard: --priority: unknown priority '${values.priority}'`);
  if (values['dry-run'] && !values.enforce) throw new UsageError('guard: --dry-run goes with --enforce');
  let pid: number | undefined;
  if (values.pid !== undefined) {
    pid = Number(values.pid);
    if (!Number.isInteger(pid) || pid <= 0) throw new UsageError(`guard: --pid: '${values.pid}' is not a process id`);
  }
  const durationMs = values.duration === undefined ? undefined : parseDuration(values.duration, { name: '-M' });
  const set = loadRules(files);
  for (const w of set.warnings) io.stderr.write(`tsbpf guard: warning: ${w}\n`);
  if (values.list) {
    listRules(set, io);
    return 0;
  }
  if (values.describe !== undefined) return describeRule(set, values.describe, io);
  if (values['list-syscalls']) {
    const plan = values.enforce ? planEnforcement(set) : undefined;
    io.stdout.write(`${neededSyscalls(set, plan).map((s) => s.name).join('\n')}\n`);
    return 0;
  }
  const options: GuardRunOptions = {
    rules: set,
    format,
    enforce: values.enforce === true && values['dry-run'] !== true,
    dryRun: values['dry-run'] === true,
    verbose: values.verbose === true,
    stats: values.stats === true,
    ...(values.socket !== undefined ? { socket: values.socket } : {}),
    ...(minPriority !== undefined ? { minPriority } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
    ...(pid !== undefined ? { pid } : {}),
    ...(values.file !== undefined ? { file: values.file } : {}),
    ...(values.program !== undefined ? { program: values.program } : {}),
    ...(values.http !== undefined ? { http: values.http } : {}),
  };
  await untilInterrupted((signal) => runGuard(options, io, signal));
  return 0;
}

export const command: Command = {
  name: 'guard',
  summary: 'runtime security: Falco rules on system call events, alerts, and enforcement in the kernel',
  help: HELP,
  run,
};
