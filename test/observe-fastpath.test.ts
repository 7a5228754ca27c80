// observe's user side at tens of thousands of flows a second gives exactly what the plain way
// gave: one write per batch with the bytes of a write per line, the cached times, processes
// and addresses equal to computing them each time, and L7 flows with the fields and order of a
// spread of their packet's flow.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { decodeRecord, flowOf, parseRfc3339, rfc3339Nano, type Flow, type FlowContext, type FlowItem } from '../src/tools/observe/flow.js';
import { formatItem, stampMilli, TABLE_HEADER, tableRow } from '../src/tools/observe/format.js';
import { L7Parser, parseHttpRequest, parseHttpResponse } from '../src/tools/observe/l7.js';
import { flowEventCodec } from '../src/tools/observe/observe_bpf.js';
import { Printer } from '../src/tools/observe/printer.js';
import { recordHandler } from '../src/tools/observe/records.js';
import { mapped, testContext } from './helpers/observe.js';

const CTX: FlowContext = testContext();

interface RecordSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  ts?: bigint;
  pid?: number;
  comm?: string;
  cgroup?: bigint;
  reply?: number;
  dir?: number;
  cookie?: bigint;
  turnOnly?: number;
  payload?: string;
}

function record(o: RecordSpec): Uint8Array {
  const payload = Buffer.from(o.payload ?? '', 'latin1');
  const padded = new Uint8Array(512);
  padded.set(payload);
  const bytes = new Uint8Array(flowEventCodec.size);
  flowEventCodec.encodeAt({
    ts_ns: o.ts ?? 1_000_000_000n, sock_cookie: o.cookie ?? 0n, src: { cgroup_id: o.cgroup ?? 0n, pid: o.pid ?? 0, comm: o.comm ?? '', pad: 0 }, dst: { cgroup_id: 0n, pid: 0, comm: '', pad: 0 },
    ifindex: 2, len: 60, drop_reason: 0, netns: 0, saddr: mapped(o.src), daddr: mapped(o.dst), sport: o.sport, dport: o.dport, payload_len: payload.length, family: 4, proto: 6,
    tcp_flags: 0x18, icmp_type: 0, icmp_code: 0, direction: o.dir ?? 2, verdict: 1, is_reply: o.reply ?? 1, turn_only: o.turnOnly ?? 0, pad: 0, payload: padded,
  }, bytes, 0);
  return bytes;
}

const flow = (o: RecordSpec): Flow => flowOf(decodeRecord(record(o), 0, 0n), CTX);

