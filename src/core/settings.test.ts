import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DEFAULT_SETTINGS, resolveSettings } from './settings.js';

test('defaults are finite and overrides apply; tombstones follow maxSessions unless set', () => {
  const settings = resolveSettings({ holdTimeoutMs: 5, maxSessions: 7 });
  // Exactly the defaults with the two overrides, and what derives from them.
  assert.deepEqual(settings, { ...DEFAULT_SETTINGS, holdTimeoutMs: 5, maxSessions: 7, tombstones: 7 });
  assert.ok(Object.isFrozen(settings));
  assert.equal(resolveSettings({ maxSessions: 7, tombstones: 3 }).tombstones, 3, 'an explicit bound wins');
  assert.deepEqual(
    resolveSettings({ holdTimeoutMs: undefined }),
    resolveSettings(),
    'undefined is no override',
  );
  for (const [key, value] of Object.entries(DEFAULT_SETTINGS)) assert.ok(Number.isFinite(value), key);
});

test('bad settings fail with SB_ERR_CONFIG naming the key and value', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ nope: 1 }, /unknown setting "nope"/],
    [{ holdTimeoutMs: -1 }, /"holdTimeoutMs" must be a finite number >= 0, got -1/],
    [{ maxBodyBytes: Number.NaN }, /"maxBodyBytes" .* got NaN/],
    [{ batchWindowMs: '10' }, /"batchWindowMs" .* got 10/],
    [{ unreliableHighWater: 2 }, /"unreliableHighWater" must be at most 1/],
    [
      { maxMessageBytes: 10, maxQueueBytes: 5 },
      /"maxMessageBytes" \(10\) must not exceed "maxQueueBytes" \(5\)/,
    ],
    [{ sweepIntervalMs: 0 }, /"sweepIntervalMs" must be at least 1/],
  ];
  for (const [overrides, message] of cases) {
    assert.throws(() => resolveSettings(overrides), { code: 'SB_ERR_CONFIG', message });
  }
});

test('each rule accepts its bound: 0 where >= 0, 1 where at least 1 or at most 1, equal bytes', () => {
  const at = resolveSettings({
    holdTimeoutMs: 0,
    sweepIntervalMs: 1,
    touchIntervalMs: 1,
    staleSweepMs: 1,
    maxBatchMessages: 1,
    maxQueueMessages: 1,
    maxTrackedAddresses: 1,
    unreliableHighWater: 1,
    pressureHighWater: 1,
    maxMessageBytes: 4096,
    maxQueueBytes: 4096,
  });
  assert.equal(at.holdTimeoutMs, 0);
  assert.equal(at.unreliableHighWater, 1);
  assert.equal(at.maxMessageBytes, at.maxQueueBytes);
  for (const key of [
    'touchIntervalMs',
    'staleSweepMs',
    'maxBatchMessages',
    'maxQueueMessages',
    'maxTrackedAddresses',
  ]) {
    assert.throws(() => resolveSettings({ [key]: 0 }), {
      code: 'SB_ERR_CONFIG',
      message: new RegExp(`"${key}" must be at least 1, got 0`),
    });
  }
  assert.throws(() => resolveSettings({ pressureHighWater: 1.01 }), {
    code: 'SB_ERR_CONFIG',
    message: /"pressureHighWater" must be at most 1/,
  });
  assert.throws(() => resolveSettings({ holdTimeoutMs: Infinity }), { code: 'SB_ERR_CONFIG' });
  assert.throws(() => resolveSettings({ maxMessageBytes: 4097, maxQueueBytes: 4096 }), {
    code: 'SB_ERR_CONFIG',
  });
});

test('tombstones follow maxSessions unless set; undefined overrides are ignored; the result is frozen', () => {
  assert.equal(resolveSettings({ maxSessions: 7 }).tombstones, 7);
  assert.equal(resolveSettings({ maxSessions: 7, tombstones: 3 }).tombstones, 3);
  assert.equal(resolveSettings({ holdTimeoutMs: undefined }).holdTimeoutMs, DEFAULT_SETTINGS.holdTimeoutMs);
  const settings = resolveSettings();
  assert.equal(Object.isFrozen(settings), true);
  assert.equal(Object.isFrozen(DEFAULT_SETTINGS), true);
  assert.notEqual(settings, DEFAULT_SETTINGS, 'the defaults themselves are never handed out to change');
});
