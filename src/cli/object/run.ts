// `tsbpf object run`: load an object and run one program once with BPF_PROG_TEST_RUN.
import { TsbpfError } from '../../errors.js';
import { CollectionSpec, type Collection } from '../../collection.js';
import { programTypeName } from '../../program/names.js';
import { PACKET_TYPES } from '../../program.js';
import { FileError, readRegularFile } from '../../sys/readfile.js';
import { parse, plural, UsageError, writeJson, type CommandIO } from '../framework/index.js';
import { applyMapSizes, applyProgramTypes } from '../spec-options.js';
import { applySettings, file, LOAD_OPTIONS, reportFailure } from './shared.js';

function readInput(path: string | undefined, what: string): Uint8Array | undefined {
  if (path === undefined) return undefined;
  try {
    return new Uint8Array(readRegularFile(path));
  } catch (err) {
    if (!(err instanceof FileError)) throw err;
    throw new TsbpfError(err.code, `cannot read the ${what} file ${path}: ${err.reason}`, { cause: err });
  }
}

const ETH_HLEN = 14;

function hexDump(b: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < b.length; i += 16) {
    const row = Array.from(b.subarray(i, i + 16), (x) => x.toString(16).padStart(2, '0')).join(' ');
    lines.push(`${i.toString(16).padStart(8, '0')}  ${row}`);
  }
  return lines.join('\n');
}

export async function run(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('object run', argv, {
    ...LOAD_OPTIONS,
    program: { type: 'string' },
    data: { type: 'string' },
    ctx: { type: 'string' },
    repeat: { type: 'string' },
  });
  const f = file('run', positionals);
  const name = values.program;
  if (name === undefined) throw new UsageError('object run: --program NAME is required');
  const repeat = values.repeat === undefined ? undefined : Number(values.repeat);
  if (repeat !== undefined && (!Number.isInteger(repeat) || repeat < 1 || repeat > 0xffffffff)) {
    throw new UsageError(`object run: --repeat '${values.repeat}': expected a number 1-4294967295`);
  }
  const spec = CollectionSpec.fromFile(f);
  if (spec.programs[name] === undefined) throw new UsageError(`object run: ${f} has no program ${name} (it has ${Object.keys(spec.programs).join(', ')})`);
  applySettings(spec, values.set ?? []);
  applyMapSizes(spec, values.map ?? []);
  applyProgramTypes(spec, values.type ?? []);
  const data = readInput(values.data, 'data');
  const ctx = readInput(values.ctx, 'context');
  const kernelBtf = values['kernel-btf'];
  let c: Collection;
  try {
    c = spec.load(kernelBtf !== undefined ? { kernelBtf } : {});
  } catch (err) {
    reportFailure(io, err, 'run');
    return 1;
  }
  try {
    const prog = c.programs[name]!;
    // Packet programs cannot run on nothing: give them an all-zero minimum-size Ethernet frame.
    const input = data ?? (ctx === undefined && PACKET_TYPES.has(prog.type) ? new Uint8Array(64) : undefined);
    // The kernel refuses (EINVAL) packet data that cannot hold an Ethernet header.
    if (data !== undefined && PACKET_TYPES.has(prog.type) && data.length < ETH_HLEN) {
      throw new UsageError(`object run: --data ${values.data}: the packet is ${plural(data.length, 'byte')}, shorter than the ${ETH_HLEN}-byte Ethernet header that ${programTypeName(prog.type)} programs need`);
    }
    const r = prog.testRun({ ...(input ? { data: input } : {}), ...(ctx ? { ctx } : {}), ...(repeat !== undefined ? { repeat } : {}) });
    if (values.json || values.pretty) {
      writeJson(io.stdout, { program: name, retval: r.retval, durationNs: r.durationNs, ...(r.dataOut ? { dataOut: r.dataOut } : {}) }, values.pretty === true);
    } else {
      io.stdout.write(`${name}: retval ${r.retval} (0x${(r.retval >>> 0).toString(16)}), duration ${r.durationNs} ns\n`);
      if (r.dataOut && r.dataOut.length > 0) io.stdout.write(`data out (${plural(r.dataOut.length, 'byte')}):\n${hexDump(r.dataOut)}\n`);
    }
  } finally {
    c.close();
  }
  return 0;
}

/** The comment naming what an instruction refers to, as llvm-objdump -r shows relocations. */
