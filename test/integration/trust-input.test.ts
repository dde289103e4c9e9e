/**
 * What bad input may cost and what it may read, against a real server on loopback: error answers
 * that quote only a short prefix and go through backpressure (issue 16 item 5), client-chosen ids
 * an attacker could guess (item 7), the smaller holes (item 9: deep nesting, `1e400`, bytes not
 * UTF-16 units, tombstones sized with the sessions), and an SDK that keeps to the limits the
 * server announces (item 10).
 */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { createClient, type Client } from '../../src/client/index.js';
import { lpioPost, openLpioSession, serve, type TestServer } from '../helpers/start-server.js';
import { until } from '../helpers/until.js';
import { RawWsClient } from '../helpers/ws-client.js';

const wsUrl = (server: TestServer) => `${server.origin.replace('http', 'ws')}/ws`;

test('an error answer quotes at most a short prefix of the bad input, on both protocols', async (t) => {
  const server = await serve(t);
  const huge = 'x'.repeat(900_000);
  const { client } = await RawWsClient.connect(wsUrl(server));
  t.after(() => client.close());
  client.send({ type: huge });
  const error = await client.next('error');
  assert.equal(error.code, 'SB_ERR_BAD_MESSAGE');
  assert.ok(JSON.stringify(error).length < 400, `the error frame is ${JSON.stringify(error).length} bytes`);
  client.send({ type: 'data', id: 'd', channel: huge.slice(0, 200_000), data: 1 });
  const refused = await client.next('error');
  assert.equal(refused.code, 'SB_ERR_NO_SESSION');
  assert.ok((refused.message as string).length < 400);
  // An error naming the messages of a refused frame names valid ids only, as many as a frame may carry.
  client.send(
    Array.from({ length: 1_500 }, (_, i) => ({ type: 'data', id: `${i}`.padStart(i % 2 ? 300 : 8, 'v') })),
  );
  const many = await client.next('error');
  assert.equal(many.code, 'SB_ERR_TOO_MANY_MESSAGES');
  assert.equal((many.ids as string[]).length, 750, 'the 750 ids of 8 characters; none of 300');

  const session = await openLpioSession(server.lpioUrl);
  const reply = await lpioPost(
    server.lpioUrl,
    { messages: [{ type: 'data', id: 'm', channel: huge.slice(0, 500_000), data: 1 }] },
    { 'lpio-client': session.id },
  );
  const errors = (reply.body as { errors?: Array<{ message: string }> }).errors ?? [];
  assert.equal(errors.length, 1);
  assert.ok((errors[0]?.message.length ?? Infinity) < 400);
  const type = await fetch(server.lpioUrl, {
    method: 'POST',
    headers: { 'content-type': `text/${'y'.repeat(8_000)}` },
    body: '{}',
  });
  assert.equal(type.status, 415);
  assert.ok((await type.text()).length < 500);
});

