// `tsbpf xdp-filter`: an XDP firewall whose state lives in bpffs, so each command is a separate
// process and the filter keeps running after it exits; `run` is the interactive prompt.
import { createInterface } from 'node:readline';
import { InvalidArgumentError } from '../errors.js';
import { parseDuration } from '../tools/common/duration.js';
import {
  addRules,
  formatRules,
  formatStats,
  parsePortTarget,
  parseRuleTarget,
  removeRules,
  rulesOf,
  sshPeer,
  status,
  statsOf,
  targetInterfaces,
  withMaps,
} from '../tools/xdp-filter/commands.js';
import { loadFilter, pinFilter, requireBpffs, requireInterface, unloadFilter, type LoadedFilter } from '../tools/xdp-filter/lifecycle.js';
import { addressRule, ruleText, type Rule } from '../tools/xdp-filter/rules.js';
import { FilterError, loadedInterfaces, parseMode, parsePolicy } from '../tools/xdp-filter/state.js';
import { parse, printHelp } from './args.js';
import { UsageError, writeJson, type Command, type CommandIO } from './command.js';

const HELP = `Usage: tsbpf xdp-filter <command> [options]

Drops packets in XDP by source or destination address (IPv4/IPv6, CIDR prefixes) and by
TCP/UDP destination port, with a deny-list or allow-list policy. The filter's state is pinned
under /sys/fs/bpf/tsbpf/xdp-filter/<iface>/, so it keeps running after each command exits.

Commands:
  load <iface> [--mode native|generic] [--policy deny|allow] [--no-ssh-guard]
                        attach the filter (deny: drop what matches; allow: drop what doesn't;
                        the allow list always admits the peer of the current SSH session)
  unload <iface> [--keep-rules]
                        detach it and remove its pins (--keep-rules keeps the rules for the
                        next load)
  block <ip|cidr> [--dst] [--iface IF]      add an address rule (source by default)
  unblock <ip|cidr> [--dst] [--iface IF]    remove it
  port <port> [--proto tcp|udp] [--remove] [--iface IF]
                        add (or remove) a destination port rule (both protocols by default)
  list [--iface IF] [--json]                rules with their hit counts
  stats [--watch [SEC]] [--iface IF] [--json]
                        packets and bytes per verdict: total, passed, dropped, invalid
  status [--json]       interfaces, mode, policy, program, stats and rules
  run <iface> [--mode M] [--policy P] [--pin]
                        interactive prompt (block, unblock, port, list, stats, help, quit);
                        prints stats every 5 s and at exit; detaches at exit unless --pin

Rule commands act on every loaded interface unless --iface names one.
Exit status: 0 on success, 1 on failure, 2 on usage errors.
`;

