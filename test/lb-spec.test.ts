// The balancer's input: VIPs, reals, weights, health checks and config files, checked before
// anything is changed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCheck, parseConfig } from '../src/tools/lb/apply.js';
import { formatVip, parseReal, parseVip, parseWeight } from '../src/tools/lb/spec.js';

test('lb spec: VIPs of both families, one port or all', () => {
  assert.deepEqual({ ...parseVip('10.0.0.1:80/tcp'), addr: undefined }, { family: 4, addr: undefined, port: 80, proto: 'tcp' });
  assert.equal(formatVip(parseVip('10.0.0.1:*/UDP')), '10.0.0.1:*/udp');
  assert.equal(formatVip(parseVip('[fd00::1]:443/tcp')), '[fd00::1]:443/tcp');
  assert.deepEqual([...parseVip('10.0.0.1:80/tcp').addr], [10, 0, 0, 1, ...new Array(12).fill(0)]);
  for (const bad of ['10.0.0.256:80/tcp', '10.0.0.1:0/tcp', '10.0.0.1:65536/tcp', '10.0.0.1:80/sctp', 'fd00::1:80/tcp', '10.0.0.1/tcp', 'x:80/tcp', '10.0.0.1:8a/tcp']) {
    assert.throws(() => parseVip(bad), { code: 'EINVAL' }, bad);
  }
  assert.equal(parseReal('[fd00::2]').family, 6);
  assert.throws(() => parseReal('10.1'), { code: 'EINVAL' });
});

test('lb spec: weights are integers from 1 to 65535', () => {
  assert.equal(parseWeight('3'), 3);
  for (const bad of ['0', '-1', '1.5', 'x', '65536']) assert.throws(() => parseWeight(bad), /invalid weight/, bad);
});

test('lb spec: health checks', () => {
  assert.deepEqual(parseCheck('http:/healthz', { interval: '500ms', rise: '3' }), { kind: 'http', path: '/healthz', intervalMs: 500, timeoutMs: 500, rise: 3, fall: 2 });
  assert.deepEqual(parseCheck('tcp'), { kind: 'tcp', intervalMs: 1000, timeoutMs: 1000, rise: 2, fall: 2 });
  for (const bad of ['udp', 'http:healthz', 'tcp:/x']) assert.throws(() => parseCheck(bad), /invalid check/, bad);
  assert.throws(() => parseCheck('tcp', { fall: '0' }), /invalid fall/);
});

test('lb spec: a config file is read whole, and its first bad entry named', () => {
  const vips = parseConfig(
    `vips:
  - vip: 10.0.0.10:80/tcp
    mode: dsr
    hash: 3tuple
    ring: 1021
    check: { type: http, path: /h, interval: 2s, fall: 3 }
    reals: [10.0.1.1, { address: 10.0.1.2, weight: 2 }]
  - vip: "[fd00::10]:*/udp"
`,
    'lb.yaml',
  );
  assert.equal(vips.length, 2);
  assert.deepEqual(vips[0]!.options, { mode: 'dsr', hash: '3tuple', ringSize: 1021, check: { kind: 'http', path: '/h', intervalMs: 2000, timeoutMs: 1000, rise: 2, fall: 3 } });
  assert.deepEqual(vips[0]!.reals.map((r) => r.weight), [1, 2]);
  assert.equal(vips[1]!.options.mode, 'nat');
  const bad: Array<[string, RegExp]> = [
    ['vips: [{ vip: 10.0.0.1:80/tcp, reals: [10.0.1.1, 10.0.1.1] }]', /vips\[0\]: real 10.0.1.1 is listed twice/],
    ['vips: [{ vip: 10.0.0.1:80/tcp }, { vip: 10.0.0.1:80/tcp }]', /vips\[1\]: VIP 10.0.0.1:80\/tcp is declared twice/],
    ['vips: [{ vip: 10.0.0.1:80/tcp, reals: [{ address: 10.0.1.1, weight: 0 }] }]', /invalid weight/],
    ['vips: [{ vip: 10.0.0.1:80/tcp, reals: [fd00::1] }]', /is not IPv4/],
    ['vips: [{ vip: 10.0.0.1:80/tcp, ring: 1000 }]', /prime/],
    ['vips: [{ vip: 10.0.0.1:80/tcp, mode: tunnel }]', /invalid mode/],
    ['vips: {', /not YAML/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseConfig(text, 'lb.yaml'), re, text);
});
