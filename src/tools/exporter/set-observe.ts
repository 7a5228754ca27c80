// observe's metrics in Hubble's names, so Hubble's dashboards read them: flows by type,
// subtype, verdict and protocol, drops by reason and protocol, TCP flags by family, and the
// events the ring lost. observe runs live (as `tsbpf observe --follow`) for as long as the
// exporter, on the interfaces given (every one by default).
import { Writable } from 'node:stream';
import type { Flow, FlowItem } from '../observe/flow.js';
import { parseObserveArgs } from '../observe/options.js';
import { runObserve } from '../observe/run.js';
import type { MetricProvider } from './exporter.js';
import type { MetricData, Sample } from './metrics.js';

export interface ObserveSetOptions {
  /** observe's own flags (`--iface eth0`, filters), as `tsbpf observe` takes them. */
  args?: string[];
}

/** Counts by a key of label values, each kept as the sample it is exported as. */
class Counts {
  readonly #samples = new Map<string, Sample>();
  add(labels: Record<string, string>, n = 1): void {
    const id = Object.values(labels).join('\0');
    const s = this.#samples.get(id);
    if (s) s.value += n;
    else this.#samples.set(id, { labels, value: n });
  }
  values(): Sample[] {
    return [...this.#samples.values()];
  }
}

function protocolOf(f: Flow): string {
  const l4 = f.l4;
  if (l4 === undefined) return '';
  return l4.TCP ? 'TCP' : l4.UDP ? 'UDP' : l4.ICMPv4 ? 'ICMPv4' : l4.ICMPv6 ? 'ICMPv6' : '';
}

/** Hubble's type and subtype of a flow: Trace (with its observation point), Drop, or L7. */
function typeOf(f: Flow): [string, string] {
  if (f.Type === 'L7') return ['L7', f.l7?.http ? 'HTTP' : f.l7?.dns ? 'DNS' : ''];
  if (f.verdict === 'DROPPED') return ['Drop', ''];
  return ['Trace', (f.trace_observation_point ?? '').toLowerCase().replaceAll('_', '-')];
}

export async function openObserveSet(o: ObserveSetOptions): Promise<MetricProvider> {
  const options = parseObserveArgs(['--follow', ...(o.args ?? [])]);
  if (options === 'help') throw new TypeError('observe: --help is no option of a metric set');
  const flows = new Counts();
  const drops = new Counts();
  const flags = new Counts();
  const lost = new Counts();
  const onItem = (item: FlowItem): void => {
    if ('lost_events' in item) {
      lost.add({ source: item.lost_events.source }, Number(item.lost_events.num_events_lost));
      return;
    }
    const f = item.flow;
    const protocol = protocolOf(f);
    const [type, subtype] = typeOf(f);
    flows.add({ protocol, subtype, type, verdict: f.verdict });
    if (f.verdict === 'DROPPED') drops.add({ protocol, reason: f.drop_reason_desc ?? 'UNKNOWN' });
    const tcp = f.l4?.TCP?.flags;
    if (tcp !== undefined && f.Type === 'L3_L4') for (const [flag, set] of Object.entries(tcp)) if (set) flags.add({ family: f.IP.ipVersion, flag });
  };
  const discard = (): Writable => new Writable({ write: (_c, _e, done) => done() });
  const controller = new AbortController();
  let ready: () => void = () => {};
  const attached = new Promise<void>((resolve) => (ready = resolve));
  const running = runObserve(options, { stdout: discard(), stderr: discard() }, controller.signal, { onReady: () => ready(), onItem });
  // Attached, or failed before it was: a failure to attach is the exporter's failure to start.
  await Promise.race([attached, running]);
  return {
    collect(): MetricData[] {
      return [
        { name: 'hubble_flows_processed_total', help: 'Total number of flows processed', type: 'counter', values: flows.values() },
        { name: 'hubble_drop_total', help: 'Number of drops', type: 'counter', values: drops.values() },
        { name: 'hubble_tcp_flags_total', help: 'TCP flag occurrences', type: 'counter', values: flags.values() },
        { name: 'hubble_lost_events_total', help: 'Number of lost events', type: 'counter', values: lost.values() },
      ];
    },
    close() {
      controller.abort();
      running.catch(() => {});
    },
  };
}
