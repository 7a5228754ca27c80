// `tsbpf object unload`: remove the pins `object load --pin` made, and their directory.
import { parse, plural, UsageError, writeJson, type CommandIO } from '../framework/index.js';
import { unloadPinDir } from '../object-pins.js';
import { OUTPUT } from './shared.js';

export async function unload(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('object unload', argv, OUTPUT);
  if (positionals.length !== 1) throw new UsageError(`object unload: expected the DIR of \`object load --pin DIR\`${positionals.length > 1 ? `; got '${positionals[1]}' too` : ''}`);
  const dir = positionals[0]!;
  const { pins } = unloadPinDir(dir);
  if (values.json || values.pretty) writeJson(io.stdout, { directory: dir, removed: pins }, values.pretty === true);
  else io.stdout.write(`${dir}: removed ${plural(pins.length, 'pin')} and the directory\n`);
  return 0;
}
