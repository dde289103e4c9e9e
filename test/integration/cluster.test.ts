/**
 * Several Switchboard nodes on one real redis-server, with no sticky sessions: LPIO polls through
 * a plain round-robin proxy land on every node, a WebSocket session resumes on another node, a
 * node is SIGKILLed mid-stream, and Redis restarts without its data. Every message arrives once
 * and in order; where data was lost, the client is told so (close 4104 `lost`).
 */
import { strict as assert } from 'node:assert';
import { after, before, test, type TestContext } from 'node:test';
import { createClient, type Client, type ClientOptions, type SessionInfo } from '../../src/client/index.js';
import { RedisEngine } from '../../src/engine/redis/index.js';
import { createSwitchboard, type Switchboard } from '../../src/index.js';
import { startNode } from '../helpers/node-process.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { startRoundRobinProxy } from '../helpers/round-robin-proxy.js';
import { lpioPost } from '../helpers/start-server.js';
import { RawWsClient } from '../helpers/ws-client.js';
import { eventually, until } from '../helpers/until.js';

let redis: RedisProcess;
let prefixes = 0;

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});

interface Node {
  readonly server: Switchboard;
  readonly origin: string;
  /** The codes of the warnings it reported (none while Redis is up). */
  readonly warnings: string[];
}

/** `count` in-process nodes sharing one Redis prefix (a cluster of its own for this test). */
async function nodes(t: TestContext, count: number): Promise<Node[]> {
  const prefix = `cluster${++prefixes}:`;
  const started: Node[] = [];
  for (let i = 0; i < count; i++) {
    const server = createSwitchboard({
      engine: new RedisEngine({ url: redis.url, prefix }),
      settings: { batchWindowMs: 2 },
      demo: false,
    });
    const warnings: string[] = [];
    server.on('warning', (error) => warnings.push(error.code));
    const address = await server.listen({ host: '127.0.0.1', port: 0 });
    started.push({ server, origin: `http://127.0.0.1:${address.port}`, warnings });
  }
  t.after(() => Promise.all(started.map((n) => n.server.close())));
  return started;
}

function client(t: TestContext, options: Partial<ClientOptions> & { url: string }): Client {
  const c = createClient({ backoff: { min: 10, max: 200 }, ackTimeout: 5_000, ...options });
  t.after(() => c.disconnect());
  return c;
}

async function connected(c: Client): Promise<void> {
  if (c.state === 'disconnected') c.connect();
  await until(() => c.state === 'connected', 'connected');
}

const sequence = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

test('LPIO over three nodes behind round robin: polls land on every node; everything once, in order', async (t) => {
  const cluster = await nodes(t, 3);
  const proxy = await startRoundRobinProxy(cluster.map((n) => n.origin));
  t.after(() => proxy.close());
  const receiver = client(t, { url: proxy.url('/lpio'), transport: 'lpio' });
  const sender = client(t, { url: proxy.url('/lpio'), transport: 'lpio' });
  const broadcasts: number[] = [];
  const direct: number[] = [];
  receiver.on('message', (m) => (m.path === '/tick' ? broadcasts : direct).push(m.data as number));
  await connected(receiver);
  await connected(sender);
  await receiver.subscribe('/tick');

  const total = 300;
  for (let i = 1; i <= total; i++) {
    // Published through each node in turn: the receiver's polls are on whichever node they hit.
    await (cluster[i % 3] as Node).server.publish('/tick', i);
    // A steady stream over many polls, not one burst: the receiver keeps within 50 messages.
    if (i % 25 === 0) await until(() => broadcasts.length >= i - 50, `broadcast ${i - 50}`);
  }
  for (let i = 1; i <= 30; i++) await sender.send(i, { to: receiver.address as string });
  // One more of each after the last: once they are in, anything sent twice before them would be too.
  await (cluster[0] as Node).server.publish('/tick', total + 1);
  await sender.send(31, { to: receiver.address as string });
  await until(() => broadcasts.length >= total + 1 && direct.length >= 31, 'every message');
  assert.deepEqual(broadcasts, sequence(total + 1));
  assert.deepEqual(direct, sequence(31));
  assert.deepEqual(
    cluster.flatMap((n) => n.warnings),
    [],
    'no node reported a problem',
  );
  for (const index of [0, 1, 2]) assert.ok(proxy.picks.includes(index), `node ${index} served requests`);
  // Successive polls of one client change node (round robin, no stickiness).
  assert.ok(new Set(proxy.picks.slice(-10)).size > 1);
});

test('a WebSocket session resumes on another node with everything after its last id, once', async (t) => {
  const [a, b] = (await nodes(t, 2)) as [Node, Node];
  const wsUrl = (node: Node) => `${node.origin.replace('http', 'ws')}/ws`;
  const first = await RawWsClient.connect(wsUrl(a));
  t.after(() => first.client.close());
  const session = first.welcome.session as string;
  first.client.send({ type: 'data', id: 'sub', channel: '/meta/subscribe', data: '/feed' });
  await first.client.until(() => first.client.frames.some((f) => f.type === 'ack'));
  for (let i = 1; i <= 50; i++) await a.server.publish('/feed', i);
  await first.client.until(() => first.client.data.length === 50);
  const last = (first.client.data.at(-1) as { id: number }).id;
  first.client.ws.terminate();

  for (let i = 51; i <= 80; i++) await b.server.publish('/feed', i);
  const second = await RawWsClient.connect(wsUrl(b), { session, last });
  t.after(() => second.client.close());
  assert.equal(second.welcome.resumed, true);
  // 101, after the last: once it is in, anything sent twice before it would be too.
  for (let i = 81; i <= 101; i++) await a.server.publish('/feed', i);
  await second.client.until(() => second.client.data.length >= 51);
  const all = [...first.client.data, ...second.client.data];
  assert.deepEqual(
    all.map((d) => d.data),
    sequence(101),
  );
  assert.deepEqual(
    all.map((d) => d.id),
    sequence(101),
    'ids continue across nodes',
  );
});

