import { InvalidArgumentError } from '../../errors.js';

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses "500ms", "10s", "2m", "1h" or a bare number of seconds into milliseconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m?.[1]) throw new InvalidArgumentError(`invalid duration '${s}' (e.g. 10s, 500ms, 2m)`);
  const ms = Number(m[1]) * (units[m[2] ?? 's'] ?? 1000);
  if (!(ms > 0)) throw new InvalidArgumentError(`duration '${s}' must be positive`);
  return ms;
}
