/**
 * docs/errors.md "Close reasons", made to happen for real (small settings instead of waiting
 * minutes) and observed on the wire of both protocols:
 * - `superseded` 4000, `hold_timeout` 4001, `stale` 4002 and `timeout` 4004 end a connection and
 *   keep the session (LPIO: state 0 without `close`; WebSocket: the code and the name; the
 *   session resumes afterwards);
 * - `inactive` 4100 and `overflow` 4101 end the session and discard its queue (LPIO: `close` on
 *   the held poll or the next request; WebSocket: the close code, then `welcome.close`);
 * - `error` 4102 (a first WebSocket frame that is not hello) and `not_allowed` 4501 (the open
 *   hook refusing the session).
 * `slow` 4005 is made to happen in websocket-server.test.ts, `shutdown` 4003 in
 * promises-shutdown.test.ts, `sequence_exhausted` 4103 in promises-redis-ids.test.ts and `lost`
 * 4104 in promises-redis-outage.test.ts.
 */
import { strict as assert } from 'node:assert';
import { test, type TestContext } from 'node:test';
import type { SwitchboardOptions } from '../../src/index.js';
import { eventually, liveConnections, wsUrlOf } from '../helpers/parties.js';
import { lpioPost, openLpioSession, serve } from '../helpers/start-server.js';
import { RawWsClient } from '../helpers/ws-client.js';

async function server(t: TestContext, options: SwitchboardOptions) {
  const started = await serve(t, { ...options, settings: { batchWindowMs: 2, ...options.settings } });
  const ws = async (hello: { session?: string; last?: number } = {}) => {
    const opened = await RawWsClient.connect(wsUrlOf(started.origin), hello);
    t.after(() => opened.client.close());
    return opened;
  };
  const poll = (id: string, messages: unknown[] = []) =>
    lpioPost(started.lpioUrl, { messages }, { 'lpio-client': id });
  return { ...started, ws, poll };
}

const subscribe = (pattern: string) => ({
  type: 'data',
  id: `sub-${pattern}`,
  channel: '/meta/subscribe',
  data: pattern,
});

test('superseded (4000): a newer connection of the session replaces the old one, which is told; the session goes on', async (t) => {
  const hub = await server(t, { settings: { holdTimeoutMs: 30_000 } });
  const first = await hub.ws();
  const second = await hub.ws({ session: first.welcome.session as string, last: 0 });
  assert.equal(second.welcome.resumed, true);
  assert.deepEqual(await first.client.waitClosed(), { code: 4000, reason: 'superseded' });

  const lpio = await openLpioSession(hub.lpioUrl);
  const held = hub.poll(lpio.id);
  await liveConnections(hub.server, 'lpio', 1);
  const newer = hub.poll(lpio.id);
  assert.deepEqual((await held).body, { state: 0, messages: [] }, 'LPIO: state 0, the session did not end');
  await hub.server.send(lpio.id, 'to the newer poll');
  assert.deepEqual((await newer).body.messages, [{ type: 'data', id: '1', data: 'to the newer poll' }]);
});

test('hold_timeout (4001): a held LPIO poll with nothing to send is answered state 0 and the session stays', async (t) => {
  const hub = await server(t, { settings: { holdTimeoutMs: 100 } });
  const lpio = await openLpioSession(hub.lpioUrl);
  assert.deepEqual((await hub.poll(lpio.id)).body, { state: 0, messages: [] });
  const stats = await hub.server.stats();
  assert.equal(stats.counters.hold_timeouts, 1);
  assert.equal((await hub.server.session(lpio.id))?.address, lpio.address);
});