function recorder(): Writable & { writes: string[] } {
  const writes: string[] = [];
  const w = new Writable({
    write(c: Buffer | string, _e, done) {
      writes.push(c.toString());
      done();
    },
  }) as Writable & { writes: string[] };
  w.writes = writes;
  return w;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function items(): FlowItem[] {
  const out: FlowItem[] = [];
  for (let i = 0; i < 50; i++) {
    const f = flow({ src: '10.0.0.1', dst: '10.0.1.2', sport: 40000 + i, dport: 80, pid: i % 3, comm: 'curl', ts: 1_765_000_000_000_000_000n + BigInt(i) * 123_456_789n });
    out.push({ flow: f, node_name: 'node1', time: f.time });
  }
  out.push({ lost_events: { source: 'PERF_EVENT_RING_BUFFER', num_events_lost: '7' }, node_name: 'node1', time: out[0]!.time });
  // A name with a character beyond ASCII takes more bytes than characters.
  const f = flow({ src: '10.0.0.9', dst: '10.0.1.2', sport: 1, dport: 2, pid: 99, comm: 'caf\u00e9' });
  out.push({ flow: f, node_name: 'node1', time: f.time });
  return out;
}

describe('observe printer', () => {
  for (const format of ['compact', 'json', 'dict'] as const) {
    it(`${format}: a batch is one write, with the bytes of a write per line`, async () => {
      const out = recorder();
      const p = new Printer(format, out);
      const all = items();
      for (const item of all) p.print(item);
      assert.equal(out.writes.length, 0);
      await tick();
      assert.equal(out.writes.length, 1);
      assert.equal(out.writes[0], all.map((i) => `${formatItem(i, format)}\n`).join(''));
      p.print(all[0]!);
      p.flush();
      assert.equal(out.writes.length, 2);
      assert.equal(out.writes[1], `${formatItem(all[0]!, format)}\n`);
    });
  }

  it('table: the header once, then the rows', async () => {
    const out = recorder();
    const p = new Printer('table', out);
    const all = items().filter((i) => 'flow' in i).slice(0, 3);
    for (const item of all) p.print(item);
    await tick();
    const lines = out.writes.join('').split('\n');
    assert.equal(lines.length, 5);
    assert.match(lines[0]!, new RegExp(`^${TABLE_HEADER[0]} +${TABLE_HEADER[1]}`));
    assert.ok(lines[1]!.startsWith(tableRow((all[0] as { flow: Flow }).flow)[0]!));
  });

  it('a batch larger than a buffer is written whole, in order', async () => {
    const out = recorder();
    const p = new Printer('json', out);
    const all = items();
    let want = '';
    for (let i = 0; i < 1000; i++) {
      for (const item of all) {
        p.print(item);
        if (i === 0) want += `${formatItem(item, 'json')}\n`;
      }
    }
    await tick();
    assert.ok(out.writes.length > 1);
    assert.equal(out.writes.join(''), want.repeat(1000));
  });

  it('nothing is written once the output broke', async () => {
    const out = recorder();
    const p = new Printer('compact', out);
    p.print(items()[0]!);
    p.broken = true;
    await tick();
    p.flush();
    assert.deepEqual(out.writes, []);
  });
});

describe('observe cached texts', () => {
  it('rfc3339Nano: the same text as a Date for each time, across seconds and back', () => {
    const plain = (ns: bigint): string => `${new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
    let ns = 1_765_000_000_999_999_000n;
    for (let i = 0; i < 2000; i++) {
      ns += BigInt((i * 7919) % 3) * 333_333_333n + 1n;
      if (i % 97 === 0) ns -= 5_000_000_000n;
      assert.equal(rfc3339Nano(ns), plain(ns));
    }
    assert.equal(rfc3339Nano(0n), '1970-01-01T00:00:00.000000000Z');
  });

  it('stampMilli: the same text as parsing each time', () => {
    const plain = (s: string): string => {
      const d = new Date(Number(parseRfc3339(s) / 1_000_000n));
      const two = (n: number) => String(n).padStart(2, '0');
      const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getMonth()];
      return `${month} ${String(d.getDate()).padStart(2, ' ')} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
    };
    const times = ['2026-12-06T14:25:08.123456789Z', '2026-12-06T14:25:08.999999999Z', '2026-12-06T14:25:09.000000001Z', '2026-12-06T14:25:08.5Z', '2026-12-06T14:25:08Z', '2026-12-06T16:25:08.123456789+02:00', '2026-02-29T00:00:00.000000000Z', '2026-13-01T00:00:00.000000000Z', '2024-02-29T23:59:59.987654321Z'];
    for (const t of [...times, ...times.reverse()]) assert.equal(stampMilli(t), plain(t), t);
  });
});

describe('observe decoding', () => {
  it('a process is decoded again when its record differs, and shared while it does not', () => {
    const a = decodeRecord(record({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, pid: 4242, comm: 'one', cgroup: 7n }), 0, 0n);
    const b = decodeRecord(record({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, pid: 4242, comm: 'two', cgroup: 7n }), 0, 0n);
    const c = decodeRecord(record({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, pid: 4242, comm: 'two', cgroup: 8n }), 0, 0n);
    const d = decodeRecord(record({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, pid: 4242, comm: 'two', cgroup: 8n }), 0, 0n);
    assert.deepEqual([a.src, b.src, c.src], [
      { cgroupId: 7n, pid: 4242, comm: 'one' },
      { cgroupId: 7n, pid: 4242, comm: 'two' },
      { cgroupId: 8n, pid: 4242, comm: 'two' },
    ]);
    assert.equal(d.src, c.src);
  });

  it('addresses: the same text for each record', () => {
    for (let i = 0; i < 300; i++) {
      const src = `10.${i % 7}.${i % 256}.${(i * 31) % 256}`;
      assert.equal(flow({ src, dst: '192.0.2.1', sport: 1, dport: 2 }).IP.source, src);
    }
  });
});

