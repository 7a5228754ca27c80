// guard's metrics: alerts by rule and priority, events seen, and events the ring lost. The
// rules (guard's default ones unless given) are evaluated for as long as the exporter runs;
// alerts are counted, not printed.
import { defaultRulesFile } from '../guard/default-rules.js';
import { loadRules } from '../guard/loader.js';
import { GuardSession } from '../guard/session.js';
import type { MetricProvider } from './exporter.js';
import type { MetricData, Sample } from './metrics.js';

export interface GuardSetOptions {
  /** Falco rule files (default: guard's own rules). */
  rules?: string[];
}

const SWEEP_MS = 1000;

export async function openGuardSet(o: GuardSetOptions): Promise<MetricProvider> {
  const alerts = new Map<string, Sample>();
  let lost = 0;
  const session = await GuardSession.open({
    rules: loadRules(o.rules ?? [defaultRulesFile()]),
    onAlert: (a) => {
      const id = `${a.rule}\0${a.priority}`;
      const s = alerts.get(id);
      if (s) s.value++;
      else alerts.set(id, { labels: { rule: a.rule, priority: a.priority }, value: 1 });
    },
    onDrops: (n) => {
      lost += n;
    },
  });
  // As `tsbpf guard` does: lost events counted and exited processes forgotten once a second.
  const timer = setInterval(() => {
    session.checkDrops();
    session.engine.table.sweep();
  }, SWEEP_MS);
  timer.unref();
  return {
    collect(): MetricData[] {
      session.drain();
      session.checkDrops();
      return [
        { name: 'tsbpf_guard_alerts_total', help: 'Alerts of guard rules, by rule and priority', type: 'counter', values: [...alerts.values()] },
        { name: 'tsbpf_guard_events_total', help: 'Events guard evaluated its rules on', type: 'counter', values: [{ labels: {}, value: session.stats().events }] },
        { name: 'tsbpf_guard_lost_events_total', help: 'Events the ring buffer had no room for', type: 'counter', values: [{ labels: {}, value: lost }] },
      ];
    },
    close() {
      clearInterval(timer);
      session.close();
    },
  };
}
