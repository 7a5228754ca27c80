// `--watch [INTERVAL]` of the stats verbs, whose value is optional.

/**
 * Takes `--watch` and its optional value out of argv: `--watch`, `--watch=2s`, `--watch 2s`
 * (for verbs with no positional arguments, so a word after --watch that is not an option is its
 * value); `watch` is undefined without the flag, '1s' with no value.
 */
export function takeWatch(argv: readonly string[]): { args: string[]; watch: string | undefined } {
  const args = [...argv];
  const w = args.findIndex((a) => a === '--watch' || a.startsWith('--watch='));
  if (w < 0) return { args, watch: undefined };
  const arg = args[w]!;
  let text = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : undefined;
  const next = args[w + 1];
  if (text === undefined && next !== undefined && !next.startsWith('-')) {
    text = next;
    args.splice(w + 1, 1);
  }
  args.splice(w, 1);
  return { args, watch: text ?? '1s' };
}
