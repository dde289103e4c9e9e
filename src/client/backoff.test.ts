import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from './backoff.js';

void test('without jitter the delays double from min and stop at max', () => {
  const backoff = new Backoff({ jitter: 0 });
  const delays = Array.from({ length: 10 }, () => backoff.next());
  assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000, 10000]);
  assert.equal(backoff.attempts, 10);
});

void test('reachedMax turns true exactly when the delay reaches max', () => {
  const backoff = new Backoff({ jitter: 0 });
  const reached: boolean[] = [];
  for (let i = 0; i < 9; i++) {
    backoff.next();
    reached.push(backoff.reachedMax);
  }
  assert.deepEqual(reached, [false, false, false, false, false, false, false, true, true]);
});

void test('reset starts again at min', () => {
  const backoff = new Backoff({ min: 50, max: 1000, factor: 3, jitter: 0 });
  assert.deepEqual([backoff.next(), backoff.next(), backoff.next()], [50, 150, 450]);
  assert.equal(backoff.next(), 1000);
  backoff.reset();
  assert.equal(backoff.attempts, 0);
  assert.equal(backoff.reachedMax, false);
  assert.equal(backoff.next(), 50);
});

void test('jitter keeps each delay within delay * (1 ± jitter), capped at max', () => {
  for (const r of [0, 0.25, 0.5, 0.75, 0.999999]) {
    const backoff = new Backoff({ jitter: 0.5 }, () => r);
    let base = 100;
    for (let i = 0; i < 12; i++) {
      const delay = backoff.next();
      const nominal = Math.min(base, 10_000);
      assert.ok(delay >= Math.floor(nominal * 0.5), `${delay} >= ${nominal * 0.5} (r=${r})`);
      assert.ok(delay <= Math.min(10_000, Math.ceil(nominal * 1.5)), `${delay} <= ${nominal * 1.5} (r=${r})`);
      base *= 2;
    }
  }
  assert.equal(new Backoff({ jitter: 0.5 }, () => 0).next(), 50);
  assert.equal(new Backoff({ jitter: 0.5 }, () => 0.5).next(), 100);
  assert.equal(new Backoff({ jitter: 1 }, () => 0).next(), 0);
});

void test('bad options are refused with the field and value named', () => {
  assert.throws(() => new Backoff({ jitter: 2 }), /backoff\.jitter must be between 0 and 1, got 2/);
  assert.throws(() => new Backoff({ min: 500, max: 100 }), /backoff\.max must be >= min \(500\), got 100/);
  assert.throws(() => new Backoff({ factor: 0.5 }), /backoff\.factor must be >= 1, got 0\.5/);
  assert.throws(() => new Backoff({ min: -1 }), /backoff\.min must be >= 0, got -1/);
});

test('full jitter: each delay is uniform in [0, the exponential delay], capped', () => {
  let r = 0.5;
  const backoff = new Backoff({ min: 100, max: 1_000, factor: 2, full: true }, () => r);
  assert.deepEqual(
    [backoff.next(), backoff.next(), backoff.next(), backoff.next(), backoff.next()],
    [50, 100, 200, 400, 500],
  );
  assert.equal(backoff.reachedMax, true);
  r = 0;
  assert.equal(backoff.next(), 0, 'a delay may be zero');
  r = 0.999;
  assert.equal(backoff.next(), 999, 'never above the cap');
});
