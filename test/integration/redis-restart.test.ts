/**
 * What a Switchboard node with the Redis engine does when Redis loses or rolls back its data:
 * restarted empty, restarted from an older RDB snapshot, flushed without a restart, and (the one
 * case where nothing is lost) restarted from an AOF written with `appendfsync always`. The
 * security property under test: nothing a node cached from the old data (decoded messages,
 * patterns) may answer for the new data, so a new direct message never arrives carrying the body
 * and sender of an old, private one. Raw LPIO over HTTP, a real redis-server per test.
 */
import { strict as assert } from 'node:assert';
import { test, type TestContext } from 'node:test';
import { RedisEngine, type RedisEngineOptions } from '../../src/engine/redis/index.js';
import { createSwitchboard } from '../../src/index.js';
import { startRedis, type RedisOptions, type RedisProcess } from '../helpers/redis.js';
import { lpioPost, type LpioReply } from '../helpers/start-server.js';
import { eventually } from '../helpers/until.js';

interface Session {
  readonly id: string;
  readonly address: string;
}

async function redisServer(t: TestContext, options: RedisOptions = {}): Promise<RedisProcess> {
  const redis = await startRedis(options);
  t.after(() => redis.stop());
  return redis;
}

/** One Switchboard node on `redis`; returns its LPIO URL. */
async function node(
  t: TestContext,
  redis: RedisProcess,
  options: Partial<RedisEngineOptions> = {},
  prefix = 'restart:',
): Promise<string> {
  const server = createSwitchboard({
    engine: new RedisEngine({ url: redis.url, prefix, ...options }),
    // A short hold, so a poll that should have received something comes back and says so.
    settings: { batchWindowMs: 2, holdTimeoutMs: 1_000 },
    demo: false,
  });
  // Redis going away and coming back is all a node may report here.
  const warnings: string[] = [];
  server.on('warning', (error) => warnings.push(error.code));
  const address = await server.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    await server.close();
    assert.deepEqual(
      warnings.filter((code) => code !== 'SB_ERR_ENGINE_UNAVAILABLE'),
      [],
      'no warning but the engine being unavailable',
    );
  });
  return `http://127.0.0.1:${address.port}/lpio`;
}

function data(id: string, channel: string, payload: unknown) {
  return { type: 'data', id, channel, data: payload };
}

const ack = (id: string) => ({ type: 'ack', id });

/**
 * One poll, repeated while the node answers 503 (Redis is away, or the node has not reconnected
 * yet). Retrying with the same message ids is what clients do, and dedupe makes it exactly-once.
 */
async function poll(url: string, id: string | undefined, messages: unknown[] = []): Promise<LpioReply> {
  let reply: Awaited<ReturnType<typeof lpioPost>> | undefined;
  await eventually(
    async () => {
      reply = await lpioPost(
        url,
        id === undefined ? {} : { messages },
        id === undefined ? {} : { 'lpio-client': id },
      );
      if (reply.status !== 200 && reply.status !== 503)
        throw new Error(`poll answered ${reply.status}: ${JSON.stringify(reply.body)}`);
      return reply.status === 200;
    },
    `a 200 from ${url} (the node answered 503 throughout)`,
    15_000,
  );
  return (reply as { body: LpioReply }).body;
}

async function open(url: string): Promise<Session> {
  const body = await poll(url, undefined);
  if (!body.set?.id || !body.set.address) throw new Error(`no session in ${JSON.stringify(body)}`);
  return { id: body.set.id, address: body.set.address };
}

/** A session id the node no longer has: the poll that presents it is told why and re-opens it. */
async function reopened(url: string, id: string): Promise<{ session: Session; close: LpioReply['close'] }> {
  const body = await poll(url, id);
  if (!body.set?.address) throw new Error(`session ${id} was not re-opened: ${JSON.stringify(body)}`);
  return { session: { id, address: body.set.address }, close: body.close };
}

/** Polls until a reply carries data messages (each poll held up to the hold timeout); returns them. */
async function received(
  url: string,
  id: string,
  messages: unknown[] = [],
): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + 10_000;
  let next = messages;
  for (;;) {
    const body = await poll(url, id, next);
    next = [];
    const got = (body.messages ?? []).filter((m) => m.type === 'data');
    if (got.length > 0) return got;
    if (body.close) throw new Error(`session ${id} ended instead: ${JSON.stringify(body.close)}`);
    if (Date.now() > deadline) throw new Error(`session ${id} received nothing`);
  }
}

/** What a recipient can see of a direct message: to, from, body. */
const seen = (messages: Array<Record<string, unknown>>) => messages.map((m) => [m.channel, m.sender, m.data]);

/**
 * Alice sends Bob a private message and Bob's poll receives it: the node has decoded (and cached)
 * it. `acks`: what Bob acks first, so earlier messages are not sent to him again.
 */
async function alicePrivatelyTellsBob(
  url: string,
  alice: Session,
  bob: Session,
  acks: unknown[] = [],
): Promise<void> {
  const bobGets = received(url, bob.id, acks);
  await poll(url, alice.id, [data('a1', bob.address, 'Alice to Bob: the vault code is 2468')]);
  assert.deepEqual(seen(await bobGets), [
    [bob.address, alice.address, 'Alice to Bob: the vault code is 2468'],
  ]);
}