test('stale (4002): a connection with no I/O for staleAfterMs is culled; WebSocket sees 4002, LPIO state 0, and both sessions resume', async (t) => {
  const hub = await server(t, {
    settings: { staleAfterMs: 150, staleSweepMs: 25, holdTimeoutMs: 60_000 },
    // The idle timeout would close a silent socket first; keep-alives are not I/O of the session.
    websocket: { idleTimeoutMs: 60_000 },
  });
  const { client, welcome } = await hub.ws();
  const lpio = await openLpioSession(hub.lpioUrl);
  const held = await hub.poll(lpio.id);
  assert.deepEqual(held.body, { state: 0, messages: [] }, 'LPIO: state 0, no close');
  assert.deepEqual(await client.waitClosed(), { code: 4002, reason: 'stale' });
  const stats = await hub.server.stats();
  assert.equal(stats.counters.hold_timeouts, 0, 'not a hold timeout');
  assert.ok(stats.counters.stale_culled >= 2, `stale_culled ${stats.counters.stale_culled}`);

  const back = await hub.ws({ session: welcome.session as string, last: 0 });
  assert.deepEqual([back.welcome.resumed, back.welcome.close], [true, undefined], 'the session stayed');
  await hub.server.send(lpio.id, 'still there');
  const next = await hub.poll(lpio.id);
  assert.deepEqual(next.body, { state: 1, messages: [{ type: 'data', id: '1', data: 'still there' }] });
});

test('timeout (4004): a WebSocket client that sends nothing for idleTimeoutMs is closed, and resumes', async (t) => {
  const hub = await server(t, { websocket: { idleTimeoutMs: 200 } });
  const { client, welcome } = await hub.ws();
  assert.deepEqual(await client.waitClosed(), { code: 4004, reason: 'timeout' });
  const back = await hub.ws({ session: welcome.session as string, last: 0 });
  assert.equal(back.welcome.resumed, true);
});

const INACTIVE = { code: 4100, reason: 'inactive', reconnect: true };

test('inactive (4100): a session nobody reaches for inactivityTimeoutMs ends and its queue is discarded, on both protocols', async (t) => {
  const hub = await server(t, {
    settings: { inactivityTimeoutMs: 1_000, sweepIntervalMs: 20, touchIntervalMs: 100 },
  });
  const first = await hub.ws();
  const wsId = first.welcome.session as string;
  first.client.close();
  await liveConnections(hub.server, 'websocket', 0);
  const lpio = await openLpioSession(hub.lpioUrl);
  await hub.server.send(wsId, 'queued for the WebSocket session');
  await hub.server.send(lpio.id, 'queued for the LPIO session');
  await eventually(
    async () =>
      (await hub.server.session(wsId)) === undefined && (await hub.server.session(lpio.id)) === undefined,
    'both sessions to expire',
  );
  assert.equal((await hub.server.stats()).closeReasons.inactive, 2);

  const back = await hub.ws({ session: wsId, last: 0 });
  assert.equal(back.welcome.resumed, false);
  assert.deepEqual(back.welcome.close, INACTIVE);
  await hub.server.send(back.welcome.session as string, 'marker');
  await back.client.until(() => back.client.data.length > 0);
  assert.deepEqual(
    back.client.data.map((d) => [d.id, d.data]),
    [[1, 'marker']],
    'the old queue is gone; ids start at 1',
  );

  const reopened = await hub.poll(lpio.id);
  assert.deepEqual(reopened.body.close, INACTIVE);
  assert.notEqual(reopened.body.set?.address, lpio.address);
  assert.deepEqual(reopened.body.messages, []);
  await hub.server.send(lpio.id, 'marker');
  assert.deepEqual((await hub.poll(lpio.id)).body.messages, [{ type: 'data', id: '1', data: 'marker' }]);
});

const OVERFLOW = { code: 4101, reason: 'overflow', reconnect: true };

