// The web view's parts that need no kernel: its address, its filter text (the command line's
// parser), the service map's aggregation and caps, and the HTTP server with its event stream,
// fed by hand-made flows.
import assert from 'node:assert/strict';
import { get, request } from 'node:http';
import { createConnection } from 'node:net';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../src/errors.js';
import type { Flow, FlowItem } from '../src/tools/observe/flow.js';
import { parseObserveArgs, type ObserveOptions } from '../src/tools/observe/options.js';
import { parseUiAddress, uiUrl } from '../src/tools/observe/ui/address.js';
import { parseFilterText, splitWords } from '../src/tools/observe/ui/query.js';
import { rowOf } from '../src/tools/observe/ui/row.js';
import { MAX_EDGES, MAX_NODES, ServiceMap } from '../src/tools/observe/ui/servicemap.js';
import { MAX_ROWS, WebView, type FlowFeed } from '../src/tools/observe/ui/webview.js';

interface Made {
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  reply?: boolean;
  drop?: string;
  srcPid?: [number, string];
  dstPid?: [number, string];
  flags?: Record<string, boolean>;
}

function flow(m: Made = {}): Flow {
  const f: Flow = {
    time: '2026-12-06T14:25:08.123456789Z',
    verdict: m.drop === undefined ? 'FORWARDED' : 'DROPPED',
    IP: { source: m.src ?? '10.0.0.1', destination: m.dst ?? '10.0.0.2', ipVersion: 'IPv4' },
    l4: { TCP: { source_port: m.sport ?? 40000, destination_port: m.dport ?? 80, flags: m.flags ?? { SYN: true } } },
    Type: 'L3_L4',
    event_type: { type: 4 },
    interface: { index: 7, name: 'veth0' },
    traffic_direction: 'EGRESS',
    Summary: 'TCP Flags: SYN',
  };
  if (m.reply !== undefined) f.is_reply = m.reply;
  if (m.drop !== undefined) f.drop_reason_desc = m.drop;
  if (m.srcPid !== undefined) f.source = { pid: m.srcPid[0], comm: m.srcPid[1] };
  if (m.dstPid !== undefined) f.destination = { pid: m.dstPid[0], comm: m.dstPid[1] };
  return f;
}

const item = (f: Flow): FlowItem => ({ flow: f, time: f.time });