/** Carol sends Mallory a direct message; Mallory must get exactly that, never anything of Alice's. */
async function carolTellsMallory(
  url: string,
  carol: Session,
  mallory: Session,
  acks: unknown[] = [],
): Promise<void> {
  const malloryGets = received(url, mallory.id, acks);
  await poll(url, carol.id, [data('c1', mallory.address, 'Carol to Mallory: hello')]);
  assert.deepEqual(seen(await malloryGets), [[mallory.address, carol.address, 'Carol to Mallory: hello']]);
}

test('Redis restarted empty: old sessions are told lost, and a new direct message carries its own body and sender, never a cached old one', async (t) => {
  const redis = await redisServer(t);
  const url = await node(t, redis);
  const alice = await open(url);
  const bob = await open(url);
  await alicePrivatelyTellsBob(url, alice, bob);

  await redis.restart();

  for (const old of [alice, bob]) {
    const { close } = await reopened(url, old.id);
    assert.deepEqual([close?.code, close?.reason], [4104, 'lost'], `session ${old.id} is reported lost`);
  }
  await carolTellsMallory(url, await open(url), await open(url));
});

test('Redis restarted from an older RDB snapshot: sessions of the old data are reported lost, not resumed from the past, and bodies are never mixed up', async (t) => {
  const redis = await redisServer(t);
  const url = await node(t, redis);
  const [alice, bob, carol, mallory] = [
    await open(url),
    await open(url),
    await open(url),
    await open(url),
  ] as [Session, Session, Session, Session];
  assert.equal(await redis.command('SAVE'), '+OK\r\n');
  await alicePrivatelyTellsBob(url, alice, bob);

  // A crash, and Redis comes back with the snapshot: every session exists again, as it was then.
  await redis.kill();
  await redis.restart({ keepData: true });

  const back: Session[] = [];
  for (const old of [alice, bob, carol, mallory]) {
    const { session, close } = await reopened(url, old.id);
    assert.deepEqual([close?.code, close?.reason], [4104, 'lost'], `session ${old.id} is reported lost`);
    back.push(session);
  }
  await carolTellsMallory(url, back[2] as Session, back[3] as Session);
});

test('with durable and appendfsync always, a Redis restart keeps every session, and later messages carry their own bodies', async (t) => {
  const redis = await redisServer(t, { appendfsyncAlways: true });
  const url = await node(t, redis, { durable: true });
  const alice = await open(url);
  const bob = await open(url);
  await alicePrivatelyTellsBob(url, alice, bob);

  await redis.kill();
  await redis.restart({ keepData: true });

  // Alice's poll resumes her session (no close, no new address) and sends again.
  const sent = await poll(url, alice.id, [data('a2', bob.address, 'Alice to Bob: second')]);
  assert.equal(sent.close, undefined, 'Alice resumes');
  assert.equal(sent.set, undefined);
  assert.deepEqual(sent.messages, [ack('a2')]);
  // Bob acks the first message and gets the second under the next id: his session went on.
  const got = await received(url, bob.id, [ack('1')]);
  assert.deepEqual(
    got.map((m) => [m.id, m.channel, m.sender, m.data]),
    [['2', bob.address, alice.address, 'Alice to Bob: second']],
  );
});

test('FLUSHALL without a restart: the nodes notice on their next call, drop their caches, and a subscription made afterwards is honoured', async (t) => {
  const redis = await redisServer(t);
  const [urlA, urlB] = [await node(t, redis), await node(t, redis)];
  const alice = await open(urlA);
  const bob = await open(urlA);
  // Patterns both nodes know, so their pattern versions are ahead of a flushed Redis.
  for (const [i, pattern] of ['/before/*', '/before/**', '/elsewhere'].entries()) {
    await poll(urlA, bob.id, [data(`s${i}`, '/meta/subscribe', pattern)]);
  }
  const bobGets = received(urlA, bob.id);
  await poll(urlA, alice.id, [data('p1', '/before/1', 'Alice to /before subscribers')]);
  assert.deepEqual(seen(await bobGets), [['/before/1', alice.address, 'Alice to /before subscribers']]);
  await alicePrivatelyTellsBob(urlA, alice, bob, [ack('1')]);

  assert.equal(await redis.command('FLUSHALL'), '+OK\r\n');

  const { close } = await reopened(urlA, bob.id);
  assert.deepEqual([close?.code, close?.reason], [4104, 'lost']);
  // Mallory subscribes through node B, to a pattern neither node knew; Carol publishes through A.
  const carol = await open(urlA);
  const mallory = await open(urlB);
  const subscribed = await poll(urlB, mallory.id, [data('s', '/meta/subscribe', '/after/*')]);
  assert.deepEqual(subscribed.messages, [ack('s')]);
  const malloryGets = received(urlB, mallory.id);
  await poll(urlA, carol.id, [data('p2', '/after/1', 'Carol to /after subscribers')]);
  assert.deepEqual(seen(await malloryGets), [['/after/1', carol.address, 'Carol to /after subscribers']]);
  await carolTellsMallory(urlA, carol, mallory, [ack('1')]);
});
