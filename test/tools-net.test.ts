import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../src/errors.js';
import { formatAddress, formatPrefix, parseAddress, parsePortList, parsePrefix } from '../src/tools/common/net.js';
import { parseDuration } from '../src/tools/common/duration.js';
import { addressRule, portRules, ruleFromKey, ruleKey, ruleMap, ruleText } from '../src/tools/xdp-filter/rules.js';

test('IPv4 and IPv6 addresses round-trip through parse and format', () => {
  for (const a of ['10.0.0.2', '0.0.0.0', '255.255.255.255', '::1', 'fd00::2', '2001:db8::8:800:200c:417a', '::', 'fe80::1:0:0:1']) {
    const p = parseAddress(a);
    assert.equal(formatAddress(p.addr, p.family), a);
  }
  assert.equal(formatAddress(parseAddress('::ffff:192.0.2.1').addr, 6), '192.0.2.1');
  assert.equal(formatAddress(parseAddress('2001:db8:0:0:1:0:0:1').addr, 6), '2001:db8::1:0:0:1');
});

test('prefixes clear host bits and print in CIDR form', () => {
  assert.equal(formatPrefix(parsePrefix('10.1.2.3/24')), '10.1.2.0/24');
  assert.equal(formatPrefix(parsePrefix('10.0.0.2')), '10.0.0.2/32');
  assert.equal(formatPrefix(parsePrefix('fd00::1:2/64')), 'fd00::/64');
  assert.equal(formatPrefix(parsePrefix('0.0.0.0/0')), '0.0.0.0/0');
});

test('bad addresses, prefixes and ports are typed errors naming the input', () => {
  for (const bad of ['10.0.0.256', '10.0.0', 'fd00:::1', '10.0.0.0/33', 'fd00::/129', 'abc', '', '10.0.0.1/-1', '10.0.0.1/']) {
    assert.throws(() => parsePrefix(bad), (e: unknown) => e instanceof InvalidArgumentError && e.message.includes(`'${bad}'`));
  }
  assert.deepEqual(parsePortList('80, 443,8080'), [80, 443, 8080]);
  for (const bad of ['0', '65536', 'http', '80,,81', '']) assert.throws(() => parsePortList(bad), InvalidArgumentError);
});

test('durations', () => {
  assert.equal(parseDuration('10s'), 10_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('3'), 3000);
  assert.throws(() => parseDuration('soon'), InvalidArgumentError);
  assert.throws(() => parseDuration('0s'), InvalidArgumentError);
});

test('xdp-filter rules map to LPM and port keys and back', () => {
  const r = addressRule('192.0.2.0/24', 'dst');
  assert.equal(ruleMap(r), 'dst_v4');
  assert.deepEqual([...ruleKey(r)], [24, 0, 0, 0, 192, 0, 2, 0]);
  assert.equal(ruleText(ruleFromKey('dst_v4', ruleKey(r))), '192.0.2.0/24');
  const r6 = addressRule('fd00::5');
  assert.equal(ruleMap(r6), 'src_v6');
  assert.equal(ruleText(ruleFromKey('src_v6', ruleKey(r6))), 'fd00::5/128');
  const ports = portRules('8080');
  assert.deepEqual(ports.map(ruleText), ['8080/tcp', '8080/udp']);
  assert.deepEqual([...ruleKey(ports[1]!)], [0x90, 0x1f, 17, 0]);
  assert.equal(ruleText(ruleFromKey('ports', ruleKey(ports[0]!))), '8080/tcp');
  assert.throws(() => portRules('80', 'icmp'), InvalidArgumentError);
});
