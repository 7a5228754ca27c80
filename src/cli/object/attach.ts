// `tsbpf object attach`: load an object, attach its programs where their sections say, and watch
// what they report until stopped.
import type { Btf } from '../../btf/btf.js';
import type { BtfKind } from '../../btf/types.js';
import { btfCodec, type BtfCodec, type BtfValue } from '../../btfcodec.js';
import { describeTarget, planAttach, type AttachTarget, type CollectionLinks } from '../../collection/attach.js';
import { readMapContents } from '../../collection/contents.js';
import { InvalidArgumentError, TsbpfError } from '../../errors.js';
import type { SectionTargets } from '../../link/section.js';
import { CollectionSpec, type Collection } from '../../collection.js';
import { mapTypeName } from '../../program/names.js';
import { PerfReader } from '../../perf/index.js';
import { RingBufReader } from '../../ringbuf/index.js';
import { parseDuration } from '../../tools/common/duration.js';
import { MapType } from '../../sys/types.js';
import { parse, jsonReplacer, UsageError, writeJson, type CommandIO } from '../framework/index.js';
import { applyMapSizes, applyProgramTypes } from '../spec-options.js';
import { applySettings, file, reportFailure } from './shared.js';

const CLI_TARGETS: Partial<Record<AttachTarget, string>> = { interface: '--iface NAME', cgroup: '--cgroup PATH', netns: '--netns NETNS' };

/** --for: a positive duration a timer can hold, as a usage error when it is not. */
function forDuration(text: string): number {
  try {
    return parseDuration(text, { name: '--for' });
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new UsageError(`object attach: ${err.message}`);
    throw err;
  }
}

function attachTargets(values: { iface?: string; cgroup?: string; pid?: string; netns?: string }): SectionTargets {
  const t: SectionTargets = {};
  if (values.iface !== undefined) t.interface = /^\d+$/.test(values.iface) ? Number(values.iface) : values.iface;
  if (values.cgroup !== undefined) t.cgroup = values.cgroup;
  if (values.netns !== undefined) t.netns = values.netns;
  if (values.pid !== undefined) {
    const pid = Number(values.pid);
    if (!/^\d+$/.test(values.pid) || !Number.isSafeInteger(pid) || pid <= 0) throw new UsageError(`object attach: invalid --pid '${values.pid}'`);
    t.pid = pid;
  }
  return t;
}

const RECORD_KINDS: readonly BtfKind[] = ['STRUCT', 'UNION', 'TYPEDEF', 'ENUM', 'ENUM64', 'INT', 'ARRAY'];

/** The BTF type `struct event`, `union u` or a bare name (struct, union or typedef first) names. */
function recordType(btf: Btf, text: string): number | undefined {
  const m = /^(struct|union|enum)\s+(\S+)$/.exec(text.trim());
  const name = m?.[2] ?? text.trim();
  const kinds: readonly BtfKind[] = m === null ? RECORD_KINDS : m[1] === 'enum' ? ['ENUM', 'ENUM64'] : [m[1]!.toUpperCase() as BtfKind];
  for (const kind of kinds) {
    const t = btf.typesByName(name, kind)[0];
    if (t !== undefined) return t.id;
  }
  return undefined;
}

interface EventSource {
  readonly map: string;
  readonly type: MapType.RINGBUF | MapType.PERF_EVENT_ARRAY;
  readonly codec: BtfCodec | undefined;
}

