// observe without the kernel: Hubble's filter flags (each selects exactly its flows, --not
// negates), the record layout against the generated codec, the L7 parsers, the formats.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { accepts, kernelFilter } from '../src/tools/observe/filter.js';
import { decodeRecord, flowOf, RECORD, type Flow, type FlowContext } from '../src/tools/observe/flow.js';
import { compactLine, dictBlock } from '../src/tools/observe/format.js';
import { L7Parser, parseDns, parseHttpRequest, parseHttpResponse } from '../src/tools/observe/l7.js';
import { parseObserveArgs, type ObserveOptions } from '../src/tools/observe/options.js';
import { flowEventCodec } from '../src/tools/observe/observe_bpf.js';
import { kubernetesOf } from '../src/tools/observe/context.js';
import { FlowExporter } from '../src/tools/observe/export.js';
import { mapped, testContext } from './helpers/observe.js';

const CTX: FlowContext = testContext((r) => (r === 3 ? 'NO_SOCKET' : r === 6 ? 'NETFILTER_DROP' : String(r)));

/** A record as the datapath writes it, made with the generated codec. */
function record(o: { src: string; dst: string; sport?: number; dport?: number; proto?: number; flags?: number; dir?: number; verdict?: number; reply?: number; reason?: number; pid?: number; payload?: string }): Uint8Array {
  const payload = Buffer.from(o.payload ?? '', 'latin1');
  const bytes = new Uint8Array(flowEventCodec.size);
  const proc = (pid: number) => ({ cgroup_id: 0n, pid, comm: pid ? 'curl' : '', pad: 0 });
  const padded = new Uint8Array(512);
  padded.set(payload);
  flowEventCodec.encodeAt({
    ts_ns: 1_000_000_000n, sock_cookie: 0n, src: proc(o.pid ?? 0), dst: proc(0), ifindex: 2, len: 60, drop_reason: o.reason ?? 0, netns: 0,
    saddr: mapped(o.src), daddr: mapped(o.dst), sport: o.sport ?? 0, dport: o.dport ?? 0, payload_len: payload.length, family: 4, proto: o.proto ?? 6,
    tcp_flags: o.flags ?? 0, icmp_type: 0, icmp_code: 0, direction: o.dir ?? 2, verdict: o.verdict ?? 1, is_reply: o.reply ?? 1, turn_only: 0, pad: 0, payload: padded,
  }, bytes, 0);
  return bytes;
}

const SYN = 0x02;
const ACK = 0x10;
const flow = (o: Parameters<typeof record>[0]): Flow => flowOf(decodeRecord(record(o), 0, 0n), CTX);

const FLOWS: Record<string, Flow> = {
  syn: flow({ src: '10.0.0.1', dst: '10.0.1.2', sport: 40000, dport: 80, flags: SYN, pid: 42 }),
  synack: flow({ src: '10.0.1.2', dst: '10.0.0.1', sport: 80, dport: 40000, flags: SYN | ACK, dir: 1, reply: 2 }),
  dns: flow({ src: '10.0.0.1', dst: '192.0.2.53', sport: 5353, dport: 53, proto: 17 }),
  drop: flow({ src: '192.0.2.9', dst: '10.0.0.1', sport: 1234, dport: 22, flags: SYN, dir: 0, verdict: 2, reason: 6 }),
  icmp: flow({ src: '10.0.0.1', dst: '10.0.1.2', proto: 1 }),
};

function selected(args: string[]): string[] {
  const o = parseObserveArgs(args) as ObserveOptions;
  return Object.entries(FLOWS)
    .filter(([, f]) => accepts(o.filters, f))
    .map(([k]) => k);
}

