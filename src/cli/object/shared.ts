// What the verbs of `tsbpf object` share: their options, the object FILE argument, --set, and
// how a failed load is reported.
import { coreReloKindName } from '../../btf/ext.js';
import { InvalidArgumentError, TsbpfError, VerifierError } from '../../errors.js';
import { type CollectionSpec, ProgramVerifierError, formatSource } from '../../object/index.js';
import { UsageError, type CommandIO } from '../framework/index.js';
import { checkIntegerSetting, integerRange } from '../settings.js';

export const OUTPUT = {
  json: { type: 'boolean', short: 'j' },
  pretty: { type: 'boolean', short: 'p' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const LOAD_OPTIONS = {
  ...OUTPUT,
  set: { type: 'string', multiple: true },
  'kernel-btf': { type: 'string' },
  map: { type: 'string', multiple: true },
  type: { type: 'string', multiple: true },
} as const;

export function file(verb: string, positionals: string[]): string {
  const [f, extra] = positionals;
  if (f === undefined) throw new UsageError(`object ${verb}: expected an object FILE`);
  if (extra !== undefined) throw new UsageError(`object ${verb}: unexpected argument '${extra}'`);
  return f;
}

/** `NAME=VALUE` settings applied to the spec's variables. */
export function applySettings(spec: CollectionSpec, settings: readonly string[]): void {
  for (const s of settings) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set ${s}: expected NAME=VALUE`);
    const name = s.slice(0, eq);
    const v = spec.variables[name];
    if (v === undefined) throw new UsageError(`--set ${name}: the object has no global variable ${name}`);
    const text = s.slice(eq + 1);
    const value = parseValue(text);
    checkIntegerSetting(name, text, value, integerRange(spec.btf, v.type));
    try {
      v.set(value);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new UsageError(`--set ${name}: ${err.message.replace(`variable ${name}: `, '')}`);
      throw err;
    }
  }
}

/** Integers (also hex and beyond 2^53), booleans, JSON arrays and objects, or else a string. */
export function parseValue(text: string): unknown {
  if (/^-?(0[xX][0-9a-fA-F]+|\d+)$/.test(text)) {
    const neg = text.startsWith('-');
    const v = BigInt(neg ? text.slice(1) : text);
    return neg ? -v : v;
  }
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text.startsWith('[') || text.startsWith('{') || text.startsWith('"')) {
    try {
      return JSON.parse(text, (_k, v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : v));
    } catch {
      return text;
    }
  }
  return text;
}

/** One line for stderr: what failed and where in the source, then the verifier's explanation. */
export function reportFailure(io: CommandIO, err: unknown, verb: string): void {
  if (err instanceof VerifierError) {
    const reason = err.reason.filter((l) => !l.startsWith('; ')).slice(-1)[0] ?? err.message.split('\n')[0] ?? '';
    const where = err.source !== undefined ? ` at ${formatSource(err.source)}` : '';
    const core = err instanceof ProgramVerifierError && err.core !== undefined ? `CO-RE relocation failed: ${err.core.local} (${coreReloKindName(err.core.kind)}) does not exist in the kernel's BTF; ` : '';
    const code = reason.includes(`[${err.code}]`) ? '' : ` [${err.code}]`;
    io.stderr.write(`tsbpf object ${verb}: program ${err.program} rejected by the verifier: ${core}${reason}${where}${code}\n`);
    for (const line of err.reason) io.stderr.write(`  ${line}\n`);
    return;
  }
  const message = err instanceof Error ? err.message.split('\n').join('; ') : String(err);
  io.stderr.write(`tsbpf object ${verb}: ${message}${err instanceof TsbpfError && !message.includes(`[${err.code}]`) ? ` [${err.code}]` : ''}\n`);
}

export function errorText(err: unknown): string {
  if (err instanceof VerifierError) {
    const reason = err.reason.filter((l) => !l.startsWith('; ')).slice(-1)[0] ?? err.message;
    return err.source !== undefined ? `${reason} at ${formatSource(err.source)}` : reason;
  }
  return err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err);
}
