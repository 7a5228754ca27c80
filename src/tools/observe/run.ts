// observe's user side: flows from the live datapath or from a file of JSON flows, through the
// filters, to the output format; lost records reported at most once a second.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { RingBufReader, TsbpfError } from '../../index.js';
import { cgroup2Root, createContext } from './context.js';
import { openDatapath, type Datapath } from './datapath.js';
import { accepts, kernelFilter } from './filter.js';
import { decodeRecord, flowOf, monotonicOffsetNs, parseRfc3339, rfc3339Nano, type Flow, type FlowItem } from './flow.js';
import { formatItem, TABLE_HEADER, tableRow } from './format.js';
import { L7Parser } from './l7.js';
import { XdpFilterDrops, type XdpDrop } from './xdpdrops.js';
import type { ObserveOptions } from './options.js';

export interface ObserveIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin?: NodeJS.ReadableStream;
}

export interface ObserveHooks {
  /** Called once everything is attached, before the first record is read. */
  onReady?(datapath: Datapath): void;
  /** Called with every item printed. */
  onItem?(item: FlowItem): void;
  /** Milliseconds between checks of the lost counter (default 1000). */
  lostIntervalMs?: number;
}

export interface ObserveResult {
  flows: number;
  lost: number;
}

const DRAIN_INTERVAL_MS = 25;
const TABLE_WIDTHS = [19, 28, 28, 22, 10];

/** Prints items in the chosen format; a table's header once, before the first row. */
class Printer {
  readonly #o: ObserveOptions;
  readonly #out: NodeJS.WritableStream;
  #header = false;
  broken = false;

  constructor(o: ObserveOptions, out: NodeJS.WritableStream) {
    this.#o = o;
    this.#out = out;
  }

  print(item: FlowItem): void {
    if (this.broken) return;
    if (this.#o.output !== 'table') {
      this.#out.write(`${formatItem(item, this.#o.output)}\n`);
      return;
    }
    if (!this.#header) {
      this.#header = true;
      this.#out.write(`${row(TABLE_HEADER)}\n`);
    }
    this.#out.write(`${'lost_events' in item ? `EVENTS LOST: ${item.lost_events.num_events_lost}` : row(tableRow(item.flow))}\n`);
  }
}

function row(cells: string[]): string {
  return cells
    .map((c, i) => (i < TABLE_WIDTHS.length ? c.padEnd(TABLE_WIDTHS[i]!) : c))
    .join(' ')
    .trimEnd();
}

function inTime(o: ObserveOptions, flow: Flow): boolean {
  if (o.since === undefined && o.until === undefined) return true;
  const t = parseRfc3339(flow.time);
  return (o.since === undefined || t >= o.since) && (o.until === undefined || t <= o.until);
}

/** Runs `tsbpf observe`: a file replayed, or the live datapath until a stop condition. */
export async function runObserve(o: ObserveOptions, io: ObserveIO, signal?: AbortSignal, hooks: ObserveHooks = {}): Promise<ObserveResult> {
  if (o.inputFile !== undefined) return replay(o, io);
  return live(o, io, signal, hooks);
}

/** Reads JSON flows (GetFlowsResponse lines or bare flows), one per line. */
async function replay(o: ObserveOptions, io: ObserveIO): Promise<ObserveResult> {
  let input: NodeJS.ReadableStream;
  if (o.inputFile === '-') {
    if (io.stdin === undefined) throw new TsbpfError('EINVAL', 'no standard input to read flows from');
    input = io.stdin;
  } else {
    const file = createReadStream(o.inputFile!);
    await new Promise<void>((resolve, reject) => {
      file.once('error', reject);
      file.once('open', () => resolve());
    }).catch((err: NodeJS.ErrnoException) => {
      throw new TsbpfError(err.code ?? 'EIO', `cannot read ${o.inputFile}: ${err.message.replace(/^[A-Z]+: /, '')}`);
    });
    input = file;
  }
  const printer = new Printer(o, io.stdout);
  const kept: FlowItem[] = [];
  let flows = 0;
  let lineNo = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    lineNo++;
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new TsbpfError('EINVAL', `${o.inputFile === '-' ? 'standard input' : o.inputFile}:${lineNo}: not a JSON flow`);
    }
    const item = asItem(parsed);
    if (item === undefined) continue;
    if ('flow' in item && (!inTime(o, item.flow) || !accepts(o.filters, item.flow))) continue;
    if (o.last !== undefined) {
      kept.push(item);
      if (kept.length > o.last) kept.shift();
      continue;
    }
    printer.print(item);
    if ('flow' in item && ++flows === o.first) break;
  }
  for (const item of kept) {
    printer.print(item);
    if ('flow' in item) flows++;
  }
  return { flows, lost: 0 };
}

function asItem(v: unknown): FlowItem | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.flow === 'object' && o.flow !== null) return o as FlowItem;
  if (typeof o.lost_events === 'object' && o.lost_events !== null) return o as FlowItem;
  if (typeof o.IP === 'object' && typeof o.time === 'string') return { flow: o as unknown as Flow, time: o.time };
  return undefined;
}

