import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ExpiryQueue } from './expiry-queue.js';

test('keys expire in insertion order with one timer; delete and re-add move them', (t) => {
  // The queue's clock and its timers, both ours: what expires when is exact, however busy the machine.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const armed = t.mock.method(globalThis, 'setTimeout');
  let clock = 1_000;
  const advance = (ms: number) => {
    clock += ms;
    t.mock.timers.tick(ms);
  };
  const expired: string[] = [];
  const queue = new ExpiryQueue<string>(
    30,
    (key) => expired.push(key),
    () => clock,
  );
  queue.add('a');
  queue.add('b');
  queue.add('c');
  queue.delete('b');
  assert.equal(armed.mock.callCount(), 1, 'three keys, one timer');
  advance(10);
  queue.add('a'); // restarts a's countdown: it now expires 30 ms from here, after c
  assert.equal(queue.size, 2);
  advance(19);
  assert.deepEqual(expired, [], 'nothing is due before its 30 ms');
  advance(1);
  assert.deepEqual(expired, ['c'], 'b was deleted; a was moved behind c');
  assert.equal(armed.mock.callCount(), 2, 'the timer is armed again, once, for a');
  advance(9);
  assert.deepEqual(expired, ['c']);
  advance(1);
  assert.deepEqual(expired, ['c', 'a']);
  assert.equal(queue.size, 0);
  // clear() drops the keys and the timer: d never expires, and the queue still works afterwards.
  queue.add('d');
  queue.clear();
  assert.equal(queue.size, 0);
  advance(100);
  assert.deepEqual(expired, ['c', 'a']);
  queue.add('e');
  advance(30);
  assert.deepEqual(expired, ['c', 'a', 'e']);
});
