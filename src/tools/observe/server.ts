// `tsbpf observe serve`: one datapath for every client. The last N flows are kept in a ring
// (bounded memory), and Hubble's Observer gRPC service (GetFlows, ServerStatus, GetNodes) serves
// them on a unix socket and, when asked, on TCP. A client that goes away mid-stream is
// dropped; one that reads too slowly loses flows, counted and told in its stream.
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createConnection } from 'node:net';
import { InvalidArgumentError, TsbpfError } from '../../index.js';
import { accepts, type Filters } from './filter.js';
import { parseRfc3339, type FlowItem } from './flow.js';
import { filterOf, fromTimestamp, LOADER_OPTIONS, protoDir, responseMessage, type Timestamp } from './grpc.js';
import { type ExportOptions, FlowExporter } from './export.js';
import type { SourceOptions } from './source.js';
import { FlowSource } from './source.js';

/** Where `serve` listens and clients look by default, as Hubble's /var/run/cilium/hubble.sock. */
export const DEFAULT_SOCKET = '/run/tsbpf/observe.sock';
/** Flows kept, as Hubble's default buffer. */
export const DEFAULT_BUFFER = 4095;
/** Responses queued for one client before it counts as slow and loses flows. */
const CLIENT_QUEUE = 1024;
const DRAIN_INTERVAL_MS = 25;

export interface ServeOptions extends SourceOptions {
  /** unix:PATH, or HOST:PORT for TCP. */
  listen: string[];
  bufferSize: number;
  version: string;
  /** Every item also goes to this JSON-lines file, rotated by size. */
  export?: ExportOptions;
}

type Service = grpc.ServiceDefinition;

export function loadObserverService(): { Observer: { service: Service } & (new (address: string, creds: grpc.ChannelCredentials) => grpc.Client) } {
  const dir = protoDir();
  const def = protoLoader.loadSync(join(dir, 'observer.proto'), { ...LOADER_OPTIONS, includeDirs: [dir] });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { observer: ReturnType<typeof loadObserverService> };
  return pkg.observer;
}

/** The grpc-js address of a listen or server argument. */
export function grpcAddress(s: string): string {
  if (s.startsWith('unix://')) return `unix:${s.slice('unix://'.length)}`;
  if (s.startsWith('unix:') || s.startsWith('/')) return s.startsWith('/') ? `unix:${s}` : s;
  if (/^(\[[0-9a-fA-F:.]+\]|[\w.-]+):\d{1,5}$/.test(s)) return s;
  throw new InvalidArgumentError(`invalid address '${s}' (unix:PATH, /PATH, or HOST:PORT)`);
}

/** Whether something accepts connections on the unix socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The last `size` items, oldest first. */
class FlowRing {
  readonly #items: Array<FlowItem | undefined>;
  #next = 0;
  seen = 0;

  constructor(size: number) {
    this.#items = new Array<FlowItem | undefined>(size);
  }

  get size(): number {
    return this.#items.length;
  }

  get count(): number {
    return Math.min(this.seen, this.#items.length);
  }

  push(item: FlowItem): void {
    this.#items[this.#next] = item;
    this.#next = (this.#next + 1) % this.#items.length;
    this.seen++;
  }

  *items(): Generator<FlowItem> {
    const n = this.count;
    for (let i = 0; i < n; i++) yield this.#items[(this.#next - n + i + this.#items.length) % this.#items.length]!;
  }
}

interface GetFlowsRequest {
  number?: string;
  first?: boolean;
  follow?: boolean;
  whitelist?: Parameters<typeof filterOf>[0][];
  blacklist?: Parameters<typeof filterOf>[0][];
  since?: Timestamp;
  until?: Timestamp;
}

interface Follower {
  write(item: FlowItem): void;
}

export class ObserveServer {
  readonly #server = new grpc.Server();
  readonly #ring: FlowRing;
  readonly #followers = new Set<Follower>();
  readonly #started = process.hrtime.bigint();
  readonly #o: ServeOptions;
  #source: FlowSource | undefined;
  #exporter: FlowExporter | undefined;
  #timers: NodeJS.Timeout[] = [];
  readonly addresses: string[] = [];

  constructor(o: ServeOptions) {
    this.#o = o;
    this.#ring = new FlowRing(o.bufferSize);
  }