const IFACE = { iface: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

function one(verb: string, positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`xdp-filter ${verb}: expected ${what}`);
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

function guardRules(policy: string, noGuard: boolean | undefined, io: CommandIO): Rule[] {
  if (policy !== 'allow' || noGuard) return [];
  const peer = sshPeer();
  if (peer === undefined) return [];
  io.stderr.write(`xdp-filter: allowing the SSH peer ${peer} so this session is not locked out\n`);
  return [addressRule(peer, 'src')];
}

async function load(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('xdp-filter load', argv, {
    mode: { type: 'string' },
    policy: { type: 'string' },
    'no-ssh-guard': { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return printHelp(io, HELP);
  const iface = one('load', positionals, 'an interface');
  const mode = option('load', () => parseMode(values.mode ?? 'native'));
  const policy = option('load', () => parsePolicy(values.policy ?? 'deny'));
  requireBpffs();
  requireInterface(iface);
  if (loadedInterfaces().includes(iface)) throw new FilterError(`xdp-filter is already loaded on ${iface}; unload it first`, 'EEXIST');
  const f = loadFilter(iface, { mode, policy, initialRules: guardRules(policy, values['no-ssh-guard'], io) });
  try {
    pinFilter(f);
    const programId = f.collection.programs.xdp_filter?.id ?? 0;
    if (values.json) writeJson(io.stdout, { interface: iface, mode, policy, programId });
    else io.stdout.write(`xdp-filter loaded on ${iface} (${mode} mode, ${policy} policy, program id ${programId})\n`);
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
  const { values, positionals } = parse('xdp-filter unload', argv, { 'keep-rules': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) return printHelp(io, HELP);
  const iface = one('unload', positionals, 'an interface');
  unloadFilter(iface, values['keep-rules'] ?? false);
  io.stdout.write(`xdp-filter unloaded from ${iface}${values['keep-rules'] ? ' (rules kept)' : ''}\n`);
  return 0;
}

function reportChanges(io: CommandIO, verb: 'blocked' | 'unblocked' | 'added' | 'removed', changes: ReturnType<typeof addRules>): void {
  for (const c of changes) {
    const text = ruleText(c.rule);
    if (c.changed) io.stdout.write(`${verb} ${text} on ${c.iface}\n`);
    else io.stdout.write(`${text} was already ${verb} on ${c.iface}\n`);
  }
}

async function block(argv: string[], io: CommandIO, remove: boolean): Promise<number> {
  const verb = remove ? 'unblock' : 'block';
  const { values, positionals } = parse(`xdp-filter ${verb}`, argv, { ...IFACE, dst: { type: 'boolean' } });
  if (values.help) return printHelp(io, HELP);
  const rule = option(verb, () => parseRuleTarget(one(verb, positionals, 'an IP address or CIDR prefix'), values.dst ? 'dst' : 'src'));
  const ifaces = targetInterfaces(values.iface);
  withMaps(ifaces, (maps) => reportChanges(io, remove ? 'unblocked' : 'blocked', remove ? removeRules(maps, [rule]) : addRules(maps, [rule])));
  return 0;
}

async function port(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('xdp-filter port', argv, { ...IFACE, proto: { type: 'string' }, remove: { type: 'boolean' } });
  if (values.help) return printHelp(io, HELP);
  const rules = option('port', () => parsePortTarget(one('port', positionals, 'a port number'), values.proto));
  const ifaces = targetInterfaces(values.iface);
  withMaps(ifaces, (maps) => reportChanges(io, values.remove ? 'removed' : 'added', values.remove ? removeRules(maps, rules) : addRules(maps, rules)));
  return 0;
}

async function list(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('xdp-filter list', argv, { ...IFACE, json: { type: 'boolean', short: 'j' } });
  if (values.help) return printHelp(io, HELP);
  if (positionals.length > 0) throw new UsageError(`xdp-filter list: unexpected argument '${positionals[0]}'`);
  const rules = rulesOf(targetInterfaces(values.iface));
  if (values.json) writeJson(io.stdout, { rules });
  else io.stdout.write(formatRules(rules));
  return 0;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

/** Aborts on SIGINT/SIGTERM while `fn` runs. */
async function untilSignal<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await fn(ac.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

async function stats(argv: string[], io: CommandIO): Promise<number> {
  // `--watch` takes an optional interval: `--watch`, `--watch 2`, `--watch=2`.
  const args = [...argv];
  let watch: number | undefined;
  const w = args.findIndex((a) => a === '--watch' || a.startsWith('--watch='));
  if (w >= 0) {
    const arg = args[w]!;
    let text = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : undefined;
    const next = args[w + 1];
    if (text === undefined && next !== undefined && /^\d+(\.\d+)?(ms|s|m)?$/.test(next)) {
      text = next;
      args.splice(w + 1, 1);
    }
    args.splice(w, 1);
    watch = option('stats', () => parseDuration(text ?? '1'));
  }
  const { values, positionals } = parse('xdp-filter stats', args, { ...IFACE, json: { type: 'boolean', short: 'j' } });
  if (values.help) return printHelp(io, HELP);
  if (positionals.length > 0) throw new UsageError(`xdp-filter stats: unexpected argument '${positionals[0]}'`);
  const ifaces = targetInterfaces(values.iface);
  const show = (): void => {
    const all = statsOf(ifaces);
    if (values.json) writeJson(io.stdout, { time: new Date().toISOString(), interfaces: all });
    else io.stdout.write(`${all.map(formatStats).join('\n')}\n`);
  };
  show();
  if (watch === undefined) return 0;
  await untilSignal(async (signal) => {
    while (!signal.aborted) {
      await sleep(watch, signal);
      if (!signal.aborted) show();
    }
  });
  return 0;
}

async function statusCmd(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('xdp-filter status', argv, { json: { type: 'boolean', short: 'j' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) return printHelp(io, HELP);
  if (positionals.length > 0) throw new UsageError(`xdp-filter status: unexpected argument '${positionals[0]}'`);
  const s = status();
  if (values.json) {
    writeJson(io.stdout, s);
    return 0;
  }
  if (s.interfaces.length === 0) {
    io.stdout.write('xdp-filter is not loaded on any interface\n');
    return 0;
  }
  for (const i of s.interfaces) io.stdout.write(`${i.name}: ${i.mode} mode, ${i.policy} policy, program id ${i.programId}\n`);
  io.stdout.write(`packets: total ${s.stats.total}, passed ${s.stats.passed}, dropped ${s.stats.dropped} (${s.stats.bytesDropped} bytes), invalid ${s.stats.invalid}\n`);
  io.stdout.write(s.rules.length ? `rules:\n${s.rules.map((r) => `  ${r.direction} ${r.rule}  hits ${r.hits}`).join('\n')}\n` : 'rules: none\n');
  return 0;
}

const PROMPT_HELP = `Commands:
  block <ip|cidr> [dst]     drop packets from (or to) an address or prefix
  unblock <ip|cidr> [dst]   remove that rule
  port <port> [tcp|udp]     drop packets to a port; "port <port> remove" removes it
  list                      rules and their hits
  stats                     packet counters
  help                      this text
  quit                      detach and exit (Ctrl-D and Ctrl-C too)
`;

/** One line of the interactive prompt; returns false on quit. */
export function promptCommand(line: string, f: LoadedFilter, io: CommandIO): boolean {
  const [cmd, ...args] = line.trim().split(/\s+/);
  const targets = [f.maps];
  try {
    switch (cmd) {
      case undefined:
      case '':
        return true;
      case 'block':
      case 'unblock': {
        const rule = parseRuleTarget(args[0], args[1] === 'dst' ? 'dst' : 'src');
        reportChanges(io, cmd === 'block' ? 'blocked' : 'unblocked', (cmd === 'block' ? addRules : removeRules)(targets, [rule]));
        return true;
      }
      case 'port': {
        const remove = args.includes('remove');
        const proto = args.slice(1).find((a) => a === 'tcp' || a === 'udp');
        const rules = parsePortTarget(args[0], proto);
        reportChanges(io, remove ? 'removed' : 'added', (remove ? removeRules : addRules)(targets, rules));
        return true;
      }
      case 'list':
        io.stdout.write(formatRules(f.maps.rules().map((r) => ({ ...r, interface: f.iface }))));
        return true;
      case 'stats':
        io.stdout.write(`${formatStats({ ...f.maps.stats(), interface: f.iface })}\n`);
        return true;
      case 'help':
      case '?':
        io.stdout.write(PROMPT_HELP);
        return true;
      case 'quit':
      case 'exit':
        return false;
      default:
        io.stdout.write(`unknown command '${cmd}'; type help\n`);
        return true;
    }
  } catch (err) {
    io.stdout.write(`error: ${(err as Error).message}\n`);
    return true;
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
  if (values.help) return printHelp(io, HELP);
  const iface = one('run', positionals, 'an interface');
  const mode = option('run', () => parseMode(values.mode ?? 'native'));
  const policy = option('run', () => parsePolicy(values.policy ?? 'deny'));
  const every = option('run', () => parseDuration(values.interval ?? '5s'));
  requireInterface(iface);
  if (loadedInterfaces().includes(iface)) throw new FilterError(`xdp-filter is already loaded on ${iface}; unload it first`, 'EEXIST');
  if (values.pin) requireBpffs();
  const f = loadFilter(iface, { mode, policy, initialRules: guardRules(policy, values['no-ssh-guard'], io) });
  try {
    if (values.pin) pinFilter(f);
    io.stdout.write(`xdp-filter attached to ${iface} (${mode} mode, ${policy} policy). Type help for commands.\n`);
    const timer = setInterval(() => io.stdout.write(`\n${formatStats({ ...f.maps.stats(), interface: iface })}\n`), every);
    const rl = createInterface({ input: io.stdin, output: io.stdout, prompt: 'xdp-filter> ', terminal: Boolean((io.stdin as { isTTY?: boolean }).isTTY) });
    await untilSignal(
      (signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => rl.close(), { once: true });
          rl.on('line', (line) => {
            if (!promptCommand(line, f, io)) rl.close();
            else rl.prompt();
          });
          rl.on('close', resolve);
          rl.prompt();
        }),
    );
    clearInterval(timer);
    io.stdout.write(`\nFinal statistics:\n${formatStats({ ...f.maps.stats(), interface: iface })}\n`);
    io.stdout.write(values.pin ? `xdp-filter stays loaded on ${iface} (pinned); \`tsbpf xdp-filter unload ${iface}\` removes it\n` : `xdp-filter detached from ${iface}\n`);
  } finally {
    closeLoaded(f);
  }
  return 0;
}

const VERBS: Record<string, (argv: string[], io: CommandIO) => Promise<number>> = {
  load,
  unload,
  block: (a, io) => block(a, io, false),
  unblock: (a, io) => block(a, io, true),
  port,
  list,
  stats,
  status: statusCmd,
  run,
};

export const command: Command = {
  name: 'xdp-filter',
  summary: 'XDP firewall: block addresses, prefixes and ports, with pinned state',
  help: HELP,
  async run(argv: string[], io: CommandIO): Promise<number> {
    const [verb, ...rest] = argv;
    if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') return printHelp(io, HELP);
    const fn = VERBS[verb];
    if (!fn) throw new UsageError(`xdp-filter: unknown command '${verb}'`);
    return fn(rest, io);
  },
};
