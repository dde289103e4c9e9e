import * as assert from 'node:assert/strict';
import { mock, test, type TestContext } from 'node:test';
import type { OutgoingFrame } from './transport.js';
import { ClientError } from './errors.js';
import { Outbox, type OutboxSettings, type OutgoingRecord } from './outbox.js';

const SETTINGS: OutboxSettings = {
  ackTimeout: 1_000,
  deliveryTimeout: 10_000,
  maxPending: 3,
  maxPendingBytes: 100,
};

/** An outbox on a mocked clock, with what it reported. */
function outbox(t: TestContext, settings: Partial<OutboxSettings> = {}) {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  const changes: Array<[string, string, number]> = [];
  const givenUp: string[] = [];
  const box = new Outbox(
    { ...SETTINGS, ...settings },
    {
      changed: (record) => changes.push([record.id, record.state, record.at]),
      givenUp: (id) => givenUp.push(id),
    },
  );
  return { box, changes, givenUp };
}

const frame = (id: string): OutgoingFrame => ({ id, data: id });

/** The promise's end, without letting a rejection go unhandled meanwhile. */
function outcome(promise: Promise<void>): { value: 'pending' | 'delivered' | ClientError } {
  const result: { value: 'pending' | 'delivered' | ClientError } = { value: 'pending' };
  promise.then(
    () => (result.value = 'delivered'),
    (error: ClientError) => (result.value = error),
  );
  return result;
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

test('a sent message becomes retrying at the ack timeout, stays live, and is delivered by a later ack', async (t) => {
  const { box, changes, givenUp } = outbox(t);
  const end = outcome(box.add(frame('a'), false, 10));
  box.sending(['a']);
  mock.timers.tick(999);
  assert.equal(box.unfinished('a')?.state, 'sent', 'not before the ack timeout');
  mock.timers.tick(1);
  assert.equal(box.unfinished('a')?.state, 'retrying');
  assert.equal(box.live('a'), true, 'it still goes on the wire');
  box.sending(['a']);
  assert.equal(box.unfinished('a')?.attempts, 2);
  box.delivered('a');
  await settle();
  assert.equal(end.value, 'delivered');
  assert.deepEqual(
    changes.map(([id, state]) => [id, state]),
    [
      ['a', 'unsent'],
      ['a', 'sent'],
      ['a', 'retrying'],
      ['a', 'retrying'],
      ['a', 'delivered'],
    ],
  );
  assert.equal(changes[2]?.[2], 1_001_000, 'each change carries its time');
  assert.deepEqual(givenUp, []);
  assert.deepEqual(box.size, { messages: 0, bytes: 0 });
});

test('an unsent message stays unsent at the ack timeout; at the delivery timeout it is dropped and given up', async (t) => {
  const { box, givenUp } = outbox(t);
  const end = outcome(box.add(frame('a'), false, 10));
  mock.timers.tick(1_000);
  assert.equal(box.unfinished('a')?.state, 'unsent', 'never sent: not retrying');
  mock.timers.tick(8_999);
  assert.equal(box.live('a'), true, 'not before the delivery timeout');
  mock.timers.tick(1);
  await settle();
  assert.ok(end.value instanceof ClientError);
  assert.equal(end.value.code, 'SB_ERR_DELIVERY_TIMEOUT');
  assert.equal(end.value.message, 'no ack for message a within 10000 ms');
  assert.deepEqual(givenUp, ['a'], 'the transport is told to forget it');
  assert.equal(box.live('a'), false);
  box.delivered('a');
  assert.equal([...box.records()][0]?.state, 'dropped', 'a late ack changes nothing');
});

test('an ack timeout at or past the delivery timeout drops at the delivery timeout', async (t) => {
  const { box } = outbox(t, { ackTimeout: 5_000, deliveryTimeout: 2_000 });
  const end = outcome(box.add(frame('a'), false, 1));
  box.sending(['a']);
  mock.timers.tick(1_999);
  assert.equal(box.unfinished('a')?.state, 'sent');
  mock.timers.tick(1);
  await settle();
  assert.equal((end.value as ClientError).code, 'SB_ERR_DELIVERY_TIMEOUT');
});

test('the bounds count the application’s unfinished messages and bytes; internal ones are not counted', async (t) => {
  const { box, changes } = outbox(t);
  const first = outcome(box.add(frame('a'), false, 40));
  void box.add(frame('b'), false, 60).catch(() => undefined);
  assert.deepEqual(box.size, { messages: 2, bytes: 100 });
  const overBytes = outcome(box.add(frame('c'), false, 1));
  void box.add(frame('m'), true, 0).catch(() => undefined);
  await settle();
  assert.ok(overBytes.value instanceof ClientError);
  assert.equal(overBytes.value.code, 'SB_ERR_SEND_BUFFER_FULL');
  assert.equal(overBytes.value.message, '2 messages (100 bytes) wait for their acks, at most 3 (100 bytes)');
  assert.equal(box.unfinished('c'), undefined, 'a refused send is not queued');
  assert.equal(box.live('m'), true, 'an internal message is taken past the bounds');
  box.delivered('a');
  await settle();
  assert.equal(first.value, 'delivered');
  assert.deepEqual(box.size, { messages: 1, bytes: 60 }, 'an ack frees its place and bytes');
  void box.add(frame('d'), false, 40).catch(() => undefined);
  void box.add(frame('e'), false, 0).catch(() => undefined);
  const overCount = outcome(box.add(frame('f'), false, 0));
  await settle();
  assert.equal((overCount.value as ClientError).code, 'SB_ERR_SEND_BUFFER_FULL', 'three is the count bound');
  assert.ok(!changes.some(([id]) => id === 'm' || id === 'c'), 'internal and refused ones are not reported');
});

test('orphaned messages are not live, an ack still delivers them, the rest drop as SB_ERR_SESSION_LOST', async (t) => {
  const { box } = outbox(t);
  const acked = outcome(box.add(frame('acked'), false, 1));
  const lost = outcome(box.add(frame('lost'), false, 1));
  const unsent = outcome(box.add(frame('unsent'), false, 1));
  const meta = outcome(box.add(frame('meta'), true, 0));
  box.sending(['acked', 'lost', 'meta']);
  assert.equal(box.unfinished('lost')?.exposed, false, 'on the wire, not yet in a failed request');
  box.retrying(['lost']);
  assert.equal(box.unfinished('lost')?.exposed, true, 'its request failed without an answer');
  assert.equal(box.unfinished('acked')?.exposed, false);
  assert.deepEqual(box.orphanSent(), ['acked', 'lost'], 'sent application messages only');
  assert.equal(box.live('acked'), false);
  assert.equal(box.live('unsent'), true, 'never sent: it goes to the new session');
  assert.equal(box.live('meta'), true, 'subscribing again is harmless');
  assert.deepEqual(
    [...box.lives()].map((r: OutgoingRecord) => r.id),
    ['unsent', 'meta'],
  );
  box.delivered('acked');
  box.dropOrphans();
  await settle();
  assert.equal(acked.value, 'delivered');
  assert.equal((lost.value as ClientError).code, 'SB_ERR_SESSION_LOST');
  assert.match((lost.value as ClientError).message, /^message lost was sent in a session that ended/);
  assert.equal(unsent.value, 'pending');
  assert.equal(meta.value, 'pending');
  assert.deepEqual(
    box.dropAll(new ClientError('SB_ERR_DROPPED', 'stopped')),
    ['unsent', 'meta'],
    'dropAll names what it gave up',
  );
});

test('finished messages are listed until 1,000 newer ones finished; internal ones never are', (t) => {
  const { box } = outbox(t, { maxPending: 2_000, maxPendingBytes: 1e9 });
  void box.add(frame('meta'), true, 0);
  box.delivered('meta');
  for (let i = 0; i < 1_001; i++) {
    void box.add(frame(`m${i}`), false, 1);
    box.delivered(`m${i}`);
  }
  const ids = [...box.records()].map((r) => r.id);
  assert.equal(ids.length, 1_000);
  assert.equal(ids[0], 'm1', 'the oldest finished one is forgotten');
  assert.equal(box.unfinished('meta'), undefined);
});