/** `MAP[:TYPE]` checked against the object: a ring buffer or perf event array, and a type its BTF has. */
function eventSource(spec: CollectionSpec, file: string, arg: string): EventSource {
  const colon = arg.indexOf(':');
  const map = colon < 0 ? arg : arg.slice(0, colon);
  const typeName = colon < 0 ? undefined : arg.slice(colon + 1);
  if (map === '' || typeName === '') throw new UsageError(`object attach: --events ${arg}: expected MAP or MAP:TYPE`);
  const ms = spec.maps[map];
  if (ms === undefined) {
    throw new TsbpfError('ENOENT', `--events ${arg}: ${file} has no map ${map} (its maps: ${Object.keys(spec.maps).join(', ') || 'none'})`);
  }
  if (ms.type !== MapType.RINGBUF && ms.type !== MapType.PERF_EVENT_ARRAY) {
    throw new InvalidArgumentError(`--events ${arg}: map ${map} is a ${mapTypeName(ms.type)} map; --events takes a ringbuf or perf_event_array map`);
  }
  if (typeName === undefined) return { map, type: ms.type, codec: undefined };
  const id = spec.btf === undefined ? undefined : recordType(spec.btf, typeName);
  if (id === undefined) throw new TsbpfError('ENOENT', `--events ${arg}: ${file} has no type ${typeName} in its BTF`);
  return { map, type: ms.type, codec: btfCodec(spec.btf!, id) };
}

/** One record: decoded when it is long enough for its type, else its bytes. */
function decodeRecord(codec: BtfCodec | undefined, data: Uint8Array, offset: number, length: number): BtfValue {
  if (codec !== undefined && length >= codec.size) {
    try {
      return codec.decodeAt(data, offset);
    } catch {
      // An undecodable record is still shown, as bytes.
    }
  }
  return data.slice(offset, offset + length);
}

function valueLine(v: unknown): string {
  return v instanceof Uint8Array ? Buffer.from(v).toString('hex') : JSON.stringify(v, jsonReplacer);
}

interface Watcher {
  /** Prints what is buffered now. */
  drain(): void;
  stop(): void;
  close(): void;
}

function watchEvents(c: Collection, source: EventSource, io: CommandIO, json: boolean): Watcher {
  const { map, codec } = source;
  if (source.type === MapType.RINGBUF) {
    const reader = new RingBufReader(c.maps[map]!);
    const print = (data: Uint8Array, offset: number, length: number): void => {
      const record = decodeRecord(codec, data, offset, length);
      if (json) writeJson(io.stdout, { map, record });
      else io.stdout.write(`${map}: ${valueLine(record)}\n`);
    };
    reader.startRaw(print);
    return { drain: () => reader.drainRaw(print), stop: () => reader.stop(), close: () => reader.close() };
  }
  const reader = new PerfReader(c.maps[map]!, {
    onLost: (lost, cpu) => {
      if (json) writeJson(io.stdout, { map, cpu, lost });
      else io.stderr.write(`${map}: the kernel dropped ${lost} sample${lost === 1 ? '' : 's'} on CPU ${cpu}\n`);
    },
  });
  const print = (data: Uint8Array, offset: number, length: number, cpu: number): void => {
    const record = decodeRecord(codec, data, offset, length);
    if (json) writeJson(io.stdout, { map, cpu, record });
    else io.stdout.write(`${map} cpu ${cpu}: ${valueLine(record)}\n`);
  };
  reader.startRaw(print);
  return { drain: () => reader.drainRaw(print), stop: () => reader.stop(), close: () => reader.close() };
}

/**
 * Resolves `stopped` on SIGINT or SIGTERM, from now on, or `ms` after run(); until then the
 * process stays alive.
 */
function untilStopped(): { stopped: Promise<void>; run(ms: number | undefined): void; dispose(): void } {
  let end: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    end = resolve;
  });
  process.on('SIGINT', end);
  process.on('SIGTERM', end);
  let timer: NodeJS.Timeout | undefined;
  return {
    stopped,
    // Signal handlers do not keep the event loop alive; a timer does.
    run: (ms) => {
      timer = ms !== undefined ? setTimeout(end, ms) : setInterval(() => undefined, 2 ** 31 - 1);
    },
    dispose: () => {
      clearTimeout(timer);
      clearInterval(timer);
      process.off('SIGINT', end);
      process.off('SIGTERM', end);
    },
  };
}