describe('observe L7 flows', () => {
  /** What the L7 flow of `packet` was made as before: a spread of it, less one field. */
  function spread(packet: Flow, l7: Flow): Flow {
    const out: Flow = { ...packet, Type: 'L7', l7: l7.l7!, event_type: { type: 129 }, is_reply: l7.is_reply!, Summary: l7.Summary! };
    delete out.trace_observation_point;
    return out;
  }

  for (const reply of [0, 1] as const) {
    it(`fields and their order as the spread made them (is_reply ${reply === 0 ? 'unknown' : 'known'})`, () => {
      const p = new L7Parser();
      const req = flow({ src: '10.0.0.1', dst: '10.0.1.2', sport: 40000, dport: 8080, pid: 5, comm: 'wrk', cookie: 77n, reply, payload: 'GET /a HTTP/1.1\r\nHost: shop\r\n\r\n' });
      const res = flow({ src: '10.0.1.2', dst: '10.0.0.1', sport: 8080, dport: 40000, dir: 1, reply: reply && 2, payload: 'HTTP/1.1 200 OK\r\n\r\n' });
      const [l7req] = p.parse(req, Buffer.from('GET /a HTTP/1.1\r\nHost: shop\r\n\r\n'), 1_000_000n);
      const [l7res] = p.parse(res, Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), 3_000_000n);
      assert.equal(JSON.stringify(l7req), JSON.stringify(spread(req, l7req!)));
      assert.equal(JSON.stringify(l7res), JSON.stringify(spread(res, l7res!)));
      assert.equal(l7res?.Summary, 'HTTP/1.1 200 2ms (GET http://shop/a)');
    });
  }
});

describe('observe records made for a turn', () => {
  const summaries = (specs: RecordSpec[]): string[] => {
    const out: string[] = [];
    const handle = recordHandler(CTX, 0n, (f) => out.push(`${f.Type} ${f.Summary}`), 'medium');
    for (const spec of specs) handle(record(spec), 0);
    return out;
  };
  const req = { src: '10.0.0.1', dst: '10.0.1.2', sport: 40000, dport: 80, payload: 'GET /a HTTP/1.1\r\nHost: shop\r\n\r\n' };
  const res = { src: '10.0.1.2', dst: '10.0.0.1', sport: 80, dport: 40000, dir: 1, reply: 2, payload: 'HTTP/1.1 200 OK\r\n\r\n' };

  it('a packet with a flow of its own shows it and its L7 flow', () => {
    assert.deepEqual(summaries([req, res]), ['L3_L4 TCP Flags: PSH, ACK', 'L7 HTTP/1.1 GET http://shop/a', 'L3_L4 TCP Flags: PSH, ACK', 'L7 HTTP/1.1 200 0ms (GET http://shop/a)']);
  });

  it('a packet recorded only for its turn shows as its L7 flow', () => {
    assert.deepEqual(summaries([{ ...req, turnOnly: 1 }, { ...res, turnOnly: 1 }]), ['L7 HTTP/1.1 GET http://shop/a', 'L7 HTTP/1.1 200 0ms (GET http://shop/a)']);
  });

  it('a turn the parsers do not know still shows, as its L3/L4 flow', () => {
    assert.deepEqual(summaries([{ ...req, turnOnly: 1, payload: '\x16\x03\x01\x02\x00' }]), ['L3_L4 TCP Flags: PSH, ACK']);
  });
});

