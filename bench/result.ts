/** One measured comparison: tsbpf against a reference doing the same work in the same run. */
export interface BenchResult {
  /** What was measured, e.g. "hash map lookup (8 B key, 16 B value)". */
  name: string;
  /** The unit of `ts` and `reference`, e.g. "ops/s" or "ms". */
  unit: string;
  ts: number;
  reference: number;
  /** Who did the reference run, e.g. "libbpf (C)". */
  referenceName: string;
  /** How tsbpf compares, >1 is better for tsbpf: ts/reference for rates, reference/ts for times. */
  ratio: number;
  /** The target the ratio is held to, e.g. ">= 0.8". */
  target?: string;
  note?: string;
}
