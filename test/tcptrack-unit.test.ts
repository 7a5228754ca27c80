// tcptrack without the kernel: options, records, output formats, statistics and hook choice.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { UsageError } from '../src/cli/framework/index.js';
import { command, parseTcptrackArgs } from '../src/tools/tcptrack/cli.js';
import { TsbpfError } from '../src/errors.js';
import { CLOSE_KEYS, decodeEvent, EVENT_SIZE, eventJson, eventJsonLine, JSON_KEYS, monotonicOffsetMs, type ConnEvent } from '../src/tools/tcptrack/event.js';
import { EventJsonWriter, MAX_LINE } from '../src/tools/tcptrack/jsonline.js';
import { describePlan, fexitUnavailable, planHooks, withoutHook, type HookProbes } from '../src/tools/tcptrack/hooks.js';
import { cgroup2Root } from '../src/tools/common/cgroups.js';
import { checkPid, checkPrivileges, parsePorts, parseUid, resolveCgroup, resolveNetns, resolveOptions, trackerConfig } from '../src/tools/tcptrack/options.js';
import { NameCache, NamedRows, remoteAddress } from '../src/tools/tcptrack/names.js';
import { outputLayout } from '../src/tools/tcptrack/run.js';
import { shortBytes, shortDuration, stateText, tableLayout } from '../src/tools/tcptrack/table.js';
import { connStatFrom, formatSummary, summarize, type ConnStat } from '../src/tools/tcptrack/stats.js';
import { connKeyCodec, connStatCodec, eventCodec, type Event } from '../src/tools/tcptrack/tcptrack_bpf.js';
import { assertErrno } from './helpers/kernel.js';

function bytes(...parts: number[]): Uint8Array {
  const out = new Uint8Array(16);
  out.set(parts);
  return out;
}

const LOOP4 = bytes(127, 0, 0, 1);
const LOOP6 = bytes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);

function record(fields: Partial<Event>): Uint8Array {
  const e: Event = {
    ts_ns: 1_000_000_000n,
    latency_ns: 0n,
    duration_ns: 0n,
    tx_bytes: 0n,
    rx_bytes: 0n,
    pid: 100,
    tid: 101,
    uid: 1000,
    error: 0,
    saddr: LOOP4,
    daddr: LOOP4,
    sport: 40000,
    dport: 80,
    family: 4,
    direction: 0,
    kind: 0,
    outcome: 0,
    comm: 'curl',
    netns: 4026531840,
    ...fields,
  };
  const out = new Uint8Array(EVENT_SIZE);
  eventCodec.encodeAt(e, out, 0);
  return out;
}