test('a client that sends and never reads is not read from once our answers back up', async (t) => {
  const server = await serve(t, { websocket: { highWaterBytes: 64 * 1024, slowTimeoutMs: 60_000 } });
  const { client } = await RawWsClient.connect(wsUrl(server));
  t.after(() => client.close());
  const socket = (client.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  socket.pause(); // never reads: what the server writes backs up on its side
  // A frame of 1,001 messages is refused as a whole with an error naming all 1,001 ids: its answer
  // is about as large as the frame. 400 of them are 60 MB each way, more than loopback buffers hold.
  const ids = Array.from({ length: 1_001 }, (_, i) => ({
    type: 'data',
    id: `${i}`.padStart(128, 'i'),
    data: 0,
  }));
  const frame = JSON.stringify(ids);
  for (let i = 0; i < 400; i++) client.ws.send(frame);
  // The same flood from a client that reads, at the same time: once all its answers are in, the
  // server has had the time to read all of the other one too, had it kept reading (a quarter of
  // it is not enough to tell: the server does not take turns that evenly). A server that kept
  // reading would have drained our send buffer (and held its answers in memory); one that
  // stopped leaves most of it here.
  const { client: reader } = await RawWsClient.connect(wsUrl(server));
  t.after(() => reader.close());
  for (let i = 0; i < 400; i++) reader.ws.send(frame);
  const errorsOf = (c: RawWsClient) => c.frames.filter((f) => f.type === 'error');
  await reader.until(
    () => errorsOf(reader).length === 400,
    60_000,
    'all 400 errors of the client that reads',
  );
  assert.ok(client.ws.bufferedAmount > 10_000_000, `still unsent here: ${client.ws.bufferedAmount} bytes`);
  socket.resume();
  // Once we read again, the server reads again and answers every frame.
  const errors = () => errorsOf(client);
  await client
    .until(() => errors().length === 400, 60_000, 'all 400 errors')
    .catch((error: Error) => {
      const state = `${errors().length} errors, ${client.ws.bufferedAmount} bytes unsent`;
      throw new Error(`${error.message} (${state})`);
    });
  assert.equal(errors()[0]?.code, 'SB_ERR_TOO_MANY_MESSAGES');
  assert.equal((errors()[0]?.ids as string[]).length, 1_000, 'as many ids as a frame may carry');
  assert.equal(client.closed, undefined);
});

test('a guessable id chosen by an anonymous client is refused (SB_ERR_WEAK_CLIENT_ID): nobody can claim "alice"', async (t) => {
  const server = await serve(t);
  const weak = await lpioPost(server.lpioUrl, { messages: [] }, { 'lpio-client': 'alice' });
  assert.deepEqual(
    [weak.status, weak.body.state, weak.body.error, weak.body.code],
    [200, 2, 'Bad client id.', 'SB_ERR_WEAK_CLIENT_ID'],
  );
  assert.equal(await server.server.session('alice'), undefined, 'no session was opened');
  const strong = randomUUID();
  const opened = await lpioPost(server.lpioUrl, { messages: [] }, { 'lpio-client': strong });
  assert.equal(typeof opened.body.set?.address, 'string', 'a random chosen id opens a session');
});

test('with an auth hook naming users, a chosen id is bound to its user; strict mode allows weak ids', async (t) => {
  const server = await serve(t, {
    auth: (request) => ({ user: request.headers.authorization ?? 'nobody' }),
    settings: { holdTimeoutMs: 200 },
  });
  const alice = await lpioPost(
    server.lpioUrl,
    { messages: [] },
    { 'lpio-client': 'alice', authorization: 'alice' },
  );
  assert.equal(typeof alice.body.set?.address, 'string', 'bound to its user, a short id is fine');
  const mallory = await lpioPost(
    server.lpioUrl,
    { messages: [] },
    { 'lpio-client': 'alice', authorization: 'mallory' },
  );
  assert.equal(mallory.status, 403, 'another user cannot claim it');

  const strict = await serve(t, { lpio: { strict: true } });
  const conformance = await lpioPost(strict.lpioUrl, { messages: [] }, { 'lpio-client': 'static-1' });
  assert.equal(conformance.body.state, 1, 'strict conformance mode accepts static test ids');
});

test('data nested 5,000 deep is refused with 400 SB_ERR_BAD_JSON on both protocols, not a 500', async (t) => {
  const server = await serve(t);
  const deep = `${'['.repeat(5_000)}${']'.repeat(5_000)}`;
  const session = await openLpioSession(server.lpioUrl);
  const body = `{"messages":[{"type":"data","id":"d","data":${deep}}]}`;
  const deepRes = await fetch(server.lpioUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'lpio-client': session.id },
    body,
  });
  assert.equal(deepRes.status, 400);
  assert.equal(((await deepRes.json()) as { error: { code: string } }).error.code, 'SB_ERR_BAD_JSON');
  const { client } = await RawWsClient.connect(wsUrl(server));
  t.after(() => client.close());
  client.send(`{"type":"data","id":"d","data":${deep}}`);
  assert.equal((await client.next('error')).code, 'SB_ERR_BAD_JSON');
  // 100 levels are fine.
  const ok = `${'['.repeat(100)}${']'.repeat(100)}`;
  client.send(`{"type":"data","id":"ok","data":${ok}}`);
  assert.deepEqual((await client.next('ack')).ids, ['ok']);
});

test('a number out of range (1e400) is refused, not silently turned into null', async (t) => {
  const server = await serve(t);
  const session = await openLpioSession(server.lpioUrl);
  const inbox: unknown[] = [];
  server.server.on('message', (m) => inbox.push(m.data));
  const res = await fetch(server.lpioUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'lpio-client': session.id },
    body: '{"messages":[{"type":"data","id":"n","data":{"price":1e400}}]}',
  });
  assert.equal(res.status, 400);
  const { error } = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(error.code, 'SB_ERR_BAD_JSON');
  assert.match(error.message, /1e400 is out of range/);
  const fine = await lpioPost(
    server.lpioUrl,
    { messages: [{ type: 'data', id: 'f', data: { price: 1e300 } }] },
    { 'lpio-client': session.id },
  );
  assert.deepEqual(fine.body.messages, [{ type: 'ack', id: 'f' }]);
  assert.deepEqual(inbox, [{ price: 1e300 }]);
});

test('maxMessageBytes counts UTF-8 bytes: 30,000 euro signs are 90,000 bytes, over 64 KiB', async (t) => {
  const server = await serve(t);
  const session = await openLpioSession(server.lpioUrl);
  const reply = await lpioPost(
    server.lpioUrl,
    { messages: [{ type: 'data', id: 'eur', data: '€'.repeat(30_000) }] },
    { 'lpio-client': session.id },
  );
  const errors = (reply.body as { errors?: Array<{ id: string; code: string }> }).errors;
  assert.deepEqual(
    errors?.map((e) => [e.id, e.code]),
    [['eur', 'SB_ERR_PAYLOAD_TOO_LARGE']],
  );
  await assert.rejects(server.server.send(session.id, '€'.repeat(30_000)), {
    code: 'SB_ERR_PAYLOAD_TOO_LARGE',
  });
});

