import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DEFAULT_SETTINGS, resolveSettings } from './settings.js';

test('defaults are finite and overrides apply', () => {
  const settings = resolveSettings({ holdTimeoutMs: 5 });
  assert.equal(settings.holdTimeoutMs, 5);
  assert.equal(settings.maxMessagesPerRequest, DEFAULT_SETTINGS.maxMessagesPerRequest);
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
