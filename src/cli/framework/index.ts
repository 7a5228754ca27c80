// The command-line framework, as commands and tools use it: the command contract and its verb
// table, argument parsing over util.parseArgs, output conventions and error reporting. Tools
// (src/tools/<tool>/) import this module and nothing else of src/cli/.
export { defineCommand, formatTable, jsonReplacer, plural, UsageError, writeJson, type Command, type CommandIO, type HelpModule, type Verb, type VerbCommandSpec } from './command.js';
export { OUTPUT_OPTIONS, parse, parseSelector, printHelp, type ObjectSelector } from './args.js';
export { isUsageError, messageOf, reportFailure, reportUsage } from './report.js';
export { asksForHelp, findVerb, HELP_FLAGS, writeHelp } from './verbs.js';