test('a node SIGKILLed mid-stream: clients carry on through the other node, nothing lost or twice', async (t) => {
  const prefix = `killed${++prefixes}:`;
  const started = await Promise.all([0, 1].map(() => startNode({ engineUrl: redis.url, prefix })));
  t.after(() => Promise.all(started.map((n) => n.kill()))); // kill() of an exited node just resolves
  const proxy = await startRoundRobinProxy(started.map((n) => n.origin));
  t.after(() => proxy.close());
  const receiver = client(t, { url: proxy.url('/lpio'), transport: 'lpio' });
  const sender = client(t, { url: proxy.url('/lpio'), transport: 'lpio' });
  const got: number[] = [];
  receiver.on('message', (m) => got.push(m.data as number));
  await connected(receiver);
  await connected(sender);
  await receiver.subscribe('/stream');

  // Ten sends at a time; the node dies while the 15th ten are on their way.
  const total = 400;
  for (let group = 0; group < total / 10; group++) {
    const sends = Array.from({ length: 10 }, (_, k) => sender.send(group * 10 + k + 1, { path: '/stream' }));
    if (group === 14) await (started[0] as { kill(): Promise<void> }).kill();
    await Promise.all(sends);
  }
  // One more after the last: once it is in, anything sent twice before it would be too.
  await sender.send(total + 1, { path: '/stream' });
  await until(() => got.length >= total + 1, 'every message after the kill', 20_000);
  assert.deepEqual(got, sequence(total + 1));
});

test('Redis restarts without its data: clear 503s while it is down, then `lost` where state is gone', async (t) => {
  const [a, b] = (await nodes(t, 2)) as [Node, Node];
  const opened = await lpioPost(`${a.origin}/lpio`, {});
  const lpioId = opened.body.set?.id as string;
  const ws = await RawWsClient.connect(`${b.origin.replace('http', 'ws')}/ws`);
  t.after(() => ws.client.close());
  const wsSession = ws.welcome.session as string;
  // And an SDK client, polling through node a: the application must hear of the loss.
  // It keeps retrying through the outage (the seed's client gives up once its backoff reaches max).
  const sdk = client(t, { url: `${a.origin}/lpio`, transport: 'lpio', backoff: { min: 10, max: 10_000 } });
  const sessions: SessionInfo[] = [];
  sdk.on('session', (info) => sessions.push(info));
  await connected(sdk);
  const sdkAddress = sdk.address;

  await redis.kill();
  const down = await lpioPost(`${b.origin}/lpio`, { client: lpioId, messages: [] });
  assert.equal(down.status, 503);
  assert.equal(down.headers.get('retry-after'), '1');
  assert.deepEqual(
    typeof down.body.error === 'object' ? down.body.error.code : undefined,
    'SB_ERR_ENGINE_UNAVAILABLE',
  );

  await redis.restart();
  // The nodes reconnect by themselves; the first request that reaches Redis learns of the loss.
  // Until then the client is answered 503, as above, and polls again.
  let back: Awaited<ReturnType<typeof lpioPost>> | undefined;
  await eventually(
    async () => {
      back = await lpioPost(`${a.origin}/lpio`, { client: lpioId, messages: [] });
      if (back.status !== 200) assert.equal(back.status, 503, JSON.stringify(back.body));
      return back.status === 200;
    },
    'node a to be served by Redis again',
    15_000,
  );
  assert.equal(back?.status, 200);
  assert.equal(back?.body.close?.code, 4104, 'the LPIO client is told its session was lost');
  assert.equal(back?.body.close?.reason, 'lost');

  const again = await RawWsClient.connect(`${a.origin.replace('http', 'ws')}/ws`, {
    session: wsSession,
    last: 0,
  });
  t.after(() => again.client.close());
  assert.equal(again.welcome.resumed, false);
  assert.equal((again.welcome.close as { code: number }).code, 4104, 'so is the WebSocket client');

  await until(
    () => sessions.some((s) => s.previous?.code === 4104) && sdk.state === 'connected',
    'the SDK to announce a new session replacing the lost one',
    15_000,
  );
  const replaced = sessions.find((s) => s.previous?.code === 4104);
  assert.equal(replaced?.resumed, false);
  assert.equal(replaced?.previous?.reason, 'lost');
  // The same id (LPIO re-opens it), a new session: a new address, announced to the application.
  assert.deepEqual([replaced?.id, replaced?.address], [sdk.id, sdk.address]);
  assert.notEqual(sdk.address, sdkAddress, 'not the lost session');

  // Service resumed: a new subscription on one node gets a publish made on the other.
  again.client.send({ type: 'data', id: 'sub', channel: '/meta/subscribe', data: '/after' });
  await again.client.until(() => again.client.frames.some((f) => f.type === 'ack'));
  await b.server.publish('/after', 'hello again');
  await again.client.until(() => again.client.data.length === 1);
  assert.equal(again.client.data[0]?.data, 'hello again');
  // What the nodes reported meanwhile: Redis being away, and nothing else.
  const reported = new Set([...a.warnings, ...b.warnings]);
  assert.ok(reported.has('SB_ERR_ENGINE_UNAVAILABLE'), [...reported].join());
  assert.deepEqual(
    [...reported].filter((code) => code !== 'SB_ERR_ENGINE_UNAVAILABLE'),
    [],
  );
});
