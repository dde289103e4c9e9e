import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import { resolveSettings, type HubSettings } from '../../core/settings.js';
import { message, runEngineContract } from '../../../test/contract/engine.contract.js';
import { startRedis, type RedisProcess } from '../../../test/helpers/redis.js';
import { RedisEngine } from './redis-engine.js';
import { until } from '../../../test/helpers/until.js';

let redis: RedisProcess | undefined;
let prefixes = 0;

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

// A fresh key prefix per engine: each contract test sees an empty Redis of its own.
runEngineContract('redis', () => {
  if (!redis) throw new Error('redis-server did not start');
  return new RedisEngine({ url: redis.url, prefix: `contract${++prefixes}:` });
});

/** Two or more engines on one prefix: the nodes of one cluster. */
async function cluster(prefix: string, nodes = 2, settings: Partial<HubSettings> = {}) {
  if (!redis) throw new Error('redis-server did not start');
  const started = [];
  for (let i = 0; i < nodes; i++) {
    const engine = new RedisEngine({ url: redis.url, prefix });
    const seen = {
      wakes: [] as string[],
      closedHere: [] as Array<[string, string]>,
      closedElsewhere: [] as Array<[string, string]>,
      errors: [] as string[],
      wakeAll: 0,
    };
    await engine.start({
      limits: resolveSettings(settings),
      now: Date.now,
      counters: { count: () => undefined },
      events: {
        wake: (id) => seen.wakes.push(id),
        sessionClosed: (session, reason) => seen.closedHere.push([session.id, reason]),
        closedElsewhere: (id, reason) => seen.closedElsewhere.push([id, reason]),
        wakeAll: () => seen.wakeAll++,
        engineError: (error) => seen.errors.push(error.code),
      },
    });
    started.push({ engine, seen });
  }
  return started;
}

const takeAll = { resend: false, maxMessages: 100, maxBytes: 100_000 };

describe('redis engine across nodes', () => {
  test('a subscription made on one node is reached by a publish on another, which wakes the first', async () => {
    const [a, b] = (await cluster('x1:')) as [Node, Node];
    const id = 'session-1';
    await a.engine.openSession({ id, address: 'addr-1', protocol: 'lpio', user: undefined });
    await a.engine.subscribe(id, ['/room/*']);
    // b has not seen the pattern unless its event arrived; either way the publish must reach it.
    const result = await b.engine.publish('/room/1', message('hi', { path: '/room/1' }), undefined);
    assert.equal(result.queued, 1);
    await until(() => a.seen.wakes.includes(id), 'the wake-up on node a');
    const batch = await a.engine.take(id, takeAll);
    assert.deepEqual(
      batch.deliveries.map((d) => [d.id, JSON.parse(d.message.json) as unknown, d.message.path]),
      [[1, 'hi', '/room/1']],
    );
    await Promise.all([a.engine.close(), b.engine.close()]);
  });

  test('a close on one node ends the connection on the other; message states reach the sender node', async () => {
    const [a, b] = (await cluster('x2:')) as [Node, Node];
    const id = 'session-2';
    await a.engine.openSession({ id, address: 'addr-2', protocol: 'websocket', user: 'u' });
    const states: Array<[string, number | undefined]> = [];
    await a.engine.enqueue(
      id,
      message('tracked', { onState: (s, _at, mid) => states.push([s, mid]) }),
      'reject',
    );
    const [taken] = await b.engine.takeMany(
      [{ sessionId: id, resend: false, owner: 'c1', claim: true }],
      takeAll,
    );
    assert.equal(taken?.deliveries.length, 1);
    assert.equal(await b.engine.ackUpTo(id, 1), 1);
    await until(() => states.length === 3, 'states from node b');
    assert.deepEqual(states, [
      ['unsent', undefined],
      ['sent', 1],
      ['delivered', 1],
    ]);
    assert.equal(await b.engine.closeSession(id, 'terminated'), true);
    assert.deepEqual(b.seen.closedHere, [[id, 'terminated']]);
    await until(() => a.seen.closedElsewhere.length === 1, 'closedElsewhere on node a');
    assert.deepEqual(a.seen.closedElsewhere, [[id, 'terminated']]);
    assert.deepEqual(a.seen.closedHere, [], 'the application event fires once, on the closing node');
    await Promise.all([a.engine.close(), b.engine.close()]);
  });

  test('message bodies are freed once every recipient acked or dropped them', async () => {
    const [a] = (await cluster('x3:', 1)) as [Node];
    const ids = ['s-a', 's-b', 's-c'];
    for (const id of ids) {
      await a.engine.openSession({ id, address: `addr-${id}`, protocol: 'lpio', user: undefined });
      await a.engine.subscribe(id, ['/all']);
    }
    for (let i = 0; i < 5; i++) await a.engine.publish('/all', message(i, { path: '/all' }), undefined);
    const bodies = async () =>
      (await redis!.command('KEYS', 'x3:m:*')).split('\r\n').filter((l) => l.startsWith('x3:m:'));
    assert.equal((await bodies()).length, 5, 'one body per message, however many recipients');
    await a.engine.take('s-a', takeAll);
    await a.engine.ackUpTo('s-a', 5);
    await a.engine.take('s-b', takeAll);
    assert.equal((await bodies()).length, 5, 'still owed to s-b and s-c');
    await a.engine.ackUpTo('s-b', 3);
    await a.engine.closeSession('s-b', 'terminated');
    await a.engine.closeSession('s-c', 'terminated');
    assert.deepEqual(await bodies(), []);
    await a.engine.close();
  });

  test('Redis down: calls fail fast with SB_ERR_ENGINE_UNAVAILABLE; after a restart without data, sessions are reported lost', async () => {
    const [a] = (await cluster('x4:', 1, { inactivityTimeoutMs: 60_000 })) as [Node];
    await a.engine.openSession({ id: 'before', address: 'addr-before', protocol: 'lpio', user: undefined });
    await redis!.kill();
    await assert.rejects(a.engine.getSession('before'), { code: 'SB_ERR_ENGINE_UNAVAILABLE' });
    await assert.rejects(a.engine.publish('/x', message(1), undefined), {
      code: 'SB_ERR_ENGINE_UNAVAILABLE',
    });
    await redis!.restart();
    await until(() => a.seen.wakeAll > 0, 'the engine to reconnect', 10_000);
    assert.ok(a.seen.errors.includes('SB_ERR_ENGINE_UNAVAILABLE'), 'the lost connection was reported');
    assert.deepEqual(await a.engine.getSession('before'), { status: 'closed', reason: 'lost' });
    const fresh = await a.engine.openSession({
      id: 'after',
      address: 'addr-after',
      protocol: 'lpio',
      user: undefined,
    });
    assert.equal(fresh.status, 'open', 'service resumes');
    await a.engine.close();
  });
});

type Node = Awaited<ReturnType<typeof cluster>>[number];
