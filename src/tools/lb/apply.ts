// `tsbpf lb apply FILE.yaml`: the whole set of VIPs and reals declared in one file, applied as
// the difference from what is loaded. The file is read and checked in full first, so a bad one
// changes nothing.
//
//   vips:
//     - vip: 10.0.0.10:80/tcp
//       mode: nat            # or dsr
//       hash: 5tuple         # or 3tuple
//       ring: 65537
//       check: { type: http, path: /healthz, interval: 1s, timeout: 500ms, rise: 2, fall: 2 }
//       reals:
//         - 10.0.1.1                  # weight 1
//         - { address: 10.0.1.2, weight: 2 }
import { parse as parseYaml } from 'yaml';
import { InvalidArgumentError } from '../../index.js';
import { parseDuration } from '../common/duration.js';
import type { Balancer, ForwardMode, HashMode, HealthCheck, VipOptions } from './balancer.js';
import { checkRingSize, DEFAULT_RING_SIZE } from './maglev.js';
import { formatReal, formatVip, parseReal, parseVip, parseWeight, type Real, type Vip } from './spec.js';

export interface DeclaredVip {
  vip: Vip;
  options: Required<Pick<VipOptions, 'mode' | 'hash' | 'ringSize'>> & { check?: HealthCheck };
  reals: Array<{ real: Real; weight: number }>;
}

export interface Change {
  action: 'add vip' | 'del vip' | 'replace vip' | 'add real' | 'del real' | 'weight';
  vip: string;
  real?: string;
  weight?: number;
}

function fail(where: string, what: string): never {
  throw new InvalidArgumentError(`${where}: ${what}`);
}

/** Parses `--check tcp|http:PATH` with its interval, timeout and thresholds. */
export function parseCheck(text: string, o: { interval?: string; timeout?: string; rise?: string | number; fall?: string | number; port?: string | number } = {}): HealthCheck {
  const m = /^(tcp|http)(?::(\/.*))?$/.exec(text);
  if (!m || (m[1] === 'tcp' && m[2] !== undefined)) throw new InvalidArgumentError(`invalid check '${text}' (tcp, or http:/PATH)`);
  const count = (name: string, v: string | number | undefined, dflt: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 255) throw new InvalidArgumentError(`invalid ${name} '${v}' (1 to 255)`);
    return n;
  };
  const intervalMs = parseDuration(o.interval ?? '1s', { name: 'check interval', minMs: 50 });
  const timeoutMs = parseDuration(o.timeout ?? `${Math.min(intervalMs, 1000)}ms`, { name: 'check timeout', minMs: 10 });
  if (o.port !== undefined && (!Number.isInteger(Number(o.port)) || Number(o.port) < 1 || Number(o.port) > 65535)) throw new InvalidArgumentError(`invalid check port '${o.port}'`);
  return {
    kind: m[1] as 'tcp' | 'http',
    ...(m[1] === 'http' ? { path: m[2] ?? '/' } : {}),
    ...(o.port !== undefined ? { port: Number(o.port) } : {}),
    intervalMs,
    timeoutMs,
    rise: count('rise', o.rise, 2),
    fall: count('fall', o.fall, 2),
  };
}

export function parseMode(s: string): ForwardMode {
  if (s !== 'nat' && s !== 'dsr') throw new InvalidArgumentError(`invalid mode '${s}' (nat or dsr)`);
  return s;
}

export function parseHash(s: string): HashMode {
  if (s !== '5tuple' && s !== '3tuple') throw new InvalidArgumentError(`invalid hash '${s}' (5tuple or 3tuple)`);
  return s;
}

