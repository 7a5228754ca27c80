// tcptrack's user side: loads and attaches the tracker, prints events as they come, and at the
// end (a signal, -t, -n, or stdout closing) detaches everything and prints the statistics.
import { BpfMap, RingBufReader } from '../../index.js';
import { formatDuration } from '../common/duration.js';
import { decodeEventAt, monotonicOffsetMs, type ConnEvent } from './event.js';
import { EventJsonWriter, MAX_LINE } from './jsonline.js';
import { describePlan, kernelProbes, openTrackerWithFallback, planHooks, type HookPlan, type HookProbes, type Tracker } from './hooks.js';
import { checkPrivileges, DRAIN_INTERVAL_MS, resolveOptions, trackerConfig, type ResolvedOptions, type TcptrackOptions } from './options.js';
import { connStatFrom, formatSummary, summarize, type ConnStat, type Summary } from './stats.js';
import { dnsReverse, NameCache, NamedRows, type ReverseLookup } from './names.js';
import { tableLayout, type TableLayout } from './table.js';
import { connKeyCodec, connStatCodec, type ConnKey, type ConnStat as RawConnStat } from './tcptrack_bpf.js';

export interface TcptrackIO {
  /** A terminal (isTTY, with columns) gets tables that fit its width. */
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream;
}

/** The offset of `kind` in a ring record (struct event); KIND_CLOSE is 2. */
const KIND_AT = 94;
const KIND_CLOSE = 2;

/** The table for these options and this stdout: fitted to a terminal, fixed for a pipe. */
export function outputLayout(o: ResolvedOptions, stdout: TcptrackIO['stdout']): TableLayout | undefined {
  if (o.output === 'json') return undefined;
  const width = stdout.isTTY === true && typeof stdout.columns === 'number' && stdout.columns > 0 ? stdout.columns : undefined;
  return tableLayout({ kind: o.output === 'life' ? 'life' : 'events', close: o.close, width, wide: o.wide });
}

export interface RunHandlers {
  /**
   * Called once every program is attached, before the first event is read, with the plan and
   * a function that tells how far the trace has come.
   */
  onReady?(plan: HookPlan, progress: () => TraceProgress): void;
  /** Called with every event printed. */
  onEvent?(event: ConnEvent): void;
  /** How the kernel's hooks are probed (default: the running kernel). */
  probes?: HookProbes;
  /** Milliseconds between reports of lost events (default 1000). */
  lostIntervalMs?: number;
  /** The ring buffer's size in bytes (default RING_BYTES). */
  ringBytes?: number;
  /** Slots of the socket table (see TrackerOptions.socketSlots). */
  socketSlots?: number;
  /** How -d looks names up (default: reverse DNS lookups). */
  reverseLookup?: ReverseLookup;
}

export interface TraceProgress {
  /** Events printed so far. */
  events: number;
  /** Events lost so far, as last reported. */
  lost: number;
}

export type StopReason = 'signal' | 'duration' | 'count' | 'output';

export interface TcptrackResult {
  /** Events printed. */
  events: number;
  /** Events the kernel could not hand over (ring buffer full). */
  lost: number;
  summary: Summary;
  plan: HookPlan;
  reason: StopReason;
}

/** Sums the per-CPU counters of the `lost` map. */
function readLost(tracker: Tracker): number {
  const values = tracker.collection.maps.lost?.lookup(0) as bigint[] | undefined;
  return Number((values ?? []).reduce((a, b) => a + b, 0n));
}

/** Every entry of conn_stats, decoded by the generated codecs. */
function readStats(tracker: Tracker): ConnStat[] {
  const id = tracker.collection.maps.conn_stats?.id;
  if (id === undefined) return [];
  const map = BpfMap.fromId<ConnKey, RawConnStat>(id, { key: connKeyCodec, value: connStatCodec });
  try {
    return [...map.entries()].map(([k, v]) => connStatFrom(k, v));
  } finally {
    map.close();
  }
}

/** Bytes written at once: large enough to save system calls. */
const CHUNK = 64 * 1024;
/** Written chunks kept for use again. */
const SPARE_CHUNKS = 4;

/**
 * Lines for stdout, gathered as bytes and written in chunks: at the end of each turn of the
 * event loop, or sooner when CHUNK bytes are waiting. Each chunk is handed to the stream and
 * another one started, so a stream that writes later never sees its bytes change; a chunk is
 * used again once the stream says it was written, so a busy trace does not allocate (and
 * fault in) a new one every CHUNK bytes. A stream that
 * asks to wait (write() returned false) pauses the ring buffer reader until it drains: the
 * kernel then drops what does not fit and counts it as lost.
 */
