// `tsbpf lb`: the balancer's commands. Each is a process of its own acting on the pinned state;
// `health` and `stats --watch` run until interrupted.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '../../index.js';
import { parseDuration } from '../common/duration.js';
import { applyConfig, parseCheck, parseConfig, parseHash, parseMode } from './apply.js';
import type { Counters, VipOptions, VipState } from './balancer.js';
import { runHealthChecks } from './health.js';
import { isLoaded, loadBalancer, loadDecap, openBalancer, unloadBalancer, unloadDecap, type AttachMode } from './lifecycle.js';
import { checkRingSize } from './maglev.js';
import { parseReal, parseVip, parseWeight } from './spec.js';
import { defineCommand, formatTable, parse, UsageError, writeJson, type Command, type CommandIO, type Verb } from '../../cli/framework/index.js';
import * as help from './help.js';
import { sleep, untilInterrupted } from '../common/interrupt.js';
import { takeWatch } from '../common/watch.js';

const IFACE = { iface: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

/** Bad values of options and arguments are usage errors, said with the verb. */
function option<T>(verb: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new UsageError(`lb ${verb}: ${err.message}`);
    throw err;
  }
}

function args(verb: string, positionals: string[], names: string[]): string[] {
  if (positionals.length < names.length) throw new UsageError(`lb ${verb}: expected ${names.join(' ')}`);
  if (positionals.length > names.length) throw new UsageError(`lb ${verb}: unexpected argument '${positionals[names.length]}'`);
  return positionals;
}

function attachMode(verb: string, s: string | undefined): AttachMode | undefined {
  if (s === undefined) return undefined;
  if (s === 'driver' || s === 'native' || s === 'drv') return 'driver';
  if (s === 'generic' || s === 'skb') return 'generic';
  throw new UsageError(`lb ${verb}: invalid mode '${s}' (driver or generic)`);
}

async function load(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('lb load', argv, { mode: { type: 'string' }, src4: { type: 'string' }, src6: { type: 'string' }, json: { type: 'boolean', short: 'j' }, help: { type: 'boolean', short: 'h' } });
  const [iface] = args('load', positionals, ['IFACE']) as [string];
  const mode = attachMode('load', values.mode);
  const l = await loadBalancer(iface, { ...(mode ? { mode } : {}), ...(values.src4 ? { src4: values.src4 } : {}), ...(values.src6 ? { src6: values.src6 } : {}) });
  if (values.json) writeJson(io.stdout, l);
  else io.stdout.write(`lb loaded on ${iface} (${l.mode} mode${l.fellBack ? ': no driver-mode XDP on this device' : ''}, program id ${l.programId})\n`);
  return 0;
}

async function unload(argv: string[], io: CommandIO): Promise<number> {
  const { positionals } = parse('lb unload', argv, { help: { type: 'boolean', short: 'h' } });
  if (positionals.length > 1) throw new UsageError(`lb unload: unexpected argument '${positionals[1]}'`);
  let iface = positionals[0];
  if (iface === undefined) {
    using lb = openBalancer(undefined);
    iface = lb.iface;
  }
  unloadBalancer(iface);
  io.stdout.write(`lb unloaded from ${iface}\n`);
  return 0;
}

async function vip(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('lb vip', argv, {
    ...IFACE,
    mode: { type: 'string' },
    hash: { type: 'string' },
    ring: { type: 'string' },
    check: { type: 'string' },
    interval: { type: 'string' },
    timeout: { type: 'string' },
    rise: { type: 'string' },
    fall: { type: 'string' },
    'check-port': { type: 'string' },
  });
  const [action, text] = args('vip', positionals, ['add|del', 'VIP']) as [string, string];
  if (action !== 'add' && action !== 'del') throw new UsageError(`lb vip: unknown action '${action}' (add or del)`);
  const v = option('vip', () => parseVip(text));
  if (action === 'del') {
    using lb = openBalancer(values.iface);
    lb.delVip(v);
    io.stdout.write(`removed VIP ${text}\n`);
    return 0;
  }
  const opts: VipOptions = option('vip', () => ({
    mode: parseMode(values.mode ?? 'nat'),
    hash: parseHash(values.hash ?? '5tuple'),
    ...(values.ring !== undefined ? { ringSize: checkRingSize(/^\d+$/.test(values.ring) ? Number(values.ring) : Number.NaN) } : {}),
    ...(values.check !== undefined
      ? { check: parseCheck(values.check, { ...(values.interval ? { interval: values.interval } : {}), ...(values.timeout ? { timeout: values.timeout } : {}), ...(values.rise ? { rise: values.rise } : {}), ...(values.fall ? { fall: values.fall } : {}), ...(values['check-port'] ? { port: values['check-port'] } : {}) }) }
      : {}),
  }));
  if (values.check === undefined && (values.interval ?? values.timeout ?? values.rise ?? values.fall ?? values['check-port']) !== undefined) throw new UsageError('lb vip: --interval, --timeout, --rise, --fall and --check-port go with --check');
  using lb = openBalancer(values.iface);
  const s = lb.addVip(v, opts);
  io.stdout.write(`added VIP ${s.vip} (${s.mode}, ${s.hash}, ring ${s.ringSize}${s.check ? `, ${s.check.kind} check every ${s.check.intervalMs}ms` : ''})\n`);
  return 0;
}

