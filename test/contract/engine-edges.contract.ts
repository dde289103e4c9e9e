/**
 * The engine contract at its edges: which acks and receives wake a session and how urgently,
 * the bounds at their exact values (bytes as well as counts), what an unreliable message frees
 * when it goes out, the tombstone bound, the state listener's ids, claims, sessionCount, and the
 * errors' messages.
 * Both engines run it through runEngineContract.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import type { MessageState } from '../../src/core/types.js';
import type { SessionLookup } from '../../src/engine/engine.js';
import type { ContractEngines } from './harness.js';
import { message, received, take, unique } from './harness.js';

/** A lookup's `stale` flag; a lookup that found no open session is a failure here. */
function staleOf(lookup: SessionLookup): boolean | undefined {
  assert.equal(lookup.status, 'open');
  return lookup.status === 'open' ? lookup.stale : undefined;
}

export function runEngineEdgeCases(name: string, { start, open, unstarted }: ContractEngines): void {
  describe(`engine contract, edges: ${name}`, () => {
    test('an engine used before start() says so', async () => {
      const engine = await unstarted();
      const init = { id: unique('s'), address: unique('a'), protocol: 'lpio', user: undefined } as const;
      await assert.rejects(async () => engine.openSession(init), {
        code: 'SB_ERR_CONFIG',
        message: 'engine used before start()',
      });
      await assert.rejects(async () => engine.touch([init.id]), {
        code: 'SB_ERR_CONFIG',
        message: 'engine used before start()',
      });
    });

    test('wake-ups: nothing to take wakes nobody; messages wake as urgently as they are', async () => {
      const { engine, wakes, urgentWakes } = await start();
      const id = await open(engine);
      assert.deepEqual(await engine.receive(id, []), []);
      await engine.requeueAcks(id, []);
      assert.deepEqual(wakes, [], 'an empty receive or requeue leaves nothing to take');
      await engine.receive(id, received('c1'));
      await engine.requeueAcks(id, ['c0']);
      await engine.enqueue(id, message('normal'), 'reject');
      assert.deepEqual(wakes, [id, id, id]);
      assert.deepEqual(urgentWakes, [], 'acks and normal messages wait for the batching window');
      await engine.enqueue(id, message('urgent', { urgent: true }), 'reject');
      assert.deepEqual(urgentWakes, [id]);
      await engine.close();
    });

    test('acks wake only when they free a full tail that has messages behind it', async () => {
      const { engine, wakes, urgentWakes } = await start({ maxUnacked: 2 });
      const id = await open(engine);
      const ids = async () => (await engine.take(id, take)).deliveries.map((d) => d.id);
      // The tail is not full; a message queued since the take waits for its wake-up, not the ack's.
      await engine.enqueue(id, message(1), 'reject');
      assert.deepEqual(await ids(), [1]);
      await engine.enqueue(id, message(2), 'reject');
      wakes.length = 0;
      assert.equal(await engine.ack(id, [1]), 1);
      assert.deepEqual(wakes, [], 'an ack of a tail that was not full');
      assert.deepEqual(await ids(), [2]);
      // A full tail with nothing behind it.
      await engine.enqueue(id, message(3), 'reject');
      assert.deepEqual(await ids(), [3]);
      wakes.length = 0;
      assert.equal(await engine.ack(id, [2, 2]), 1, 'an id acked twice in one call counts once');
      assert.deepEqual(wakes, [], 'nothing waits behind the full tail');
      // A full tail with an urgent message behind it: an ack of nothing, a cumulative ack below
      // the tail, then one that frees one of its two places.
      await engine.enqueue(id, message(4), 'reject');
      assert.deepEqual(await ids(), [4]);
      await engine.enqueue(id, message(5, { urgent: true }), 'reject');
      wakes.length = 0;
      assert.equal(await engine.ack(id, [99]), 0);
      assert.equal(await engine.ackUpTo(id, 2), 0);
      assert.deepEqual(wakes, [], 'acks that free nothing');
      assert.equal(await engine.ackUpTo(id, 3), 1);
      assert.deepEqual(wakes, [id], 'a place freed in a full tail, an urgent message behind it');
      assert.deepEqual(urgentWakes, [id], "the urgent message's own wake-up only");
      assert.deepEqual(await ids(), [5]);
      await engine.close();
    });

    test('an unreliable message frees its place in the queue when it goes out, and is never re-sent', async () => {
      const { engine } = await start({ maxQueueMessages: 4 });
      const id = await open(engine);
      assert.equal(
        await engine.enqueue(id, message('u', { reliable: false, cost: 100 }), 'reject'),
        'queued',
      );
      assert.equal((await engine.inspect(id))?.bytes, 100);
      assert.deepEqual(
        (await engine.take(id, take)).deliveries.map((d) => d.id),
        [1],
      );
      const after = await engine.inspect(id);
      assert.deepEqual([after?.bytes, after?.unacked, after?.unsent], [0, [], []]);
      for (const n of [1, 2, 3, 4]) assert.equal(await engine.enqueue(id, message(n), 'reject'), 'queued');
      assert.equal(await engine.enqueue(id, message(5), 'reject'), 'full');
      const batch = await engine.take(id, { ...take, resend: true });
      assert.deepEqual(
        batch.deliveries.map((d) => [d.id, d.retry]),
        [
          [2, false],
          [3, false],
          [4, false],
          [5, false],
        ],
        'the unreliable message is not in the tail',
      );
      await engine.close();
    });

    test('an acked message frees its bytes', async () => {
      const { engine } = await start();
      const id = await open(engine);
      await engine.enqueue(id, message('a', { cost: 300 }), 'reject');
      await engine.enqueue(id, message('b', { cost: 200 }), 'reject');
      await engine.take(id, take);
      assert.equal((await engine.inspect(id))?.bytes, 500, 'an unacked message still holds its bytes');
      await engine.ack(id, [1]);
      assert.equal((await engine.inspect(id))?.bytes, 200);
      await engine.ackUpTo(id, 2);
      assert.equal((await engine.inspect(id))?.bytes, 0);
      await engine.close();
    });

    test('unreliable messages are discarded past half the queue bytes; a publish counts them', async () => {
      const { engine, counts } = await start({
        maxQueueMessages: 100,
        maxQueueBytes: 100,
        maxMessageBytes: 50,
      });
      const id = await open(engine);
      await engine.subscribe(id, ['/news']);
      const unreliable = { reliable: false, cost: 30, path: '/news' };
      assert.equal(await engine.enqueue(id, message('u1', unreliable), 'reject'), 'queued');
      // 60 bytes would pass half of 100.
      assert.deepEqual(await engine.publish('/news', message('u2', unreliable), undefined), {
        matched: 1,
        queued: 0,
        discarded: 1,
        overflowed: 0,
      });
      assert.equal(await engine.enqueue(id, message('u3', { ...unreliable, cost: 20 }), 'reject'), 'queued');
      assert.equal(counts.get('discarded'), 1);
      await engine.close();
    });

    test('pressure is reported past pressureHighWater of the queue bytes, not at it', async () => {
      const { engine, pressured } = await start({
        maxQueueMessages: 100,
        maxQueueBytes: 100,
        maxMessageBytes: 100,
        pressureHighWater: 0.75,
      });
      const id = await open(engine);
      await engine.enqueue(id, message('a', { cost: 75 }), 'reject');
      assert.deepEqual(pressured, [], 'at 75 of 100 bytes');
      await engine.enqueue(id, message('b', { cost: 1 }), 'reject');
      assert.deepEqual(pressured, [id]);
      await engine.close();
    });

    test('overflows are counted; other closes are not', async () => {
      const { engine, counts } = await start({ maxQueueMessages: 1 });
      const [full, ended] = [await open(engine), await open(engine)];
      await engine.enqueue(full, message(1), 'reject');
      assert.equal(await engine.enqueue(full, message(2), 'close'), 'closed');
      await engine.closeSession(ended, 'terminated');
      assert.equal(counts.get('overflows'), 1);
      await engine.close();
    });

    test('the tombstones bound forgets the oldest closed session first', async () => {
      const { engine } = await start({ tombstones: 2 });
      const ids = [await open(engine), await open(engine), await open(engine)];
      for (const id of ids) await engine.closeSession(id, 'terminated');
      const [oldest, second, third] = ids as [string, string, string];
      assert.deepEqual(await engine.getSession(oldest), { status: 'unknown' });
      assert.deepEqual(await engine.getSession(second), { status: 'closed', reason: 'terminated' });
      assert.deepEqual(await engine.getSession(third), { status: 'closed', reason: 'terminated' });
      await engine.close();
    });

    test('subscriptions: a pattern held already takes no new place, and one unsubscribe ends it', async () => {
      const { engine } = await start({ maxSubscriptions: 2 });
      const id = await open(engine);
      await engine.subscribe(id, ['/a', '/b']);
      await engine.subscribe(id, ['/a']);
      const subscribe = { kind: 'subscribe', patterns: ['/b'] } as const;
      assert.deepEqual(await engine.receive(id, [{ id: 'c1', route: subscribe }]), ['new']);
      await assert.rejects(engine.subscribe(id, ['/c']), {
        code: 'SB_ERR_TOO_MANY_SUBSCRIPTIONS',
        message: 'a session may hold at most 2 subscriptions',
      });
      await engine.unsubscribe(id, ['/a']);
      assert.equal((await engine.publish('/a', message('x', { path: '/a' }), undefined)).matched, 0);
      assert.deepEqual(await engine.subscriptions(id), ['/b']);
      await engine.close();
    });

    test('errors name what was refused: a missing session, the sessions bound', async () => {
      const { engine } = await start({ maxSessions: 1 });
      const missing = unique('gone');
      await assert.rejects(engine.subscribe(missing, ['/a']), {
        code: 'SB_ERR_NO_SESSION',
        message: `no open session ${missing}`,
      });
      await assert.rejects(engine.unsubscribe(missing, ['/a']), {
        code: 'SB_ERR_NO_SESSION',
        message: `no open session ${missing}`,
      });
      await open(engine);
      await assert.rejects(open(engine), {
        code: 'SB_ERR_TOO_MANY_SESSIONS',
        message: 'the engine holds its maximum of 1 sessions',
      });
      await engine.close();
    });

    test("a message's state listener hears each state with its time and, once it has one, its id", async () => {
      let now = 1_000_000;
      const { engine } = await start({}, () => now);
      const id = await open(engine);
      const heard: Array<[MessageState, number, number | undefined]> = [];
      const onState = (state: MessageState, at: number, messageId: number | undefined) =>
        heard.push([state, at, messageId]);
      await engine.enqueue(id, message('first'), 'reject');
      await engine.enqueue(id, message('second', { onState }), 'reject');
      now += 5;
      await engine.take(id, take);
      now += 5;
      await engine.take(id, { ...take, resend: true });
      now += 5;
      await engine.ackUpTo(id, 2);
      assert.deepEqual(heard, [
        ['unsent', 1_000_000, undefined],
        ['sent', 1_000_005, 2],
        ['retrying', 1_000_010, 2],
        ['delivered', 1_000_015, 2],
      ]);
      await engine.close();
    });

    test('claims: a repeat of the last order is stale; a claim without order resets it; a user may claim an anonymous session', async () => {
      const { engine } = await start();
      const id = await open(engine);
      const limits = { maxMessages: 100, maxBytes: 100_000 };
      const superseded = async (owner: string) =>
        (await engine.takeMany([{ sessionId: id, resend: false, owner }], limits))[0]?.superseded === true;
      const claim = (owner: string, seq?: number, user?: string) =>
        engine.getSession(id, { owner, user, instance: seq === undefined ? undefined : 'tab', seq });
      assert.equal(staleOf(await claim('first', 2)), undefined);
      assert.equal(staleOf(await claim('repeat', 2)), true, 'the same order again is not newer');
      assert.equal(await superseded('first'), false);
      await claim('plain');
      assert.equal(
        staleOf(await claim('after-plain', 1)),
        undefined,
        'the order starts again after a claim without one',
      );
      assert.equal(await superseded('after-plain'), false);
      assert.equal(staleOf(await claim('bob', undefined, 'bob')), undefined);
      assert.equal(await superseded('bob'), false, 'a session opened without a user is claimed by anyone');
      await engine.close();
    });

    test("another user's lookup of a session is not stale and claims nothing", async () => {
      const { engine } = await start();
      const id = unique('s');
      await engine.openSession({ id, address: unique('a'), protocol: 'lpio', user: 'alice' });
      const limits = { maxMessages: 100, maxBytes: 100_000 };
      await engine.getSession(id, { owner: 'alice-poll', user: 'alice', instance: 'tab', seq: 5 });
      const seen = await engine.getSession(id, {
        owner: 'mallory-poll',
        user: 'mallory',
        instance: 'tab',
        seq: 9,
      });
      assert.equal(staleOf(seen), undefined);
      const [batch] = await engine.takeMany([{ sessionId: id, resend: false, owner: 'alice-poll' }], limits);
      assert.notEqual(batch?.superseded, true);
      await engine.close();
    });

    test('sessionCount counts open sessions by protocol; a protocol with none left is absent', async () => {
      const { engine } = await start();
      const polls = [await open(engine), await open(engine)];
      await engine.openSession({
        id: unique('s'),
        address: unique('a'),
        protocol: 'websocket',
        user: undefined,
      });
      assert.deepEqual([...(await engine.sessionCount())].sort(), [
        ['lpio', 2],
        ['websocket', 1],
      ]);
      for (const id of polls) await engine.closeSession(id, 'terminated');
      assert.deepEqual([...(await engine.sessionCount())], [['websocket', 1]]);
      await engine.close();
    });

    test('a take that names no owner is not checked against the claim', async () => {
      const { engine } = await start();
      const id = await open(engine);
      const limits = { maxMessages: 100, maxBytes: 100_000 };
      await engine.takeMany([{ sessionId: id, resend: false, owner: 'connection-1', claim: true }], limits);
      await engine.enqueue(id, message(1), 'reject');
      const [batch] = await engine.takeMany([{ sessionId: id, resend: false }], limits);
      assert.notEqual(batch?.superseded, true);
      assert.deepEqual(
        batch?.deliveries.map((d) => d.id),
        [1],
      );
      await engine.close();
    });
  });
}