test('tombstones are sized with the sessions: after a mass expiry every returning client is told why', async (t) => {
  const sessions = 12_000; // more than the 10,000 tombstones there used to be
  // The server's clock stands still while the sessions open, then jumps past their timeout:
  // all expire together, in the next sweep.
  let clock = 1_000_000;
  const server = await serve(t, {
    now: () => clock,
    settings: {
      maxSessions: sessions,
      inactivityTimeoutMs: 60_000,
      sweepIntervalMs: 20,
      touchIntervalMs: 60_000,
    },
  });
  assert.equal(server.server.settings.tombstones, sessions, 'tombstones default to maxSessions');
  let expired = 0;
  server.server.on('sessionClose', (_session, reason) => {
    if (reason.name === 'inactive') expired++;
  });
  const ids: string[] = [];
  for (let i = 0; i < sessions; i++)
    ids.push((await server.server.openSession('lpio', { user: undefined })).id);
  assert.equal(expired, 0);
  clock += 60_001;
  await until(() => expired === sessions, 'every session to expire');
  // The first session to expire is still remembered, with its reason.
  assert.deepEqual(await server.server.lookupSession(ids[0] as string), {
    status: 'closed',
    reason: 'inactive',
  });
  const back = await lpioPost(server.lpioUrl, { messages: [] }, { 'lpio-client': ids[0] as string });
  assert.equal(back.body.close?.reason, 'inactive');
});

async function connectedClient(
  t: { after(fn: () => unknown): void },
  url: string,
  transport: 'websocket' | 'lpio',
) {
  const client = createClient({
    url,
    transports: [transport],
    WebSocket: WebSocket,
    ackTimeout: 20_000,
    // These tests send bursts past the SDK's own outbox bounds (1,000 sends, 1 MiB) on purpose:
    // what is under test is the splitting by the server's limits, not those bounds.
    maxPending: 2_000,
    maxPendingBytes: 4 * 1024 * 1024,
  });
  t.after(() => client.disconnect());
  const ready = new Promise<void>((resolve) => client.on('connected', () => resolve()));
  client.connect();
  await ready;
  return client;
}

function countReconnects(client: Client): () => number {
  let n = 0;
  client.on('disconnected', () => n++);
  return () => n;
}

for (const transport of ['websocket', 'lpio'] as const) {
  test(`the SDK splits what it sends by the server's limits (${transport}): 1,001 sends in one turn all arrive`, async (t) => {
    const server = await serve(t);
    const inbox: unknown[] = [];
    server.server.on('message', (m) => inbox.push(m.data));
    const client = await connectedClient(t, server.origin, transport);
    const sent = await Promise.allSettled(Array.from({ length: 1_001 }, (_, i) => client.send(i)));
    assert.deepEqual(
      sent.flatMap((r): unknown[] => (r.status === 'rejected' ? [r.reason] : [])),
      [],
    );
    assert.equal(inbox.length, 1_001);
  });

  test(`the SDK splits what it sends by the server's limits (${transport}): 20 sends of 60 KB, no reconnect`, async (t) => {
    const server = await serve(t);
    const inbox: unknown[] = [];
    server.server.on('message', (m) => inbox.push(m.data));
    const client = await connectedClient(t, server.origin, transport);
    const reconnects = countReconnects(client);
    const big = 'b'.repeat(60_000);
    await Promise.all(Array.from({ length: 20 }, () => client.send(big)));
    assert.equal(inbox.length, 20);
    assert.equal(reconnects(), 0);
    // One message over the announced per-message limit is refused by the SDK itself.
    await assert.rejects(client.send('c'.repeat(70_000)), { code: 'SB_ERR_PAYLOAD_TOO_LARGE' });
  });
}

test('the SDK counts the acks it owes against the per-request limit (LPIO): nothing is refused', async (t) => {
  const server = await serve(t, { settings: { maxMessagesPerRequest: 10, batchWindowMs: 50 } });
  const inbox: unknown[] = [];
  server.server.on('message', (m) => inbox.push(m.data));
  const client = await connectedClient(t, server.origin, 'lpio');
  const received: unknown[] = [];
  client.on('message', (m) => received.push(m.data));
  // Ten messages arrive in one response: the next request owes ten acks, the whole limit.
  for (let i = 0; i < 10; i++) await server.server.send(client.id as string, i);
  await until(() => received.length === 10, 'ten messages');
  const sent = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => client.send(i)));
  assert.deepEqual(
    sent.flatMap((r): unknown[] => (r.status === 'rejected' ? [r.reason] : [])),
    [],
  );
  assert.equal(inbox.length, 5);
});