test('overflow (4101): a WebSocket subscriber that acks nothing past maxQueueMessages is closed with 4101 and told again on resume', async (t) => {
  const hub = await server(t, { settings: { maxQueueMessages: 3 } });
  const { client, welcome } = await hub.ws();
  client.send(subscribe('/flood'));
  await client.until(() => client.frames.some((f) => f.type === 'ack'));
  const results = [];
  for (let i = 1; i <= 4; i++) results.push(await hub.server.publish('/flood', i));
  assert.deepEqual(
    results.map((r) => r.overflowed),
    [0, 0, 0, 1],
  );
  assert.deepEqual(await client.waitClosed(), { code: 4101, reason: 'overflow' });
  const back = await hub.ws({ session: welcome.session as string, last: 3 });
  assert.deepEqual([back.welcome.resumed, back.welcome.close], [false, OVERFLOW]);
  assert.equal(
    (await hub.server.publish('/flood', 5)).matched,
    0,
    'the new session knows none of the old patterns',
  );
});

test('overflow (4101): an LPIO session overflowing while its poll is held is told on that poll and on the next request', async (t) => {
  const hub = await server(t, {
    settings: { maxQueueMessages: 3, batchWindowMs: 10, holdTimeoutMs: 30_000 },
  });
  const lpio = await openLpioSession(hub.lpioUrl);
  assert.deepEqual((await hub.poll(lpio.id, [subscribe('/flood')])).body.messages, [
    { type: 'ack', id: 'sub-/flood' },
  ]);
  const held = hub.poll(lpio.id);
  await liveConnections(hub.server, 'lpio', 1);
  // Four publishes within the batching window: the fourth finds the queue full before any is written.
  const results = [];
  for (let i = 1; i <= 4; i++) results.push(await hub.server.publish('/flood', i));
  assert.equal(results[3]?.overflowed, 1);
  assert.deepEqual((await held).body, { state: 0, messages: [], close: OVERFLOW });
  const next = await hub.poll(lpio.id);
  assert.deepEqual(next.body.close, OVERFLOW);
  assert.equal(typeof next.body.set?.address, 'string');
  assert.deepEqual(next.body.messages, [], 'nothing of the old queue');
});

test('error (4102): a first WebSocket frame that is not hello gets an error frame and close 4102; nothing is opened', async (t) => {
  const hub = await server(t, {});
  const opened: string[] = [];
  hub.server.on('sessionOpen', (s) => opened.push(s.id));
  const client = await RawWsClient.open(wsUrlOf(hub.origin));
  t.after(() => client.close());
  client.send({ type: 'ping' });
  assert.deepEqual(await client.waitClosed(), { code: 4102, reason: 'error' });
  assert.deepEqual(
    client.frames.map((f) => [f.type, f.code]),
    [['error', 'SB_ERR_BAD_REQUEST']],
  );
  assert.deepEqual(opened, []);
});

test('not_allowed (4501): the open hook refusing the session; WebSocket gets an error frame and 4501, LPIO 403, nothing stays open', async (t) => {
  const hub = await server(t, { onSessionOpen: () => false });
  const closed: string[] = [];
  hub.server.on('sessionClose', (s, reason) => closed.push(`${s.protocol}:${reason.name}:${reason.code}`));
  const client = await RawWsClient.open(wsUrlOf(hub.origin));
  t.after(() => client.close());
  client.send({ type: 'hello' });
  assert.deepEqual(await client.waitClosed(), { code: 4501, reason: 'not_allowed' });
  assert.deepEqual(
    client.frames.map((f) => [f.type, f.code]),
    [['error', 'SB_ERR_FORBIDDEN']],
  );

  for (const headers of [{}, { 'lpio-client': 'a-chosen-random-looking-id-Qx7Zk2Lm' }] as Record<
    string,
    string
  >[]) {
    const refused = await lpioPost(hub.lpioUrl, {}, headers);
    assert.equal(refused.status, 403);
    assert.equal((refused.body.error as { code: string }).code, 'SB_ERR_FORBIDDEN');
  }
  assert.deepEqual(closed, ['websocket:not_allowed:4501', 'lpio:not_allowed:4501', 'lpio:not_allowed:4501']);
  assert.deepEqual((await hub.server.stats()).sessionsByProtocol, {});
});