class Output {
  readonly #out: NodeJS.WritableStream;
  #chunk: Buffer = Buffer.allocUnsafe(CHUNK + MAX_LINE);
  /** Chunks the stream is done with. */
  readonly #spare: Buffer[] = [];
  #pos = 0;
  #scheduled: NodeJS.Immediate | undefined;
  #broken = false;
  #waiting = false;
  onPause: (() => void) | undefined;
  onResume: (() => void) | undefined;

  constructor(out: NodeJS.WritableStream) {
    this.#out = out;
  }

  get broken(): boolean {
    return this.#broken;
  }

  markBroken(): void {
    this.#broken = true;
    this.#pos = 0;
  }

  /** A line of text (a newline is added). */
  push(line: string): void {
    if (this.#broken) return;
    const most = line.length * 3 + 1;
    if (this.#pos + most > this.#chunk.length) {
      this.flush();
      if (most > this.#chunk.length) {
        this.#write(Buffer.from(`${line}\n`));
        return;
      }
    }
    this.#pos += this.#chunk.write(line, this.#pos);
    this.#chunk[this.#pos++] = 0x0a;
    this.#written();
  }

  /** The JSON line of the ring record at `offset` of `bytes`. */
  pushJson(writer: EventJsonWriter, bytes: Uint8Array, offset: number): void {
    if (this.#broken) return;
    this.#pos = writer.write(bytes, offset, this.#chunk, this.#pos);
    this.#written();
  }

  #written(): void {
    // At least MAX_LINE bytes stay free for the next record.
    if (this.#pos >= CHUNK) this.flush();
    else this.#scheduled ??= setImmediate(() => this.flush());
  }

  flush(): void {
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    if (this.#pos === 0 || this.#broken) return;
    const full = this.#chunk;
    this.#chunk = this.#spare.pop() ?? Buffer.allocUnsafe(CHUNK + MAX_LINE);
    const pos = this.#pos;
    this.#pos = 0;
    this.#write(full.subarray(0, pos), () => {
      if (this.#spare.length < SPARE_CHUNKS) this.#spare.push(full);
    });
  }

  #write(data: Buffer, written?: () => void): void {
    if (!this.#out.write(data, written) && !this.#waiting) {
      this.#waiting = true;
      this.onPause?.();
      this.#out.once('drain', () => {
        this.#waiting = false;
        this.onResume?.();
      });
    }
  }
}

function say(io: TcptrackIO, line: string): void {
  io.stderr.write(`tcptrack: ${line}\n`);
}

/**
 * Runs tcptrack until `signal` aborts, the duration or event count of the options is reached,
 * or stdout fails; then detaches everything and prints the Connection Statistics. Resolves
 * with what was seen. Throws (before anything is attached) on bad options or missing
 * privileges, with typed errors: UsageError for malformed options, TsbpfError otherwise.
 */
export async function runTcptrack(options: TcptrackOptions, io: TcptrackIO, signal?: AbortSignal, handlers: RunHandlers = {}): Promise<TcptrackResult> {
  const o = resolveOptions(options);
  checkPrivileges();
  const tracker = await openTrackerWithFallback(planHooks(handlers.probes ?? kernelProbes, { accept: o.accept }), trackerConfig(o), {
    ...(handlers.ringBytes !== undefined ? { ringBytes: handlers.ringBytes } : {}),
    ...(handlers.socketSlots !== undefined ? { socketSlots: handlers.socketSlots } : {}),
  });
  let reader: RingBufReader | undefined;
  try {
    reader = new RingBufReader(tracker.collection.maps.events!);
    return await trace(o, io, tracker, reader, signal, handlers);
  } finally {
    reader?.close();
    tracker.close();
  }
}

