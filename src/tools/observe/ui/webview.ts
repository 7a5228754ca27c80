// The web view of `tsbpf observe serve --ui ADDR`: a page (plain HTML, CSS and JavaScript from
// ./assets) and one Server-Sent Events stream per open page, fed by the server's flows. Each
// stream has its own filter, parsed by the command line's parser; it replays the matching flows
// the server holds, then follows, and sends the service map and drop reasons of what it matched.
// Memory is bounded: rows replayed and queued per page, pages at once, and bytes a slow page may
// have unread (beyond, its rows are counted as skipped, as gRPC followers count theirs).
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { UsageError } from '../../../cli/framework/index.js';
import { InvalidArgumentError, TsbpfError } from '../../../index.js';
import { toolFile } from '../../common/assets.js';
import { accepts, type Filters } from '../filter.js';
import type { FlowItem } from '../flow.js';
import { parseFilterText } from './query.js';
import { rowOf, type Row } from './row.js';
import { ServiceMap } from './servicemap.js';
import { parseUiAddress, uiUrl, type UiAddress } from './address.js';

/** Where the flows come from: ObserveServer, or anything else holding and emitting them. */
export interface FlowFeed {
  /** The items held now, oldest first. */
  history(): Iterable<FlowItem>;
  /** Every new item until the returned function is called. */
  subscribe(listener: (item: FlowItem) => void): () => void;
}

/** Rows a page keeps and a stream replays: the page drops older ones. */
export const MAX_ROWS = 500;
const MAX_PAGES = 32;
/** Rows waiting for the next flush of one page. */
const MAX_QUEUED = 2000;
/** Bytes one page may leave unread before its rows are skipped. */
const MAX_UNREAD = 1 << 20;
const FLUSH_MS = 100;
const STATS_MS = 1000;
const KEEPALIVE_MS = 15_000;

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/** The page's files, as the package ships them. */
function assetDir(): string {
  return `${toolFile('observe', 'ui', 'assets')}/`;
}

interface Page {
  res: ServerResponse;
  filters: Filters;
  map: ServiceMap;
  queued: Row[];
  /** Rows not sent: the queue was full or the page did not read. */
  skipped: number;
  /** Records the kernel or the server lost, as the stream reported them. */
  lost: number;
  sentVersion: number;
  sentLost: number;
}

