// The process entry point of the `tsbpf` command (bin/tsbpf.cjs runs the compiled form, or its one-file build).
import { main } from './main.js';

// A reader that goes away (`tsbpf btf dump | head -1`) is the end of the output, not a failure:
// every command's writes end here, so one handler covers them all. Other write errors are one
// line and exit 1, as any failure.
function onOutputError(err: NodeJS.ErrnoException): void {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  process.stderr.write(`tsbpf: cannot write the output: ${err.message}\n`, () => process.exit(1));
}

process.stdout.on('error', onOutputError);
process.stderr.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? (process.exitCode ?? 0) : 1));

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
