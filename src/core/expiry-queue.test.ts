import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ExpiryQueue } from './expiry-queue.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('keys expire in insertion order with one timer; delete and re-add move them', async () => {
  const expired: string[] = [];
  const queue = new ExpiryQueue<string>(30, (key) => expired.push(key));
  queue.add('a');
  queue.add('b');
  queue.add('c');
  queue.delete('b');
  await sleep(10);
  queue.add('a'); // restarts a's countdown: it now expires after c
  await sleep(100);
  assert.deepEqual(expired, ['c', 'a']);
  assert.equal(queue.size, 0);
  queue.add('d');
  queue.clear();
  await sleep(50);
  assert.deepEqual(expired, ['c', 'a']);
});
