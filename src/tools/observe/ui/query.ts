// The page's filter: text written as the command line's filter flags ("--ip 10.0.0.1 --not
// --port 22"), read by the command line's own parser, so the page and `tsbpf observe` agree on
// every flag, its values and its errors.
import { InvalidArgumentError } from '../../../index.js';
import type { Filters } from '../filter.js';
import { OPTIONS, parseObserveArgs } from '../options.js';

/** Flags of `tsbpf observe` that are not filters: they mean nothing to a page. */
const NOT_FILTERS: ReadonlySet<string> = new Set(['follow', 'last', 'first', 'since', 'until', 'output', 'json', 'input-file', 'iface', 'netns', 'snap-len', 'ring-size', 'no-drops', 'server', 'help']);

/** Words of `text`, split at blanks outside quotes, as a shell splits them. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | undefined;
  for (const c of text) {
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote !== undefined) throw new InvalidArgumentError(`unclosed ${quote} in the filter`);
  if (inWord) words.push(word);
  return words;
}

function flagName(word: string): string | undefined {
  if (word.startsWith('--')) return word.slice(2).split('=')[0];
  if (/^-[a-zA-Z0-9]/.test(word)) {
    const short = word[1];
    return Object.entries(OPTIONS).find(([, o]) => 'short' in o && o.short === short)?.[0];
  }
  return undefined;
}

/** The filters of `text`; InvalidArgumentError with the command line's message when it is wrong. */
export function parseFilterText(text: string): Filters {
  const words = splitWords(text);
  for (const w of words) {
    const name = flagName(w);
    if (name !== undefined && NOT_FILTERS.has(name)) throw new InvalidArgumentError(`'${w}' is not a filter`);
  }
  let parsed;
  try {
    parsed = parseObserveArgs(words);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message.replace(/^observe: /, ''));
  }
  if (parsed === 'help') throw new InvalidArgumentError("'--help' is not a filter");
  return parsed.filters;
}