async function real(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('lb real', argv, { ...IFACE, weight: { type: 'string' } });
  const [action, vipText, realText] = args('real', positionals, ['add|del|weight', 'VIP', 'REAL']) as [string, string, string];
  if (action !== 'add' && action !== 'del' && action !== 'weight') throw new UsageError(`lb real: unknown action '${action}' (add, del or weight)`);
  const v = option('real', () => parseVip(vipText));
  const r = option('real', () => parseReal(realText));
  if (action === 'weight' && values.weight === undefined) throw new UsageError('lb real weight: expected --weight N');
  if (action === 'del' && values.weight !== undefined) throw new UsageError('lb real del: --weight is not taken here');
  const weight = option('real', () => parseWeight(values.weight ?? '1'));
  using lb = openBalancer(values.iface);
  if (action === 'add') {
    lb.addReal(v, r, weight);
    io.stdout.write(`added real ${realText} to ${vipText} (weight ${weight})\n`);
  } else if (action === 'weight') {
    lb.setWeight(v, r, weight);
    io.stdout.write(`real ${realText} of ${vipText}: weight ${weight}\n`);
  } else {
    const moved = lb.delReal(v, r);
    io.stdout.write(`removed real ${realText} from ${vipText} (${moved} flow(s) hashed again)\n`);
  }
  return 0;
}

function formatStatus(vips: VipState[]): string {
  if (vips.length === 0) return 'no VIPs\n';
  return vips
    .map((v) => {
      const check = v.check ? `, ${v.check.kind}${v.check.path ? ` ${v.check.path}` : ''} check every ${v.check.intervalMs}ms (rise ${v.check.rise}, fall ${v.check.fall})` : '';
      const head = `${v.vip}: ${v.mode}, ${v.hash}, ring ${v.ringSize}${check}`;
      if (v.reals.length === 0) return `${head}\n  no reals: packets to it are dropped\n`;
      const rows = v.reals.map((r) => [r.address, String(r.weight), `${(r.share * 100).toFixed(1)}%`, r.up ? 'up' : 'DOWN']);
      return `${head}\n${formatTable(['  real', 'weight', 'share', 'health'], rows.map((r) => [`  ${r[0]}`, ...r.slice(1)]))}`;
    })
    .join('');
}

async function status(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('lb status', argv, { ...IFACE, json: { type: 'boolean', short: 'j' } });
  args('status', positionals, []);
  using lb = openBalancer(values.iface);
  const s = lb.settings();
  const vips = lb.vips();
  if (values.json) {
    writeJson(io.stdout, { interface: lb.iface, attached: isLoaded(lb.iface), connections: lb.connections(), vips: vips.map(({ stats: _s, reals, ...v }) => ({ ...v, reals: reals.map(({ stats: _r, ...r }) => r) })) });
    return 0;
  }
  io.stdout.write(`lb on ${s?.ifname || lb.iface}${isLoaded(lb.iface) ? '' : ' (NOT ATTACHED)'}\n${formatStatus(vips)}`);
  return 0;
}

function counterRow(name: string, c: Counters): string[] {
  return [name, String(c.packets), String(c.bytes), String(c.newConnections), String(c.lruMisses), String(c.replyPackets), String(c.dropped)];
}