describe('observe HTTP parsing from bytes', () => {
  // The parsers as they were: a regex over the latin1 text of the payload.
  const latin1 = new TextDecoder('latin1');
  const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
  function requestByText(payload: Uint8Array): unknown {
    const text = latin1.decode(payload);
    const m = /^([A-Z]{3,7}) (\S+) (HTTP\/1\.[01])\r?\n/.exec(text);
    if (m === null || !METHODS.has(m[1]!)) return undefined;
    const host = /\r?\nhost:[ \t]*([^\r\n]+)/i.exec(text)?.[1]?.trim();
    return host === undefined ? { method: m[1], path: m[2], protocol: m[3] } : { method: m[1], path: m[2], protocol: m[3], host };
  }
  function responseByText(payload: Uint8Array): unknown {
    const m = /^(HTTP\/1\.[01]) (\d{3})[ \r\n]/.exec(latin1.decode(payload.subarray(0, 64)));
    return m === null ? undefined : { protocol: m[1], code: Number(m[2]) };
  }

  const requests = [
    'GET / HTTP/1.1\r\nHost: 10.0.0.2:8080\r\nUser-Agent: wrk\r\n\r\n', 'GET /x HTTP/1.0\n\n', 'POST /a?b=c HTTP/1.1\r\nhOsT:shop\r\n', 'GET /x HTTP/1.1\r\nHost:\r\nhost:  second \r\n',
    'GET /x HTTP/1.1\r\nHost: \r\n', 'GET /x HTTP/1.1\r\nHost:\t\tname\t\r\n', 'GET /x HTTP/1.1\r\nX-Host: no\r\n', 'GET /x HTTP/1.1\r\nHost: a\u00e9b\r\n', 'GET /\u00e9 HTTP/1.1\r\nHost: h\r\n',
    'GET /a\u00a0b HTTP/1.1\r\n', 'GET /a\x01b HTTP/1.1\r\n', 'GET /a\x1fb HTTP/1.1\r\n', 'GET /a\x0bb HTTP/1.1\r\n', 'GET /a b HTTP/1.1\r\n', 'GET  /a HTTP/1.1\r\n', 'GE /a HTTP/1.1\r\n', 'FETCH /x HTTP/1.1\r\n',
    'PROPFIND /x HTTP/1.1\r\n', 'GET /x HTTP/1.2\r\n', 'GET /x HTTP/1.1\r\r\n', 'GET /x HTTP/1.1', 'GET /x HTTP/1.1\r', 'get /x HTTP/1.1\r\n', 'GET http://a/b HTTP/1.1\r\nHost: c\r\n', '\x16\x03\x01', '', 'G',
    'OPTIONS * HTTP/1.1\r\nHost: h\r\n', 'GET /x HTTP/1.1\r\nHost: h\nHost: i\r\n', 'GET /\x80\x9f HTTP/1.1\r\nHost: \x85\r\n',
  ];
  const responses = ['HTTP/1.1 200 OK\r\n', 'HTTP/1.0 404\r\n', 'HTTP/1.1 200\n', 'HTTP/1.1 2000 OK', 'HTTP/1.1 20 OK', 'HTTP/1.1 200', 'HTTP/1.2 200 OK', 'HTTP/1.1  200 OK', 'http/1.1 200 OK', 'HTTP/1.1 2x0 OK', 'HTTP/1.1 200\tOK', ''];

  it('requests: what the regex over the text found', () => {
    for (const r of requests) assert.deepEqual(parseHttpRequest(Buffer.from(r, 'latin1')), requestByText(Buffer.from(r, 'latin1')), JSON.stringify(r));
  });

  it('responses: what the regex over the text found', () => {
    for (const r of responses) assert.deepEqual(parseHttpResponse(Buffer.from(r, 'latin1')), responseByText(Buffer.from(r, 'latin1')), JSON.stringify(r));
  });

  it('random changes to requests and responses: what the regex found', () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const alphabet = [0x20, 0x09, 0x0a, 0x0d, 0x0b, 0x3a, 0x2f, 0x48, 0x68, 0x31, 0x30, 0x32, 0x00, 0x80, 0xa0, 0xe9, 0x41, 0x5a];
    for (let i = 0; i < 20000; i++) {
      const base = Buffer.from(i % 2 === 0 ? requests[rand(requests.length)]! : responses[rand(responses.length)]!, 'latin1');
      const b = Buffer.from(base);
      for (let k = rand(3); k >= 0 && b.length > 0; k--) b[rand(b.length)] = alphabet[rand(alphabet.length)]!;
      assert.deepEqual(parseHttpRequest(b), requestByText(b), JSON.stringify(b.toString('latin1')));
      assert.deepEqual(parseHttpResponse(b), responseByText(b), JSON.stringify(b.toString('latin1')));
    }
  });
});
