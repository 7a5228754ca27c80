// Argument parsing shared by the subcommands: node's util.parseArgs with usage errors, --help,
// and the object selectors bpftool accepts (`id 5`, `pinned /sys/fs/bpf/x`, or `5`, `/sys/fs/bpf/x`).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError, type CommandIO } from './command.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** Options every data-printing verb takes. */
export const OUTPUT_OPTIONS = {
  json: { type: 'boolean', short: 'j' },
  pretty: { type: 'boolean', short: 'p' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

/**
 * parseArgs in strict mode with its errors turned into UsageErrors that name the verb, so the
 * command line gets exit code 2 and a hint instead of a stack trace.
 */
export function parse<O extends Options>(verb: string, argv: string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args: attachNegativeValues(argv, options), options, allowPositionals: true, strict: true });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError(`${verb}: ${firstLine((err as Error).message)}`);
    }
    throw err;
  }
}

/**
 * `--repeat -1`, `-t -5`: parseArgs calls a value that starts with '-' ambiguous and stops there.
 * A negative number after an option that takes a value is that value, so the option's own check
 * can say what is wrong with it ("must be positive").
 */
function attachNegativeValues(argv: readonly string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : arg.length === 2 && arg.startsWith('-') ? Object.keys(options).find((k) => options[k]?.short === arg[1]) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(arg.startsWith('--') ? `${arg}=${next}` : `${arg}${next}`);
      i++;
      continue;
    }
    out.push(arg);
  }
  return out;
}

// parseArgs appends advice about `--` to unknown options; the first sentence is the message.
function firstLine(s: string): string {
  return (s.split('\n')[0] ?? s).replace(/\. To specify a positional argument.*$/, '');
}

/** Writes help text; returns exit code 0 for `return printHelp(...)`. */
export function printHelp(io: CommandIO, help: string): number {
  io.stdout.write(help.endsWith('\n') ? help : `${help}\n`);
  return 0;
}

/** How a command line names one kernel object. */
export type ObjectSelector = { by: 'id'; id: number } | { by: 'pinned'; path: string } | { by: 'name'; name: string } | { by: 'tag'; tag: string };

/**
 * Reads a selector from the front of `args`: `id N`, `pinned PATH`, `name NAME`, `tag TAG`, or a
 * bare number (an id) or path (pinned). Returns the selector and how many arguments it used.
 */
export function parseSelector(verb: string, args: readonly string[], kinds: ReadonlyArray<ObjectSelector['by']> = ['id', 'pinned']): [ObjectSelector, number] {
  const [first, second] = args;
  if (first === undefined) throw new UsageError(`${verb}: expected ${kinds.map(describe).join(', ')}`);
  const keyword = kinds.find((k) => k === first);
  if (keyword !== undefined) {
    if (second === undefined) throw new UsageError(`${verb}: '${first}' needs a value`);
    return [selector(verb, keyword, second), 2];
  }
  if (/^\d+$/.test(first) && kinds.includes('id')) return [selector(verb, 'id', first), 1];
  if (first.startsWith('/') && kinds.includes('pinned')) return [selector(verb, 'pinned', first), 1];
  throw new UsageError(`${verb}: expected ${kinds.map(describe).join(', ')}; got '${first}'`);
}

function describe(kind: ObjectSelector['by']): string {
  return kind === 'id' ? 'an id' : kind === 'pinned' ? 'a pinned path' : `${kind} <${kind}>`;
}

function selector(verb: string, kind: ObjectSelector['by'], value: string): ObjectSelector {
  switch (kind) {
    case 'id': {
      const id = Number(value);
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(id) || id <= 0 || id > 0xffffffff) throw new UsageError(`${verb}: invalid id '${value}'`);
      return { by: 'id', id };
    }
    case 'pinned':
      return { by: 'pinned', path: value };
    case 'name':
      return { by: 'name', name: value };
    case 'tag':
      if (!/^[0-9a-fA-F]{16}$/.test(value.replace(/\s/g, ''))) throw new UsageError(`${verb}: a tag is 16 hex digits; got '${value}'`);
      return { by: 'tag', tag: value.replace(/\s/g, '').toLowerCase() };
  }
}