describe('tcptrack events', () => {
  test('the hand decoder reads the layout of the generated codec', () => {
    assert.equal(eventCodec.size, EVENT_SIZE);
    const e = decodeEvent(record({ latency_ns: 1_500_000n }), 0);
    assert.deepEqual(e, {
      timeMs: 1000,
      pid: 100,
      tid: 101,
      uid: 1000,
      comm: 'curl',
      netns: 4026531840,
      family: 4,
      saddr: '127.0.0.1',
      sport: 40000,
      daddr: '127.0.0.1',
      dport: 80,
      direction: 'out',
      event: 'connect',
      state: 'established',
      latencyMs: 1.5,
      error: 0,
    });
  });

  test('inbound: the source is the peer; an unknown acceptor is pid 0, comm "?"', () => {
    const e = decodeEvent(record({ direction: 1, kind: 1, pid: 0, tid: 0, comm: '', saddr: LOOP6, daddr: bytes(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9), family: 6, sport: 443, dport: 51000 }), 0);
    assert.equal(e.saddr, '2001:db8::9');
    assert.equal(e.sport, 51000);
    assert.equal(e.daddr, '::1');
    assert.equal(e.dport, 443);
    assert.equal(e.direction, 'in');
    assert.equal(e.event, 'accept');
    assert.equal(e.comm, '?');
    assert.equal(e.latencyMs, null);
  });

  test('close events carry duration and bytes; the JSON has exactly the documented keys', () => {
    const e = decodeEvent(record({ kind: 2, outcome: 4, duration_ns: 2_500_000n, tx_bytes: 1000n, rx_bytes: 2345n }), 0);
    const j = eventJson(e);
    assert.deepEqual(Object.keys(j), [...JSON_KEYS, ...CLOSE_KEYS]);
    assert.deepEqual([j.state, j.durationMs, j.txBytes, j.rxBytes, j.latencyMs], ['closed', 2.5, 1000, 2345, null]);
    const connect = eventJson(decodeEvent(record({ outcome: 1, latency_ns: 123_456_789n }), 5));
    assert.deepEqual(Object.keys(connect), [...JSON_KEYS]);
    assert.equal(connect.state, 'refused');
    assert.equal(connect.latencyMs, 123.457);
    assert.equal(connect.time, new Date(1005).toISOString());
  });

  test('JSON lines written as bytes are the text of eventJsonLine, record for record', () => {
    // A seeded generator, so a failure names a case that comes back.
    let seed = 0x2545f491;
    const rnd = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const u64s = [0n, 1n, 999n, 1_000_000n, 1_234_567n, 1_500_000n, 2_050_000n, 1_005_000n, 2_000_500n, 999_500n, 10_000_000n, 123_456_789_012n, 3_000_000_123_456n, (1n << 53n) - 1n, 1n << 53n, (1n << 64n) - 1n];
    // Half the times and counters from the list, half anything up to a few hours.
    const anyU64 = (): bigint => (rnd(2) === 0 ? u64s[rnd(u64s.length)]! : BigInt(rnd(2 ** 31)) * BigInt(1 + rnd(10_000)));
    const comms = ['curl', '', 'a"b', 'back\\slash', 'tab\there', 'ünï', 'x'.repeat(15), 'sp ace'];
    const addrs = [LOOP4, LOOP6, bytes(10, 0, 0, 1), bytes(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9), bytes(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)];
    const offset = monotonicOffsetMs();
    const writer = new EventJsonWriter(offset);
    const ring = new Uint8Array(EVENT_SIZE * 4);
    const out = new Uint8Array(MAX_LINE * 4);
    for (let i = 0; i < 5000; i++) {
      const rec = record({
        ts_ns: BigInt(rnd(2 ** 31)) * 1_000_003n,
        latency_ns: anyU64(),
        duration_ns: anyU64(),
        tx_bytes: anyU64(),
        rx_bytes: anyU64(),
        pid: [0, 1, 4242, 2 ** 31 + 7][rnd(4)]!,
        tid: rnd(2 ** 31),
        uid: [0, 1000, 4294967294][rnd(3)]!,
        error: [0, 111, -1][rnd(3)]!,
        saddr: addrs[rnd(addrs.length)]!,
        daddr: addrs[rnd(addrs.length)]!,
        sport: rnd(65536),
        dport: rnd(65536),
        family: [4, 6][rnd(2)]!,
        direction: rnd(3),
        kind: rnd(4),
        outcome: rnd(6),
        comm: comms[rnd(comms.length)]!,
        netns: [4026531840, 4026532999, 0xffffffff][rnd(3)]!,
      });
      // In the middle of a larger ring, at an offset, as the reader hands records over.
      const at = EVENT_SIZE * (1 + rnd(3));
      ring.set(rec, at);
      const start = rnd(MAX_LINE);
      const end = writer.write(ring, at, out, start);
      const expected = `${eventJsonLine(decodeEvent(rec, offset))}\n`;
      assert.equal(Buffer.from(out.subarray(start, end)).toString('utf8'), expected, `case ${i}`);
      assert.ok(end - start <= MAX_LINE);
    }
  });

  test('table rows line up under the header: TIME PID UID COMM LADDR LPORT RADDR RPORT LAT(ms) STATE', () => {
    const layout = tableLayout({ kind: 'events' });
    const rows = [
      layout.row(decodeEvent(record({ latency_ns: 250_000n }), 0)),
      layout.row(decodeEvent(record({ outcome: 3, error: 99, latency_ns: 10n }), 0)),
      layout.row(decodeEvent(record({ kind: 2, outcome: 4, direction: 1, duration_ns: 3_000_000_000n, tx_bytes: 4096n, rx_bytes: 10n }), 0)),
      layout.row(decodeEvent(record({ kind: 1, direction: 1, pid: 0, comm: '', family: 6, saddr: LOOP6, daddr: LOOP6 }), 0)),
    ];
    const header = layout.header;
    assert.match(header, /^TIME\s+PID\s+UID COMM\s+LADDR\s+LPORT RADDR\s+RPORT\s+LAT\(ms\) STATE$/);
    const stateAt = header.indexOf('STATE');
    const latEnd = header.indexOf('LAT(ms)') + 'LAT(ms)'.length;
    assert.match(rows[0]!, / 100 +1000 curl +127\.0\.0\.1 +40000 127\.0\.0\.1 +80 +0\.250 established$/);
    assert.equal(rows[0]!.indexOf('0.250') + 5, latEnd);
    assert.equal(rows[0]!.indexOf('established'), stateAt);
    assert.equal(rows[0]!.indexOf('40000'), header.indexOf('LPORT'));
    assert.match(rows[1]!, / failed \(EADDRNOTAVAIL\)$/);
    // Inbound: the local end is the listener's (saddr/sport of the record).
    assert.match(rows[2]!, / 127\.0\.0\.1 +40000 127\.0\.0\.1 +80 +- closed \(in\) after 3\.000s, tx 4\.0 KiB, rx 10 B$/);
    assert.match(rows[3]!, /^\S+ +- +- \? +::1 +40000 ::1 +80 +- accepted$/);
  });

  const sample = (): ConnEvent[] => {
    const v6a = bytes(0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78);
    const v6b = bytes(0xfd, 0x00, 0xaa, 0xaa, 0xbb, 0xbb, 0xcc, 0xcc, 0xdd, 0xdd, 0xee, 0xee, 0xff, 0xff, 0x11, 0x11);
    const wide4 = bytes(255, 255, 255, 254);
    return [
      record({ latency_ns: 3_021_474_000n, saddr: wide4, daddr: wide4, sport: 65535, dport: 65535, pid: 4194304, uid: 4294967294, comm: 'x'.repeat(15) }),
      record({ outcome: 3, error: 101, latency_ns: 10n, saddr: wide4 }),
      record({ kind: 2, outcome: 4, direction: 1, duration_ns: 3_600_000_000_000n, tx_bytes: 5n * 1024n ** 3n, rx_bytes: 1_000_000n, saddr: wide4, daddr: wide4, sport: 65535, dport: 65535 }),
      // The record's saddr and sport are the local end: for inbound, the listener.
      record({ kind: 1, direction: 1, family: 6, saddr: v6b, daddr: v6a, sport: 443, dport: 65535 }),
      record({ kind: 2, outcome: 4, family: 6, saddr: v6a, daddr: v6b, sport: 65535, dport: 443, duration_ns: 12_345_678n, tx_bytes: 123_456n, rx_bytes: 999n }),
    ].map((r) => decodeEvent(r, 0));
  };

  test('on a terminal no row is wider than it: columns go (LAT, UID, TIME, LADDR, LPORT), addresses shorten', () => {
    const expected: Record<number, string[]> = {
      60: ['PID', 'COMM', 'RADDR', 'RPORT', 'STATE'],
      80: ['PID', 'COMM', 'LADDR', 'LPORT', 'RADDR', 'RPORT', 'STATE'],
      100: ['TIME', 'PID', 'UID', 'COMM', 'LADDR', 'LPORT', 'RADDR', 'RPORT', 'STATE'],
      120: ['TIME', 'PID', 'UID', 'COMM', 'LADDR', 'LPORT', 'RADDR', 'RPORT', 'LAT(ms)', 'STATE'],
    };
    for (const width of [40, 60, 80, 100, 120, 200]) {
      const layout = tableLayout({ kind: 'events', width });
      if (expected[width] !== undefined) assert.deepEqual(layout.columns, expected[width], `width ${width}`);
      for (const line of [layout.header, ...sample().map((e) => layout.row(e))]) assert.ok(line.length <= width, `width ${width}: ${line.length} characters: ${line}`);
    }
    // IPv4 ends are never shortened at 80; IPv6 ends too long for their column are shortened
    // in the middle; at 200 they fit.
    const at80 = tableLayout({ kind: 'events', width: 80 });
    const [connect, , close, accept] = sample();
    assert.match(at80.row(connect!), /^4194304 x{15} 255\.255\.255\.254 65535 255\.255\.255\.254 +65535 established$/);
    assert.match(at80.row(accept!), / fd00:aa…ff:1111 443 +2001:db8…34:5678 65535 accepted$/);
    assert.match(tableLayout({ kind: 'events', width: 200 }).row(accept!), / fd00:aaaa:bbbb:cccc:dddd:eeee:ffff:1111 443 +2001:db8:1234:5678:9abc:def0:1234:5678 +65535 /);
    // With close events STATE keeps room for what they carry, in short: LADDR goes instead.
    const closing80 = tableLayout({ kind: 'events', close: true, width: 80 });
    assert.deepEqual(closing80.columns, ['PID', 'COMM', 'LPORT', 'RADDR', 'RPORT', 'STATE']);
    assert.match(closing80.row(close!), / 65535 255\.255\.255\.254 +65535 closed \(in\) 1\.0h 5\.0G\/977K$/);
    for (const e of sample()) assert.ok(closing80.row(e).length <= 80);
  });

  test('-w: every column, NETNS too, nothing shortened; a pipe gets the fixed layout', () => {
    const wide = tableLayout({ kind: 'events', width: 80, wide: true });
    assert.deepEqual(wide.columns, ['TIME', 'PID', 'UID', 'COMM', 'NETNS', 'LADDR', 'LPORT', 'RADDR', 'RPORT', 'LAT(ms)', 'STATE']);
    const rows = sample().map((e) => wide.row(e));
    assert.match(rows[3]!, / 4026531840 fd00:aaaa:bbbb:cccc:dddd:eeee:ffff:1111 443 +2001:db8:1234:5678:9abc:def0:1234:5678 +65535 +- accepted$/);
    assert.equal(rows[3]!.indexOf('443'), wide.header.indexOf('LPORT'));
    assert.match(rows[2]!, /closed \(in\) after 3600\.000s, tx 5\.0 GiB, rx 976\.6 KiB$/);
    const fixed = tableLayout({ kind: 'events' });
    assert.deepEqual(fixed.columns, ['TIME', 'PID', 'UID', 'COMM', 'LADDR', 'LPORT', 'RADDR', 'RPORT', 'LAT(ms)', 'STATE']);
    assert.deepEqual(fixed.columns, tableLayout({ kind: 'events', width: undefined }).columns);
    assert.ok(fixed.row(sample()[3]!).includes('2001:db8:1234:5678:9abc:def0:1234:5678'), 'a pipe gets whole addresses');
    // The layout follows stdout: a terminal's width, or none for a pipe.
    const o = resolveOptions({});
    assert.deepEqual(outputLayout(o, Object.assign(new PassThrough(), { isTTY: true, columns: 60 }))!.columns, ['PID', 'COMM', 'RADDR', 'RPORT', 'STATE']);
    assert.deepEqual(outputLayout(o, Object.assign(new PassThrough(), { columns: 60 }))!.columns, fixed.columns);
    assert.equal(outputLayout(resolveOptions({ output: 'json' }), new PassThrough()), undefined);
  });

  test('the life table: a row per closed connection in tcplife\'s shape', () => {
    const life = tableLayout({ kind: 'life' });
    assert.match(life.header, /^TIME\s+PID\s+UID COMM\s+LADDR\s+LPORT RADDR\s+RPORT TX_KB RX_KB\s+MS$/);
    const close = sample()[4]!;
    assert.match(life.row(close), / 100 +1000 curl +2001:db8:1234:5678:9abc:def0:1234:5678 65535 fd00:aaaa:bbbb:cccc:dddd:eeee:ffff:1111 443 +120 +0 +12\.35$/);
    assert.deepEqual(tableLayout({ kind: 'life', width: 80 }).columns, ['PID', 'UID', 'COMM', 'LPORT', 'RADDR', 'RPORT', 'TX_KB', 'RX_KB', 'MS']);
    for (const width of [60, 80, 120]) {
      const fitted = tableLayout({ kind: 'life', width });
      for (const line of [fitted.header, ...sample().map((e) => fitted.row(e))]) assert.ok(line.length <= width, `width ${width}: ${line}`);
      assert.deepEqual(fitted.columns.slice(-3), ['TX_KB', 'RX_KB', 'MS']);
    }
    assert.equal(resolveOptions({ output: 'life' }).close, true, 'the life table implies --close');
  });

  test('short forms of durations, byte counts and states', () => {
    assert.deepEqual([0.4, 950, 3020, 45_000, 750_000, 7_200_000].map(shortDuration), ['0ms', '950ms', '3.02s', '45.0s', '12.5m', '2.0h']);
    assert.deepEqual([0, 999, 1000, 2345, 10_240, 1_023_487, 15 * 1024 ** 2, 1.1 * 1024 ** 3].map(shortBytes), ['0', '999', '1.0K', '2.3K', '10K', '999K', '15M', '1.1G']);
    const close = sample()[2]!;
    assert.equal(stateText(close), 'closed (in) after 3600.000s, tx 5.0 GiB, rx 976.6 KiB');
    assert.equal(stateText(close, 32), 'closed (in) 1.0h tx 5.0G rx 977K');
    assert.equal(stateText(close, 5), 'closed (in)');
    assert.equal(stateText(sample()[1]!, 10), 'failed');
  });
});

