// The one parser for every option that takes a duration (tcptrack -t, xdp-filter --watch and
// --interval, object attach --for), so they all accept the same units and refuse the same values.
import { InvalidArgumentError } from '../../index.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The longest delay a Node timer keeps: above it, setTimeout warns and fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface DurationOptions {
  /** What the message calls the value, e.g. '--watch'; 'duration' by default. */
  name?: string;
  /** The shortest duration accepted, in milliseconds (at least 1). */
  minMs?: number;
  /** The longest, in milliseconds; at most, and by default, MAX_TIMER_MS. */
  maxMs?: number;
}

/**
 * Parses "500ms", "10s", "1.5m", "1h" or a bare number of seconds into whole milliseconds.
 * Refuses negative, zero, non-numeric values, values below `minMs`, and values a timer cannot
 * hold (above 2^31-1 ms, about 24.8 days) with an InvalidArgumentError that says which.
 */
export function parseDuration(text: string, options: DurationOptions = {}): number {
  const name = options.name ?? 'duration';
  const s = text.trim();
  if (/^-\s*\d/.test(s)) throw new InvalidArgumentError(`${name} '${text}' must be positive`);
  const m = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)?$/.exec(s);
  if (m === null) throw new InvalidArgumentError(`invalid ${name} '${text}' (examples: 500ms, 10s, 1.5m, 1h; a bare number is seconds)`);
  const ms = Math.round(Number(m[1]) * UNITS[m[2] ?? 's']!);
  const min = Math.max(1, options.minMs ?? 1);
  const max = Math.min(MAX_TIMER_MS, options.maxMs ?? MAX_TIMER_MS);
  if (Number(m[1]) === 0) throw new InvalidArgumentError(`${name} '${text}' must be positive`);
  if (ms < min) throw new InvalidArgumentError(`${name} '${text}' is too short: the shortest is ${formatDuration(min)}`);
  if (!(ms <= max)) throw new InvalidArgumentError(`${name} '${text}' is too long: the longest is ${formatDuration(max)}`);
  return ms;
}

/** A duration in the largest unit that shows it exactly (1h, 90s, 2147483647ms), plus days when long. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  const days = ms / 86_400_000;
  return days >= 1 ? `${ms}ms (${days.toFixed(1)} days)` : `${ms}ms`;
}
