/**
 * The per-session bounds the docs promise, exactly at the bound and one past it, on both engines
 * (docs/configuration.md, docs/security.md "Limits", docs/errors.md):
 * - `hub.send` rejects with `SB_ERR_QUEUE_FULL` (503) when the recipient's queue holds
 *   `maxQueueMessages` or `maxQueueBytes` (unsent plus unacked, each message counted as
 *   `messageCost`), queues nothing then, and accepts again once acks make room;
 * - the dedupe window remembers exactly the newest ids that fit `dedupeWindow` and
 *   `dedupeWindowBytes`, each id counted as 64 bytes plus 2 per character;
 * - the acks owed to a client are bounded by half the window; a message past that is refused
 *   (`SB_ERR_ACKS_PENDING`), not processed, and goes through when sent again after the acks.
 */
import { strict as assert } from 'node:assert';
import { after, test, type TestContext } from 'node:test';
import { messageCost } from '../../src/core/memory-cost.js';
import type { HubSettings } from '../../src/index.js';
import { ENGINE_KINDS, Engines, type EngineKind } from '../helpers/engines.js';
import {
  lpioPost,
  openLpioSession,
  serve,
  type LpioReply,
  type TestServer,
} from '../helpers/start-server.js';

const engines = new Engines('bounds');
after(() => engines.stop());

async function start(t: TestContext, kind: EngineKind, settings: Partial<HubSettings>): Promise<TestServer> {
  const engine = await engines.engine(kind);
  return serve(t, { settings: { batchWindowMs: 2, ...settings }, ...(engine && { engine }) });
}

function post(server: TestServer, id: string, body: Record<string, unknown>): Promise<LpioReply> {
  return lpioPost(server.lpioUrl, body, { 'lpio-client': id }).then((reply) => {
    assert.equal(reply.status, 200);
    return reply.body;
  });
}

const data = (id: string, payload: unknown = 0) => ({ type: 'data', id, data: payload });
const ack = (id: number | string) => ({ type: 'ack', id: String(id) });
const payloads = (reply: LpioReply) =>
  (reply.messages ?? []).filter((m) => m.type === 'data').map((m) => [Number(m.id), m.data]);
const acked = (reply: LpioReply) => (reply.messages ?? []).filter((m) => m.type === 'ack').map((m) => m.id);

async function rejectsFull(promise: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(
    promise,
    (error: { code?: string; status?: number }) => error.code === 'SB_ERR_QUEUE_FULL' && error.status === 503,
    what,
  );
}

/** Client ids of 100 characters: 64 + 2 × 100 = 264 bytes each, as docs/configuration.md counts them. */
const ID_LENGTH = 100;
const ID_COST = 64 + 2 * ID_LENGTH;
const longId = (name: string) => `${name}-`.padEnd(ID_LENGTH, 'x');

/** Window settings, and how many of a run of 100-character ids each keeps. */
const WINDOWS: ReadonlyArray<{
  readonly name: string;
  readonly settings: Partial<HubSettings>;
  readonly kept: number;
}> = [
  { name: 'dedupeWindowBytes = 4 ids exactly', settings: { dedupeWindowBytes: 4 * ID_COST }, kept: 4 },
  {
    name: 'dedupeWindowBytes = 4 ids less one byte',
    settings: { dedupeWindowBytes: 4 * ID_COST - 1 },
    kept: 3,
  },
  { name: 'dedupeWindow = 4', settings: { dedupeWindow: 4 }, kept: 4 },
];