async function trace(o: ResolvedOptions, io: TcptrackIO, tracker: Tracker, reader: RingBufReader, signal: AbortSignal | undefined, handlers: RunHandlers): Promise<TcptrackResult> {
  const out = new Output(io.stdout);
  const json = o.output === 'json';
  const life = o.output === 'life';
  const layout = outputLayout(o, io.stdout);
  const named = layout !== undefined && o.dns ? new NamedRows(new NameCache(handlers.reverseLookup ?? dnsReverse()), (e, name) => out.push(layout.row(e, name))) : undefined;
  const offset = monotonicOffsetMs();
  const jsonWriter = new EventJsonWriter(offset);
  let events = 0;
  let reported = 0;
  let stop: (reason: StopReason) => void = () => {};
  const stopped = new Promise<StopReason>((resolve) => (stop = resolve));
  let done = false;
  const finish = (reason: StopReason): void => {
    if (done) return;
    done = true;
    stop(reason);
  };

  let view: DataView | undefined;
  const onRecord = (data: Uint8Array, offsetInRing: number): void => {
    if (o.maxEvents !== undefined && events >= o.maxEvents) return;
    // The life table has a row per closed connection; the rest went into the statistics.
    if (life && data[offsetInRing + KIND_AT] !== KIND_CLOSE) return;
    if (json && handlers.onEvent === undefined) {
      out.pushJson(jsonWriter, data, offsetInRing);
    } else {
      if (view === undefined || view.buffer !== data.buffer) view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      const e = decodeEventAt(view, data, offsetInRing, offset);
      if (json) out.pushJson(jsonWriter, data, offsetInRing);
      else if (named !== undefined) named.push(e);
      else out.push(layout!.row(e));
      handlers.onEvent?.(e);
    }
    events++;
    if (o.maxEvents !== undefined && events >= o.maxEvents) {
      stopReading();
      finish('count');
    }
  };
  // The ring is drained on a timer (the kernel wakes nobody per record); not while stdout
  // asks to wait.
  let reading = false;
  const startReading = (): void => {
    if (!done && !o.countOnly) reading = true;
  };
  const stopReading = (): void => {
    reading = false;
  };
  out.onPause = stopReading;
  out.onResume = startReading;

  const onOutputError = (): void => {
    out.markBroken();
    finish('output');
  };
  io.stdout.on('error', onOutputError);
  const onAbort = (): void => finish('signal');
  signal?.addEventListener('abort', onAbort, { once: true });
  const timers: NodeJS.Timeout[] = [];
  if (o.durationMs !== undefined) timers.push(setTimeout(() => finish('duration'), o.durationMs));
  const reportLost = (): void => {
    const lost = readLost(tracker);
    if (lost > reported) say(io, `${lost - reported} events lost`);
    reported = Math.max(reported, lost);
  };
  // This timer also keeps the process alive while it traces.
  timers.push(setInterval(reportLost, handlers.lostIntervalMs ?? 1000));
  if (!o.countOnly) {
    const drainTimer = setInterval(() => {
      if (reading) reader.drainRaw(onRecord);
    }, DRAIN_INTERVAL_MS);
    timers.push(drainTimer);
  }

  try {
    if (o.verbose) for (const line of describePlan(tracker.plan)) say(io, line);
    if (layout !== undefined && !o.countOnly) out.push(layout.header);
    out.flush();
    startReading();
    if (o.verbose) say(io, `ready: tracing TCP connections${o.countOnly ? ' (counting only)' : ''}; Ctrl-C to stop`);
    // Counting prints nothing until the end: on a terminal, say that it runs.
    else if (o.countOnly && io.stdout.isTTY === true) say(io, `counting TCP connections${o.durationMs === undefined ? '' : ` for ${formatDuration(o.durationMs)}`}; Ctrl-C to stop`);
    handlers.onReady?.(tracker.plan, () => ({ events, lost: reported }));
    if (signal?.aborted) finish('signal');
    const reason = await stopped;

    // Detach first, so the counts stop moving; then hand out what is still in the ring.
    stopReading();
    for (const link of tracker.links) link.close();
    if (!o.countOnly && reason !== 'count' && !out.broken) reader.drainRaw(onRecord);
    // Rows still waiting for names get them (a second at most), or are printed without.
    if (named !== undefined && !out.broken) await named.settled();
    named?.flush();
    out.flush();
    reportLost();
    const summary = summarize(readStats(tracker), reported, o.top);
    if (!out.broken) {
      if (json) io.stdout.write(`${JSON.stringify({ stats: summary })}\n`);
      // A blank line first: after the rows, or after the ^C the terminal echoed.
      else io.stdout.write(`\n${formatSummary(summary)}`);
    }
    return { events, lost: reported, summary, plan: tracker.plan, reason };
  } finally {
    for (const t of timers) clearTimeout(t);
    signal?.removeEventListener('abort', onAbort);
    io.stdout.removeListener('error', onOutputError);
  }
}
