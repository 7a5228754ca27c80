// The process entry point of the `tsbpf` command (bin/tsbpf.js loads the compiled form).
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
