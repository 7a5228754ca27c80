// Mutations of real BPF objects, and the check that reading (and loading) them fails only with
// typed errors. Used by test/object-fuzz.test.ts and scripts/fuzz-object.mjs.
import { readFileSync } from 'node:fs';
import { ElfFile } from '../../src/elf/file.js';
import { TsbpfError } from '../../src/errors.js';
import { CollectionSpec } from '../../src/object/spec.js';

/** A small deterministic PRNG (xorshift32), so a failing case can be replayed from its seed. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.#s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#s = x >>> 0;
    return this.#s;
  }
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.below(a.length)]!;
  }
}

interface Region {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

/** The byte ranges worth aiming at: section contents by name, and the section header table. */
function regions(bytes: Uint8Array): Region[] {
  const elf = new ElfFile(bytes);
  const out: Region[] = [{ name: 'whole file', start: 0, end: bytes.length }];
  const h = elf.header;
  out.push({ name: 'section headers', start: h.shoff, end: Math.min(bytes.length, h.shoff + h.shnum * h.shentsize) });
  for (const s of elf.sections) {
    if (s.type === 8 || s.size === 0) continue;
    out.push({ name: s.name, start: s.offset, end: Math.min(bytes.length, s.offset + s.size) });
  }
  return out;
}

const INTERESTING = [0, 1, 2, 3, 4, 7, 8, 12, 16, 24, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** One mutated copy of `bytes`, and a description of what was done to it. */
export function mutate(bytes: Uint8Array, rng: Rng): { bytes: Uint8Array; what: string } {
  const out = bytes.slice();
  const rs = regions(bytes);
  const r = rng.pick(rs);
  const span = Math.max(1, r.end - r.start);
  const at = (): number => r.start + rng.below(span);
  const v = new DataView(out.buffer);
  const kind = rng.below(7);
  const steps = 1 + rng.below(4);
  const done: string[] = [];
  for (let i = 0; i < steps; i++) {
    switch (kind) {
      case 0: {
        const o = at();
        out[o] = rng.below(256);
        done.push(`byte ${o}`);
        break;
      }
      case 1: {
        const o = at() & ~3;
        if (o + 4 <= out.length) v.setUint32(o, rng.pick(INTERESTING), true);
        done.push(`u32 ${o}`);
        break;
      }
      case 2: {
        const o = at();
        out[o] = (out[o] ?? 0) ^ (1 << rng.below(8));
        done.push(`bit ${o}`);
        break;
      }
      case 3: {
        const o = at() & ~7;
        if (o + 8 <= out.length) v.setBigUint64(o, BigInt(rng.pick(INTERESTING)) << BigInt(rng.below(2) * 32), true);
        done.push(`u64 ${o}`);
        break;
      }
      case 4: {
        const o = at() & ~1;
        if (o + 2 <= out.length) v.setUint16(o, rng.pick(INTERESTING) & 0xffff, true);
        done.push(`u16 ${o}`);
        break;
      }
      case 5: {
        const a = at();
        const b = at();
        const n = Math.min(16, out.length - Math.max(a, b));
        if (n > 0) out.copyWithin(a, b, b + n);
        done.push(`copy ${b}->${a}`);
        break;
      }
      default: {
        const n = rng.below(out.length);
        return { bytes: out.subarray(0, n), what: `truncate to ${n}` };
      }
    }
  }
  return { bytes: out, what: `${r.name}: ${done.join(', ')}` };
}

export interface CaseResult {
  readonly outcome: 'ok' | 'typed error' | 'crash';
  readonly what: string;
  readonly error?: unknown;
  readonly ms: number;
}

/** Reads the bytes into a spec and exercises it; `load` also loads it (needs root). */
export function runCase(bytes: Uint8Array, what: string, options: { load?: boolean } = {}): CaseResult {
  const t0 = performance.now();
  try {
    const spec = CollectionSpec.fromBuffer(bytes, { name: 'fuzzed.o' });
    for (const v of Object.values(spec.variables)) {
      try {
        void v.value;
      } catch (err) {
        if (!(err instanceof TsbpfError) || isWrappedBug(err)) throw err;
      }
    }
    spec.copy();
    if (options.load) {
      try {
        spec.load({ pinPath: '/nonexistent-tsbpf-fuzz' }).close();
      } catch (err) {
        if (!(err instanceof TsbpfError) || isWrappedBug(err)) throw err;
      }
    }
    return { outcome: 'ok', what, ms: performance.now() - t0 };
  } catch (err) {
    const ms = performance.now() - t0;
    // An unexpected exception wrapped into an ObjectError is still a bug to report.
    if (err instanceof TsbpfError && !isWrappedBug(err)) return { outcome: 'typed error', what, error: err, ms };
    return { outcome: 'crash', what, error: err, ms };
  }
}

function isWrappedBug(err: TsbpfError): boolean {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error && !(cause instanceof TsbpfError) && cause.name !== 'AsmError';
}

/** Runs `n` mutations of each object from `seed`; returns the crashes (there should be none). */
export function fuzz(objects: readonly string[], n: number, seed: number, options: { load?: boolean; onCase?: (r: CaseResult) => void } = {}): CaseResult[] {
  const rng = new Rng(seed);
  const crashes: CaseResult[] = [];
  const inputs = objects.map((f) => ({ f, bytes: new Uint8Array(readFileSync(f)) }));
  for (let i = 0; i < n; i++) {
    const input = inputs[i % inputs.length]!;
    const caseSeed = rng.next();
    const m = mutate(input.bytes, new Rng(caseSeed));
    const r = runCase(m.bytes, `${input.f} seed ${caseSeed}: ${m.what}`, options);
    options.onCase?.(r);
    if (r.outcome === 'crash') crashes.push(r);
  }
  return crashes;
}