describe('observe filters', () => {
  const cases: Array<[string[], string[]]> = [
    [[], ['syn', 'synack', 'dns', 'drop', 'icmp']],
    [['--ip', '10.0.1.0/24'], ['syn', 'synack', 'icmp']],
    [['--from-ip', '10.0.0.1'], ['syn', 'dns', 'icmp']],
    [['--to-ip', '10.0.0.1'], ['synack', 'drop']],
    [['--port', '80'], ['syn', 'synack']],
    [['--from-port', '80'], ['synack']],
    [['--to-port', '53', '--to-port', '22'], ['dns', 'drop']],
    [['--protocol', 'udp'], ['dns']],
    [['--protocol', 'icmp'], ['icmp']],
    [['--verdict', 'DROPPED'], ['drop']],
    [['--verdict', 'forwarded'], ['syn', 'synack', 'dns', 'icmp']],
    [['--drop-reason-desc', 'NETFILTER_DROP'], ['drop']],
    [['--tcp-flags', 'SYN'], ['syn', 'synack', 'drop']],
    [['--tcp-flags', 'SYN,ACK'], ['synack']],
    [['-t', 'drop'], ['drop']],
    [['-t', 'trace', '--protocol', 'tcp'], ['syn', 'synack']],
    [['--pid', '42'], ['syn']],
    [['--interface', 'eth0', '--protocol', 'udp'], ['dns']],
    [['--reply'], ['synack']],
    [['--not', '--reply', '--protocol', 'tcp'], ['syn', 'drop']],
    [['--not', '--ip', '10.0.1.0/24'], ['dns', 'drop']],
    [['--protocol', 'tcp', '--not', '--verdict', 'DROPPED'], ['syn', 'synack']],
    [['-4'], ['syn', 'synack', 'dns', 'drop', 'icmp']],
    [['-6'], []],
  ];
  for (const [args, want] of cases) {
    it(`${args.join(' ') || '(none)'} selects ${want.join(', ') || 'nothing'}`, () => assert.deepEqual(selected(args), want));
  }

  it('L7 filters: --http-method, --http-status, --http-path', () => {
    const p = new L7Parser();
    const req = flow({ src: '10.0.0.1', dst: '10.0.1.2', sport: 40000, dport: 8080, flags: ACK, payload: 'POST /api/v1/items?x=1 HTTP/1.1\r\nHost: shop\r\n\r\n' });
    const res = flow({ src: '10.0.1.2', dst: '10.0.0.1', sport: 8080, dport: 40000, flags: ACK, reply: 2, payload: 'HTTP/1.1 503 Service Unavailable\r\n\r\n' });
    const [l7req] = p.parse(req, decodeRecord(record({ src: '10.0.0.1', dst: '10.0.1.2', payload: 'POST /api/v1/items?x=1 HTTP/1.1\r\nHost: shop\r\n\r\n' }), 0, 0n).payload, 1_000_000n);
    const [l7res] = p.parse(res, Buffer.from('HTTP/1.1 503 Service Unavailable\r\n\r\n'), 13_000_000n);
    assert.equal(l7req?.Summary, 'HTTP/1.1 POST http://shop/api/v1/items?x=1');
    assert.equal(l7res?.Summary, 'HTTP/1.1 503 12ms (POST http://shop/api/v1/items?x=1)');
    assert.equal(l7res?.l7?.latency_ns, '12000000');
    const pick = (args: string[]) => [l7req!, l7res!].filter((f) => accepts((parseObserveArgs(args) as ObserveOptions).filters, f)).map((f) => f.l7?.type);
    assert.deepEqual(pick(['--http-status', '5+']), ['RESPONSE']);
    assert.deepEqual(pick(['--http-status', '200']), []);
    assert.deepEqual(pick(['--http-method', 'post']), ['REQUEST', 'RESPONSE']);
    assert.deepEqual(pick(['--http-path', '^/api/v[0-9]/items']), ['REQUEST', 'RESPONSE']);
    assert.deepEqual(pick(['--protocol', 'http', '-t', 'l7', '--not', '--http-status', '5+']), ['REQUEST']);
  });

  it('the kernel gets a superset of one allow filter, and nothing for several', () => {
    const k = kernelFilter((parseObserveArgs(['--from-ip', '10.0.0.0/8', '--to-ip', '10.1.2.3', '--port', '80', '--protocol', 'http', '-4']) as ObserveOptions).filters);
    assert.equal(k.family, 4);
    assert.equal(k.protocols, 1);
    // 10.1.2.3 lies inside 10/8: as a source it matches too.
    assert.deepEqual(k.prefixes?.map((p) => [p.prefixLen, p.sides]), [[8, 1], [32, 3]]);
    assert.deepEqual([...(k.ports ?? [])], [[80, 3]]);
    assert.deepEqual(kernelFilter({ allow: [], deny: [] }), {});
  });
});

