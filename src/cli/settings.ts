// `--set NAME=VALUE`: checking a value against the variable's type before it is written, so a
// typo is a usage error that says what the variable takes.
import type { Btf } from '../btf/btf.js';
import { resolveType } from '../btf/query.js';
import type { BtfType } from '../btf/types.js';
import { UsageError } from './framework/index.js';

/** The values an integer variable holds, or undefined when its type is not a plain integer. */
export function integerRange(btf: Btf | undefined, type: BtfType | undefined): [bigint, bigint] | undefined {
  if (btf === undefined || type === undefined) return undefined;
  const t = resolveType(btf, type.id);
  if (t.kind !== 'INT' || (t.encoding !== 'NONE' && t.encoding !== 'SIGNED')) return undefined;
  const bits = BigInt(t.nrBits);
  return t.encoding === 'SIGNED' ? [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n] : [0n, (1n << bits) - 1n];
}

/** Refuses `--set NAME=text` when the variable is an integer and the parsed value is not one in range. */
export function checkIntegerSetting(name: string, text: string, value: unknown, range: [bigint, bigint] | undefined): void {
  if (range === undefined) return;
  const [lo, hi] = range;
  if (typeof value === 'bigint' && value >= lo && value <= hi) return;
  const span = lo < 0n ? `from ${lo} to ${hi}` : `${lo}-${hi}`;
  throw new UsageError(`--set ${name}: expected a number ${span}, got '${text}'`);
}
