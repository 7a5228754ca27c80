// `tsbpf xdp-filter`: an XDP firewall whose state lives in bpffs, so each command is a separate
// process and the filter keeps running after it exits; `run` is the interactive prompt.
import { readFileSync } from 'node:fs';
import { clearLine, createInterface, cursorTo } from 'node:readline';
import { InvalidArgumentError } from '../../index.js';
import { parseDuration } from '../common/duration.js';
import { removedError, linkState } from './attachment.js';
import {
  addRules,
  formatRates,
  formatRules,
  formatStats,
  lockoutRisk,
  parseMacTarget,
  parsePortTarget,
  parseRuleFile,
  parseRuleTarget,
  plural,
  rates,
  removeRules,
  rulesOf,
  status,
  statsOf,
  targetInterfaces,
  withMaps,
  type RuleChange,
} from './commands.js';
import { keptState, loadFilter, pinFilter, requireBpffs, requireInterface, unloadFilter, type LoadedFilter } from './lifecycle.js';
import { addressRule, ruleLabel, type Direction, type Rule } from './rules.js';
import { sshSession, type SshSession } from './ssh.js';
import { FilterError, hasPinnedLink, loadedInterfaces, parseMode, parsePolicy, pinnedInterfaces, type FilterMaps, type Policy, type Stats } from './state.js';
import { defineCommand, parse, UsageError, writeJson, type Command, type CommandIO, type Verb } from '../../cli/framework/index.js';
import * as help from './help.js';
import { sleep, untilInterrupted } from '../common/interrupt.js';
import { takeWatch } from '../common/watch.js';

const IFACE = { iface: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

function one(verb: string, positionals: string[], what: string): string {
  if (positionals.length === 0) throw new UsageError(`xdp-filter ${verb}: expected ${what}`);
  if (positionals.length > 1) throw new UsageError(`xdp-filter ${verb}: unexpected argument '${positionals[1]}'`);
  return positionals[0]!;
}

function option<T>(verb: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new UsageError(`xdp-filter ${verb}: ${err.message}`);
    throw err;
  }
}

function interval(verb: string, name: string, text: string): number {
  return option(verb, () => parseDuration(text, { name, minMs: 100 }));
}

/** Under the allow policy: the SSH peer, admitted before the filter is attached. */
function guardRules(iface: string, policy: Policy, noGuard: boolean | undefined, io: CommandIO): Rule[] {
  if (policy !== 'allow' || noGuard) return [];
  const ssh = sshSession();
  if (ssh === undefined) {
    const kept = keptState(iface);
    if (!kept || kept.rules === 0) {
      io.stderr.write(`xdp-filter: warning: allow policy, no rules and no SSH session found: every IP packet to ${iface} is dropped until rules admit it (\`tsbpf xdp-filter block ADDR\` adds to the allow list)\n`);
    }
    return [];
  }
  io.stderr.write(`xdp-filter: allowing the SSH peer ${ssh.peers.join(', ')} (from the ${ssh.source}) so this session is not locked out\n`);
  return ssh.peers.map((p) => addressRule(p, 'src'));
}

/** Refuses a load on an interface that has one, saying what to do when its device is gone. */
function requireNotLoaded(iface: string): void {
  if (!hasPinnedLink(iface)) return;
  if (linkState(iface).state === 'removed') throw removedError(iface);
  throw new FilterError(`xdp-filter is already loaded on ${iface}; unload it first`, 'EEXIST');
}

function loadedLine(f: LoadedFilter, programId: number): string {
  const kept = f.keptRules ? `, ${plural(f.keptRules, 'kept rule')}` : '';
  return `(${f.mode} mode${f.fellBack ? ': no native XDP on this device' : ''}, ${f.policy} policy${kept}, program id ${programId})`;
}

