// Metric sets of tsbpf's own tools, for `tsbpf exporter --tools`.
import { NotSupportedError } from '../../index.js';
import type { MetricProvider } from './exporter.js';
import type { SeriesLimits } from './series.js';

export interface ToolOptions {
  limits: SeriesLimits;
}

/** Each tool's metric set by name. */
const TOOLS: Record<string, (o: ToolOptions) => MetricProvider> = {};

export const TOOL_NAMES: readonly string[] = ['tcptrack', 'xdp-filter'];

export function toolProvider(name: string, o: ToolOptions): MetricProvider {
  const make = TOOLS[name];
  if (make === undefined) throw new NotSupportedError(`--tools ${name}`);
  return make(o);
}