describe('observe records and formats', () => {
  it('the hand-read offsets are those of the generated codec', () => {
    const r = decodeRecord(record({ src: '10.0.0.1', dst: '10.0.1.2', sport: 1, dport: 2, flags: SYN, pid: 7, payload: 'hi' }), 0, 5n);
    assert.equal(r.timeNs, 1_000_000_005n);
    assert.deepEqual([r.sport, r.dport, r.tcpFlags, r.src.pid, r.src.comm, r.ifindex, Buffer.from(r.payload).toString()], [1, 2, SYN, 7, 'curl', 2, 'hi']);
    assert.equal(RECORD.payload, flowEventCodec.size - 512);
  });

  it('Hubble JSON field names and the compact and dict lines', () => {
    const f = FLOWS.syn!;
    assert.deepEqual(Object.keys(f), ['time', 'verdict', 'IP', 'Type', 'node_name', 'event_type', 'l4', 'source', 'traffic_direction', 'trace_observation_point', 'is_reply', 'interface', 'Summary']);
    assert.deepEqual(f.l4, { TCP: { source_port: 40000, destination_port: 80, flags: { SYN: true } } });
    assert.match(compactLine(f), /^\w{3} [ \d]\d \d\d:\d\d:\d\d\.000: 10\.0\.0\.1:40000 \(curl:42\) -> 10\.0\.1\.2:80 to-network\(eth0\) FORWARDED \(TCP Flags: SYN\)$/);
    assert.match(compactLine(FLOWS.synack!), /: 10\.0\.0\.1:40000 <- 10\.0\.1\.2:80 from-network\(eth0\) FORWARDED \(TCP Flags: SYN, ACK\)$/);
    assert.match(compactLine(FLOWS.drop!), /: 192\.0\.2\.9:1234 -> 10\.0\.0\.1:22 NETFILTER_DROP DROPPED \(TCP Flags: SYN\)$/);
    assert.equal(FLOWS.drop!.drop_reason_desc, 'NETFILTER_DROP');
    assert.match(dictBlock(f), /^ {2}TIMESTAMP: .*\n {5}SOURCE: 10\.0\.0\.1:40000 \(curl:42\)\nDESTINATION: 10\.0\.1\.2:80\n {3}IS_REPLY: false\n/);
  });

  it('DNS: query, answers, rcode; malformed input is no message', () => {
    const q = Buffer.from('abcd01000001000000000000076578616d706c6503636f6d0000010001', 'hex');
    assert.deepEqual(parseDns(q), { id: 0xabcd, response: false, rcode: 0, query: 'example.com.', qtype: 'A', ips: [], cnames: [], rrtypes: [] });
    const a = Buffer.concat([Buffer.from('abcd81800001000100000000076578616d706c6503636f6d0000010001', 'hex'), Buffer.from('c00c000100010000012c00045db8d822', 'hex')]);
    assert.deepEqual(parseDns(a)?.ips, ['93.184.216.34']);
    assert.equal(parseDns(a)?.ttl, 300);
    assert.equal(parseDns(Buffer.from('abcd81830001000000000000076578616d706c6503636f6d0000010001', 'hex'))?.rcode, 3);
    assert.equal(parseDns(q.subarray(0, 20)), undefined);
    assert.equal(parseDns(Buffer.from('abcd0100000100000000000007c0', 'hex')), undefined);
  });

  it('HTTP: request lines and status lines, nothing else', () => {
    assert.deepEqual(parseHttpRequest(Buffer.from('GET /x HTTP/1.1\r\nhost: a.example\r\n\r\n')), { method: 'GET', path: '/x', protocol: 'HTTP/1.1', host: 'a.example' });
    assert.equal(parseHttpRequest(Buffer.from('FETCH /x HTTP/1.1\r\n')), undefined);
    assert.equal(parseHttpRequest(Buffer.from('GET /x HTTP/2\r\n')), undefined);
    assert.deepEqual(parseHttpResponse(Buffer.from('HTTP/1.0 200 OK\r\n')), { protocol: 'HTTP/1.0', code: 200 });
    assert.equal(parseHttpResponse(Buffer.from('\x16\x03\x01')), undefined);
  });

  it('Kubernetes pods from kubepods cgroup paths', () => {
    assert.deepEqual(kubernetesOf('/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1b2c3d4e_aaaa_bbbb_cccc_111122223333.slice/cri-containerd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope'), {
      podUid: '1b2c3d4e-aaaa-bbbb-cccc-111122223333',
      container: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    });
    assert.equal(kubernetesOf('/user.slice/user-0.slice'), undefined);
  });
});

describe('observe export file', () => {
  it('rotates past its size and keeps the backups asked for', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-observe-export-'));
    try {
      const path = join(dir, 'flows.json');
      const e = new FlowExporter({ path, maxBytes: 1500, maxBackups: 2 });
      const item = { flow: FLOWS.syn!, node_name: 'node1', time: FLOWS.syn!.time };
      const line = `${JSON.stringify(item)}\n`;
      for (let i = 0; i < 20; i++) e.write(item);
      e.close();
      const perFile = Math.floor(1500 / line.length);
      assert.equal(readFileSync(path, 'utf8'), line.repeat(20 % perFile || perFile));
      assert.equal(readFileSync(`${path}.1`, 'utf8'), line.repeat(perFile));
      assert.equal(readFileSync(`${path}.2`, 'utf8'), line.repeat(perFile));
      assert.equal(existsSync(`${path}.3`), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