async function load(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('xdp-filter load', argv, {
    mode: { type: 'string' },
    policy: { type: 'string' },
    'no-ssh-guard': { type: 'boolean' },
    json: { type: 'boolean', short: 'j' },
    help: { type: 'boolean', short: 'h' },
  });
  const iface = one('load', positionals, 'an interface');
  const mode = values.mode === undefined ? undefined : option('load', () => parseMode(values.mode!));
  const policy = values.policy === undefined ? undefined : option('load', () => parsePolicy(values.policy!));
  requireBpffs();
  requireInterface(iface);
  requireNotLoaded(iface);
  const effective = policy ?? keptState(iface)?.policy ?? 'deny';
  const f = loadFilter(iface, { ...(mode ? { mode } : {}), ...(policy ? { policy } : {}), initialRules: guardRules(iface, effective, values['no-ssh-guard'], io) });
  try {
    pinFilter(f);
    const programId = f.collection.programs.xdp_filter?.id ?? 0;
    if (values.json) writeJson(io.stdout, { interface: iface, mode: f.mode, policy: f.policy, programId, keptRules: f.keptRules });
    else io.stdout.write(`xdp-filter loaded on ${iface} ${loadedLine(f, programId)}\n`);
  } finally {
    closeLoaded(f);
  }
  return 0;
}

function closeLoaded(f: LoadedFilter): void {
  f.maps.close();
  f.link.close();
  f.collection.close();
}

async function unload(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('xdp-filter unload', argv, {
    'keep-rules': { type: 'boolean' },
    forget: { type: 'boolean' },
    all: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values['keep-rules'] && values.forget) throw new UsageError('xdp-filter unload: --keep-rules and --forget contradict each other');
  if (values.all && positionals.length > 0) throw new UsageError(`xdp-filter unload: --all takes no interface; got '${positionals[0]}'`);
  if (!values.all && positionals.length === 0) throw new UsageError('xdp-filter unload: expected an interface, or --all');
  requireBpffs();
  const ifaces = values.all ? (values.forget ? pinnedInterfaces() : loadedInterfaces()) : positionals;
  if (values.all && ifaces.length === 0) {
    io.stdout.write('xdp-filter is not loaded on any interface\n');
    return 0;
  }
  for (const iface of ifaces) {
    const detached = unloadFilter(iface, { keepRules: values['keep-rules'] ?? false, forget: values.forget ?? false });
    if (!detached) io.stdout.write(`dropped the rules kept for ${iface}\n`);
    else io.stdout.write(`xdp-filter unloaded from ${iface}${values['keep-rules'] ? ' (rules kept)' : ''}\n`);
  }
  return 0;
}

function reportChanges(io: CommandIO, adding: boolean, changes: RuleChange[]): void {
  for (const c of changes) {
    const label = ruleLabel(c.rule);
    const allow = c.policy === 'allow';
    let line: string;
    if (adding) line = c.changed ? `${allow ? 'allowed' : 'blocked'} ${label} on ${c.iface}` : `${label} was already ${allow ? 'allowed' : 'blocked'} on ${c.iface}`;
    else line = c.changed ? (allow ? `removed ${label} from the allow list on ${c.iface}` : `unblocked ${label} on ${c.iface}`) : `${label} was not ${allow ? 'allowed' : 'blocked'} on ${c.iface}`;
    io.stdout.write(`${line}\n`);
  }
}

/** Refuses a change that would cut off all traffic or this SSH session, unless forced. */
function guardLockout(targets: FilterMaps[], adding: boolean, rules: Rule[], force: boolean | undefined, ssh: SshSession | undefined = sshSession()): void {
  if (force) return;
  for (const maps of targets) {
    const risk = lockoutRisk(maps.config().policy, adding, rules, ssh);
    if (risk) throw new FilterError(`refusing on ${maps.iface}: ${risk}; add --force to do it anyway`, 'ELOCKOUT');
  }
}

/** Applies rules (adding, or removing groups of alternatives) to the targets, all or nothing. */
function applyRules(io: CommandIO, ifaceOption: string | undefined, adding: boolean, groups: Rule[][], force: boolean | undefined): number {
  const ifaces = targetInterfaces(ifaceOption);
  withMaps(ifaces, (maps) => {
    guardLockout(maps, adding, groups.flat(), force);
    reportChanges(io, adding, adding ? addRules(maps, groups.flat()) : removeRules(maps, groups));
  });
  return 0;
}

const READ_ERRORS: Record<string, string> = { ENOENT: 'no such file', EISDIR: 'is a directory', EACCES: 'permission denied' };

function readRuleFile(verb: string, file: string, direction: Direction): Rule[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    const why = READ_ERRORS[code] ?? (err as Error).message;
    throw new FilterError(`cannot read the rule file ${file}: ${why}`, code);
  }
  return option(verb, () => parseRuleFile(text, file, direction));
}

