// Regenerates every example's (and generated tool's) object and module: `npx tsx examples/generate.ts`, or after a
// build `node dist/examples/generate.js` (needs clang).
// Each runs `tsbpf gen` from the repository root, so the command lines recorded in the modules'
// headers are the ones to type by hand.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { command } from '../src/cli/gen.js';

/** The committed vmlinux.h every object is built with, so the bytes do not depend on the builder's kernel. */
const VMLINUX = 'vmlinux/x86/vmlinux.h';

/** `tsbpf gen` arguments of each example, in the order of the table in examples/README.md. */
export const EXAMPLES: readonly (readonly string[])[] = [
  ['exec_count', 'examples/exec-count/exec_count.bpf.c', '--vmlinux', VMLINUX, '--runtime', '../../src/codegen/runtime.js'],
  ['exec_stream', 'examples/exec-stream/exec_stream.bpf.c', '--type', 'event', '--vmlinux', VMLINUX, '--runtime', '../../src/codegen/runtime.js'],
  ['xdp_drop', 'examples/xdp-drop/xdp_drop.bpf.c', '--runtime', '../../src/codegen/runtime.js'],
];

/** The tools whose BPF side is a generated module, regenerated the same way. */
export const TOOLS: readonly (readonly string[])[] = [
  ['tcptrack', 'src/tools/tcptrack/tcptrack.bpf.c', '--type', 'event', '--type', 'conn_key', '--type', 'conn_stat', '--vmlinux', VMLINUX, '--runtime', '../../codegen/runtime.js', '--no-embed'],
  ['lb', 'src/tools/lb/lb.bpf.c', '--vmlinux', VMLINUX, '--runtime', '../../codegen/runtime.js', '--no-embed'],
  ['lb_decap', 'src/tools/lb/lb_decap.bpf.c', '--vmlinux', VMLINUX, '--runtime', '../../codegen/runtime.js', '--no-embed'],
  ['observe', 'src/tools/observe/observe.bpf.c', '--type', 'flow_event', '--type', 'conn_key', '--type', 'conn_val', '--type', 'lpm_v4', '--type', 'lpm_v6', '--vmlinux', VMLINUX, '--runtime', '../../codegen/runtime.js', '--no-embed'],
  ['guard', 'src/tools/guard/guard.bpf.c', '--type', 'sys_event', '--type', 'exec_event', '--type', 'event_hdr', '--type', 'syscall_spec', '--type', 'connect_key', '--type', 'socket_key', '--vmlinux', VMLINUX, '--runtime', '../../codegen/runtime.js'],
];

async function main(): Promise<number> {
  // The repository root, from examples/ or from dist/examples/.
  const here = dirname(fileURLToPath(import.meta.url));
  process.chdir(existsSync(join(here, '..', 'package.json')) ? join(here, '..') : join(here, '..', '..'));
  const io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };
  for (const args of [...EXAMPLES, ...TOOLS]) {
    const code = await command.run([...args], io);
    if (code !== 0) return code;
  }
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = await main();