function send(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export class WebView {
  readonly #feed: FlowFeed;
  readonly #pages = new Set<Page>();
  readonly #http: Server;
  readonly #assets = new Map<string, Buffer>();
  #host = '';
  #unsubscribe: (() => void) | undefined;
  #timers: NodeJS.Timeout[] = [];
  #nextId = 0;
  /** Row ids by item, so a page that comes later numbers a flow as the others did. */
  readonly #ids = new WeakMap<FlowItem, number>();

  constructor(feed: FlowFeed) {
    this.#feed = feed;
    const dir = assetDir();
    for (const { file } of Object.values(ASSETS)) this.#assets.set(file, readFileSync(`${dir}${file}`));
    this.#http = createServer((req, res) => {
      // A request the handler did not foresee costs that request, never the observer.
      try {
        this.#handle(req, res);
      } catch (err) {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`${(err as Error).message}\n`);
      }
    });
  }

  /** Listens on `address`; resolves with the page's URL. Errors name the address and the reason. */
  async listen(address: UiAddress): Promise<string> {
    this.#host = address.host;
    await new Promise<void>((resolve, reject) => {
      const failed = (err: NodeJS.ErrnoException): void => {
        const what = address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
        const why = err.code === 'EADDRINUSE' ? 'the port is in use' : err.code === 'EADDRNOTAVAIL' ? 'no interface of this host has that address' : err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' ? 'unknown host' : err.message;
        reject(new TsbpfError(err.code ?? 'EINVAL', `--ui: cannot listen on ${what}: ${why}`));
      };
      this.#http.once('error', failed);
      this.#http.listen(address.port, address.host, () => {
        this.#http.off('error', failed);
        // Later errors are of one connection that could not be accepted (EMFILE): the next may be.
        this.#http.on('error', () => {});
        resolve();
      });
    });
    this.#unsubscribe = this.#feed.subscribe((item) => this.#add(item));
    this.#timers.push(setInterval(() => this.#flush(), FLUSH_MS));
    this.#timers.push(setInterval(() => this.#sendStats(), STATS_MS));
    this.#timers.push(setInterval(() => this.#keepalive(), KEEPALIVE_MS));
    const bound = this.#http.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
    return uiUrl(address.host, port);
  }

  #id(item: FlowItem): number {
    let id = this.#ids.get(item);
    if (id === undefined) {
      id = this.#nextId++;
      this.#ids.set(item, id);
    }
    return id;
  }

  #add(item: FlowItem): void {
    for (const page of this.#pages) this.#offer(page, item);
  }

  /** Queues the item for the page if its filter takes it. */
  #offer(page: Page, item: FlowItem): void {
    if ('lost_events' in item) {
      page.lost += Number(item.lost_events.num_events_lost);
      return;
    }
    if (!accepts(page.filters, item.flow)) return;
    page.map.add(item.flow);
    if (page.queued.length >= MAX_QUEUED) page.skipped++;
    else page.queued.push(rowOf(item.flow, this.#id(item)));
  }

  /**
   * A request's Host must name this listener by address (or be localhost): a page of another
   * site that resolves its own name to this address (DNS rebinding) is refused.
   */
  #hostAllowed(req: IncomingMessage): boolean {
    const host = req.headers.host;
    if (host === undefined) return false;
    const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
    return isIP(name) !== 0 || name === 'localhost' || name === this.#host;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    if (!this.#hostAllowed(req)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden host\n');
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (url.pathname === '/events') {
      this.#stream(url.searchParams.get('filter') ?? '', res);
      return;
    }
    const asset = ASSETS[url.pathname];
    if (asset === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, {
      'content-type': asset.type,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    });
    res.end(req.method === 'HEAD' ? undefined : this.#assets.get(asset.file));
  }

  #stream(text: string, res: ServerResponse): void {
    if (this.#pages.size >= MAX_PAGES) {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '5' }).end(`at most ${MAX_PAGES} pages at once\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    let filters: Filters;
    try {
      filters = parseFilterText(text);
    } catch (err) {
      if (!(err instanceof InvalidArgumentError)) throw err;
      // The page shows the reason and closes its EventSource on this event, before the
      // browser would ask again.
      send(res, 'filter-error', { filter: text, message: err.message });
      res.end();
      return;
    }
    const page: Page = { res, filters, map: new ServiceMap(), queued: [], skipped: 0, lost: 0, sentVersion: -1, sentLost: 0 };
    send(res, 'hello', { filter: text, maxRows: MAX_ROWS });
    for (const item of this.#feed.history()) this.#offer(page, item);
    // The replay is the last rows only; the map counts them all.
    if (page.queued.length > MAX_ROWS) page.queued.splice(0, page.queued.length - MAX_ROWS);
    page.skipped = 0;
    this.#pages.add(page);
    this.#flushPage(page);
    this.#sendPageStats(page);
    const gone = (): void => {
      this.#pages.delete(page);
    };
    res.on('close', gone);
    res.on('error', gone);
  }

  #flushPage(page: Page): void {
    if (page.queued.length === 0) return;
    if (page.res.writableLength > MAX_UNREAD) {
      page.skipped += page.queued.length;
      page.queued = [];
      return;
    }
    send(page.res, 'flows', page.queued);
    page.queued = [];
  }

  #flush(): void {
    for (const page of this.#pages) this.#flushPage(page);
  }

  #sendPageStats(page: Page): void {
    if (page.map.version === page.sentVersion && page.lost === page.sentLost) return;
    if (page.res.writableLength > MAX_UNREAD) return;
    send(page.res, 'stats', { ...page.map.snapshot(), lost: page.lost, skipped: page.skipped });
    page.sentVersion = page.map.version;
    page.sentLost = page.lost;
  }

  #sendStats(): void {
    for (const page of this.#pages) this.#sendPageStats(page);
  }

  #keepalive(): void {
    for (const page of this.#pages) page.res.write(': keepalive\n\n');
  }

  close(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    for (const page of this.#pages) page.res.end();
    this.#pages.clear();
    this.#http.close();
    this.#http.closeAllConnections();
  }
}

/**
 * `--ui ADDR` of `tsbpf observe serve`: the web view of `feed`, listening. A malformed address
 * is a UsageError; one that cannot be bound (a busy port) a TsbpfError naming it.
 */
export async function openWebView(feed: FlowFeed, address: string): Promise<{ url: string; view: WebView }> {
  let parsed: UiAddress;
  try {
    parsed = parseUiAddress(address);
  } catch (err) {
    throw new UsageError(`observe serve: --ui: ${(err as Error).message}`);
  }
  const view = new WebView(feed);
  try {
    return { url: await view.listen(parsed), view };
  } catch (err) {
    view.close();
    throw err;
  }
}