for (const kind of ENGINE_KINDS) {
  test(`${kind}: hub.send fills exactly maxQueueMessages, then SB_ERR_QUEUE_FULL (sent-but-unacked counts) until acks make room`, async (t) => {
    const server = await start(t, kind, { maxQueueMessages: 5 });
    const session = await openLpioSession(server.lpioUrl);
    for (let i = 1; i <= 5; i++) await server.server.send(session.id, i);
    await rejectsFull(server.server.send(session.id, 6), 'the sixth message');
    assert.equal((await server.server.inspect(session.id))?.unsent.length, 5, 'the refusal queued nothing');

    // Taken but not acked: still held, so still full.
    const first = await post(server, session.id, { messages: [] });
    assert.deepEqual(
      payloads(first),
      [1, 2, 3, 4, 5].map((i) => [i, i]),
    );
    await rejectsFull(server.server.send(session.id, 6), 'a sixth message while five are unacked');

    // Two acks make room for exactly two more.
    const second = await post(server, session.id, { messages: [ack(1), ack(2)] });
    assert.deepEqual(
      payloads(second),
      [3, 4, 5].map((i) => [i, i]),
      'the unacked rest is re-sent',
    );
    await server.server.send(session.id, 6);
    await server.server.send(session.id, 7);
    await rejectsFull(server.server.send(session.id, 8), 'an eighth message with five held');
    const third = await post(server, session.id, { messages: [ack(3), ack(4), ack(5)] });
    assert.deepEqual(payloads(third), [
      [6, 6],
      [7, 7],
    ]);
  });

  test(`${kind}: maxQueueBytes counts each message as its messageCost: k fit in k costs, k-1 in one byte less`, async (t) => {
    const payload = 'x'.repeat(100);
    const json = JSON.stringify(payload);
    const cost = messageCost(json, json.length);
    for (const [bound, fits] of [
      [3 * cost, 3],
      [3 * cost - 1, 2],
    ] as const) {
      const server = await start(t, kind, { maxQueueBytes: bound, maxMessageBytes: 1024 });
      const session = await openLpioSession(server.lpioUrl);
      for (let i = 0; i < fits; i++) await server.server.send(session.id, payload);
      await rejectsFull(server.server.send(session.id, payload), `message ${fits + 1} in ${bound} bytes`);
      const snapshot = await server.server.inspect(session.id);
      assert.equal(snapshot?.unsent.length, fits);
      assert.equal(snapshot?.bytes, fits * cost, 'the queue counts each message at its cost');
      // Taken and acked: its bytes are free again, and exactly one more message fits.
      const taken = await post(server, session.id, { messages: [] });
      assert.equal(payloads(taken).length, fits);
      await post(server, session.id, { messages: [ack(1)] });
      await server.server.send(session.id, payload);
      await rejectsFull(server.server.send(session.id, payload), `one more after one ack, in ${bound} bytes`);
    }
  });

  for (const window of WINDOWS) {
    test(`${kind}: the dedupe window keeps exactly the newest ids that fit (${window.name})`, async (t) => {
      const server = await start(t, kind, window.settings);
      const session = await openLpioSession(server.lpioUrl);
      const processed: string[] = [];
      server.server.on('message', (message) => processed.push(message.id));
      const ids = [0, 1, 2, 3, 4].map((i) => longId(`d${i}`));
      for (const id of ids)
        assert.deepEqual(acked(await post(server, session.id, { messages: [data(id)] })), [id]);
      assert.deepEqual(processed, ids);

      // The window holds the last `kept` ids: the oldest of them is still a duplicate…
      const oldestKept = ids[ids.length - window.kept] as string;
      const again = await post(server, session.id, { messages: [data(oldestKept, 'again')] });
      assert.deepEqual(acked(again), [oldestKept], 'a duplicate is acked again');
      assert.deepEqual(processed, ids, `${oldestKept.slice(0, 3)} is remembered: not processed twice`);
      // …and the newest id it no longer holds is processed as new.
      const newestDropped = ids[ids.length - window.kept - 1] as string;
      const dropped = await post(server, session.id, { messages: [data(newestDropped, 'again')] });
      assert.deepEqual(acked(dropped), [newestDropped]);
      assert.deepEqual(processed, [...ids, newestDropped], `${newestDropped.slice(0, 3)} was forgotten`);
      assert.equal((await server.server.stats()).counters.duplicates, 1);
    });

    test(`${kind}: acks owed to a client hold half the window; what does not fit is refused, then taken (${window.name})`, async (t) => {
      const server = await start(t, kind, window.settings);
      const session = await openLpioSession(server.lpioUrl);
      const processed: string[] = [];
      server.server.on('message', (message) => processed.push(message.id));
      // A request of this client (`seq` tab.100) claims the session and is answered at once…
      const claim = await post(server, session.id, { seq: 'tab.100', messages: [data('claim')] });
      assert.deepEqual(acked(claim), ['claim']);
      // …so an older request of it that arrives late is answered superseded: its acks wait in the
      // session for the client's next request. Two fit (half of four ids); the rest is refused.
      const ids = [0, 1, 2, 3, 4, 5].map((i) => longId(`p${i}`));
      const late = await post(server, session.id, { seq: 'tab.1', messages: ids.map((id) => data(id)) });
      assert.deepEqual([late.state, late.messages], [0, []]);
      assert.deepEqual(processed, ['claim', ...ids.slice(0, 2)]);
      const next = await post(server, session.id, { seq: 'tab.101', messages: [] });
      assert.equal(next.state, 1);
      assert.deepEqual(acked(next), ids.slice(0, 2), 'the acks that waited, oldest first');
      // The client sends again what it has no ack for: two fit, two are refused by id and come next.
      const rest = ids.slice(2);
      const again = await post(server, session.id, { seq: 'tab.102', messages: rest.map((id) => data(id)) });
      assert.deepEqual(acked(again), rest.slice(0, 2));
      assert.deepEqual(
        again.errors?.map((e) => [e.id, e.code]),
        rest.slice(2).map((id) => [id, 'SB_ERR_ACKS_PENDING']),
      );
      const last = await post(server, session.id, {
        seq: 'tab.103',
        messages: rest.slice(2).map((id) => data(id)),
      });
      assert.deepEqual(acked(last), rest.slice(2));
      assert.deepEqual(processed, ['claim', ...ids], 'each once, in order');
    });
  }
}