describe('observe --ui address', () => {
  it('reads HOST:PORT, [IPv6]:PORT and a bare PORT (on the loopback address)', () => {
    assert.deepEqual(parseUiAddress('127.0.0.1:12000'), { host: '127.0.0.1', port: 12000 });
    assert.deepEqual(parseUiAddress('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseUiAddress('localhost:8080'), { host: 'localhost', port: 8080 });
    assert.deepEqual(parseUiAddress('12000'), { host: '127.0.0.1', port: 12000 });
    assert.equal(uiUrl('::1', 5), 'http://[::1]:5/');
    assert.equal(uiUrl('127.0.0.1', 5), 'http://127.0.0.1:5/');
  });

  it('refuses what is not an address, naming it', () => {
    for (const bad of ['', 'x', '10.0.0.1', '10.0.0.1:65536', '[zz]:80', '[10.0.0.1]:80', 'a b:1', '1:2:3']) {
      assert.throws(() => parseUiAddress(bad), (e: Error) => e instanceof InvalidArgumentError && e.message.startsWith(`invalid address '${bad}'`), bad);
    }
  });
});

describe('observe --ui filter text', () => {
  const cli = (args: string[]) => (parseObserveArgs(args) as ObserveOptions).filters;

  it('gives the filters the command line gives for the same words', () => {
    const text = '--ip 10.0.0.1 --protocol tcp --verdict DROPPED --not --port 22 -6';
    assert.deepEqual(parseFilterText(text), cli(text.split(' ')));
    assert.deepEqual(parseFilterText(''), { allow: [], deny: [] });
    assert.deepEqual(parseFilterText('  --port=80  '), cli(['--port=80']));
  });

  it('splits words as a shell does, so a regular expression may hold blanks', () => {
    assert.deepEqual(splitWords(`--http-path '^/a b' --dns-query "x y" a''b`), ['--http-path', '^/a b', '--dns-query', 'x y', 'ab']);
    const path = parseFilterText(`--http-path '^/a b'`).allow[0]?.httpPath?.[0];
    assert.ok(path?.test('/a b/c') && !path.test('/a'));
    assert.throws(() => splitWords(`--http-path '^/a`), /unclosed ' in the filter/);
  });

  it("errors are the command line's, without its prefix; flags that are not filters are refused", () => {
    const cases: Array<[string, RegExp]> = [
      ['--port 70000', /^invalid port '70000' \(0-65535\)$/],
      ['--ip 10.0.0.0/33', /^invalid prefix length in '10\.0\.0\.0\/33'/],
      ['--http-path (', /^--http-path: invalid regular expression '\('/],
      ['--protocol sctp', /^unknown protocol 'sctp'/],
      ['--not', /^--not must come before a filter flag$/],
      ['foo', /^unexpected argument 'foo'$/],
      ['--nope', /^Unknown option '--nope'/],
      ['-f', /^'-f' is not a filter$/],
      ['--iface eth0', /^'--iface' is not a filter$/],
      ['--output=json', /^'--output=json' is not a filter$/],
      ['--help', /^'--help' is not a filter$/],
    ];
    for (const [text, re] of cases) assert.throws(() => parseFilterText(text), (e: Error) => e instanceof InvalidArgumentError && re.test(e.message), text);
  });
});

describe('observe --ui rows', () => {
  it('words a flow as the table shows it', () => {
    const f = flow({ srcPid: [42, 'curl'], drop: 'NETFILTER_DROP', reply: false });
    assert.deepEqual(rowOf(f, 3), {
      id: 3,
      time: f.time,
      source: '10.0.0.1:40000',
      destination: '10.0.0.2:80',
      protocol: 'tcp',
      summary: 'TCP Flags: SYN',
      verdict: 'DROPPED',
      dropReason: 'NETFILTER_DROP',
      interface: 'veth0',
      direction: 'egress',
      reply: false,
      sourceWho: 'curl:42',
    });
    const v6: Flow = { ...flow(), IP: { source: 'fd00::1', destination: 'fd00::2', ipVersion: 'IPv6' }, l7: { type: 'REQUEST', http: { method: 'GET', url: 'http://x/' } }, Type: 'L7' };
    const r = rowOf(v6, 0);
    assert.equal(r.source, '[fd00::1]:40000');
    assert.equal(r.protocol, 'http');
  });
});

describe('observe --ui service map', () => {
  it('one edge per client and server: replies count on the edge of their request', () => {
    const m = new ServiceMap();
    m.add(flow({ srcPid: [42, 'curl'], reply: false }));
    // The reply: no socket told the client's process; the map remembers it by address and port.
    m.add(flow({ src: '10.0.0.2', dst: '10.0.0.1', sport: 80, dport: 40000, reply: true, flags: { SYN: true, ACK: true } }));
    m.add({ ...flow({ srcPid: [43, 'curl'], sport: 40001, reply: false }), l7: { type: 'REQUEST', http: { method: 'GET' } }, Type: 'L7' });
    const s = m.snapshot();
    assert.deepEqual(s.nodes, [
      { id: 'process:curl@10.0.0.1', kind: 'process', label: 'curl', detail: '10.0.0.1' },
      { id: 'address:10.0.0.2', kind: 'address', label: '10.0.0.2', detail: '' },
    ]);
    assert.deepEqual(s.edges, [{ from: 'process:curl@10.0.0.1', to: 'address:10.0.0.2', protocols: [{ name: 'tcp/80', count: 2 }, { name: 'http', count: 1 }], flows: 3, drops: 0 }]);
    assert.equal(s.flows, 3);
  });

  it('drops mark their edge and count by reason; pods are nodes of their own', () => {
    const m = new ServiceMap();
    m.add(flow({ src: '10.0.0.9', dst: '10.0.0.1', dport: 22, drop: 'NETFILTER_DROP' }));
    m.add(flow({ src: '10.0.0.9', dst: '10.0.0.1', dport: 23, drop: 'NETFILTER_DROP' }));
    m.add(flow({ src: '10.0.0.9', dst: '10.0.0.1', dport: 24, drop: 'NO_SOCKET' }));
    m.add({ ...flow(), source: { namespace: 'default', pod_name: 'web-0' } });
    const s = m.snapshot();
    assert.deepEqual(s.dropReasons, [{ reason: 'NETFILTER_DROP', count: 2 }, { reason: 'NO_SOCKET', count: 1 }]);
    assert.equal(s.drops, 3);
    const e = s.edges.find((x) => x.from === 'address:10.0.0.9');
    assert.equal(e?.drops, 3);
    assert.deepEqual(e?.protocols.map((p) => p.name), ['tcp/22', 'tcp/23', 'tcp/24']);
    assert.ok(s.nodes.some((n) => n.id === 'pod:default/web-0' && n.kind === 'pod' && n.detail === 'default'));
  });

  it('stays within its caps, forgetting the edges seen least recently', () => {
    const m = new ServiceMap();
    const n = 1000;
    for (let i = 0; i < n; i++) m.add(flow({ src: `10.1.${i >> 8}.${i & 255}`, dst: '10.0.0.2' }));
    // One of the first, seen again, stays.
    m.add(flow({ src: '10.1.0.0', dst: '10.0.0.2' }));
    let s = m.snapshot();
    assert.ok(s.nodes.length <= MAX_NODES, `${s.nodes.length} nodes`);
    assert.ok(s.edges.length <= MAX_EDGES);
    assert.equal(s.evicted, n + 1 - s.edges.length);
    assert.ok(s.edges.some((e) => e.from === 'address:10.1.0.0'));
    assert.equal(s.flows, n + 1);
    for (let i = 0; i < n; i++) m.add(flow({ src: '10.0.0.1', dst: '10.0.0.2', dport: i + 1 }));
    s = m.snapshot();
    assert.equal(s.edges.find((e) => e.from === 'address:10.0.0.1')?.protocols.length, 8);
    assert.equal(s.edges.find((e) => e.from === 'address:10.0.0.1')?.flows, n);
  });
});

/** A feed of hand-made items: what ObserveServer hands the web view. */
class Feed implements FlowFeed {
  readonly held: FlowItem[] = [];
  readonly listeners = new Set<(item: FlowItem) => void>();
  history(): Iterable<FlowItem> {
    return this.held;
  }
  subscribe(listener: (item: FlowItem) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(item: FlowItem): void {
    this.held.push(item);
    for (const l of this.listeners) l(item);
  }
}

interface SseEvent {
  event: string;
  data: unknown;
}

/** Reads the event stream at `path` until `done` says so; returns the events. */
function readEvents(base: string, path: string, done: (events: SseEvent[]) => boolean): Promise<SseEvent[]> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    let buf = '';
    const req = get(new URL(path, base), (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream');
      res.setEncoding('utf8');
      const finish = (): void => {
        req.destroy();
        resolve(events);
      };
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
        }
        if (done(events)) finish();
      });
      res.on('end', finish);
    });
    req.on('error', reject);
  });
}