function dumpMaps(c: Collection, io: CommandIO, json: boolean): void {
  const { maps, unreadable } = readMapContents(c.maps);
  for (const [name, reason] of Object.entries(unreadable)) io.stderr.write(`tsbpf object attach: map ${name} left out of the dump: ${reason}\n`);
  if (json) {
    writeJson(io.stdout, { maps });
    return;
  }
  for (const [name, elements] of Object.entries(maps)) {
    io.stdout.write(`${name} (${mapTypeName(c.maps[name]!.type)}, ${elements.length} element${elements.length === 1 ? '' : 's'})${elements.length > 0 ? ':' : ''}\n`);
    for (const e of elements) io.stdout.write(`  ${valueLine(e.key)}: ${valueLine(e.value)}\n`);
  }
}

/** Resolves once everything written to `out` so far has been handed to the system. */
function flush(out: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => out.write('', () => resolve()));
}

export async function attach(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse('object attach', argv, {
    json: { type: 'boolean', short: 'j' },
    help: { type: 'boolean', short: 'h' },
    set: { type: 'string', multiple: true },
    'kernel-btf': { type: 'string' },
    map: { type: 'string', multiple: true },
    type: { type: 'string', multiple: true },
    iface: { type: 'string' },
    cgroup: { type: 'string' },
    pid: { type: 'string' },
    netns: { type: 'string' },
    for: { type: 'string' },
    events: { type: 'string', multiple: true },
    'dump-maps': { type: 'boolean' },
    'no-dump-maps': { type: 'boolean' },
  });
  const f = file('attach', positionals);
  if (values['dump-maps'] === true && values['no-dump-maps'] === true) throw new UsageError('object attach: give --dump-maps or --no-dump-maps, not both');
  const duration = values.for !== undefined ? forDuration(values.for) : undefined;
  const targets = attachTargets(values);
  const json = values.json === true;
  const spec = CollectionSpec.fromFile(f);
  applySettings(spec, values.set ?? []);
  applyMapSizes(spec, values.map ?? []);
  applyProgramTypes(spec, values.type ?? []);
  const sources = (values.events ?? []).map((e) => eventSource(spec, f, e));
  const sections: Record<string, string> = {};
  for (const [name, p] of Object.entries(spec.programs)) sections[name] = p.sectionName;
  const steps = planAttach(sections, targets);
  for (const s of steps) {
    const option = s.skip?.missing !== undefined ? CLI_TARGETS[s.skip.missing] : undefined;
    if (option !== undefined) throw new InvalidArgumentError(`program ${s.program} (section ${s.section}) attaches to ${describeTarget(s.skip!.missing!)}: give ${option}`);
  }
  const kernelBtf = values['kernel-btf'];
  let c: Collection;
  try {
    c = spec.load(kernelBtf !== undefined ? { kernelBtf } : {});
  } catch (err) {
    reportFailure(io, err, 'attach');
    return 1;
  }
  const watchers: Watcher[] = [];
  let links: CollectionLinks | undefined;
  const until = untilStopped();
  try {
    for (const source of sources) watchers.push(watchEvents(c, source, io, json));
    links = c.attach(targets);
    for (const s of links.skipped) {
      const why = s.missing !== undefined ? `it attaches to ${describeTarget(s.missing)}, which the command line cannot give` : s.reason;
      io.stderr.write(`skipped ${s.program} (${s.section}): ${why}\n`);
    }
    const attached = Object.entries(links.links);
    for (const [name, link] of attached) io.stderr.write(`${name}: ${link}\n`);
    io.stderr.write(`attached ${attached.length} program${attached.length === 1 ? '' : 's'}\n`);
    until.run(duration);
    await until.stopped;
    links.close();
    for (const w of watchers) {
      w.stop();
      w.drain();
    }
    if (values['no-dump-maps'] !== true) dumpMaps(c, io, json);
  } finally {
    until.dispose();
    try {
      links?.close();
    } finally {
      for (const w of watchers) w.close();
      c.close();
    }
  }
  await flush(io.stdout);
  return 0;
}