async function block(argv: string[], io: CommandIO, remove: boolean): Promise<number> {
  const verb = remove ? 'unblock' : 'block';
  const { values, positionals } = parse(`xdp-filter ${verb}`, argv, { ...IFACE, dst: { type: 'boolean' }, file: { type: 'string', short: 'f' }, force: { type: 'boolean' } });
  const direction: Direction = values.dst ? 'dst' : 'src';
  if (positionals.length === 0 && values.file === undefined) throw new UsageError(`xdp-filter ${verb}: expected an IP address or CIDR prefix, or -f FILE`);
  const rules = positionals.map((p) => option(verb, () => parseRuleTarget(p, direction)));
  if (values.file !== undefined) rules.push(...readRuleFile(verb, values.file, direction));
  return applyRules(io, values.iface, !remove, rules.map((r) => [r]), values.force);
}

async function port(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('xdp-filter port', argv, { ...IFACE, proto: { type: 'string' }, src: { type: 'boolean' }, remove: { type: 'boolean' }, force: { type: 'boolean' } });
  if (positionals.length === 0) throw new UsageError('xdp-filter port: expected a port number');
  const groups = positionals.map((p) => option('port', () => parsePortTarget(p, values.proto, values.src ? 'src' : 'dst')));
  return applyRules(io, values.iface, !values.remove, groups, values.force);
}

async function ether(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('xdp-filter ether', argv, { ...IFACE, dst: { type: 'boolean' }, remove: { type: 'boolean' }, force: { type: 'boolean' } });
  if (positionals.length === 0) throw new UsageError('xdp-filter ether: expected a MAC address');
  const rules = positionals.map((p) => option('ether', () => parseMacTarget(p, values.dst ? 'dst' : 'src')));
  return applyRules(io, values.iface, !values.remove, rules.map((r) => [r]), values.force);
}

async function list(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('xdp-filter list', argv, { ...IFACE, json: { type: 'boolean', short: 'j' } });
  if (positionals.length > 0) throw new UsageError(`xdp-filter list: unexpected argument '${positionals[0]}'`);
  const rules = rulesOf(targetInterfaces(values.iface));
  if (values.json) writeJson(io.stdout, { rules });
  else io.stdout.write(formatRules(rules));
  return 0;
}



async function stats(argv: string[], io: CommandIO): Promise<number> {
  const { args, watch: watchText } = takeWatch(argv);
  const watch = watchText === undefined ? undefined : interval('stats', '--watch', watchText);
  const { values, positionals } = parse('xdp-filter stats', args, { ...IFACE, json: { type: 'boolean', short: 'j' } });
  if (positionals.length > 0) throw new UsageError(`xdp-filter stats: unexpected argument '${positionals[0]}'`);
  const ifaces = targetInterfaces(values.iface);
  let prev: { at: number; stats: Stats[] } | undefined;
  const show = (): void => {
    const now = new Date();
    const all = statsOf(ifaces);
    const r = prev ? all.map((s, i) => rates(prev!.stats[i]!, s, (now.getTime() - prev!.at) / 1000)) : undefined;
    if (values.json) {
      writeJson(io.stdout, { time: now.toISOString(), interfaces: all.map((s, i) => (r ? { ...s, pps: r[i]!.pps, bps: r[i]!.bps } : s)) });
    } else if (r) {
      io.stdout.write(`${r.map((x) => formatRates(now, x)).join('\n')}\n`);
    } else {
      io.stdout.write(`${watch === undefined ? '' : `${now.toTimeString().slice(0, 8)}\n`}${all.map(formatStats).join('\n')}\n`);
    }
    prev = { at: now.getTime(), stats: all };
  };
  if (watch === undefined) {
    show();
    return 0;
  }
  // Ctrl-C from the first sample on ends the watch cleanly.
  await untilInterrupted(async (signal) => {
    show();
    while (!signal.aborted) {
      await sleep(watch, signal);
      if (!signal.aborted) show();
    }
  });
  return 0;
}