function status(base: string, path: string, opts: { method?: string; host?: string } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, base);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: opts.method ?? 'GET', headers: opts.host ? { host: opts.host } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('observe --ui server', () => {
  it('serves the page, refuses other hosts (DNS rebinding), methods and paths', async () => {
    const view = new WebView(new Feed());
    const base = await view.listen({ host: '127.0.0.1', port: 0 });
    try {
      const page = await status(base, '/');
      assert.equal(page.status, 200);
      assert.match(page.body, /<script type="module" src="app.js">/);
      assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
      assert.equal((await status(base, '/app.js')).status, 200);
      assert.equal((await status(base, '/style.css')).headers['content-type'], 'text/css; charset=utf-8');
      assert.equal((await status(base, '/', { host: 'localhost:1' })).status, 200);
      assert.equal((await status(base, '/', { host: 'attacker.example:80' })).status, 403);
      assert.equal((await status(base, '/../package.json')).status, 404);
      assert.equal((await status(base, '/', { method: 'POST' })).status, 405);
      // A request target no URL parser takes: refused, and the server goes on.
      const raw = await new Promise<string>((resolve, reject) => {
        const s = createConnection({ host: '127.0.0.1', port: Number(new URL(base).port) }, () => s.end('GET http://[ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
        let got = '';
        s.on('data', (d: Buffer) => (got += d.toString()));
        s.on('close', () => resolve(got));
        s.on('error', reject);
      });
      assert.match(raw, /^HTTP\/1\.1 400 /);
      assert.equal((await status(base, '/')).status, 200);
    } finally {
      view.close();
    }
  });

  it('a stream replays the newest matching rows, follows, and sends the map of what its filter took', async () => {
    const feed = new Feed();
    const total = MAX_ROWS + 200;
    for (let i = 0; i < total; i++) feed.emit(item(flow({ sport: 10000 + i, dport: i % 2 === 0 ? 80 : 443 })));
    feed.emit({ lost_events: { source: 'PERF_EVENT_RING_BUFFER', num_events_lost: '7' }, time: 'x' });
    const view = new WebView(feed);
    const base = await view.listen({ host: '127.0.0.1', port: 0 });
    try {
      // Every other flow goes to port 80: fewer than MAX_ROWS, so all of them are replayed.
      let sentLive = false;
      const events = await readEvents(base, `/events?filter=${encodeURIComponent('--to-port 80')}`, (evs) => {
        if (!sentLive && evs.some((e) => e.event === 'hello')) {
          sentLive = true;
          setImmediate(() => {
            feed.emit(item(flow({ sport: 1, dport: 80 })));
            feed.emit(item(flow({ sport: 2, dport: 443 })));
            feed.emit({ lost_events: { source: 'OBSERVER_EVENTS_QUEUE', num_events_lost: '3' }, time: 'x' });
          });
        }
        return evs.some((e) => e.event === 'flows' && (e.data as Array<{ source: string }>).some((r) => r.source === '10.0.0.1:1')) && evs.some((e) => e.event === 'stats' && (e.data as { lost: number }).lost === 10);
      });
      assert.deepEqual(events[0], { event: 'hello', data: { filter: '--to-port 80', maxRows: MAX_ROWS } });
      const rows = events.filter((e) => e.event === 'flows').flatMap((e) => e.data as Array<{ id: number; destination: string; source: string }>);
      assert.equal(rows.length, total / 2 + 1);
      assert.ok(rows.every((r) => r.destination === '10.0.0.2:80'));
      // Ids increase: the page keys rows by them.
      assert.ok(rows.every((r, i) => i === 0 || r.id > rows[i - 1]!.id));
      const stats = events.filter((e) => e.event === 'stats').map((e) => e.data as { flows: number; edges: unknown[]; lost: number });
      assert.equal(stats[0]?.flows, total / 2);
      assert.equal(stats.at(-1)?.flows, total / 2 + 1);
      assert.equal(stats.at(-1)?.edges.length, 1);
      // Losses in the history replayed, and since.
      assert.equal(stats[0]?.lost, 7);
      assert.equal(stats.at(-1)?.lost, 10);
    } finally {
      view.close();
    }
  });

  it('a replay holds the newest MAX_ROWS rows; the map counts them all', async () => {
    const feed = new Feed();
    const total = MAX_ROWS * 3;
    for (let i = 0; i < total; i++) feed.emit(item(flow({ sport: i })));
    const view = new WebView(feed);
    const base = await view.listen({ host: '127.0.0.1', port: 0 });
    try {
      const events = await readEvents(base, '/events', (evs) => evs.some((e) => e.event === 'stats'));
      const rows = events.filter((e) => e.event === 'flows').flatMap((e) => e.data as Array<{ source: string }>);
      assert.equal(rows.length, MAX_ROWS);
      assert.equal(rows[0]?.source, `10.0.0.1:${total - MAX_ROWS}`);
      assert.equal((events.find((e) => e.event === 'stats')?.data as { flows: number } | undefined)?.flows, total);
    } finally {
      view.close();
    }
  });

  it('a bad filter gets its reason as an event, and the stream ends', async () => {
    const view = new WebView(new Feed());
    const base = await view.listen({ host: '127.0.0.1', port: 0 });
    try {
      const events = await readEvents(base, `/events?filter=${encodeURIComponent('--port 70000')}`, () => false);
      assert.deepEqual(events, [{ event: 'filter-error', data: { filter: '--port 70000', message: "invalid port '70000' (0-65535)" } }]);
    } finally {
      view.close();
    }
  });

  it('a busy port is an error naming the address, and leaves nothing listening', async () => {
    const first = new WebView(new Feed());
    const base = await first.listen({ host: '127.0.0.1', port: 0 });
    const port = Number(new URL(base).port);
    const second = new WebView(new Feed());
    try {
      await assert.rejects(second.listen({ host: '127.0.0.1', port }), (e: Error & { code?: string }) => e.code === 'EADDRINUSE' && e.message === `--ui: cannot listen on 127.0.0.1:${port}: the port is in use`);
    } finally {
      second.close();
      first.close();
    }
  });
});