  /** Attaches the datapath and listens; resolves with the addresses bound (TCP ports filled in). */
  async start(): Promise<string[]> {
    const { Observer } = loadObserverService();
    this.#server.addService(Observer.service, {
      GetFlows: (call: grpc.ServerWritableStream<GetFlowsRequest, unknown>) => this.#getFlows(call),
      ServerStatus: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, this.#status()),
      GetNodes: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { nodes: [{ name: this.#source?.nodeName ?? '', version: this.#o.version, address: this.addresses[0] ?? '', ...this.#counts() }] }),
    });
    if (this.#o.export !== undefined) this.#exporter = new FlowExporter(this.#o.export);
    try {
      this.#source = await FlowSource.open(this.#o, (item) => this.#add(item));
      for (const l of this.#o.listen) {
        const address = grpcAddress(l);
        if (address.startsWith('unix:')) {
          const path = address.slice('unix:'.length);
          mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
          if (await answers(path)) throw new TsbpfError('EADDRINUSE', `${path}: another server is listening there`);
          // A socket left by a server that died: this one replaces it.
          rmSync(path, { force: true });
        }
        const port = await new Promise<number>((resolve, reject) => this.#server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
        this.addresses.push(address.startsWith('unix:') ? address : address.replace(/:\d+$/, `:${port}`));
      }
    } catch (err) {
      this.close();
      throw err;
    }
    this.#timers.push(setInterval(() => this.#source?.drain(), DRAIN_INTERVAL_MS));
    this.#timers.push(setInterval(() => this.#source?.checkLost(), 1000));
    return this.addresses;
  }

  #counts(): { num_flows: string; max_flows: string; seen_flows: string; uptime_ns: string } {
    return { num_flows: String(this.#ring.count), max_flows: String(this.#ring.size), seen_flows: String(this.#ring.seen), uptime_ns: String(process.hrtime.bigint() - this.#started) };
  }

  #status(): Record<string, unknown> {
    return { ...this.#counts(), num_connected_nodes: { value: 1 }, num_unavailable_nodes: { value: 0 }, version: this.#o.version };
  }

  #add(item: FlowItem): void {
    this.#ring.push(item);
    this.#exporter?.write(item);
    // A client gone without a word (its stream closed under the write) is dropped, and the
    // others still get the item.
    for (const f of this.#followers) {
      try {
        f.write(item);
      } catch {
        this.#followers.delete(f);
      }
    }
  }

  #getFlows(call: grpc.ServerWritableStream<GetFlowsRequest, unknown>): void {
    const req = call.request;
    let filters: Filters;
    try {
      filters = { allow: (req.whitelist ?? []).map(filterOf), deny: (req.blacklist ?? []).map(filterOf) };
    } catch (err) {
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
      return;
    }
    const since = req.since === undefined ? undefined : fromTimestamp(req.since);
    const until = req.until === undefined ? undefined : fromTimestamp(req.until);
    const wanted = (item: FlowItem): boolean => {
      if (!('flow' in item)) return true;
      const t = parseRfc3339(item.time);
      return (since === undefined || t >= since) && (until === undefined || t <= until) && accepts(filters, item.flow);
    };
    let ended = false;
    let lost = 0;
    const follower: Follower = { write: (item) => (wanted(item) ? send(item) : undefined) };
    const stop = (): void => {
      ended = true;
      this.#followers.delete(follower);
    };
    const send = (item: FlowItem): void => {
      if (ended || call.cancelled || call.destroyed || call.writableEnded) {
        stop();
        return;
      }
      // A client that does not read: its flows are counted as lost, not queued without end.
      if (call.writableLength > CLIENT_QUEUE) {
        lost++;
        return;
      }
      if (lost > 0) {
        call.write(responseMessage({ lost_events: { source: 'OBSERVER_EVENTS_QUEUE', num_events_lost: String(lost) }, node_name: item.node_name ?? '', time: item.time }));
        lost = 0;
      }
      call.write(responseMessage(item));
    };
    const number = req.number === undefined ? (since === undefined && until === undefined && !req.follow ? 20 : undefined) : Number(req.number);
    const history = [...this.#ring.items()].filter(wanted);
    const picked = number === undefined ? history : req.first ? history.slice(0, number) : history.slice(Math.max(0, history.length - number));
    for (const item of picked) send(item);
    if (!req.follow) {
      call.end();
      return;
    }
    this.#followers.add(follower);
    // The headers now, not with the first flow: a client knows it is following from here on.
    call.sendMetadata(new grpc.Metadata());
    call.on('cancelled', stop);
    call.on('close', stop);
    call.on('error', stop);
  }

  /** The items the ring holds, oldest first. */
  history(): Iterable<FlowItem> {
    return this.#ring.items();
  }

  /** Every new item, after the ring has it, until the returned function is called. */
  subscribe(listener: (item: FlowItem) => void): () => void {
    const follower: Follower = { write: listener };
    this.#followers.add(follower);
    return () => this.#followers.delete(follower);
  }

  close(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    this.#followers.clear();
    this.#server.forceShutdown();
    this.#source?.close();
    this.#source = undefined;
    this.#exporter?.close();
    this.#exporter = undefined;
    for (const a of this.addresses) if (a.startsWith('unix:')) rmSync(a.slice('unix:'.length), { force: true });
  }
}