function formatInterface(i: ReturnType<typeof status>['interfaces'][number]): string {
  const head =
    i.state === 'run'
      ? `${i.name}: ${i.mode} mode, ${i.policy} policy, program id ${i.programId}, attached by \`xdp-filter run\` (pid ${i.pids?.join(', ')}; not pinned)`
      : i.state === 'kept'
        ? `${i.name}: not loaded; ${plural(i.rules.length, 'rule')} kept for the ${i.policy} policy (\`unload ${i.name} --forget\` drops them)`
        : i.state === 'removed'
          ? `${i.name}: REMOVED: the interface is gone or was recreated, so nothing is filtered; run \`tsbpf xdp-filter unload ${i.name}\``
          : `${i.name}: ${i.mode} mode, ${i.policy} policy, program id ${i.programId}`;
  const lines = [head];
  if (i.stats && (i.state === 'attached' || i.state === 'run')) {
    const s = i.stats;
    lines.push(`  packets: total ${s.total}, passed ${s.passed}, dropped ${s.dropped} (${plural(s.bytesDropped, 'byte')}), invalid ${s.invalid}`);
  }
  lines.push(i.rules.length ? `  rules:\n${i.rules.map((r) => `    ${r.direction} ${r.kind === 'addr' ? '' : `${r.kind} `}${r.rule}  hits ${r.hits}`).join('\n')}` : '  rules: none');
  return lines.join('\n');
}

async function statusCmd(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('xdp-filter status', argv, { ...IFACE, json: { type: 'boolean', short: 'j' } });
  if (positionals.length > 0) throw new UsageError(`xdp-filter status: unexpected argument '${positionals[0]}'`);
  const s = status(values.iface);
  if (values.json) {
    writeJson(io.stdout, s);
    return 0;
  }
  if (s.interfaces.length === 0) {
    io.stdout.write(values.iface === undefined ? 'xdp-filter is not loaded on any interface\n' : `xdp-filter is not loaded on ${values.iface}\n`);
    return 0;
  }
  io.stdout.write(`${s.interfaces.map(formatInterface).join('\n')}\n`);
  return 0;
}

const PROMPT_HELP = `Commands:
  block <ip|cidr> [dst] [force]     drop packets from (or to) an address or prefix
  unblock <ip|cidr> [dst] [force]   remove that rule
  port <port> [tcp|udp] [src] [remove] [force]
                                    drop packets to (or from) a port; remove removes it
  ether <mac> [dst] [remove] [force]
                                    drop frames from (or to) a MAC address
  list                              rules and their hits
  stats                             packet counters
  help                              this text
  quit                              detach and exit (Ctrl-D and Ctrl-C too)
`;

/** The words after a prompt command's target, each at most once and all from `allowed`. */
function flags(cmd: string, words: string[], allowed: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const w of words) {
    if (!allowed.includes(w) || out.has(w)) throw new InvalidArgumentError(`${cmd}: unexpected '${w}' (allowed after the target: ${allowed.join(', ')})`);
    out.add(w);
  }
  return out;
}

/** One line of the interactive prompt; returns false on quit, throws on a bad or failed command. */
export function promptCommand(line: string, f: LoadedFilter, io: CommandIO): boolean {
  const [cmd, target, ...rest] = line.trim().split(/\s+/);
  const targets = [f.maps];
  const apply = (adding: boolean, groups: Rule[][], force: boolean): void => {
    guardLockout(targets, adding, groups.flat(), force);
    reportChanges(io, adding, adding ? addRules(targets, groups.flat()) : removeRules(targets, groups));
  };
  const noArgs = (): void => {
    if (target !== undefined) throw new InvalidArgumentError(`${cmd}: unexpected '${target}'`);
  };
  switch (cmd) {
    case undefined:
    case '':
      return true;
    case 'block':
    case 'unblock': {
      const w = flags(cmd, rest, ['dst', 'src', 'force']);
      apply(cmd === 'block', [[parseRuleTarget(target, w.has('dst') ? 'dst' : 'src')]], w.has('force'));
      return true;
    }
    case 'port': {
      const w = flags(cmd, rest, ['tcp', 'udp', 'src', 'remove', 'force']);
      if (w.has('tcp') && w.has('udp')) throw new InvalidArgumentError('port: tcp or udp, not both (neither means both)');
      const proto = w.has('tcp') ? 'tcp' : w.has('udp') ? 'udp' : undefined;
      apply(!w.has('remove'), [parsePortTarget(target, proto, w.has('src') ? 'src' : 'dst')], w.has('force'));
      return true;
    }
    case 'ether': {
      const w = flags(cmd, rest, ['dst', 'src', 'remove', 'force']);
      apply(!w.has('remove'), [[parseMacTarget(target, w.has('dst') ? 'dst' : 'src')]], w.has('force'));
      return true;
    }
    case 'list':
      noArgs();
      io.stdout.write(formatRules(f.maps.rules().map((r) => ({ ...r, interface: f.iface }))));
      return true;
    case 'stats':
      noArgs();
      io.stdout.write(`${formatStats({ ...f.maps.stats(), interface: f.iface })}\n`);
      return true;
    case 'help':
    case '?':
      io.stdout.write(PROMPT_HELP);
      return true;
    case 'quit':
    case 'exit':
      noArgs();
      return false;
    default:
      throw new InvalidArgumentError(`unknown command '${cmd}'; type help`);
  }
}

