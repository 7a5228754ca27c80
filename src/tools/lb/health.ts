// Health checks: each real of a VIP with a check is probed every interval (a TCP connect, or an
// HTTP GET answered with 2xx or 3xx); `fall` failures in a row take it out of the VIP's table
// and `rise` successes put it back, each change logged. The VIPs and reals are read again every
// round, so changes made meanwhile by other commands are followed.
import { request } from 'node:http';
import { connect } from 'node:net';
import { Balancer, type HealthCheck } from './balancer.js';
import { parseReal, parseVip, type Vip } from './spec.js';
import { sleep } from '../common/interrupt.js';

export interface HealthEvent {
  time: string;
  vip: string;
  real: string;
  state: 'up' | 'down';
  reason: string;
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: timeoutMs });
    const done = (why: string | undefined): void => {
      s.destroy();
      resolve(why);
    };
    s.once('connect', () => done(undefined));
    s.once('timeout', () => done(`no TCP answer within ${timeoutMs}ms`));
    s.once('error', (err) => done(`TCP connect failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
  });
}

function httpProbe(host: string, port: number, path: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 400 ? undefined : `HTTP ${code} for ${path}`);
    });
    req.once('timeout', () => {
      req.destroy();
      resolve(`no HTTP answer within ${timeoutMs}ms`);
    });
    req.once('error', (err) => resolve(`HTTP GET failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    req.end();
  });
}

/** One probe of a real for a check: undefined when healthy, else why not. */
export function probe(real: string, check: HealthCheck, port: number): Promise<string | undefined> {
  return check.kind === 'http' ? httpProbe(real, port, check.path ?? '/', check.timeoutMs) : tcpProbe(real, port, check.timeoutMs);
}

interface Track {
  ok: number;
  failed: number;
  nextAt: number;
}

/**
 * Runs the checks of every VIP of the balancer on `iface` until `signal` aborts, calling `log`
 * for each real that goes down or comes back.
 */
export async function runHealthChecks(iface: string, signal: AbortSignal, log: (e: HealthEvent) => void): Promise<void> {
  const tracks = new Map<string, Track>();
  while (!signal.aborted) {
    const now = Date.now();
    let wait = 1000;
    const probes: Promise<void>[] = [];
    {
      using lb = Balancer.open(iface);
      for (const v of lb.vips()) {
        const check = v.check;
        if (!check) continue;
        const vip: Vip = parseVip(v.vip);
        const port = check.port ?? (vip.port || 80);
        for (const r of v.reals) {
          const id = `${v.vip} ${r.address}`;
          const t = tracks.get(id) ?? { ok: 0, failed: 0, nextAt: now };
          tracks.set(id, t);
          if (t.nextAt > now) {
            wait = Math.min(wait, t.nextAt - now);
            continue;
          }
          t.nextAt = now + check.intervalMs;
          wait = Math.min(wait, check.intervalMs);
          probes.push(
            probe(r.address, check, port).then((why) => {
              if (why === undefined) {
                t.ok++;
                t.failed = 0;
              } else {
                t.failed++;
                t.ok = 0;
              }
              const goDown = why !== undefined && r.up && t.failed >= check.fall;
              const goUp = why === undefined && !r.up && t.ok >= check.rise;
              if (!goDown && !goUp) return;
              using again = Balancer.open(iface);
              if (again.setHealth(vip, parseReal(r.address), goUp)) {
                log({ time: new Date().toISOString(), vip: v.vip, real: r.address, state: goUp ? 'up' : 'down', reason: why ?? `${t.ok} checks passed` });
              }
            }),
          );
        }
      }
    }
    await Promise.all(probes);
    await sleep(Math.max(10, wait), signal);
  }
}
