/**
 * docs/errors.md "Close reasons": every reason that ends a session reaches the client with the
 * table's code, name and reconnect flag, on every protocol and wherever the client can learn it:
 * - WebSocket: the open socket closes with the code and the reason's name; a later `hello`
 *   naming the session gets a new session whose `welcome.close` says why the old one ended;
 * - LPIO: the held poll is answered state 0 with `close: {code, reason, reconnect}`, and the next
 *   request says it again while it opens a fresh session under the same id (`set.address`);
 * - the SDK: a reason with `reconnect: true` makes it start a new session and announce the
 *   previous one's end (`session` event, `previous`); one without (4500–4599) stops it.
 * Sessions are ended here through the application's API (`hub.closeSession`), the one way to end
 * a session as `terminated` or `unauthorized`; promises-close-causes.test.ts and
 * promises-redis-ids.test.ts make the other reasons happen for real.
 */
import { strict as assert } from 'node:assert';
import { test, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { createClient, type Client, type SessionInfo } from '../../src/client/index.js';
import type { WebSocketConstructor } from '../../src/client/connection.js';
import type { CloseReasonName } from '../../src/index.js';
import { eventually, liveConnections, wsUrlOf } from '../helpers/parties.js';
import { lpioPost, openLpioSession, serve } from '../helpers/start-server.js';
import { until } from '../helpers/until.js';
import { RawWsClient } from '../helpers/ws-client.js';

/** The table of docs/errors.md, for the reasons that end a session. */
const ENDED: ReadonlyArray<readonly [CloseReasonName, number, boolean]> = [
  ['inactive', 4100, true],
  ['overflow', 4101, true],
  ['error', 4102, true],
  ['sequence_exhausted', 4103, true],
  ['lost', 4104, true],
  ['terminated', 4500, false],
  ['not_allowed', 4501, false],
  ['unauthorized', 4502, false],
];

async function server(t: TestContext) {
  return serve(t, { settings: { batchWindowMs: 2, holdTimeoutMs: 30_000 } });
}

for (const [reason, code, reconnect] of ENDED) {
  test(`websocket: a session ended as ${reason} closes its socket with ${code}, and a later hello is told so in welcome.close`, async (t) => {
    const { server: hub, origin } = await server(t);
    const url = wsUrlOf(origin);
    const { client, welcome } = await RawWsClient.connect(url);
    t.after(() => client.close());
    const id = welcome.session as string;

    assert.equal(await hub.closeSession(id, reason), true);
    assert.deepEqual(await client.waitClosed(), { code, reason });
    assert.equal(await hub.session(id), undefined);

    const { client: back, welcome: again } = await RawWsClient.connect(url, { session: id, last: 0 });
    t.after(() => back.close());
    assert.equal(again.resumed, false);
    assert.notEqual(again.session, id, 'a new session, with a new id');
    assert.deepEqual(again.close, { code, reason, reconnect });
  });

  test(`lpio: a session ended as ${reason} answers its held poll state 0 with close ${code}, and the next request again, with a fresh session`, async (t) => {
    const { server: hub, lpioUrl } = await server(t);
    const session = await openLpioSession(lpioUrl);
    const held = lpioPost(lpioUrl, { messages: [] }, { 'lpio-client': session.id });
    await liveConnections(hub, 'lpio', 1);

    assert.equal(await hub.closeSession(session.id, reason), true);
    const close = { code, reason, reconnect };
    assert.deepEqual((await held).body, { state: 0, messages: [], close });

    const next = await lpioPost(lpioUrl, { messages: [] }, { 'lpio-client': session.id });
    assert.deepEqual(next.body.close, close, 'told again');
    const address = next.body.set?.address;
    assert.equal(typeof address, 'string');
    assert.notEqual(address, session.address, 'a fresh session under the same id');
    assert.equal((await hub.session(session.id))?.address, address);
  });
}

test('closeSession without a reason ends the session as not_allowed (4501) on both protocols', async (t) => {
  const { server: hub, origin, lpioUrl } = await server(t);
  const { client, welcome } = await RawWsClient.connect(wsUrlOf(origin));
  t.after(() => client.close());
  const lpio = await openLpioSession(lpioUrl);
  const held = lpioPost(lpioUrl, { messages: [] }, { 'lpio-client': lpio.id });
  await liveConnections(hub, 'lpio', 1);

  await hub.closeSession(welcome.session as string);
  await hub.closeSession(lpio.id);
  assert.deepEqual(await client.waitClosed(), { code: 4501, reason: 'not_allowed' });
  assert.deepEqual((await held).body.close, { code: 4501, reason: 'not_allowed', reconnect: false });
});

const WS = WebSocket as unknown as WebSocketConstructor;

for (const transport of ['lpio', 'websocket'] as const) {
  test(`SDK over ${transport}: an ended session with reconnect (4101) is replaced and announced with previous; one without (4500) stops the client`, async (t) => {
    const { server: hub, origin, lpioUrl } = await server(t);
    const client: Client = createClient({
      url: transport === 'lpio' ? lpioUrl : wsUrlOf(origin),
      transport,
      WebSocket: WS,
      backoff: { min: 10, max: 200 },
      ackTimeout: 5_000,
    });
    t.after(() => client.disconnect());
    const sessions: SessionInfo[] = [];
    const disconnected: Array<string | undefined> = [];
    client.on('session', (s) => sessions.push(s));
    client.on('disconnected', (why) => disconnected.push(why));
    client.connect();
    await until(() => client.state === 'connected' && sessions.length === 1, 'the first session');
    const first = sessions[0] as SessionInfo;
    await client.subscribe('/news');
    if (transport === 'lpio') await liveConnections(hub, 'lpio', 1);

    await hub.closeSession(first.id, 'overflow');
    await until(
      () => sessions.some((s) => s.previous !== undefined) && client.state === 'connected',
      'a new session announced with why the old one ended',
    );
    // One announcement: the new session. Never a "resumed" one for the session that just ended.
    assert.equal(sessions.length, 2, JSON.stringify(sessions));
    const second = sessions[1] as SessionInfo;
    assert.equal(second.resumed, false);
    assert.notEqual(second.address, first.address);
    assert.deepEqual(second.previous, { code: 4101, reason: 'overflow', reconnect: true });
    // The new session was subscribed again by the client: a publish reaches it.
    const got: unknown[] = [];
    client.on('message', (m) => got.push(m.data));
    await eventually(
      async () => (await hub.engine.subscriptions(second.id)).includes('/news'),
      'the client to subscribe its new session',
    );
    await hub.publish('/news', 'after the new session');
    await until(() => got.length === 1, 'the publish to reach the new session');

    if (transport === 'lpio') await liveConnections(hub, 'lpio', 1);
    await hub.closeSession(second.id, 'terminated');
    await until(() => client.state === 'disconnected', 'the client to stop');
    assert.equal(disconnected.at(-1), 'terminated');
    assert.equal(sessions.length, 2, 'no new session after terminated');
  });
}
