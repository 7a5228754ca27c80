// Metric sets of tsbpf's own tools, for `tsbpf exporter --tools`. Each is a module of its own,
// imported only when asked for; a new tool adds its set with one line here, returning a
// MetricProvider.
import type { MetricProvider } from './exporter.js';
import type { GuardSetOptions } from './set-guard.js';
import type { ObserveSetOptions } from './set-observe.js';
import type { TcptrackSetOptions } from './set-tcptrack.js';

export interface ToolOptions {
  /** tcptrack: only the connections of this process (and its accepts). */
  tcptrack?: TcptrackSetOptions;
  /** observe: its flags (interfaces, filters). */
  observe?: ObserveSetOptions;
  /** guard: its rule files. */
  guard?: GuardSetOptions;
}

const TOOLS: Record<string, (o: ToolOptions) => Promise<MetricProvider>> = {
  tcptrack: async (o) => (await import('./set-tcptrack.js')).openTcptrackSet(o.tcptrack ?? {}),
  'xdp-filter': async () => (await import('./set-xdp-filter.js')).xdpFilterSet(),
  observe: async (o) => (await import('./set-observe.js')).openObserveSet(o.observe ?? {}),
  guard: async (o) => (await import('./set-guard.js')).openGuardSet(o.guard ?? {}),
};

export const TOOL_NAMES: readonly string[] = Object.keys(TOOLS);

/** The metric set of tool `name` (one of TOOL_NAMES), loaded and attached where it needs to be. */
export function toolProvider(name: string, o: ToolOptions = {}): Promise<MetricProvider> {
  return TOOLS[name]!(o);
}
