/**
 * LPIO's `seq` on the wire (docs/protocols/lpio.md, Request): `"seq": "<instance>.<n>"` orders one
 * client's requests. Each request claims the session for its answer, so a newer request
 * supersedes the held one; a request older than the last claim of the same instance (one the
 * client abandoned, arriving late) does not claim and is answered superseded (state 0), and the
 * newer request goes on being held. Its messages are still processed on arrival, once, and their
 * acks reach the client on the request that holds the session. On one node and, through Redis,
 * across two nodes.
 */
import { strict as assert } from 'node:assert';
import { after, test, type TestContext } from 'node:test';
import type { Engine } from '../../src/engine/engine.js';
import { ENGINE_KINDS, Engines } from '../helpers/engines.js';
import {
  lpioPost,
  openLpioSession,
  serve,
  type LpioReply,
  type TestServer,
} from '../helpers/start-server.js';

const engines = new Engines('seq');
after(() => engines.stop());

async function start(t: TestContext, engine: Engine | undefined): Promise<TestServer> {
  return serve(t, { settings: { batchWindowMs: 2, holdTimeoutMs: 15_000 }, ...(engine && { engine }) });
}

function post(server: TestServer, id: string, body: Record<string, unknown>): Promise<LpioReply> {
  return lpioPost(server.lpioUrl, body, { 'lpio-client': id }).then((reply) => {
    assert.equal(reply.status, 200);
    return reply.body;
  });
}

/** Resolves once the server holds `count` long polls (a request is held once it is live). */
async function held(server: TestServer, count: number): Promise<void> {
  const end = Date.now() + 10_000;
  while (((await server.server.stats()).liveConnectionsByProtocol.lpio ?? 0) !== count) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${count} held polls`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const data = (id: string, payload: unknown) => ({ type: 'data', id, data: payload });
const SUPERSEDED = { state: 0, messages: [] };

for (const kind of ENGINE_KINDS) {
  test(`${kind}: a late request with an older seq is answered superseded at once; the newer one stays held and gets its acks`, async (t) => {
    const server = await start(t, await engines.engine(kind));
    const session = await openLpioSession(server.lpioUrl);
    const processed: unknown[] = [];
    server.server.on('message', (message) => processed.push(message.data));

    const newer = post(server, session.id, { seq: 'tab.5', messages: [] });
    await held(server, 1);
    const older = await post(server, session.id, { seq: 'tab.4', messages: [data('late', 'sent late')] });
    assert.deepEqual(older, SUPERSEDED, 'the older request is refused its claim');
    assert.deepEqual(processed, ['sent late'], 'its message was processed on arrival');
    // The newer request still holds the session: the ack of the late message comes on it.
    assert.deepEqual(await newer, { state: 1, messages: [{ type: 'ack', id: 'late' }] });

    // And the session's messages go to the newer requests, never to an older one.
    const next = post(server, session.id, { seq: 'tab.6', messages: [] });
    await held(server, 1);
    assert.deepEqual(await post(server, session.id, { seq: 'tab.2', messages: [] }), SUPERSEDED);
    await server.server.send(session.id, 'for the newest');
    const got = await next;
    assert.deepEqual(
      got.messages?.map((m) => [m.type, m.id, m.data]),
      [['data', '1', 'for the newest']],
    );
    assert.deepEqual(processed, ['sent late'], 'nothing was processed twice');
  });

  test(`${kind}: a newer seq supersedes the held request; another instance's order is its own`, async (t) => {
    const server = await start(t, await engines.engine(kind));
    const session = await openLpioSession(server.lpioUrl);
    const first = post(server, session.id, { seq: 'tab.7', messages: [] });
    await held(server, 1);
    const second = post(server, session.id, { seq: 'tab.8', messages: [] });
    assert.deepEqual(await first, SUPERSEDED, 'tab.8 supersedes tab.7');
    await held(server, 1);
    // A request of another instance with a lower count is not older: arrival order decides.
    const third = post(server, session.id, { seq: 'other.1', messages: [] });
    assert.deepEqual(await second, SUPERSEDED, 'other.1 supersedes tab.8');
    await held(server, 1);
    await server.server.send(session.id, 'to other.1');
    assert.deepEqual(
      (await third).messages?.map((m) => m.data),
      ['to other.1'],
    );
  });
}

test('redis, two nodes: a late older request on node B leaves the newer one held on node A', async (t) => {
  const [engineA, engineB] = await engines.cluster(2);
  const a = await start(t, engineA);
  const b = await start(t, engineB);
  const session = await openLpioSession(a.lpioUrl);
  const processed: unknown[] = [];
  for (const node of [a, b]) node.server.on('message', (message) => processed.push(message.data));

  const newer = post(a, session.id, { seq: 'tab.9', messages: [] });
  await held(a, 1);
  const older = await post(b, session.id, { seq: 'tab.3', messages: [data('late', 'via b')] });
  assert.deepEqual(older, SUPERSEDED);
  assert.deepEqual(await newer, { state: 1, messages: [{ type: 'ack', id: 'late' }] });
  assert.deepEqual(processed, ['via b']);
});