async function run(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('xdp-filter run', argv, {
    mode: { type: 'string' },
    policy: { type: 'string' },
    pin: { type: 'boolean' },
    interval: { type: 'string' },
    'no-ssh-guard': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  const iface = one('run', positionals, 'an interface');
  const mode = values.mode === undefined ? undefined : option('run', () => parseMode(values.mode!));
  const policy = values.policy === undefined ? undefined : option('run', () => parsePolicy(values.policy!));
  const every = interval('run', '--interval', values.interval ?? '5s');
  requireInterface(iface);
  requireNotLoaded(iface);
  if (values.pin) requireBpffs();
  const effective = policy ?? keptState(iface)?.policy ?? 'deny';
  const f = loadFilter(iface, { ...(mode ? { mode } : {}), ...(policy ? { policy } : {}), initialRules: guardRules(iface, effective, values['no-ssh-guard'], io) });
  let failed = 0;
  try {
    if (values.pin) pinFilter(f);
    // Piped commands get answers only: no prompt, no banner mixed into their output.
    const terminal = Boolean((io.stdin as { isTTY?: boolean }).isTTY);
    if (terminal) io.stdout.write(`xdp-filter attached to ${iface} ${loadedLine(f, f.collection.programs.xdp_filter?.id ?? 0)}. Type help for commands.\n`);
    const rl = createInterface({ input: io.stdin, output: io.stdout, prompt: 'xdp-filter> ', terminal });
    const timer = setInterval(() => {
      const block = `${formatStats({ ...f.maps.stats(), interface: iface })}\n`;
      if (!terminal) {
        io.stdout.write(block);
        return;
      }
      // Over the half-typed line, then the prompt and what was typed again below.
      clearLine(io.stdout, 0);
      cursorTo(io.stdout, 0);
      io.stdout.write(block);
      rl.prompt(true);
    }, every);
    await untilInterrupted(
      (signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => rl.close(), { once: true });
          rl.on('line', (line) => {
            let more = true;
            try {
              more = promptCommand(line, f, io);
            } catch (err) {
              failed++;
              io.stderr.write(`error: ${(err as Error).message}\n`);
            }
            if (!more) rl.close();
            else if (terminal) rl.prompt();
          });
          rl.on('close', resolve);
          if (terminal) rl.prompt();
        }),
    );
    clearInterval(timer);
    io.stdout.write(`\nFinal statistics:\n${formatStats({ ...f.maps.stats(), interface: iface })}\n`);
    io.stdout.write(values.pin ? `xdp-filter stays loaded on ${iface} (pinned); \`tsbpf xdp-filter unload ${iface}\` removes it\n` : `xdp-filter detached from ${iface}\n`);
    // A script fed through a pipe learns that one of its commands failed.
    if (!terminal && failed > 0) {
      io.stderr.write(`tsbpf xdp-filter run: ${plural(failed, 'command')} failed\n`);
      return 1;
    }
  } finally {
    closeLoaded(f);
  }
  return 0;
}

const VERBS: Readonly<Record<string, Verb>> = {
  load,
  unload,
  block: (a, io) => block(a, io, false),
  unblock: (a, io) => block(a, io, true),
  port,
  ether,
  list,
  stats,
  status: statusCmd,
  run,
};

export const command: Command = defineCommand({
  name: 'xdp-filter',
  summary: 'XDP firewall: block addresses, prefixes, ports and MACs, with pinned state',
  help,
  verbs: VERBS,
});