async function live(o: ObserveOptions, io: ObserveIO, signal: AbortSignal | undefined, hooks: ObserveHooks): Promise<ObserveResult> {
  const cgroupRoot = cgroup2Root();
  const dp = await openDatapath({
    interfaces: o.interfaces,
    filter: kernelFilter(o.filters),
    snapLen: o.snapLen,
    drops: o.drops,
    cgroupRoot,
    ...(o.ringBytes !== undefined ? { ringBytes: o.ringBytes } : {}),
  });
  let reader: RingBufReader | undefined;
  try {
    reader = new RingBufReader(dp.object.collection.maps.events!);
    return await follow(o, io, dp, reader, cgroupRoot, signal, hooks);
  } finally {
    reader?.close();
    dp.close();
  }
}

async function follow(o: ObserveOptions, io: ObserveIO, dp: Datapath, reader: RingBufReader, cgroupRoot: string, signal: AbortSignal | undefined, hooks: ObserveHooks): Promise<ObserveResult> {
  const ctx = createContext(cgroupRoot, new Map(dp.interfaces.map((i) => [i.ifindex, i.name])));
  const printer = new Printer(o, io.stdout);
  const l7 = new L7Parser();
  const offset = monotonicOffsetNs();
  // Without --follow, --first or --until, a live run stops after Hubble's default of 20 flows.
  const limit = o.first ?? (o.follow || o.until !== undefined ? undefined : (o.last ?? 20));
  let flows = 0;
  let reported = 0;
  let done = false;
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const finish = (): void => {
    if (done) return;
    done = true;
    stop();
  };

  const xdp = o.drops ? dp.interfaces.flatMap((i) => XdpFilterDrops.open(i.name) ?? []) : [];
  const emit = (flow: Flow): void => {
    if (done || !inTime(o, flow) || !accepts(o.filters, flow)) return;
    const item: FlowItem = { flow, node_name: flow.node_name ?? '', time: flow.time };
    printer.print(item);
    hooks.onItem?.(item);
    if (++flows === limit) finish();
  };
  const onRecord = (data: Uint8Array, at: number): void => {
    if (done) return;
    const raw = decodeRecord(data, at, offset);
    const flow = flowOf(raw, ctx);
    emit(flow);
    // A loopback packet is seen leaving and arriving: its payload is read once, arriving.
    if (raw.payload.length > 0 && !(raw.direction === 2 && flow.interface?.name === 'lo')) for (const f of l7.parse(flow, raw.payload, raw.timeNs)) emit(f);
  };
  const onXdpDrop = (d: XdpDrop): void => {
    if (done) return;
    emit(xdpDropFlow(flowOf(d.raw, ctx), d.rule));
  };
  const drain = (): void => {
    reader.drainRaw(onRecord);
    for (const x of xdp) x.drain(offset, onXdpDrop);
  };
  const reportLost = (): void => {
    const lost = dp.lost();
    if (lost <= reported) return;
    const now = rfc3339Nano(BigInt(Date.now()) * 1_000_000n);
    const item: FlowItem = { lost_events: { source: 'PERF_EVENT_RING_BUFFER', num_events_lost: String(lost - reported) }, node_name: ctx.nodeName, time: now };
    reported = lost;
    printer.print(item);
    hooks.onItem?.(item);
  };

  const onOutputError = (): void => {
    printer.broken = true;
    finish();
  };
  io.stdout.on('error', onOutputError);
  const onAbort = (): void => finish();
  signal?.addEventListener('abort', onAbort, { once: true });
  const timers: NodeJS.Timeout[] = [];
  timers.push(setInterval(drain, DRAIN_INTERVAL_MS));
  timers.push(setInterval(reportLost, hooks.lostIntervalMs ?? 1000));
  if (o.until !== undefined) {
    const ms = Number(o.until / 1_000_000n) - Date.now();
    timers.push(setTimeout(finish, Math.max(0, Math.min(ms, 2 ** 31 - 1))));
  }
  try {
    hooks.onReady?.(dp);
    if (signal?.aborted) finish();
    await stopped;
    if (!printer.broken && (limit === undefined || flows < limit)) {
      done = false;
      drain();
      done = true;
    }
    reportLost();
    return { flows, lost: reported };
  } finally {
    for (const t of timers) clearTimeout(t);
    for (const x of xdp) x.close();
    signal?.removeEventListener('abort', onAbort);
    io.stdout.removeListener('error', onOutputError);
  }
}

/** Hubble's words for a policy drop, with the xdp-filter rule that made it. */
function xdpDropFlow(flow: Flow, rule: string | undefined): Flow {
  const by = rule === undefined ? 'xdp-filter: not in the allow list' : `xdp-filter rule: deny ${rule}`;
  return {
    ...flow,
    drop_reason: POLICY_DENIED,
    drop_reason_desc: 'POLICY_DENIED',
    event_type: { type: 1, sub_type: POLICY_DENIED },
    traffic_direction: 'INGRESS',
    ingress_denied_by: [{ name: rule ?? 'allow list', kind: 'XdpFilter' }],
    Summary: `${flow.Summary ?? ''}; ${by}`,
  };
}

/** Cilium's drop reason for a packet a policy refused. */
const POLICY_DENIED = 133;