describe('tcptrack -d', () => {
  const event = (daddr: number[], direction = 0): ConnEvent => decodeEvent(record({ daddr: bytes(...daddr), direction }), 0);
  const later = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  test('rows wait in order for the names of their remote ends; each address is looked up once', async () => {
    const asked: string[] = [];
    const answers = new Map<string, (names: string[]) => void>();
    const lookup = (a: string): Promise<string[]> => {
      asked.push(a);
      return new Promise((resolve) => answers.set(a, resolve));
    };
    const printed: string[] = [];
    const rows = new NamedRows(new NameCache(lookup), (e, name) => printed.push(`${e.daddr} ${name}`));
    rows.push(event([10, 0, 0, 1]));
    rows.push(event([10, 0, 0, 2]));
    rows.push(event([10, 0, 0, 1]));
    assert.deepEqual(asked, ['10.0.0.1', '10.0.0.2']);
    // The second address answers first: its row still waits for the first one's.
    answers.get('10.0.0.2')!(['two.example']);
    await later();
    assert.deepEqual(printed, []);
    answers.get('10.0.0.1')!(['one.example', 'alias.example']);
    await later();
    assert.deepEqual(printed, ['10.0.0.1 one.example', '10.0.0.2 two.example', '10.0.0.1 one.example']);
    // A known name is printed at once, with no lookup.
    rows.push(event([10, 0, 0, 2]));
    assert.equal(printed.at(-1), '10.0.0.2 two.example');
    assert.equal(asked.length, 2);
    // Inbound: the remote end is the source.
    const inbound = event([10, 0, 0, 1], 1);
    assert.equal(remoteAddress(inbound), '10.0.0.1', 'the record\'s daddr: the peer');
  });

  test('no name, a failed or a slow lookup: the address stands for itself', async () => {
    const printed: string[] = [];
    const never = (): Promise<string[]> => new Promise(() => {});
    const slow = new NamedRows(new NameCache(never, { timeoutMs: 20 }), (_e, name) => printed.push(name));
    slow.push(event([192, 0, 2, 1]));
    await slow.settled();
    assert.deepEqual(printed, ['192.0.2.1']);
    const failing = new NamedRows(new NameCache((a) => Promise.reject(Object.assign(new Error(`ENOTFOUND ${a}`), { code: 'ENOTFOUND' }))), (_e, name) => printed.push(name));
    failing.push(event([192, 0, 2, 2]));
    await failing.settled();
    const empty = new NamedRows(new NameCache(() => Promise.resolve([])), (_e, name) => printed.push(name));
    empty.push(event([192, 0, 2, 3]));
    await empty.settled();
    assert.deepEqual(printed, ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
    // flush prints what waits, unnamed, at once.
    const pending = new NamedRows(new NameCache(never), (_e, name) => printed.push(name));
    pending.push(event([192, 0, 2, 4]));
    assert.equal(pending.waiting, 1);
    pending.flush();
    assert.equal(printed.at(-1), '192.0.2.4');
  });

  test('the name stands in RADDR; -d is for tables', () => {
    const layout = tableLayout({ kind: 'events' });
    assert.match(layout.row(event([10, 0, 0, 1]), 'one.example'), / 127\.0\.0\.1 +40000 one\.example +80 /);
    assert.equal((parseTcptrackArgs(['-d']) as { dns: boolean }).dns, true);
    assert.throws(() => resolveOptions({ dns: true, output: 'json' }), /JSON lines keep the addresses/);
  });
});

describe('tcptrack statistics', () => {
  const key = (direction: number, family: number, saddr: Uint8Array, daddr: Uint8Array, dport: number) => ({ saddr, daddr, dport, family, direction });
  const value = (connections: number, failed = 0, tx = 0, rx = 0) => ({ connections: BigInt(connections), failed: BigInt(failed), tx_bytes: BigInt(tx), rx_bytes: BigInt(rx) });

  test('conn_stats entries: outbound keyed by the remote port, inbound by the local one', () => {
    assert.equal(connKeyCodec.size, 36);
    assert.equal(connStatCodec.size, 32);
    const out = connStatFrom(key(0, 4, bytes(10, 0, 0, 1), bytes(10, 0, 0, 2), 443), value(3, 1, 100, 200));
    assert.deepEqual(out, { family: 4, direction: 'out', source: '10.0.0.1', destination: '10.0.0.2', port: 443, connections: 3, failed: 1, txBytes: 100, rxBytes: 200 });
    const inbound = connStatFrom(key(1, 6, LOOP6, bytes(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5), 22), value(1));
    assert.equal(inbound.source, 'fe80::5');
    assert.equal(inbound.destination, '::1');
    assert.equal(inbound.direction, 'in');
  });

  const stats: ConnStat[] = [
    { family: 4, direction: 'out', source: '10.0.0.1', destination: '10.0.0.2', port: 443, connections: 5, failed: 1, txBytes: 10, rxBytes: 20 },
    { family: 4, direction: 'out', source: '10.0.0.1', destination: '10.0.0.3', port: 443, connections: 2, failed: 0, txBytes: 0, rxBytes: 0 },
    { family: 6, direction: 'in', source: '2001:db8::1', destination: '::1', port: 22, connections: 7, failed: 0, txBytes: 1, rxBytes: 2 },
    { family: 4, direction: 'out', source: '10.0.0.9', destination: '10.0.0.2', port: 80, connections: 1, failed: 1, txBytes: 0, rxBytes: 0 },
  ];

  test('summarize adds up per source, destination and port, busiest first, top N', () => {
    const s = summarize(stats, 3, 2);
    assert.deepEqual([s.connections, s.outbound, s.inbound, s.failed, s.txBytes, s.rxBytes, s.lost], [15, 8, 7, 2, 11, 22, 3]);
    assert.deepEqual(s.bySource, [
      { address: '10.0.0.1', connections: 7, failed: 1, txBytes: 10, rxBytes: 20 },
      { address: '2001:db8::1', connections: 7, failed: 0, txBytes: 1, rxBytes: 2 },
    ]);
    assert.deepEqual(
      s.byDestination.map((d) => [d.address, d.port, d.connections]),
      [
        ['::1', 22, 7],
        ['10.0.0.2', 443, 5],
      ],
    );
    assert.deepEqual(
      summarize(stats, 0).byPort.map((p) => [p.port, p.connections, p.failed]),
      [
        [443, 7, 1],
        [22, 7, 0],
        [80, 1, 1],
      ],
    );
  });

  test('the box: every line the same width, titled Connection Statistics', () => {
    const text = formatSummary(summarize(stats, 4));
    const lines = text.trimEnd().split('\n');
    assert.match(lines[0]!, /^╔═+ Connection Statistics ═+╗$/);
    assert.match(lines.at(-1)!, /^╚═+╝$/);
    assert.ok(lines.every((l) => [...l].length === [...lines[0]!].length), text);
    assert.match(text, /Connections: 15 \(outbound 8, inbound 7, failed 2\)/);
    assert.match(text, /Events lost: 4/);
    assert.match(text, /\[::1\]:22\s+7/);
    assert.match(formatSummary(summarize([], 0)), /Connections: 0 /);
  });
});

describe('tcptrack options', () => {
  test('the command line', () => {
    assert.equal(parseTcptrackArgs(['--help']), 'help');
    assert.deepEqual(parseTcptrackArgs([]), { accept: false, close: false, countOnly: false, output: 'table', verbose: false });
    assert.deepEqual(parseTcptrackArgs(['-p', '42', '-u', '0', '-P', '80,443', '-P', '443,8080', '-6', '--accept', '--close', '-c', '-t', '500ms', '-n', '9', '-j', '--top', '3', '-v', '--cgroup', 'x']), {
      accept: true,
      close: true,
      countOnly: true,
      output: 'json',
      verbose: true,
      pid: 42,
      uid: 0,
      ports: [80, 443, 8080],
      family: 6,
      cgroup: 'x',
      durationMs: 500,
      maxEvents: 9,
      top: 3,
    });
    assert.equal((parseTcptrackArgs(['-o', 'json']) as { output: string }).output, 'json');
    assert.equal((parseTcptrackArgs(['-t', '2']) as { durationMs: number }).durationMs, 2000);
  });

  test('malformed command lines are usage errors', () => {
    for (const argv of [
      ['-p', 'abc'],
      ['-p', '0'],
      ['-P', '0'],
      ['-P', '80,'],
      ['-P', Array.from({ length: 17 }, (_, i) => String(i + 1)).join(',')],
      ['-4', '-6'],
      ['-o', 'yaml'],
      ['-j', '-o', 'table'],
      ['-t', 'soon'],
      ['-n', '0'],
      ['--top', '-1'],
      ['--cgroup', ''],
      ['extra'],
      ['--nope'],
    ]) {
      assert.throws(() => parseTcptrackArgs(argv), UsageError, argv.join(' '));
    }
    assert.deepEqual(parsePorts(['1,2', '2,3']), [1, 2, 3]);
    assert.equal(parsePorts([Array.from({ length: 16 }, (_, i) => String(i + 1)).join(',')]).length, 16);
  });

  test('negative numbers are values that must be positive, not options; -t=5 is -t 5', () => {
    const refused: Array<[string[], RegExp]> = [
      [['-t', '-5'], /^-t '-5' must be positive$/],
      [['-t=-5'], /^-t '-5' must be positive$/],
      [['--duration', '-1'], /^-t '-1' must be positive$/],
      [['-t', '0'], /^-t '0' must be positive$/],
      [['-t', '720h'], /^-t '720h' is too long: the longest is 2147483647ms/],
      [['-n', '-1'], /^-n '-1' must be positive$/],
      [['--events=-1'], /^-n '-1' must be positive$/],
      [['--top', '-1'], /^--top '-1' must be positive$/],
      [['-p', '-3'], /^-p '-3' must be positive$/],
      [['-u', '-1'], /^-u '-1' must not be negative$/],
      [['--netns', '-4'], /^--netns '-4' must be positive$/],
      [['-P', '-80'], /^-P: invalid port '-80'/],
    ];
    for (const [argv, re] of refused) {
      assert.throws(() => parseTcptrackArgs(argv), (e: unknown) => e instanceof UsageError && re.test(e.message), argv.join(' '));
    }
    assert.deepEqual(parseTcptrackArgs(['-t=5', '-n=2', '-P=80', '-c', '-4']), { accept: false, close: false, countOnly: true, output: 'table', verbose: false, durationMs: 5000, maxEvents: 2, ports: [80], family: 4 });
    // After --, nothing is rewritten (and tcptrack takes no positionals).
    assert.throws(() => parseTcptrackArgs(['--', '-t', '-5']), /unexpected argument '-t'/);
    assert.throws(() => resolveOptions({ durationMs: 2 ** 31 }), /too long/);
  });

  test('-o life, --life, -w; formats named twice must agree', () => {
    assert.equal((parseTcptrackArgs(['--life']) as { output: string }).output, 'life');
    assert.equal((parseTcptrackArgs(['-o', 'life', '--life', '-w']) as { wide: boolean }).wide, true);
    assert.throws(() => parseTcptrackArgs(['--life', '-j']), /--json and --life contradict each other/);
    assert.throws(() => parseTcptrackArgs(['-o', 'table', '--life']), /-o table and --life contradict each other/);
  });

  test('--netns: an inode number, a name in /run/netns or a namespace file', () => {
    const own = statSync('/proc/self/ns/net').ino;
    assert.equal(resolveNetns(String(own)), own);
    assert.equal(resolveNetns('/proc/self/ns/net'), own);
    assert.throws(() => resolveNetns('/proc/self/ns/mnt'), (e: unknown) => e instanceof TsbpfError && e.code === 'EINVAL' && /is a mnt namespace, not a network namespace/.test(e.message));
    const dir = mkdtempSync(join(tmpdir(), 'tcptrack-netns-'));
    try {
      writeFileSync(join(dir, 'plain'), '');
      assert.throws(() => resolveNetns('plain', dir), (e: unknown) => e instanceof TsbpfError && e.code === 'EINVAL' && /not a namespace file/.test(e.message));
      assert.throws(() => resolveNetns('missing', dir), (e: unknown) => e instanceof TsbpfError && e.code === 'ENOENT' && /no network namespace 'missing' in /.test(e.message));
    } finally {
      rmSync(dir, { recursive: true });
    }
    for (const bad of ['0', '4294967296', '', '..']) assert.throws(() => resolveNetns(bad), UsageError, bad);
    assert.equal(trackerConfig(resolveOptions({ netns: own })).target_netns, own);
    assert.equal(trackerConfig(resolveOptions({})).target_netns, 0);
  });

  test('users by name or number', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcptrack-'));
    try {
      const passwd = join(dir, 'passwd');
      writeFileSync(passwd, 'root:x:0:0::/root:/bin/sh\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n');
      assert.equal(parseUid('www-data', passwd), 33);
      assert.equal(parseUid('1234', passwd), 1234);
      assertErrno(() => parseUid('nobody-here', passwd), 'ENOENT');
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test('a pid must exist; a cgroup must be a cgroup v2 directory, its id its inode', () => {
    checkPid(process.pid);
    assert.throws(() => checkPid(process.pid, '/nonexistent-proc'), (e: unknown) => e instanceof TsbpfError && e.code === 'ESRCH' && /no process with pid/.test(e.message));
    assertErrno(() => resolveCgroup('/no/such/cgroup'), 'ENOENT');
    assertErrno(() => resolveCgroup(tmpdir()), 'EINVAL');
    const root = cgroup2Root();
    const cg = resolveCgroup(root);
    assert.equal(cg.id, statSync(root, { bigint: true }).ino);
    assert.deepEqual(resolveCgroup('.'), { path: join(root, '.'), id: cg.id });
  });

  test('resolved options become the object rodata', () => {
    const o = resolveOptions({ pid: process.pid, uid: 0, ports: [443, 80], family: 4, accept: true, countOnly: true, cgroup: cgroup2Root() });
    const c = trackerConfig(o);
    assert.equal(c.target_pid, process.pid);
    assert.equal(c.filter_uid, 1);
    assert.equal(c.target_uid, 0);
    assert.equal(c.target_family, 4);
    assert.equal(c.include_accept, 1);
    assert.equal(c.include_close, 0);
    assert.equal(c.count_only, 1);
    assert.equal(c.nports, 2);
    assert.deepEqual(c.ports, [443, 80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(typeof c.target_cgroup, 'bigint');
    const none = trackerConfig(resolveOptions({}));
    assert.deepEqual([none.target_pid, none.filter_uid, none.target_family, none.nports, none.target_cgroup], [0, 0, 0, 0, 0n]);
    assert.equal(resolveOptions({}).top, 10);
  });

  test('privileges: CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON', () => {
    const cap = (n: number): bigint => 1n << BigInt(n);
    checkPrivileges(cap(21));
    checkPrivileges(cap(38) | cap(39));
    for (const caps of [0n, cap(39), cap(38), cap(12)]) {
      assert.throws(() => checkPrivileges(caps), (e: unknown) => e instanceof TsbpfError && e.code === 'EPERM' && /needs root/.test(e.message));
    }
  });
});

describe('tcptrack hooks', () => {
  const probes = (over: Partial<HookProbes> = {}): HookProbes => ({ tpBtf: () => undefined, tracepoint: () => undefined, fexit: () => undefined, ...over });

  test('the best hooks the kernel offers', () => {
    assert.deepEqual(planHooks(probes()).use, ['stateBtf', 'accept4', 'accept', 'connect4', 'connect6']);
    assert.deepEqual(planHooks(probes(), { accept: false }).use, ['stateBtf', 'connect4', 'connect6'], 'the accept hooks only run for --accept');
    const poor = planHooks(probes({ tpBtf: () => 'no BTF', fexit: () => 'no trampolines', tracepoint: (_g, n) => (n === 'sys_exit_accept' ? 'gone' : undefined) }));
    assert.deepEqual(poor.use, ['stateRaw', 'accept4']);
    assert.deepEqual(
      poor.skipped.map((s) => [s.hook, s.reason]),
      [
        ['stateBtf', 'no BTF'],
        ['accept', 'gone'],
        ['connect4', 'no trampolines'],
        ['connect6', 'no trampolines'],
      ],
    );
    assert.deepEqual(describePlan(poor), [
      'hooks: raw_tp/inet_sock_set_state, tracepoint/syscalls/sys_exit_accept4',
      'not used: tp_btf/inet_sock_set_state: no BTF',
      'not used: tracepoint/syscalls/sys_exit_accept: gone',
      'not used: fexit/tcp_v4_connect, fexit/tcp_v6_connect: no trampolines',
    ]);
  });

  test('-v says plainly why the connect exits are missing: EPERM on fentry is the kernel, not a privilege', () => {
    const eperm = fexitUnavailable('loading fentry on bpf_fentry_test1 failed with EPERM');
    assert.match(eperm, /need ftrace .* this kernel does not allow/);
    assert.match(eperm, /not a missing privilege/);
    assert.match(eperm, /connects that fail before their SYN \(no route, no local port\) are not reported$/);
    assert.match(fexitUnavailable('tracing programs: not supported'), /^fentry\/fexit are not supported \(tracing programs: not supported\); connects that fail/);
    const lines = describePlan(planHooks(probes({ fexit: () => eperm })));
    assert.ok(lines.some((l) => l.startsWith('not used: fexit/tcp_v4_connect, fexit/tcp_v6_connect: fentry/fexit need ftrace')), lines.join('\n'));
  });

  test('a hook that fails is left out: tp_btf falls back to raw_tp, the connect exits go together', () => {
    const plan = planHooks(probes());
    assert.deepEqual(withoutHook(plan, 'stateBtf', 'verifier said no').use, ['stateRaw', 'accept4', 'accept', 'connect4', 'connect6']);
    const noFexit = withoutHook(plan, 'connect6', 'EOPNOTSUPP');
    assert.deepEqual(noFexit.use, ['stateBtf', 'accept4', 'accept']);
    assert.deepEqual(
      noFexit.skipped.map((s) => s.hook),
      ['connect6', 'connect4'],
    );
  });
});

describe('tsbpf tcptrack --help', () => {
  test('names every option', async () => {
    let text = '';
    const out = new Writable({
      write(chunk: Buffer, _enc, done) {
        text += chunk.toString();
        done();
      },
    });
    assert.equal(await command.run(['--help'], { stdout: out, stderr: out, stdin: new PassThrough() }), 0);
    for (const opt of ['--pid', '--uid', '--port', '--ipv4', '--ipv6', '--cgroup', '--netns', '--accept', '--close', '--count', '--duration', '--events', '--output', '--json', '--life', '--wide', '--dns', '--top', '--verbose']) {
      assert.ok(text.includes(opt), opt);
    }
    assert.equal(command.name, 'tcptrack');
  });
});
