/**
 * README "A cluster on Redis" and docs/security.md "Redis restarts": a Redis restart that loses
 * the data (empty, or from an older snapshot) starts a new epoch, and "clients of the old
 * sessions are told so with close 4104 `lost`". redis-restart.test.ts and cluster.test.ts check
 * what the next request or the next hello is told; this file checks the connections that were
 * held all through the outage: a held LPIO poll and an open WebSocket stay while Redis is away
 * (requests meanwhile get 503 SB_ERR_ENGINE_UNAVAILABLE), and once Redis is back without the
 * data they end with 4104 `lost` (LPIO: state 0 with `close`; WebSocket: close 4104), the SDK
 * over WebSocket starts a new session announcing `previous: 4104`; with `durable: true` and
 * `appendfsync always` the same connections go on instead.
 */
import { strict as assert } from 'node:assert';
import { test, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { createClient, type SessionInfo } from '../../src/client/index.js';
import { RedisEngine } from '../../src/engine/redis/index.js';
import { createSwitchboard, type Switchboard } from '../../src/index.js';
import { liveConnections, within, wsUrlOf } from '../helpers/parties.js';
import { startRedis, type RedisOptions, type RedisProcess } from '../helpers/redis.js';
import { lpioPost, openLpioSession, type LpioReply } from '../helpers/start-server.js';
import { until } from '../helpers/until.js';
import { RawWsClient } from '../helpers/ws-client.js';

const RECOVERY_MS = 20_000;

async function redisServer(t: TestContext, options: RedisOptions = {}): Promise<RedisProcess> {
  const redis = await startRedis(options);
  t.after(() => redis.stop());
  return redis;
}

async function node(
  t: TestContext,
  redis: RedisProcess,
  durable = false,
): Promise<{ server: Switchboard; origin: string }> {
  const server = createSwitchboard({
    engine: new RedisEngine({ url: redis.url, prefix: 'outage:', durable }),
    // Nothing but the outage may end the held connections: long holds, no idle timeout.
    settings: { batchWindowMs: 2, holdTimeoutMs: 120_000 },
    websocket: { idleTimeoutMs: 120_000 },
  });
  server.on('warning', () => undefined);
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  return { server, origin: `http://127.0.0.1:${port}` };
}

interface Held {
  readonly lpioId: string;
  readonly poll: Promise<{ status: number; body: LpioReply }>;
  answered: boolean;
  readonly ws: RawWsClient;
  readonly wsId: string;
}

/** A held LPIO poll and an open WebSocket, both live on the node. */
async function holdBoth(t: TestContext, server: Switchboard, origin: string): Promise<Held> {
  const lpio = await openLpioSession(`${origin}/lpio`);
  const { client: ws, welcome } = await RawWsClient.connect(wsUrlOf(origin));
  t.after(() => ws.close());
  const held: Held = {
    lpioId: lpio.id,
    poll: lpioPost(`${origin}/lpio`, { messages: [] }, { 'lpio-client': lpio.id }),
    answered: false,
    ws,
    wsId: welcome.session as string,
  };
  void held.poll.finally(() => (held.answered = true));
  await liveConnections(server, 'lpio', 1);
  await liveConnections(server, 'websocket', 1);
  return held;
}

/** Kills Redis and waits for the node to answer a request with 503: the outage is seen. */
async function outage(redis: RedisProcess, origin: string): Promise<void> {
  await redis.kill();
  const down = await lpioPost(`${origin}/lpio`, {});
  assert.equal(down.status, 503);
  assert.equal((down.body.error as { code: string }).code, 'SB_ERR_ENGINE_UNAVAILABLE');
  assert.equal(down.headers.get('retry-after'), '1');
}

const LOST = { code: 4104, reason: 'lost', reconnect: true };

/** `hub.send`, retried while the engine is still reconnecting (SB_ERR_ENGINE_UNAVAILABLE, nothing queued). */
async function sendWhenBack(server: Switchboard, session: string, data: unknown): Promise<void> {
  const deadline = Date.now() + RECOVERY_MS;
  for (;;) {
    try {
      await server.send(session, data);
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'SB_ERR_ENGINE_UNAVAILABLE' || Date.now() > deadline)
        throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const restart of ['empty', 'from an older snapshot'] as const) {
  test(`Redis restarted ${restart}: the poll held and the socket open through the outage end with 4104 lost`, async (t) => {
    const redis = await redisServer(t);
    const { server, origin } = await node(t, redis);
    const held = await holdBoth(t, server, origin);
    if (restart === 'from an older snapshot') assert.equal(await redis.command('SAVE'), '+OK\r\n');
    // Sessions in the snapshot's past or not, the data Redis comes back with is not the node's.
    await server.send(held.wsId, 'before the outage');
    await held.ws.until(() => held.ws.data.length === 1);

    await outage(redis, origin);
    assert.equal(held.ws.closed, undefined, 'the socket stays while Redis is away');
    assert.equal(held.answered, false, 'the poll stays held while Redis is away');

    await redis.restart({ keepData: restart !== 'empty' });
    assert.deepEqual((await within(held.poll, RECOVERY_MS, 'the held poll')).body, {
      state: 0,
      messages: [],
      close: LOST,
    });
    assert.deepEqual(await held.ws.waitClosed(RECOVERY_MS), { code: 4104, reason: 'lost' });

    // And again to whoever comes back: the next poll, the next hello.
    const next = await lpioPost(`${origin}/lpio`, { messages: [] }, { 'lpio-client': held.lpioId });
    assert.deepEqual(next.body.close, LOST);
    assert.equal(typeof next.body.set?.address, 'string');
    const back = await RawWsClient.connect(wsUrlOf(origin), { session: held.wsId, last: 1 });
    t.after(() => back.client.close());
    assert.deepEqual([back.welcome.resumed, back.welcome.close], [false, LOST]);
  });
}

test('the SDK over WebSocket, connected through the outage, starts a new session announced with previous 4104', async (t) => {
  const redis = await redisServer(t);
  const { server, origin } = await node(t, redis);
  const client = createClient({
    url: wsUrlOf(origin),
    transport: 'websocket',
    WebSocket: WebSocket,
    backoff: { min: 10, max: 500 },
  });
  t.after(() => client.disconnect());
  const sessions: SessionInfo[] = [];
  client.on('session', (s) => sessions.push(s));
  client.connect();
  await until(() => client.state === 'connected' && sessions.length === 1, 'the first session');
  await liveConnections(server, 'websocket', 1);

  await outage(redis, origin);
  await redis.restart();
  await until(
    () => sessions.some((s) => s.previous !== undefined) && client.state === 'connected',
    'a new session after the loss',
    RECOVERY_MS,
  );
  const [first, second] = sessions as [SessionInfo, SessionInfo];
  assert.equal(sessions.length, 2);
  assert.deepEqual(second.previous, LOST);
  assert.equal(second.resumed, false);
  assert.notEqual(second.id, first.id);
});

test('with durable and appendfsync always, the same held poll and open socket go on after the restart', async (t) => {
  const redis = await redisServer(t, { appendfsyncAlways: true });
  const { server, origin } = await node(t, redis, true);
  const held = await holdBoth(t, server, origin);

  await outage(redis, origin);
  await redis.restart({ keepData: true });
  // Once Redis answers again, the application's messages reach the connections held all along.
  await sendWhenBack(server, held.lpioId, 'after');
  await sendWhenBack(server, held.wsId, 'after');
  assert.deepEqual((await within(held.poll, RECOVERY_MS, 'the held poll')).body, {
    state: 1,
    messages: [{ type: 'data', id: '1', data: 'after' }],
  });
  await held.ws.until(() => held.ws.data.length === 1, RECOVERY_MS);
  assert.deepEqual(held.ws.data[0], { type: 'data', data: 'after', id: 1 });
  assert.equal(held.ws.closed, undefined);
});
