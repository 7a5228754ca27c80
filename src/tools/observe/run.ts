// observe's user side: flows from the live datapath or from a file of JSON flows, through the
// filters, to the output format; lost records reported at most once a second.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { TsbpfError } from '../../index.js';
import type { Datapath } from './datapath.js';
import { accepts, kernelFilter } from './filter.js';
import { parseRfc3339, type Flow, type FlowItem } from './flow.js';
import { Printer } from './printer.js';
import { FlowSource } from './source.js';
import { getFlows } from './client.js';
import { filterMessages } from './grpc.js';
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

function inTime(o: ObserveOptions, flow: Flow): boolean {
  if (o.since === undefined && o.until === undefined) return true;
  const t = parseRfc3339(flow.time);
  return (o.since === undefined || t >= o.since) && (o.until === undefined || t <= o.until);
}

/** Runs `tsbpf observe`: a file replayed, or the live datapath until a stop condition. */
export async function runObserve(o: ObserveOptions, io: ObserveIO, signal?: AbortSignal, hooks: ObserveHooks = {}): Promise<ObserveResult> {
  if (o.inputFile !== undefined) return replay(o, io);
  if (o.server !== undefined) return fromServer(o, o.server, io, signal, hooks);
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
  const printer = new Printer(o.output, io.stdout);
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
  printer.flush();
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
  const printer = new Printer(o.output, io.stdout);
  // Without --follow, --first or --until, a live run stops after Hubble's default of 20 flows.
  const limit = o.first ?? (o.follow || o.until !== undefined ? undefined : (o.last ?? 20));
  let flows = 0;
  let done = false;
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const finish = (): void => {
    if (done) return;
    done = true;
    stop();
  };
  const emit = (item: FlowItem): void => {
    if (done) return;
    if ('flow' in item && (!inTime(o, item.flow) || !accepts(o.filters, item.flow))) return;
    printer.print(item);
    hooks.onItem?.(item);
    if ('flow' in item && ++flows === limit) finish();
  };
  const source = await FlowSource.open({ interfaces: o.interfaces, filter: kernelFilter(o.filters), snapLen: o.snapLen, drops: o.drops, aggregation: o.aggregation, ...(o.ringBytes !== undefined ? { ringBytes: o.ringBytes } : {}) }, emit);
  const onOutputError = (): void => {
    printer.broken = true;
    finish();
  };
  io.stdout.on('error', onOutputError);
  const onAbort = (): void => finish();
  signal?.addEventListener('abort', onAbort, { once: true });
  const timers: NodeJS.Timeout[] = [];
  timers.push(setInterval(() => source.drain(), DRAIN_INTERVAL_MS));
  timers.push(setInterval(() => source.checkLost(), hooks.lostIntervalMs ?? 1000));
  if (o.until !== undefined) {
    const ms = Number(o.until / 1_000_000n) - Date.now();
    timers.push(setTimeout(finish, Math.max(0, Math.min(ms, 2 ** 31 - 1))));
  }
  try {
    hooks.onReady?.(source.datapath);
    if (signal?.aborted) finish();
    await stopped;
    if (!printer.broken && (limit === undefined || flows < limit)) {
      done = false;
      source.drain();
    }
    done = false;
    const lost = source.checkLost();
    done = true;
    printer.flush();
    return { flows, lost };
  } finally {
    for (const t of timers) clearTimeout(t);
    signal?.removeEventListener('abort', onAbort);
    io.stdout.removeListener('error', onOutputError);
    source.close();
  }
}

/** Flows from a running `tsbpf observe serve`, filtered there. */
async function fromServer(o: ObserveOptions, address: string, io: ObserveIO, signal: AbortSignal | undefined, hooks: ObserveHooks): Promise<ObserveResult> {
  let whitelist: unknown[];
  let blacklist: unknown[];
  try {
    whitelist = o.filters.allow.flatMap(filterMessages);
    blacklist = o.filters.deny.flatMap(filterMessages);
  } catch (err) {
    throw new TsbpfError('EINVAL', (err as Error).message);
  }
  const printer = new Printer(o.output, io.stdout);
  const controller = new AbortController();
  const onAbort = (): void => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let flows = 0;
  let lost = 0;
  try {
    const req = { follow: o.follow, whitelist, blacklist, ...(o.first !== undefined ? { number: o.first, first: true } : o.last !== undefined ? { number: o.last } : {}), ...(o.since !== undefined ? { since: o.since } : {}), ...(o.until !== undefined ? { until: o.until } : {}) };
    await getFlows(
      address,
      req,
      (item) => {
        printer.print(item);
        hooks.onItem?.(item);
        if ('flow' in item) flows++;
        else lost += Number(item.lost_events.num_events_lost);
      },
      controller.signal,
    );
  } finally {
    signal?.removeEventListener('abort', onAbort);
    printer.flush();
  }
  return { flows, lost };
}
