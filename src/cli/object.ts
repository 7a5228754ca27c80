// `tsbpf object`: inspect a BPF object file, load it, run one of its programs, disassemble one,
// attach all of its programs and watch what they report. Each verb is its own module, loaded
// when it runs, so `object load` pays for no disassembler, perf or ring buffer reader.
import { defineCommand, type Command, type CommandIO } from './framework/index.js';
import * as help from './help/object.js';

export const command: Command = defineCommand({
  name: 'object',
  summary: 'inspect, load, run and disassemble BPF object files',
  help,
  verbs: {
    inspect: async (argv: string[], io: CommandIO) => (await import('./object/inspect.js')).inspect(argv, io),
    load: async (argv: string[], io: CommandIO) => (await import('./object/load.js')).load(argv, io),
    run: async (argv: string[], io: CommandIO) => (await import('./object/run.js')).run(argv, io),
    dump: async (argv: string[], io: CommandIO) => (await import('./object/dump.js')).dump(argv, io),
    attach: async (argv: string[], io: CommandIO) => (await import('./object/attach.js')).attach(argv, io),
    unload: async (argv: string[], io: CommandIO) => (await import('./object/unload.js')).unload(argv, io),
  },
});
