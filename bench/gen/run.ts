// Generated codecs against the runtime BTF codec: decoding a 64-byte event struct (the exec
// example's `struct event`), records per second, in place from one buffer as a ring buffer
// reader decodes them.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBtf } from '../../src/btf/parse.js';
import { btfCodec } from '../../src/btfcodec.js';
import type { OffsetCodec } from '../../src/codec/codec.js';
import { parseElf } from '../../src/elf/index.js';
import { eventCodec, type Event } from '../../examples/exec-stream/exec_stream_bpf.js';
import type { BenchResult } from '../result.js';

export interface GenBenchOptions {
  /** Records in the buffer decoded per pass. */
  records?: number;
  /** Minimum time per measurement, in milliseconds. */
  minMs?: number;
  /** Measurements per codec; the best counts. */
  reps?: number;
}

const COMMS = ['bash', 'ls', 'node', 'systemd-journal', 'git', 'sshd', 'cat', 'grep'];
const FILES = ['/usr/bin/ls', '/bin/sh', '/usr/lib/git-core/git', '/usr/bin/cat', '/usr/sbin/sshd'];

/** A buffer of `n` events as the BPF program writes them. */
function events(n: number): Uint8Array {
  const buf = new Uint8Array(n * eventCodec.size);
  for (let i = 0; i < n; i++) {
    const e: Event = {
      pid: 1000 + i,
      ppid: 1 + (i % 97),
      uid: i % 3 === 0 ? 0 : 1000,
      gid: 1000,
      timestamp_ns: 1_000_000_000n + BigInt(i) * 1234n,
      comm: COMMS[i % COMMS.length]!,
      filename: FILES[i % FILES.length]!,
    };
    eventCodec.encodeAt(e, buf, i * eventCodec.size);
  }
  return buf;
}

/** Decodes every record in `buf` until `minMs` has passed; returns records per second. */
function measure(codec: OffsetCodec<unknown>, buf: Uint8Array, records: number, minMs: number): number {
  const size = codec.size;
  let decoded = 0;
  let sink = 0;
  const t0 = process.hrtime.bigint();
  const until = t0 + BigInt(minMs) * 1_000_000n;
  let now = t0;
  while (now < until) {
    for (let i = 0; i < records; i++) {
      const e = codec.decodeAt(buf, i * size) as { pid: number; comm: string };
      sink += e.pid + e.comm.length;
    }
    decoded += records;
    now = process.hrtime.bigint();
  }
  if (sink === -1) process.stdout.write('');
  return decoded / (Number(now - t0) / 1e9);
}

export async function run(options: GenBenchOptions = {}): Promise<BenchResult[]> {
  const records = options.records ?? 4096;
  const minMs = options.minMs ?? 500;
  const reps = options.reps ?? 5;
  // The repository root, from bench/gen/ or dist/bench/gen/ (objects are not copied to dist).
  const here = dirname(fileURLToPath(import.meta.url));
  const root = existsSync(join(here, '..', '..', 'package.json')) ? join(here, '..', '..') : join(here, '..', '..', '..');
  const object = readFileSync(join(root, 'examples', 'exec-stream', 'exec_stream.bpf.o'));
  const elf = parseElf(object);
  const btf = parseBtf(elf.sectionData(elf.section('.BTF')!));
  const reference = btfCodec(btf, btf.typeByName('event', 'STRUCT').id);
  if (reference.size !== eventCodec.size || reference.size !== 64) throw new Error(`struct event is ${reference.size} bytes, expected 64`);
  const buf = events(records);
  // Both decode the same bytes to the same values.
  const a = eventCodec.decodeAt(buf, 64);
  const b = reference.decodeAt(buf, 64) as unknown as Event;
  if (a.pid !== b.pid || a.comm !== b.comm || a.filename !== b.filename || a.timestamp_ns !== b.timestamp_ns) throw new Error('the codecs disagree');

  let gen = 0;
  let rt = 0;
  measure(eventCodec, buf, records, 100);
  measure(reference, buf, records, 100);
  for (let i = 0; i < reps; i++) {
    gen = Math.max(gen, measure(eventCodec, buf, records, minMs));
    rt = Math.max(rt, measure(reference, buf, records, minMs));
  }
  return [
    {
      name: 'decode a 64-byte event struct (4 u32, u64, char[16], char[24])',
      unit: 'records/s',
      ts: gen,
      reference: rt,
      referenceName: 'runtime BTF codec (src/btfcodec.ts)',
      ratio: gen / rt,
      target: '>= 1',
      note: `generated straight-line codec; best of ${reps} runs of ${minMs} ms over ${records} records`,
    },
  ];
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const r of await run()) {
    process.stdout.write(`${r.name}: generated ${Math.round(r.ts).toLocaleString('en-US')} ${r.unit}, ${r.referenceName} ${Math.round(r.reference).toLocaleString('en-US')} ${r.unit}, ratio ${r.ratio.toFixed(2)}x\n`);
  }
}
