/**
 * Names the Redis engine never repeats, and the sweeper that deletes an old epoch's keys, against
 * a real redis-server of the test's own.
 */
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { createClient } from '@redis/client';
import { startRedis, type RedisProcess } from '../../../test/helpers/redis.js';
import { until } from '../../../test/helpers/until.js';
import { KeyspaceSweeper, MessageIds, randomEpoch } from './keyspace.js';

let redis: RedisProcess;
let client: ReturnType<typeof createClient>;
before(async () => {
  redis = await startRedis();
  client = createClient({ url: redis.url });
  await client.connect();
});
after(async () => {
  await client.quit();
  await redis.stop();
});

const send = (args: string[]) => client.sendCommand(args);

test('epochs and message ids are random per instance, typed by their first letter, and counted up', () => {
  assert.match(randomEpoch(), /^[A-Za-z0-9_-]{8}$/);
  assert.notEqual(randomEpoch(), randomEpoch());
  const ids = new MessageIds();
  const [a, b, c] = [ids.next(true), ids.next(false), ids.next(false)];
  assert.match(a ?? '', /^t[A-Za-z0-9_-]{8}1$/);
  assert.match(b ?? '', /^m[A-Za-z0-9_-]{8}2$/);
  assert.equal(a.slice(1, 9), b.slice(1, 9), 'one tag per instance');
  assert.equal(c.slice(9), '3');
  assert.notEqual(new MessageIds().next(false).slice(1, 9), b.slice(1, 9), 'another instance, another tag');
  const many = new MessageIds();
  for (let i = 1; i < 36; i++) many.next(false);
  assert.equal(many.next(false).slice(9), '10', 'base 36');
});

test('the sweeper deletes every key of a keyspace, and only those, even when its name has glob characters', async () => {
  const keys = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  const doomed = keys('sb:a*[b]?\\:', 2_500);
  const kept = [...keys('sb:aXbY:', 10), ...keys('sb:a*[b]?\\', 1), ...keys('sb:other:', 10)];
  for (const key of [...doomed, ...kept]) await client.set(key, '1');
  const errors: unknown[] = [];
  const sweeper = new KeyspaceSweeper(send, (error) => errors.push(error));
  sweeper.sweep('sb:a*[b]?\\:');
  sweeper.sweep('sb:a*[b]?\\:'); // twice is once
  assert.equal(sweeper.active, 1);
  await until(() => sweeper.active === 0, 'the sweep to end');
  assert.equal(await client.exists(doomed), 0, 'every key of the keyspace is gone (several SCAN steps)');
  assert.equal(await client.exists(kept), kept.length, 'nothing else');
  assert.deepEqual(errors, []);
  sweeper.stop();
  sweeper.sweep('sb:other:');
  assert.equal(sweeper.active, 0, 'a stopped sweeper starts nothing');
});

test('a failed step is reported and the sweep starts over; stop() ends it', async () => {
  await client.set('sb:retry:1', '1');
  const errors: string[] = [];
  let failures = 1;
  const flaky = (args: string[]) => {
    if (failures > 0) {
      failures--;
      return Promise.reject(new Error('Redis went away'));
    }
    return send(args);
  };
  const sweeper = new KeyspaceSweeper(flaky, (error) => errors.push((error as Error).message));
  sweeper.sweep('sb:retry:');
  await until(() => sweeper.active === 0, 'the sweep to end after its retry');
  assert.deepEqual(errors, ['Redis went away']);
  assert.equal(await client.exists('sb:retry:1'), 0);

  // Stopped while its step waits on Redis: the failure is not reported, nothing more is scheduled.
  let fail: ((error: Error) => void) | undefined;
  const stuck = new KeyspaceSweeper(
    () => new Promise((_, reject) => (fail = reject)),
    (error) => errors.push(String(error)),
  );
  stuck.sweep('sb:stuck:');
  await until(() => fail !== undefined, 'the step to be waiting');
  stuck.stop();
  fail?.(new Error('after stop'));
  // The rejection is handled in microtasks, all done before the next turn.
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(stuck.active, 0);
  assert.deepEqual(errors, ['Redis went away']);
});
