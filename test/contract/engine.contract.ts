/**
 * The engine contract: every Engine implementation runs this suite unchanged
 * (`runEngineContract(name, factory)`), as hono's common cases and centrifuge's shared broker
 * tests do. It states the guarantees documented in src/engine/engine.ts; the bounds' and wake-ups'
 * edges are in engine-edges.contract.ts, which it runs too.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import type { Batch, MessageState } from '../../src/core/types.js';
import type { Engine } from '../../src/engine/engine.js';
import fc from 'fast-check';
import { until } from '../helpers/until.js';
import { runEngineEdgeCases } from './engine-edges.contract.js';
import { contractEngines, message, payload, received, take, unique } from './harness.js';

export { message, payload };

export function runEngineContract(name: string, factory: () => Engine | Promise<Engine>): void {
  const engines = contractEngines(factory);
  const { start, open } = engines;

  describe(`engine contract: ${name}`, () => {
    test('sessions open, are found, close into a tombstone; ids and addresses are unique', async () => {
      const { engine, closed } = await start();
      const id = unique('s');
      const address = unique('a');
      const info = await engine.openSession({ id, address, protocol: 'lpio', user: 'u' });
      assert.deepEqual([info.id, info.address, info.user, info.status], [id, address, 'u', 'open']);
      assert.equal((await engine.getSession(id)).status, 'open');
      assert.equal(await engine.findByAddress(address), id);
      await assert.rejects(
        engine.openSession({ id, address: unique('a'), protocol: 'lpio', user: undefined }),
        { code: 'SB_ERR_BAD_REQUEST', message: /already open/ },
      );
      await assert.rejects(
        engine.openSession({ id: unique('s'), address, protocol: 'lpio', user: undefined }),
        { code: 'SB_ERR_BAD_REQUEST', message: /is taken/ },
      );
      assert.equal(await engine.closeSession(id, 'terminated'), true);
      assert.deepEqual(await engine.getSession(id), { status: 'closed', reason: 'terminated' });
      assert.deepEqual(closed, [[id, 'terminated']]);
      const [gone] = await engine.takeMany([{ sessionId: id, resend: false }], take);
      assert.equal(gone?.ended, 'terminated', 'a take for a closed session says why it ended');
      assert.deepEqual(await engine.getSession(unique('never')), { status: 'unknown' });
      await engine.close();
    });

    test('ids are assigned at take, start at 1, and follow wire order; urgent goes first', async () => {
      const { engine, wakes } = await start();
      const id = await open(engine);
      assert.equal(await engine.enqueue(id, message('a'), 'reject'), 'queued');
      assert.equal(await engine.enqueue(id, message('b', { urgent: true }), 'reject'), 'queued');
      assert.ok(wakes.includes(id));
      const batch = await engine.take(id, take);
      assert.deepEqual(
        batch.deliveries.map((d) => [d.id, payload(d.message), d.retry]),
        [
          [1, 'b', false],
          [2, 'a', false],
        ],
      );
      await engine.close();
    });

    test('takeMany takes for many sessions in one call, in request order, like take each', async () => {
      const { engine } = await start();
      const a = await open(engine);
      const b = await open(engine);
      const c = await open(engine);
      await engine.enqueue(a, message('a1'), 'reject');
      await engine.enqueue(a, message('a2'), 'reject');
      await engine.enqueue(c, message('c1'), 'reject');
      await engine.take(a, take);
      await engine.enqueue(a, message('a3'), 'reject');
      const batches = await engine.takeMany(
        [
          { sessionId: c, resend: false },
          { sessionId: b, resend: false },
          { sessionId: a, resend: true },
          { sessionId: 'no-such-session', resend: false },
        ],
        { maxMessages: 100, maxBytes: 100_000 },
      );
      assert.equal(batches.length, 4);
      assert.deepEqual(
        batches.map((batch) => batch.deliveries.map((d) => [d.id, payload(d.message), d.retry])),
        [
          [[1, 'c1', false]],
          [],
          [
            [1, 'a1', true],
            [2, 'a2', true],
            [3, 'a3', false],
          ],
          [],
        ],
      );
      await engine.close();
    });

    test('pressure is reported for each message queued past pressureHighWater, and not before', async () => {
      const { engine, pressured } = await start({ maxQueueMessages: 4, pressureHighWater: 0.5 });
      const id = await open(engine);
      await engine.enqueue(id, message(1), 'reject');
      await engine.enqueue(id, message(2), 'reject');
      assert.deepEqual(pressured, [], 'at the mark, not past it');
      await engine.enqueue(id, message(3), 'reject');
      await engine.publish('/p', message(4), undefined);
      assert.deepEqual(pressured, [id]);
      await engine.enqueue(id, message(4), 'reject');
      assert.deepEqual(pressured, [id, id]);
      await engine.close();
    });

    test('resend re-sends the unacked tail with the same ids; acks remove it', async () => {
      const { engine } = await start();
      const id = await open(engine);
      const states: MessageState[] = [];
      await engine.enqueue(id, message('x', { onState: (state) => states.push(state) }), 'reject');
      await engine.enqueue(id, message('y'), 'reject');
      await engine.take(id, take);
      assert.deepEqual((await engine.take(id, take)).deliveries, []);
      const again = await engine.take(id, { ...take, resend: true });
      assert.deepEqual(
        again.deliveries.map((d) => [d.id, d.retry]),
        [
          [1, true],
          [2, true],
        ],
      );
      assert.equal(await engine.ack(id, [1, 99]), 1);
      assert.deepEqual(
        (await engine.take(id, { ...take, resend: true })).deliveries.map((d) => d.id),
        [2],
      );
      assert.equal(await engine.ackUpTo(id, 2), 1);
      assert.deepEqual((await engine.take(id, { ...take, resend: true })).deliveries, []);
      assert.deepEqual(states, ['unsent', 'sent', 'retrying', 'delivered']);
      await engine.close();
    });

    test('a resend takes one batch of the tail, says there is more, and goes on after a given id', async () => {
      let now = 1_000_000;
      const { engine } = await start({ maxQueueMessages: 10 }, () => now);
      const id = await open(engine);
      for (const n of [1, 2, 3, 4, 5]) await engine.enqueue(id, message(`m${n}`, { bytes: 1_000 }), 'reject');
      assert.equal((await engine.take(id, take)).deliveries.length, 5);
      now += 10;
      const retried = (batch: Batch) => batch.deliveries.map((d) => [d.id, d.retry]);
      const byCount = { resend: true, maxMessages: 2, maxBytes: 100_000 };
      const first = await engine.take(id, byCount);
      assert.deepEqual(retried(first), [
        [1, true],
        [2, true],
      ]);
      assert.equal(first.more, true, 'the rest of the tail is still to be re-sent');
      const second = await engine.take(id, { ...byCount, resendAfter: 2 });
      assert.deepEqual(retried(second), [
        [3, true],
        [4, true],
      ]);
      const byBytes = await engine.take(id, {
        resend: true,
        resendAfter: 2,
        maxMessages: 100,
        maxBytes: 2_500,
      });
      assert.deepEqual(retried(byBytes), [
        [3, true],
        [4, true],
      ]);
      assert.equal(byBytes.more, true);
      const last = await engine.take(id, { ...byCount, resendAfter: 4 });
      assert.deepEqual(retried(last), [[5, true]]);
      assert.notEqual(last.more, true, 'the whole tail was re-sent');
      assert.deepEqual((await engine.take(id, { ...byCount, resendAfter: 5 })).deliveries, []);
      // What inspect says of the tail: its ids, resent messages retrying since the resend, each
      // attempt counted (3 and 4 went out three times).
      const snapshot = await engine.inspect(id);
      assert.deepEqual(
        snapshot?.unacked.map((m) => [m.id, m.state, m.attempts, m.at]),
        [
          [1, 'retrying', 2, now],
          [2, 'retrying', 2, now],
          [3, 'retrying', 3, now],
          [4, 'retrying', 3, now],
          [5, 'retrying', 2, now],
        ],
      );
      assert.deepEqual(snapshot?.unsent, []);
      await engine.close();
    });

    test('batch limits: `more` when messages were left behind, urgent ones first across takes', async () => {
      const { engine } = await start({ maxQueueMessages: 10 });
      const id = await open(engine);
      for (const n of [1, 2, 3]) await engine.enqueue(id, message(`n${n}`), 'reject');
      await engine.enqueue(id, message('u1', { urgent: true }), 'reject');
      const small = { resend: false, maxMessages: 2, maxBytes: 100_000 };
      const first = await engine.take(id, small);
      assert.deepEqual(
        first.deliveries.map((d) => [d.id, payload(d.message)]),
        [
          [1, 'u1'],
          [2, 'n1'],
        ],
      );
      assert.equal(first.more, true);
      const second = await engine.take(id, small);
      assert.deepEqual(
        second.deliveries.map((d) => payload(d.message)),
        ['n2', 'n3'],
      );
      assert.notEqual(second.more, true, 'nothing was left behind');
      await engine.enqueue(id, message('n4'), 'reject');
      await engine.enqueue(id, message('u2', { urgent: true }), 'reject');
      assert.deepEqual(
        (await engine.take(id, take)).deliveries.map((d) => [d.id, payload(d.message)]),
        [
          [5, 'u2'],
          [6, 'n4'],
        ],
      );
      await engine.close();
    });

    test('maxUnacked stops new sends until acks arrive; only acks that free a full tail wake', async () => {
      const { engine, wakes } = await start({ maxUnacked: 2 });
      const id = await open(engine);
      for (let i = 1; i <= 4; i++) await engine.enqueue(id, message(i), 'reject');
      assert.deepEqual(
        (await engine.take(id, take)).deliveries.map((d) => d.id),
        [1, 2],
      );
      assert.deepEqual((await engine.take(id, take)).deliveries, []);
      wakes.length = 0;
      await engine.ack(id, [1]);
      assert.deepEqual(wakes, [id], 'room in a full tail with messages behind it wakes the session');
      assert.deepEqual(
        (await engine.take(id, take)).deliveries.map((d) => d.id),
        [3],
      );
      wakes.length = 0;
      await engine.ackUpTo(id, 3);
      assert.deepEqual(wakes, [id], 'a cumulative ack wakes the same way');
      assert.deepEqual(
        (await engine.take(id, take)).deliveries.map((d) => d.id),
        [4],
      );
      // The tail is not full any more, or nothing waits behind it: acks need no flush.
      wakes.length = 0;
      await engine.ackUpTo(id, 4);
      assert.deepEqual(wakes, []);
      await engine.enqueue(id, message(5), 'reject');
      await engine.take(id, take);
      wakes.length = 0;
      await engine.ack(id, [5]);
      assert.deepEqual(wakes, []);
      await engine.close();
    });

    test('bounds: unreliable discarded first; reliable full rejects or closes as overflow', async () => {
      const { engine, closed, counts } = await start();
      const id = await open(engine);
      assert.equal(await engine.enqueue(id, message('u1', { reliable: false }), 'reject'), 'queued');
      assert.equal(await engine.enqueue(id, message('r1'), 'reject'), 'queued');
      // At half the bound (high water 0.5 of 4) unreliable messages are discarded.
      assert.equal(await engine.enqueue(id, message('u2', { reliable: false }), 'reject'), 'discarded');
      assert.equal(await engine.enqueue(id, message('r2'), 'reject'), 'queued');
      assert.equal(await engine.enqueue(id, message('r3'), 'reject'), 'queued');
      // Full: the queued unreliable message gives way to a reliable one.
      assert.equal(await engine.enqueue(id, message('r4'), 'reject'), 'queued');
      assert.equal(await engine.enqueue(id, message('r5'), 'reject'), 'full');
      const snapshot = await engine.inspect(id);
      assert.deepEqual(snapshot?.unsent.length, 4);
      assert.equal(counts.get('discarded'), 2);
      assert.equal(await engine.enqueue(id, message('r6'), 'close'), 'closed');
      assert.deepEqual(closed, [[id, 'overflow']]);
      assert.equal(counts.get('dropped'), 4);
      assert.equal(await engine.enqueue(id, message('late'), 'reject'), 'no_session');
      await engine.close();
    });

    test('publish fans out once per session, skips the sender, and closes overflowing sessions', async () => {
      const { engine, closed } = await start({ maxQueueMessages: 1 });
      const [a, b, c] = [await open(engine), await open(engine), await open(engine)];
      await engine.subscribe(a, ['/room/*', '/room/**']);
      await engine.subscribe(b, ['/room/1']);
      await engine.subscribe(c, ['/room/**']);
      const first = await engine.publish('/room/1', message('one', { path: '/room/1' }), c);
      assert.deepEqual(first, { matched: 2, queued: 2, discarded: 0, overflowed: 0 });
      assert.deepEqual(
        (await engine.take(a, take)).deliveries.map((d) => payload(d.message)),
        ['one'],
      );
      await engine.ack(a, [1]);
      // b never took its message: its queue (bound 1) is full, so b is closed, not skipped silently.
      const second = await engine.publish('/room/1', message('two', { path: '/room/1' }), undefined);
      assert.deepEqual(second, { matched: 3, queued: 2, discarded: 0, overflowed: 1 });
      assert.deepEqual(closed, [[b, 'overflow']]);
      assert.deepEqual(await engine.subscriptions(b), []);
      assert.deepEqual(await engine.subscriptions(c), ['/room/**']);
      await engine.unsubscribe(c, ['/room/**']);
      assert.deepEqual(await engine.subscriptions(c), []);
      assert.equal((await engine.publish('/room/1', message('three'), undefined)).matched, 1);
      await assert.rejects(engine.subscribe(c, ['bad']), { code: 'SB_ERR_BAD_PATH' });
      await engine.close();
    });

    test('receive reports duplicates and queues an ack for every id', async () => {
      const { engine, counts } = await start();
      const id = await open(engine);
      assert.deepEqual(await engine.receive(id, received('m1', 'm2')), ['new', 'new']);
      assert.deepEqual(await engine.receive(id, received('m2', 'm3')), ['duplicate', 'new']);
      assert.deepEqual((await engine.take(id, take)).acks, ['m1', 'm2', 'm2', 'm3']);
      assert.deepEqual((await engine.take(id, take)).acks, []);
      assert.equal(counts.get('duplicates'), 1);
      await engine.close();
    });

    test('receive routes each new message with its id; duplicates are not routed again', async () => {
      const { engine } = await start();
      const [sender, listener, target] = [await open(engine), await open(engine), await open(engine)];
      await engine.subscribe(sender, ['/chat']);
      await engine.subscribe(listener, ['/chat']);
      const targetAddress = (await engine.getSession(target)).status;
      assert.equal(targetAddress, 'open');
      const publish = { kind: 'publish', path: '/chat', message: message('hi', { path: '/chat' }) } as const;
      const direct = { kind: 'direct', to: target, message: message('psst') } as const;
      const subscribe = { kind: 'subscribe', patterns: ['/news'] } as const;
      const batch = [
        { id: 'c1', route: publish },
        { id: 'c2', route: direct },
        { id: 'c3', route: subscribe },
      ];
      assert.deepEqual(await engine.receive(sender, batch), ['new', 'new', 'new']);
      assert.deepEqual(await engine.receive(sender, batch), ['duplicate', 'duplicate', 'duplicate']);
      const data = async (id: string) =>
        (await engine.take(id, take)).deliveries.map((d) => payload(d.message));
      assert.deepEqual(await data(listener), ['hi']);
      assert.deepEqual(await data(sender), [], 'a publish skips its sender');
      assert.deepEqual(await data(target), ['psst']);
      assert.deepEqual((await engine.subscriptions(sender)).sort(), ['/chat', '/news']);
      await engine.close();
    });

    test('a subscribe past maxSubscriptions is refused alone; the messages around it go on', async () => {
      const { engine } = await start({ maxSubscriptions: 2 });
      const [sender, listener] = [await open(engine), await open(engine)];
      await engine.subscribe(sender, ['/a']);
      await engine.subscribe(listener, ['/x']);
      const batch = [
        { id: 'c1', route: { kind: 'publish', path: '/x', message: message('x', { path: '/x' }) } },
        { id: 'c2', route: { kind: 'subscribe', patterns: ['/b', '/c'] } },
        { id: 'c3', route: { kind: 'subscribe', patterns: ['/b'] } },
        { id: 'c4', route: { kind: 'subscribe', patterns: ['/d'] } },
      ] as const;
      assert.deepEqual(await engine.receive(sender, batch), [
        'new',
        'too_many_subscriptions',
        'new',
        'too_many_subscriptions',
      ]);
      assert.deepEqual(
        (await engine.take(listener, take)).deliveries.map((d) => payload(d.message)),
        ['x'],
        'the publish beside the refused subscribe happened',
      );
      assert.deepEqual((await engine.subscriptions(sender)).sort(), ['/a', '/b']);
      assert.deepEqual(
        (await engine.take(sender, take)).acks,
        ['c1', 'c3'],
        'refused messages are not acked',
      );
      // A refused id was not recorded: the client may send it again once there is room.
      const retry = [
        { id: 'c0', route: { kind: 'unsubscribe', patterns: ['/a'] } },
        { id: 'c2', route: { kind: 'subscribe', patterns: ['/c'] } },
      ] as const;
      assert.deepEqual(await engine.receive(sender, retry), ['new', 'new']);
      assert.deepEqual((await engine.subscriptions(sender)).sort(), ['/b', '/c']);
      // A refused message's id is not taken: the same id later in the request is judged anew.
      const again = [
        { id: 'c5', route: { kind: 'subscribe', patterns: ['/x', '/y'] } },
        { id: 'c5', route: { kind: 'unsubscribe', patterns: ['/b'] } },
        { id: 'c5', route: { kind: 'subscribe', patterns: ['/z'] } },
      ] as const;
      assert.deepEqual(await engine.receive(sender, again), ['too_many_subscriptions', 'new', 'duplicate']);
      assert.deepEqual((await engine.subscriptions(sender)).sort(), ['/c']);
      await engine.close();
    });

    test('queue bounds count what a message holds (cost); batch limits what it weighs on the wire (bytes)', async () => {
      const { engine } = await start({ maxQueueMessages: 100, maxQueueBytes: 10_000 });
      const id = await open(engine);
      const heavy = (data: string) => message(data, { bytes: 10, cost: 4_000 });
      assert.equal(await engine.enqueue(id, heavy('h1'), 'reject'), 'queued');
      assert.equal(await engine.enqueue(id, heavy('h2'), 'reject'), 'queued');
      assert.equal(
        await engine.enqueue(id, heavy('h3'), 'reject'),
        'full',
        'a third is over 10,000 held bytes',
      );
      const light = await engine.take(id, { resend: false, maxMessages: 100, maxBytes: 25 });
      assert.deepEqual(
        light.deliveries.map((d) => payload(d.message)),
        ['h1', 'h2'],
        'both fit 25 wire bytes',
      );
      const other = await open(engine);
      const wide = (data: string) => message(data, { bytes: 4_000, cost: 10 });
      for (const data of ['w1', 'w2', 'w3'])
        assert.equal(await engine.enqueue(other, wide(data), 'reject'), 'queued');
      const first = await engine.take(other, { resend: false, maxMessages: 100, maxBytes: 5_000 });
      assert.deepEqual(
        first.deliveries.map((d) => payload(d.message)),
        ['w1'],
        'one per 5,000 wire bytes',
      );
      assert.equal(first.more, true);
      await engine.close();
    });

    test('pending acks are bounded by half the dedupe window, by count and by bytes: past it a message is refused, not dropped', async () => {
      // 100-character ids cost 64 + 200 = 264 bytes: half of a 600-byte window holds one such ack.
      const { engine } = await start({ dedupeWindow: 100, dedupeWindowBytes: 600 });
      const id = await open(engine);
      const long = (n: number) => `${n}`.padStart(100, 'x');
      assert.deepEqual(await engine.receive(id, received(long(1), long(2))), ['new', 'acks_pending']);
      assert.deepEqual((await engine.take(id, take)).acks, [long(1)]);
      // Sent again once the ack was taken: now it fits, and it is new (it was not recorded).
      assert.deepEqual(await engine.receive(id, received(long(2))), ['new']);
      assert.deepEqual((await engine.take(id, take)).acks, [long(2)]);
      // The window (600 bytes) holds both: long(1) is a duplicate, acked again, and now the most
      // recently seen: a third id pushes out long(2), which is new again.
      assert.deepEqual(await engine.receive(id, received(long(1))), ['duplicate']);
      assert.deepEqual((await engine.take(id, take)).acks, [long(1)]);
      assert.deepEqual(await engine.receive(id, received(long(3))), ['new']);
      await engine.take(id, take);
      assert.deepEqual(await engine.receive(id, received(long(1))), ['duplicate']);
      await engine.take(id, take);
      assert.deepEqual(await engine.receive(id, received(long(2))), ['new']);

      // By count: half of a 4-id window is 2 acks.
      const { engine: small } = await start({ dedupeWindow: 4 });
      const other = await open(small);
      assert.deepEqual(await small.receive(other, received('a', 'b', 'c', 'a')), [
        'new',
        'new',
        'acks_pending',
        'acks_pending',
      ]);
      assert.deepEqual((await small.take(other, take)).acks, ['a', 'b']);
      await engine.close();
      await small.close();
    });

    test('acks given back join the pending ones, and a take carries at most the bound (more for the rest)', async () => {
      const { engine, wakes } = await start({ dedupeWindow: 4 });
      const id = await open(engine);
      assert.deepEqual(await engine.receive(id, received('a', 'b')), ['new', 'new']);
      const lost = await engine.take(id, take);
      assert.deepEqual(lost.acks, ['a', 'b']);
      // While that take was out, two more came; then its connection turned out gone.
      assert.deepEqual(await engine.receive(id, received('c', 'd')), ['new', 'new']);
      wakes.length = 0;
      await engine.requeueAcks(id, lost.acks);
      assert.deepEqual(wakes, [id]);
      // Four pending now, twice the bound: no room for another, and every one is still remembered.
      assert.deepEqual(await engine.receive(id, received('e')), ['acks_pending']);
      const first = await engine.take(id, take);
      assert.deepEqual([first.acks, first.more], [['c', 'd'], true]);
      const second = await engine.take(id, take);
      assert.deepEqual([second.acks, second.more ?? false], [['a', 'b'], false]);
      assert.deepEqual(await engine.receive(id, received('a', 'd')), ['duplicate', 'duplicate']);

      // By bytes: 100-character ids cost 264 bytes, half of a 600-byte window holds one, and one
      // always goes (a take never carries none of what is pending).
      const { engine: narrow } = await start({ dedupeWindow: 100, dedupeWindowBytes: 600 });
      const other = await open(narrow);
      const long = (n: number) => `${n}`.padStart(100, 'x');
      const taken: string[] = [];
      for (const n of [1, 2, 3]) {
        assert.deepEqual(await narrow.receive(other, received(long(n))), ['new']);
        taken.push(...(await narrow.take(other, take)).acks);
      }
      await narrow.requeueAcks(other, taken);
      const carried = [];
      for (let i = 0; i < 3; i++) {
        const batch = await narrow.take(other, take);
        carried.push([batch.acks.map((a) => a.slice(-1)), batch.more ?? false]);
      }
      assert.deepEqual(carried, [
        [['1'], true],
        [['2'], true],
        [['3'], false],
      ]);
      assert.deepEqual((await narrow.take(other, take)).acks, [], 'all taken');
      await narrow.close();
      await engine.close();
    });

    test('exactly once: a message whose ack its client has not got is never new twice (random runs)', async () => {
      // A client that resends what it has no ack for, against takes that reach it or are lost
      // (given back with requeueAcks), with a 6-id window: fast-check looks for an id processed twice.
      const step = fc.oneof(
        fc.record({ kind: fc.constant('send' as const), fresh: fc.nat(4), resend: fc.nat(4) }),
        fc.record({ kind: fc.constant('take' as const), lost: fc.boolean() }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
          const { engine } = await start({ dedupeWindow: 6 });
          const id = await open(engine);
          let next = 0;
          const processed = new Set<string>();
          const waiting: string[] = []; // sent, no ack yet: the client sends these again
          for (const s of steps) {
            if (s.kind === 'send') {
              const ids = [...waiting.slice(0, s.resend)];
              for (let i = 0; i < s.fresh; i++) ids.push(`m${next++}`);
              const outcomes = await engine.receive(id, received(...ids));
              ids.forEach((clientId, i) => {
                if (outcomes[i] === 'new') {
                  assert.ok(!processed.has(clientId), `${clientId} processed twice`);
                  processed.add(clientId);
                }
                if (!waiting.includes(clientId)) waiting.push(clientId);
              });
            } else {
              const batch = await engine.take(id, take);
              if (s.lost) await engine.requeueAcks(id, batch.acks);
              else {
                for (const acked of batch.acks) {
                  const at = waiting.indexOf(acked);
                  if (at >= 0) waiting.splice(at, 1);
                }
              }
            }
          }
          await engine.close();
        }),
        { numRuns: 150 },
      );
    });

    test('a claiming take makes the takes of older owners come back superseded', async () => {
      const { engine } = await start();
      const id = await open(engine);
      const limits = { maxMessages: 100, maxBytes: 100_000 };
      await engine.enqueue(id, message(1), 'reject');
      const [first] = await engine.takeMany(
        [{ sessionId: id, resend: false, owner: 'old', claim: true }],
        limits,
      );
      assert.deepEqual(
        first?.deliveries.map((d) => d.id),
        [1],
      );
      await engine.enqueue(id, message(2), 'reject');
      const [claimed] = await engine.takeMany(
        [{ sessionId: id, resend: true, owner: 'new', claim: true }],
        limits,
      );
      assert.deepEqual(
        claimed?.deliveries.map((d) => [d.id, d.retry]),
        [
          [1, true],
          [2, false],
        ],
      );
      await engine.enqueue(id, message(3), 'reject');
      const [stale] = await engine.takeMany([{ sessionId: id, resend: false, owner: 'old' }], limits);
      assert.equal(stale?.superseded, true);
      assert.deepEqual(stale?.deliveries, []);
      const [current] = await engine.takeMany([{ sessionId: id, resend: false, owner: 'new' }], limits);
      assert.deepEqual(
        current?.deliveries.map((d) => d.id),
        [3],
      );
      await engine.close();
    });

    test('acks taken for a connection that was gone can be given back, in order, and wake the session', async () => {
      const { engine, wakes } = await start();
      const id = await open(engine);
      await engine.receive(id, received('m1', 'm2'));
      assert.deepEqual((await engine.take(id, take)).acks, ['m1', 'm2']);
      wakes.length = 0;
      await engine.requeueAcks(id, ['m1', 'm2']);
      assert.ok(wakes.includes(id));
      await engine.receive(id, received('m3'));
      assert.deepEqual((await engine.take(id, take)).acks, ['m1', 'm2', 'm3']);
      await engine.close();
    });

    test('claims in lookups follow the client order where it is given, else arrival', async () => {
      const { engine } = await start();
      const id = await open(engine);
      const limits = { maxMessages: 100, maxBytes: 100_000 };
      const takeAs = async (owner: string) =>
        (await engine.takeMany([{ sessionId: id, resend: false, owner }], limits))[0]?.superseded === true;
      await engine.getSession(id, { owner: 'newer', user: undefined, instance: 'tab1', seq: 2 });
      await engine.getSession(id, { owner: 'older', user: undefined, instance: 'tab1', seq: 1 });
      assert.equal(await takeAs('older'), true, 'a late older request does not claim');
      assert.equal(await takeAs('newer'), false);
      await engine.getSession(id, { owner: 'other-tab', user: undefined, instance: 'tab2', seq: 1 });
      assert.equal(await takeAs('newer'), true, 'another instance claims in arrival order');
      await engine.getSession(id, { owner: 'plain', user: undefined });
      assert.equal(await takeAs('plain'), false, 'so does a client without order');
      assert.equal(await takeAs('other-tab'), true);
      await engine.close();
    });

    test("a session opened by a user is claimed only by that user's requests", async () => {
      const { engine } = await start();
      const id = unique('s');
      await engine.openSession({ id, address: unique('a'), protocol: 'lpio', user: 'alice' });
      const limits = { maxMessages: 100, maxBytes: 100_000 };
      const takeAs = async (owner: string) =>
        (await engine.takeMany([{ sessionId: id, resend: false, owner }], limits))[0]?.superseded === true;
      await engine.getSession(id, { owner: 'alice-poll', user: 'alice' });
      await engine.getSession(id, { owner: 'mallory-poll', user: 'mallory' });
      await engine.getSession(id, { owner: 'anonymous-poll', user: undefined });
      assert.equal(await takeAs('alice-poll'), false, "the owner's poll was not superseded");
      assert.equal(await takeAs('mallory-poll'), true);
      await engine.close();
    });

    test('a session may hold at most maxSubscriptions patterns', async () => {
      const { engine } = await start({ maxSubscriptions: 2 });
      const id = await open(engine);
      await engine.subscribe(id, ['/a', '/b']);
      await assert.rejects(engine.subscribe(id, ['/c']), { code: 'SB_ERR_TOO_MANY_SUBSCRIPTIONS' });
      await engine.close();
    });

    test('sessions not seen for the inactivity timeout are closed as inactive', async () => {
      // A clock of our own: the sweep runs on real timers, but what it sees does not depend on
      // how busy the machine is. `marker` was last seen 20 ms before the others (`edge`, seen
      // 10 ms after it, is due exactly at the same step): each step's
      // cutoff closes it, or the next session, and leaves the others, so its close proves a sweep
      // ran at that step's time and judged everyone (a sweep closes all that are due at once).
      let clock = 1_000_000;
      const { engine, closed } = await start({ inactivityTimeoutMs: 40, sweepIntervalMs: 10 }, () => clock);
      const marker = await open(engine);
      clock += 10;
      const edge = await open(engine);
      clock += 10;
      const idle = await open(engine);
      const live = await open(engine);
      clock += 30;
      await engine.touch([live]);
      // marker: 50 ms unseen, past the timeout; edge: 40 ms, at it; idle: 30 ms, not yet.
      await until(() => closed.length > 0, 'a sweep at +30 ms');
      assert.deepEqual(
        closed,
        [
          [marker, 'inactive'],
          [edge, 'inactive'],
        ],
        'nobody else is past the timeout yet',
      );
      clock += 30;
      // idle: 60 ms unseen; live: touched 30 ms ago.
      await until(() => closed.length > 2, 'a sweep at +60 ms');
      assert.deepEqual(closed, [
        [marker, 'inactive'],
        [edge, 'inactive'],
        [idle, 'inactive'],
      ]);
      assert.equal((await engine.getSession(live)).status, 'open');
      assert.deepEqual(await engine.getSession(idle), { status: 'closed', reason: 'inactive' });
      await engine.close();
    });
  });
  runEngineEdgeCases(name, engines);
}
