/**
 * docs/security.md's "a session opened by a user is resumed only by that user (`assertOwner`), on
 * every protocol and resume path", across a cluster: with the Redis engine the check that a
 * request claims a session only for its own user runs in Redis (engine.lua's `get`), so another
 * user's request reaching a second node must neither resume the session nor claim it away from
 * the connection its owner holds on the first node.
 */
import { strict as assert } from 'node:assert';
import { after, before, test, type TestContext } from 'node:test';
import { RedisEngine } from '../../src/engine/redis/index.js';
import { createSwitchboard, type Switchboard } from '../../src/index.js';
import { assertRefusedHello, helloAs, lpioAttempts, openLpio } from '../helpers/intruders.js';
import { liveConnections, usersAuth, userHeaders, within, wsUrlOf } from '../helpers/parties.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { lpioPost } from '../helpers/start-server.js';
import { RawWsClient } from '../helpers/ws-client.js';

let redis: RedisProcess;

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});

interface Node {
  readonly server: Switchboard;
  readonly origin: string;
}

async function cluster(t: TestContext): Promise<[Node, Node, unknown[]]> {
  const prefix = `owner${Date.now()}:`;
  const inbox: unknown[] = [];
  const nodes: Node[] = [];
  for (let i = 0; i < 2; i++) {
    const server = createSwitchboard({
      engine: new RedisEngine({ url: redis.url, prefix }),
      settings: { batchWindowMs: 2, holdTimeoutMs: 5_000 },
      auth: usersAuth,
    });
    server.on('message', (m) => inbox.push(m.data));
    const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
    t.after(() => server.close());
    nodes.push({ server, origin: `http://127.0.0.1:${port}` });
  }
  return [nodes[0] as Node, nodes[1] as Node, inbox];
}

test("another user's requests on a second node neither resume nor claim a user's session held on the first", async (t) => {
  const [one, two, inbox] = await cluster(t);
  const alice = await openLpio(`${one.origin}/lpio`, 'alice');
  const held = lpioPost(
    `${one.origin}/lpio`,
    { messages: [] },
    { ...userHeaders('alice'), 'lpio-client': alice.id },
  );
  await liveConnections(one.server, 'lpio', 1);
  const { client: ws, welcome } = await RawWsClient.connect(wsUrlOf(one.origin), {}, userHeaders('alice'));
  t.after(() => ws.close());
  const wsId = welcome.session as string;

  for (const id of [alice.id, wsId]) {
    await lpioAttempts(`${two.origin}/lpio`, id, 'bob');
    await lpioAttempts(`${two.origin}/lpio`, id, undefined);
    assertRefusedHello(await helloAs(wsUrlOf(two.origin), 'bob', id, 0), `bob on node two, ${id}`);
  }

  // Node two's messages reach what alice holds on node one: nothing was claimed away from her.
  await two.server.send(alice.id, 'for the held poll');
  await two.server.send(wsId, 'for the socket');
  const got = await within(held, 10_000, 'the held poll');
  assert.deepEqual(got.body, { state: 1, messages: [{ type: 'data', id: '1', data: 'for the held poll' }] });
  await ws.until(() => ws.data.length === 1);
  assert.deepEqual(ws.data[0], { type: 'data', data: 'for the socket', id: 1 });
  assert.equal(ws.closed, undefined);
  assert.deepEqual(inbox, [], 'nothing the intruders sent was processed');
});
