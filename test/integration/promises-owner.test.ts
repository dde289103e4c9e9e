/**
 * docs/security.md: "a session opened by a user is resumed only by that user (`assertOwner`), on
 * every protocol and resume path". With an auth hook that names users, user B (and an anonymous
 * client) presenting user A's session id is refused on every path that resumes a session:
 * - LPIO: a poll, a send, acks, `describe`, the seed's body `client`, a client-chosen id, and
 *   the id of A's WebSocket session;
 * - WebSocket: `hello` with `session` (and `last`), also naming A's LPIO session;
 * - the SDK given A's id (its static `id` option), on both transports.
 * Each refusal is SB_ERR_FORBIDDEN (LPIO 403; WebSocket an `error` frame, then close 4501
 * `not_allowed`), and leaves A alone: A's held poll or socket is not superseded, nothing B sent
 * was processed, B's acks acked nothing, and A still receives its messages afterwards.
 */
import { strict as assert } from 'node:assert';
import { test, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { createClient, type Client, type TransportName } from '../../src/client/index.js';
import type { WebSocketConstructor } from '../../src/client/connection.js';
import type { Switchboard } from '../../src/index.js';
import { assertRefusedHello, helloAs, lpioAttempts, openLpio } from '../helpers/intruders.js';
import { liveConnections, usersAuth, userHeaders, wsUrlOf } from '../helpers/parties.js';
import { lpioPost, serve } from '../helpers/start-server.js';
import { until } from '../helpers/until.js';
import { RawWsClient } from '../helpers/ws-client.js';

interface Owned {
  readonly origin: string;
  readonly url: string;
  readonly server: Switchboard;
  /** What the application received, with the user of the session it came from. */
  readonly inbox: Array<[unknown, string | undefined]>;
}

async function owned(t: TestContext): Promise<Owned> {
  const { origin, lpioUrl, server } = await serve(t, {
    // A short hold: a poll that should have been answered with data comes back empty and says so.
    settings: { batchWindowMs: 2, holdTimeoutMs: 2_000 },
    auth: usersAuth,
  });
  const inbox: Owned['inbox'] = [];
  server.on('message', (m, session) => inbox.push([m.data, session.user]));
  return { origin, url: lpioUrl, server, inbox };
}

test("lpio: another user's or an anonymous request presenting a user's session id is refused 403 on every path; the owner's held poll and queue are untouched", async (t) => {
  const hub = await owned(t);
  const alice = await openLpio(hub.url, 'alice');

  // Alice holds a poll while the others try every path.
  const held = lpioPost(hub.url, { messages: [] }, { ...userHeaders('alice'), 'lpio-client': alice.id });
  await liveConnections(hub.server, 'lpio', 1);
  await lpioAttempts(hub.url, alice.id, 'bob');
  await lpioAttempts(hub.url, alice.id, undefined);
  await liveConnections(hub.server, 'lpio', 1);

  // Not superseded: the poll she held all along is the one that gets her message.
  await hub.server.send(alice.id, 'for alice');
  const got = (await held).body;
  assert.deepEqual([got.state, got.messages], [1, [{ type: 'data', id: '1', data: 'for alice' }]]);

  // Message 1 is not acked: the intruders' acks of '1' must not have acked it. Bob tries again now.
  await lpioAttempts(hub.url, alice.id, 'bob');
  const again = await lpioPost(
    hub.url,
    { messages: [] },
    { ...userHeaders('alice'), 'lpio-client': alice.id },
  );
  assert.deepEqual(
    again.body.messages,
    [{ type: 'data', id: '1', data: 'for alice' }],
    'sent again: unacked',
  );
  assert.deepEqual(hub.inbox, [], 'nothing the intruders sent was processed');
  assert.equal((await hub.server.session(alice.id))?.user, 'alice');
});

test('lpio: a client-chosen id is bound to the user who opened it; another user presenting it is refused, the owner goes on', async (t) => {
  const hub = await owned(t);
  // With a user, any chosen id is accepted (docs/security.md, "Client-chosen ids"): it is bound to her.
  const laptop = await openLpio(hub.url, 'alice', 'alice-laptop');
  assert.equal((await hub.server.session('alice-laptop'))?.user, 'alice');
  const held = lpioPost(hub.url, { messages: [] }, { ...userHeaders('alice'), 'lpio-client': laptop.id });
  await liveConnections(hub.server, 'lpio', 1);
  await lpioAttempts(hub.url, 'alice-laptop', 'bob');
  await lpioAttempts(hub.url, 'alice-laptop', undefined);

  await hub.server.send('alice-laptop', 'still hers');
  assert.deepEqual((await held).body.messages, [{ type: 'data', id: '1', data: 'still hers' }]);
  assert.deepEqual(hub.inbox, []);
});

test("websocket: another user's or an anonymous hello resuming a user's session is refused (SB_ERR_FORBIDDEN, close 4501); the owner's socket and queue are untouched", async (t) => {
  const hub = await owned(t);
  const url = wsUrlOf(hub.origin);
  const { client: alice, welcome } = await RawWsClient.connect(url, {}, userHeaders('alice'));
  t.after(() => alice.close());
  const id = welcome.session as string;
  await hub.server.send(id, 'one');
  await alice.until(() => alice.data.length === 1);

  // `last: 1` would ack message 1 if the resume went through.
  assertRefusedHello(await helloAs(url, 'bob', id, 1), 'bob');
  assertRefusedHello(await helloAs(url, undefined, id, 1), 'anonymous');
  // LPIO is a path to the same session too.
  await lpioAttempts(hub.url, id, 'bob');

  assert.equal(alice.closed, undefined, 'her socket was not superseded');
  await liveConnections(hub.server, 'websocket', 1);
  await hub.server.send(id, 'two');
  await alice.until(() => alice.data.length === 2);
  assert.deepEqual(
    alice.data.map((d) => [d.id, d.data]),
    [
      [1, 'one'],
      [2, 'two'],
    ],
  );

  // Her queue is as she left it: resuming from 0, both come again, message 1 included.
  alice.close();
  const { client: back, welcome: resumed } = await RawWsClient.connect(
    url,
    { session: id, last: 0 },
    userHeaders('alice'),
  );
  t.after(() => back.close());
  assert.equal(resumed.resumed, true);
  await back.until(() => back.data.length === 2);
  assert.deepEqual(
    back.data.map((d) => [d.id, d.data]),
    [
      [1, 'one'],
      [2, 'two'],
    ],
  );
  assert.deepEqual(hub.inbox, []);
});

test("websocket hello naming another user's LPIO session is refused; her held poll is not superseded", async (t) => {
  const hub = await owned(t);
  const alice = await openLpio(hub.url, 'alice');
  const held = lpioPost(hub.url, { messages: [] }, { ...userHeaders('alice'), 'lpio-client': alice.id });
  await liveConnections(hub.server, 'lpio', 1);
  assertRefusedHello(await helloAs(wsUrlOf(hub.origin), 'bob', alice.id, 0), 'bob');
  assertRefusedHello(await helloAs(wsUrlOf(hub.origin), undefined, alice.id), 'anonymous');
  await hub.server.send(alice.id, 'for alice');
  assert.deepEqual((await held).body.messages, [{ type: 'data', id: '1', data: 'for alice' }]);
});

const WS = WebSocket as unknown as WebSocketConstructor;

for (const transport of ['lpio', 'websocket'] as const satisfies readonly TransportName[]) {
  test(`SDK over ${transport} given another user's session id: refused with SB_ERR_FORBIDDEN, it stops, and the owner's session goes on`, async (t) => {
    const hub = await owned(t);
    const url = wsUrlOf(hub.origin);
    const { client: alice, welcome } = await RawWsClient.connect(url, {}, userHeaders('alice'));
    t.after(() => alice.close());
    const id = welcome.session as string;

    const endpoint = transport === 'lpio' ? hub.url : url;
    const bob: Client = createClient({
      url: `${endpoint}?user=bob`,
      transport,
      id,
      WebSocket: WS,
      backoff: { min: 10, max: 200 },
    });
    t.after(() => bob.disconnect());
    const errors: string[] = [];
    const sessions: unknown[] = [];
    bob.on('error', (e) => errors.push(e.code));
    bob.on('session', (s) => sessions.push(s));
    bob.connect();
    const sent = bob.send('as alice', { path: '/room' }).then(
      () => 'delivered',
      (e: { code: string }) => e.code,
    );
    await until(() => bob.state === 'disconnected', 'the SDK to stop');
    assert.ok(errors.includes('SB_ERR_FORBIDDEN'), `errors: ${errors.join()}`);
    assert.notEqual(await sent, 'delivered');
    assert.deepEqual(sessions, [], 'it never took the session, nor opened another');
    assert.equal(bob.id, id);

    assert.equal(alice.closed, undefined);
    await hub.server.send(id, 'still hers');
    await alice.until(() => alice.data.length === 1);
    assert.equal(alice.data[0]?.data, 'still hers');
    assert.deepEqual(hub.inbox, []);
  });
}
