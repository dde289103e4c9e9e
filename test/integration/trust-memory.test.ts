/**
 * Every bound counts what is really held (issue 16 item 4): memory per full session, per session
 * of deep patterns and per full dedupe window, measured on the V8 heap after full collections,
 * against the bounds the docs state (docs/security.md, "Memory"); and the per-node memory budget
 * that refuses new sessions before the process would die. The margins are wide (the old code held
 * 6 to 20 times more), so the assertions do not depend on the machine.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { messageCost } from '../../src/core/memory-cost.js';
import { DEFAULT_SETTINGS } from '../../src/index.js';
import { lpioPost, openLpioSession, serve } from '../helpers/start-server.js';
import { RawWsClient } from '../helpers/ws-client.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function heapUsed(): Promise<number> {
  // Whatever the last await left to finish runs first (callbacks, then immediates); then two full collections.
  await new Promise((r) => setImmediate(r));
  gc();
  await new Promise((r) => setImmediate(r));
  gc();
  return process.memoryUsage().heapUsed;
}

test('a full queue of [{},{},…] payloads holds about its byte bound, not 20 times it', async (t) => {
  const server = await serve(t);
  const sessions = await Promise.all(
    Array.from({ length: 10 }, () => server.server.openSession('lpio', { user: undefined })),
  );
  // Arrays of empty objects just under maxMessageBytes: 3 bytes of JSON each, ~60 bytes parsed.
  const items = Math.floor((DEFAULT_SETTINGS.maxMessageBytes - 300) / 3);
  const before = await heapUsed();
  let queued = 0;
  for (const session of sessions) {
    for (;;) {
      const payload: unknown[] = Array.from({ length: items }, () => ({}));
      try {
        await server.server.send(session.id, payload);
        queued++;
      } catch (error) {
        assert.equal((error as { code?: string }).code, 'SB_ERR_QUEUE_FULL');
        break;
      }
    }
  }
  const perSession = ((await heapUsed()) - before) / sessions.length;
  // What each message is counted as: its JSON, its encoded copy once sent, and the overhead.
  const json = JSON.stringify(Array.from({ length: items }, () => ({})));
  const fits = Math.floor(DEFAULT_SETTINGS.maxQueueBytes / messageCost(json, json.length));
  assert.equal(queued, 10 * fits, `each queue took ${fits} messages`);
  assert.ok(
    perSession < 1.5 * DEFAULT_SETTINGS.maxQueueBytes,
    `a full session holds ${Math.round(perSession / 1024)} KiB for a bound of ${DEFAULT_SETTINGS.maxQueueBytes / 1024} KiB`,
  );
});

test('a session holding 100 patterns of 16 segments costs tens of kilobytes, not a megabyte', async (t) => {
  const server = await serve(t, { settings: { maxSessions: 1_000 } });
  const sessions = await Promise.all(
    Array.from({ length: 200 }, () => server.server.openSession('lpio', { user: undefined })),
  );
  const before = await heapUsed();
  for (const [s, session] of sessions.entries()) {
    const patterns = Array.from(
      { length: 100 },
      (_, p) => '/' + Array.from({ length: 16 }, (_, d) => `s${s}p${p}d${d}`.padEnd(14, 'x')).join('/'),
    );
    await server.server.subscribe(session.id, ...patterns);
  }
  const perSession = ((await heapUsed()) - before) / sessions.length;
  assert.ok(perSession < 150 * 1024, `one session's patterns hold ${Math.round(perSession / 1024)} KiB`);
});

test('a dedupe window full of 128-character ids holds less than dedupeWindowBytes', async (t) => {
  const server = await serve(t);
  const sessions = await Promise.all(Array.from({ length: 20 }, () => openLpioSession(server.lpioUrl)));
  const before = await heapUsed();
  // 2,400 ids of 320 bytes each (64 + 2 × 128) overflow the 409,600-byte window (1,280 of them);
  // 600 per request keep each request's acks within the pending-ack bound (half the window).
  for (const [s, session] of sessions.entries()) {
    for (let request = 0; request < 4; request++) {
      const messages = Array.from({ length: 600 }, (_, i) => ({
        type: 'data',
        id: `${s}.${request}.${i}.`.padEnd(128, 'q'),
        data: 0,
      }));
      const reply = await lpioPost(server.lpioUrl, { messages }, { 'lpio-client': session.id });
      assert.equal(reply.body.messages?.length, 600);
      assert.equal(reply.body.errors, undefined);
    }
  }
  const perSession = ((await heapUsed()) - before) / sessions.length;
  assert.ok(
    perSession < DEFAULT_SETTINGS.dedupeWindowBytes,
    `a full window holds ${Math.round(perSession / 1024)} KiB for a bound of ${DEFAULT_SETTINGS.dedupeWindowBytes / 1024} KiB`,
  );
});

test('past the memory budget new sessions are refused with 503 SB_ERR_OVERLOADED; open ones go on', async (t) => {
  const server = await serve(t, { settings: { memoryBudgetBytes: 1 } });
  const reply = await fetch(server.lpioUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(reply.status, 503);
  assert.equal(((await reply.json()) as { error: { code: string } }).error.code, 'SB_ERR_OVERLOADED');
  assert.equal(reply.headers.get('retry-after'), '5');
  const ws = await RawWsClient.open(`${server.origin.replace('http', 'ws')}/ws`);
  t.after(() => ws.close());
  ws.send({ type: 'hello' });
  assert.equal((await ws.next('error')).code, 'SB_ERR_OVERLOADED');
  // A session that exists goes on being served.
  await server.server.start();
  const open = await server.server.engine.openSession({
    id: 'existing-session-4f1c9a7e2b6d8035',
    address: 'existing-address',
    protocol: 'lpio',
    user: undefined,
  });
  await server.server.send(open.id, 'still served');
  const poll = await lpioPost(server.lpioUrl, { messages: [] }, { 'lpio-client': open.id });
  assert.deepEqual(
    poll.body.messages?.map((m) => m.data),
    ['still served'],
  );
});
