// The command-line framework, as commands and tools use it: the command contract and its verb
// table, argument parsing over util.parseArgs, output conventions and the error report. Tools
// (src/tools/<tool>/) import this module and nothing else of src/cli/.
export { defineCommand, formatTable, jsonReplacer, plural, UsageError, writeJson, type Command, type CommandIO, type Verb } from './command.js';
export { OUTPUT_OPTIONS, parse, parseSelector, printHelp, type ObjectSelector } from './args.js';
export { isUsageError, reportFailure } from './dispatch.js';
