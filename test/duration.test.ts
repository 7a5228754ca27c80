import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../src/errors.js';
import { MAX_TIMER_MS, formatDuration, parseDuration } from '../src/tools/common/duration.js';

test('durations take ms, s, m and h, and a bare number is seconds', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('10s'), 10_000);
  assert.equal(parseDuration('1.5m'), 90_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('3'), 3000);
  assert.equal(parseDuration('0.25'), 250);
  assert.equal(parseDuration(' 5s '), 5000);
});

test('negative, zero and non-numeric durations are refused with a reason', () => {
  const refused = (text: string, message: RegExp): void => {
    assert.throws(() => parseDuration(text, { name: '-t' }), (err: unknown) => err instanceof InvalidArgumentError && message.test(err.message), text);
  };
  refused('-5', /^-t '-5' must be positive$/);
  refused('-1s', /must be positive/);
  refused('0', /must be positive/);
  refused('0ms', /must be positive/);
  refused('0.0s', /must be positive/);
  refused('soon', /^invalid -t 'soon' \(examples: /);
  refused('NaN', /^invalid -t/);
  refused('Infinity', /^invalid -t/);
  refused('1e3', /^invalid -t/);
  refused('5d', /^invalid -t/);
  refused('', /^invalid -t/);
  refused('0.1ms', /too short: the shortest is 1ms/);
});

test('durations a Node timer cannot hold (over 2^31-1 ms, 24.8 days) are refused', () => {
  assert.equal(parseDuration(`${MAX_TIMER_MS}ms`), MAX_TIMER_MS);
  assert.equal(parseDuration('596h'), 596 * 3_600_000);
  for (const text of [`${MAX_TIMER_MS + 1}ms`, '597h', '720h', '3000000', '99999999999999999999']) {
    assert.throws(() => parseDuration(text), /too long: the longest is 2147483647ms \(24\.9 days\)/, text);
  }
});

test('a minimum and a maximum can be asked for', () => {
  assert.equal(parseDuration('100ms', { minMs: 100 }), 100);
  assert.throws(() => parseDuration('0.001', { name: '--watch', minMs: 100 }), /--watch '0\.001' is too short: the shortest is 100ms$/);
  assert.throws(() => parseDuration('99ms', { minMs: 100 }), /too short/);
  assert.throws(() => parseDuration('2h', { maxMs: 3_600_000 }), /too long: the longest is 1h$/);
  assert.throws(() => parseDuration('720h', { maxMs: 2 ** 40 }), /too long/);
});

test('formatDuration names the largest exact unit', () => {
  assert.equal(formatDuration(100), '100ms');
  assert.equal(formatDuration(1000), '1s');
  assert.equal(formatDuration(90_000), '90s');
  assert.equal(formatDuration(3_600_000), '1h');
});
