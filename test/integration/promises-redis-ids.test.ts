/**
 * docs/errors.md: `sequence_exhausted` 4103, "every int32 message id was used", end to end on
 * both protocols. Reaching 2^31 - 1 by sending two billion messages is out of reach for a test,
 * and neither engine has a setting to start ids high; the Redis engine keeps a session's next id
 * in Redis (`<prefix><epoch>:s:<sid>`, field `st`, its first number), so the test moves that
 * counter to just below the end, in one atomic script, while the session is idle. Everything
 * else is the real server on a real redis-server: the last ids are delivered, then the session
 * ends with 4103 on the wire (also when messages still wait once the ids ran out), and the
 * client's next session starts again at 1. (The memory engine keeps the counter in process
 * memory with no way in: not reachable without a hook.)
 */
import { strict as assert } from 'node:assert';
import { after, before, test, type TestContext } from 'node:test';
import { INT32_MAX } from '../../src/core/types.js';
import { RedisEngine } from '../../src/engine/redis/index.js';
import { createSwitchboard, type Switchboard } from '../../src/index.js';
import { liveConnections, wsUrlOf } from '../helpers/parties.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { lpioPost, openLpioSession } from '../helpers/start-server.js';
import { RawWsClient } from '../helpers/ws-client.js';

let redis: RedisProcess;
let prefixes = 0;

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});

async function node(t: TestContext): Promise<{ server: Switchboard; prefix: string; origin: string }> {
  const prefix = `ids${++prefixes}:`;
  const server = createSwitchboard({
    engine: new RedisEngine({ url: redis.url, prefix }),
    settings: { batchWindowMs: 2, holdTimeoutMs: 30_000 },
  });
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  return { server, prefix, origin: `http://127.0.0.1:${port}` };
}

/** The bulk strings of a RESP array reply. */
function bulkStrings(reply: string): string[] {
  const lines = reply.split('\r\n');
  return lines.filter((_, i) => i > 0 && lines[i - 1]?.startsWith('$') === true);
}

const SET_NEXT_ID = `
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return redis.error_reply('no session state') end
redis.call('HSET', KEYS[1], 'st', ARGV[1] .. string.match(st, '^%d+(|.*)$'))
return 'OK'`;

/** Makes `next` the id the session's next new message gets. */
async function setNextId(prefix: string, session: string, next: number): Promise<void> {
  const keys = bulkStrings(await redis.command('KEYS', `${prefix}*:s:${session}`));
  assert.equal(keys.length, 1, `the session's state key: ${keys.join()}`);
  assert.equal(
    await redis.command('EVAL', SET_NEXT_ID, '1', keys[0] as string, String(next)),
    '$2\r\nOK\r\n',
  );
}

const EXHAUSTED = { code: 4103, reason: 'sequence_exhausted', reconnect: true };

test('websocket: the last int32 ids are delivered, then the socket closes with 4103, and the next session starts at 1', async (t) => {
  const { server, prefix, origin } = await node(t);
  const url = wsUrlOf(origin);
  const { client, welcome } = await RawWsClient.connect(url);
  t.after(() => client.close());
  const id = welcome.session as string;
  await setNextId(prefix, id, INT32_MAX - 1);

  await server.send(id, 'second to last');
  await client.until(() => client.data.length === 1);
  await server.send(id, 'last');
  await client.until(() => client.data.length === 2);
  await server.send(id, 'one too many');
  assert.deepEqual(await client.waitClosed(), { code: 4103, reason: 'sequence_exhausted' });
  assert.deepEqual(
    client.data.map((d) => [d.id, d.data]),
    [
      [INT32_MAX - 1, 'second to last'],
      [INT32_MAX, 'last'],
    ],
  );

  const back = await RawWsClient.connect(url, { session: id, last: INT32_MAX });
  t.after(() => back.client.close());
  assert.deepEqual([back.welcome.resumed, back.welcome.close], [false, EXHAUSTED]);
  await server.send(back.welcome.session as string, 'a new start');
  await back.client.until(() => back.client.data.length === 1);
  assert.deepEqual(back.client.data[0], { type: 'data', data: 'a new start', id: 1 });
});

test('websocket: a client resuming to a queue longer than the ids left gets the last ids, then 4103, not a silent stall', async (t) => {
  const { server, prefix, origin } = await node(t);
  const url = wsUrlOf(origin);
  const first = await RawWsClient.connect(url);
  const id = first.welcome.session as string;
  first.client.close();
  await liveConnections(server, 'websocket', 0);
  await setNextId(prefix, id, INT32_MAX - 1);
  for (const data of ['a', 'b', 'c']) await server.send(id, data);

  const { client } = await RawWsClient.connect(url, { session: id, last: 0 });
  t.after(() => client.close());
  assert.deepEqual(await client.waitClosed(), { code: 4103, reason: 'sequence_exhausted' });
  assert.deepEqual(
    client.data.map((d) => [d.id, d.data]),
    [
      [INT32_MAX - 1, 'a'],
      [INT32_MAX, 'b'],
    ],
  );
});

test('lpio: the last int32 ids are delivered, then the held poll is answered with close 4103, and the next request opens a fresh session', async (t) => {
  const { server, prefix, origin } = await node(t);
  const url = `${origin}/lpio`;
  const session = await openLpioSession(url);
  await setNextId(prefix, session.id, INT32_MAX - 1);
  for (const data of ['a', 'b', 'c']) await server.send(session.id, data);
  const poll = (acks: number[] = []) =>
    lpioPost(
      url,
      { messages: acks.map((n) => ({ type: 'ack', id: String(n) })) },
      { 'lpio-client': session.id },
    );

  const got = await poll();
  assert.deepEqual(got.body.messages, [
    { type: 'data', id: String(INT32_MAX - 1), data: 'a' },
    { type: 'data', id: String(INT32_MAX), data: 'b' },
  ]);
  const ended = await poll([INT32_MAX - 1, INT32_MAX]);
  assert.deepEqual(ended.body, { state: 0, messages: [], close: EXHAUSTED });
  const next = await poll();
  assert.deepEqual(next.body.close, EXHAUSTED);
  assert.notEqual(next.body.set?.address, session.address);
  await server.send(session.id, 'a new start');
  assert.deepEqual((await poll()).body.messages, [{ type: 'data', id: '1', data: 'a new start' }]);
});