/** The declared set of a config file's text; throws naming the first bad entry. */
export function parseConfig(text: string, file: string): DeclaredVip[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    fail(file, `not YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const vips = (doc as { vips?: unknown } | null)?.vips ?? [];
  if (!Array.isArray(vips)) fail(file, '`vips` must be a list');
  const seen = new Set<string>();
  return vips.map((entry: unknown, i: number) => {
    const where = `${file}: vips[${i}]`;
    if (typeof entry !== 'object' || entry === null) fail(where, 'expected a mapping with vip: and reals:');
    const e = entry as Record<string, unknown>;
    if (typeof e.vip !== 'string') fail(where, 'vip: ADDR:PORT/PROTO is missing');
    const wrap = <T>(fn: () => T): T => {
      try {
        return fn();
      } catch (err) {
        return fail(where, (err as Error).message);
      }
    };
    const vip = wrap(() => parseVip(e.vip as string));
    const name = formatVip(vip);
    if (seen.has(name)) fail(where, `VIP ${name} is declared twice`);
    seen.add(name);
    const c = e.check as Record<string, unknown> | undefined;
    const check = c === undefined ? undefined : wrap(() => parseCheck(c.type === 'http' ? `http:${String(c.path ?? '/')}` : String(c.type ?? 'tcp'), { interval: c.interval as string, timeout: c.timeout as string, rise: c.rise as number, fall: c.fall as number, ...(c.port !== undefined ? { port: c.port as number } : {}) }));
    const reals = (Array.isArray(e.reals) ? e.reals : e.reals === undefined ? [] : fail(where, '`reals` must be a list')) as unknown[];
    const realSeen = new Set<string>();
    return {
      vip,
      options: {
        mode: wrap(() => parseMode(String(e.mode ?? 'nat'))),
        hash: wrap(() => parseHash(String(e.hash ?? '5tuple'))),
        ringSize: e.ring === undefined ? DEFAULT_RING_SIZE : wrap(() => checkRingSize(Number(e.ring))),
        ...(check ? { check } : {}),
      },
      reals: reals.map((r) => {
        const spec = typeof r === 'string' ? { address: r, weight: 1 } : (r as { address?: unknown; weight?: unknown });
        const real = wrap(() => parseReal(String(spec.address)));
        if (real.family !== vip.family) fail(where, `real ${formatReal(real)} is not IPv${vip.family}`);
        if (realSeen.has(formatReal(real))) fail(where, `real ${formatReal(real)} is listed twice`);
        realSeen.add(formatReal(real));
        return { real, weight: wrap(() => parseWeight(spec.weight === undefined ? 1 : (spec.weight as number))) };
      }),
    };
  });
}

function sameCheck(a: HealthCheck | undefined, b: HealthCheck | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** The changes that take the balancer from what it has to `declared`, applied unless `dryRun`. */
export function applyConfig(lb: Balancer, declared: DeclaredVip[], dryRun = false): Change[] {
  const changes: Change[] = [];
  const current = new Map(lb.vips().map((v) => [v.vip, v]));
  const wanted = new Map(declared.map((d) => [formatVip(d.vip), d]));
  for (const [name, v] of current) {
    if (!wanted.has(name)) {
      changes.push({ action: 'del vip', vip: name });
      if (!dryRun) lb.delVip(parseVip(name));
    } else {
      const d = wanted.get(name)!;
      if (v.mode !== d.options.mode || v.hash !== d.options.hash || v.ringSize !== d.options.ringSize || !sameCheck(v.check, d.options.check)) {
        changes.push({ action: 'replace vip', vip: name });
        if (!dryRun) lb.delVip(d.vip);
        current.delete(name);
      }
    }
  }
  for (const [name, d] of wanted) {
    const have = current.get(name);
    if (!have) {
      changes.push({ action: 'add vip', vip: name });
      if (!dryRun) lb.addVip(d.vip, d.options);
    }
    const haveReals = new Map((have?.reals ?? []).map((r) => [r.address, r]));
    for (const { real, weight } of d.reals) {
      const addr = formatReal(real);
      const h = haveReals.get(addr);
      if (!h) {
        changes.push({ action: 'add real', vip: name, real: addr, weight });
        if (!dryRun) lb.addReal(d.vip, real, weight);
      } else if (h.weight !== weight) {
        changes.push({ action: 'weight', vip: name, real: addr, weight });
        if (!dryRun) lb.setWeight(d.vip, real, weight);
      }
      haveReals.delete(addr);
    }
    for (const addr of haveReals.keys()) {
      changes.push({ action: 'del real', vip: name, real: addr });
      if (!dryRun) lb.delReal(d.vip, parseReal(addr));
    }
  }
  return changes;
}