function statsTable(vips: VipState[]): string {
  const rows: string[][] = [];
  for (const v of vips) {
    rows.push(counterRow(v.vip, v.stats));
    for (const r of v.reals) rows.push(counterRow(`  ${r.address}`, r.stats));
  }
  return formatTable(['vip / real', 'packets', 'bytes', 'new conns', 'lru misses', 'replies', 'dropped'], rows);
}


async function stats(argv: string[], io: CommandIO): Promise<number> {
  const { args: a, watch: watchText } = takeWatch(argv);
  const watch = watchText === undefined ? undefined : option('stats', () => parseDuration(watchText, { name: '--watch', minMs: 100 }));
  const { values, positionals } = parse('lb stats', a, { ...IFACE, json: { type: 'boolean', short: 'j' } });
  args('stats', positionals, []);
  const show = (): void => {
    using lb = openBalancer(values.iface);
    const vips = lb.vips();
    if (values.json) writeJson(io.stdout, { time: new Date().toISOString(), vips: vips.map((v) => ({ vip: v.vip, stats: v.stats, reals: v.reals.map((r) => ({ address: r.address, stats: r.stats })) })) });
    else io.stdout.write(`${watch === undefined ? '' : `${new Date().toTimeString().slice(0, 8)}\n`}${statsTable(vips)}`);
  };
  if (watch === undefined) {
    show();
    return 0;
  }
  await untilInterrupted(async (signal) => {
    while (!signal.aborted) {
      show();
      await sleep(watch, signal);
    }
  });
  return 0;
}

async function apply(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('lb apply', argv, { ...IFACE, 'dry-run': { type: 'boolean' }, json: { type: 'boolean', short: 'j' } });
  const [file] = args('apply', positionals, ['FILE.yaml']) as [string];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const declared = parseConfig(text, file);
  using lb = openBalancer(values.iface);
  const changes = applyConfig(lb, declared, values['dry-run'] ?? false);
  if (values.json) writeJson(io.stdout, { changes });
  else if (changes.length === 0) io.stdout.write('nothing to change\n');
  else for (const c of changes) io.stdout.write(`${values['dry-run'] ? 'would ' : ''}${c.action} ${c.vip}${c.real ? ` ${c.real}` : ''}${c.weight !== undefined && c.action !== 'del real' ? ` weight ${c.weight}` : ''}\n`);
  return 0;
}

async function health(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('lb health', argv, { ...IFACE, json: { type: 'boolean', short: 'j' } });
  args('health', positionals, []);
  let iface: string;
  {
    using lb = openBalancer(values.iface);
    iface = lb.iface;
  }
  io.stderr.write(`lb health: checking the reals of ${iface}\n`);
  await untilInterrupted((signal) =>
    runHealthChecks(iface, signal, (e) => {
      if (values.json) writeJson(io.stdout, e);
      else io.stdout.write(`${e.time} ${e.vip} real ${e.real} ${e.state === 'down' ? 'DOWN' : 'UP'}: ${e.reason}\n`);
    }),
  );
  return 0;
}

async function decap(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('lb decap', argv, { mode: { type: 'string' }, unload: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  const [iface, ...vips] = positionals;
  if (iface === undefined) throw new UsageError('lb decap: expected IFACE and the VIP addresses');
  if (values.unload) {
    if (vips.length > 0) throw new UsageError(`lb decap --unload: unexpected argument '${vips[0]}'`);
    unloadDecap(iface);
    io.stdout.write(`lb decap unloaded from ${iface}\n`);
    return 0;
  }
  for (const v of vips) option('decap', () => parseReal(v));
  const mode = attachMode('decap', values.mode);
  const r = await loadDecap(iface, vips, mode ? { mode } : {});
  io.stdout.write(vips.length ? `lb decap on ${iface} for ${r.added.join(', ')}\n` : `lb decap on ${iface} with no VIPs: every packet passes\n`);
  return 0;
}

const VERBS: Readonly<Record<string, Verb>> = { load, unload, vip, real, status, stats, apply, health, decap };

export const command: Command = defineCommand({
  name: 'lb',
  summary: 'XDP layer-4 load balancer: VIPs, reals, Maglev hashing, NAT and DSR, pinned state',
  help,
  verbs: VERBS,
});
