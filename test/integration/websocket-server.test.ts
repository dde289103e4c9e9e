/**
 * The WebSocket protocol at /ws against real `ws` clients on loopback: sessions, routing, acks,
 * auth on upgrade, resume without loss or duplicates, keep-alives and the idle timeout, slow
 * consumers, supersede, and bad frames.
 */
import { strict as assert } from 'node:assert';
import { test, type TestContext } from 'node:test';
import { SwitchboardError, type SwitchboardOptions } from '../../src/index.js';
import { startServer } from '../helpers/start-server.js';
import { send } from '../helpers/from-address.js';
import { eventually } from '../helpers/until.js';
import { RawWsClient } from '../helpers/ws-client.js';

async function serve(t: TestContext, options: SwitchboardOptions = {}) {
  const started = await startServer({ settings: { batchWindowMs: 2 }, ...options });
  const url = started.origin.replace('http', 'ws') + '/ws';
  const clients: RawWsClient[] = [];
  t.after(async () => {
    for (const c of clients) c.close();
    await started.close();
  });
  const connect = async (
    hello: { session?: string; last?: number } = {},
    headers: Record<string, string> = {},
  ) => {
    const opened = await RawWsClient.connect(url, hello, headers);
    clients.push(opened.client);
    return opened;
  };
  return {
    server: started.server,
    origin: started.origin,
    url,
    connect,
    track: (c: RawWsClient) => clients.push(c),
  };
}

async function subscribe(client: RawWsClient, pattern: string, id = `sub-${pattern}`): Promise<void> {
  client.send({ type: 'data', id, channel: '/meta/subscribe', data: pattern });
  await client.until(() => client.frames.some((f) => f.type === 'ack' && (f.ids as string[]).includes(id)));
}

test('hello opens a session; paths, direct messages and the application see the right things', async (t) => {
  const { server, connect } = await serve(t);
  const inbox: unknown[] = [];
  server.on('message', (m) => inbox.push(m.data));
  const a = await connect();
  const b = await connect();
  assert.equal(a.welcome.resumed, false);
  assert.equal(typeof a.welcome.session, 'string');
  assert.notEqual(a.welcome.address, b.welcome.address);
  await subscribe(a.client, '/room/*');
  await subscribe(b.client, '/room/*');

  b.client.send([
    { type: 'data', id: 'm1', channel: '/room/1', data: { text: 'hi' } },
    { type: 'data', id: 'm2', channel: a.welcome.address, data: 'psst' },
    { type: 'data', id: 'm3', data: 'to the app' },
  ]);
  await a.client.until(() => a.client.data.length === 2, 5_000, 'two messages');
  assert.deepEqual(
    a.client.data.map((d) => [d.channel, d.sender, d.data]),
    [
      ['/room/1', b.welcome.address, { text: 'hi' }],
      [a.welcome.address, b.welcome.address, 'psst'],
    ],
  );
  assert.deepEqual(
    a.client.data.map((d) => d.id),
    [1, 2],
    'ids start at 1 and count up',
  );
  await b.client.until(() =>
    b.client.frames.some((f) => f.type === 'ack' && (f.ids as string[]).includes('m3')),
  );
  assert.deepEqual(inbox, [{ text: 'hi' }, 'psst', 'to the app']);
  // No echo to the sender: a message sent to b after its publish is the first b gets (an echo
  // would have been queued before it).
  await server.send(b.welcome.session as string, 'after the publish');
  await b.client.until(() => b.client.data.length > 0, 5_000, 'the message after the publish');
  assert.deepEqual(
    b.client.data.map((d) => d.data),
    ['after the publish'],
    'no echo to the sender',
  );
});

test('auth runs on the upgrade: 403 or 401 with a JSON body, and nothing is opened', async (t) => {
  const { server, url } = await serve(t, {
    auth: (req) => {
      const token = req.headers.authorization;
      if (token === undefined) throw new SwitchboardError('SB_ERR_UNAUTHORIZED', 'no credentials');
      return token === 'Bearer good' ? { user: 'ann' } : false;
    },
  });
  const opened: string[] = [];
  server.on('sessionOpen', (s) => opened.push(s.id));
  const refusedWith = (status: number, code: string) => (error: { status?: number; body?: string }) => {
    assert.equal(error.status, status);
    assert.equal((JSON.parse(error.body ?? '') as { error: { code: string } }).error.code, code);
    return true;
  };
  await assert.rejects(
    RawWsClient.open(url, { authorization: 'Bearer bad' }),
    refusedWith(403, 'SB_ERR_FORBIDDEN'),
  );
  await assert.rejects(RawWsClient.open(url), refusedWith(401, 'SB_ERR_UNAUTHORIZED'));
  assert.deepEqual(opened, []);

  const { client, welcome } = await RawWsClient.connect(url, {}, { authorization: 'Bearer good' });
  t.after(() => client.close());
  assert.equal((await server.session(welcome.session as string))?.user, 'ann');
});

test('resume after the socket is destroyed mid-stream: nothing lost, nothing twice, in order', async (t) => {
  const { server, connect } = await serve(t);
  const { client: first, welcome } = await connect();
  await subscribe(first, '/stream');
  const total = 500;
  const publishing = (async () => {
    for (let i = 1; i <= total; i++) {
      await server.publish('/stream', i);
      if (i % 25 === 0) await new Promise((r) => setImmediate(r));
    }
  })();
  await first.until(() => first.data.length >= 50, 5_000, 'some messages');
  first.ack();
  first.ws.terminate(); // no close frame: the server finds out from the socket
  const got = first.data.map((d) => ({ id: d.id, n: d.data as number }));
  await publishing;
  assert.ok(got.length < total, `the socket died mid-stream (${got.length} of ${total} received)`);

  const { client: second, welcome: again } = await connect({
    session: welcome.session as string,
    last: got[got.length - 1]?.id ?? 0,
  });
  assert.equal(again.resumed, true);
  assert.equal(again.session, welcome.session);
  await second.until(() => got.length + second.data.length >= total, 5_000, 'the rest');
  const all = [...got, ...second.data.map((d) => ({ id: d.id, n: d.data as number }))];
  assert.deepEqual(
    all.map((m) => m.n),
    Array.from({ length: total }, (_, i) => i + 1),
  );
  assert.deepEqual(
    all.map((m) => m.id),
    Array.from({ length: total }, (_, i) => i + 1),
    'ids carry across the resume',
  );
});

test('keep-alives keep a quiet connection up; a silent client is closed with timeout (4004)', async (t) => {
  const { server, connect } = await serve(t, { websocket: { idleTimeoutMs: 400, keepAliveMs: 100 } });
  const { client: alive, welcome } = await connect();
  assert.equal(welcome.keepAlive, 100);
  assert.equal(welcome.timeout, 400);
  const { client: silent } = await connect();
  const ping = setInterval(() => alive.send({ type: 'ping' }), 100);
  t.after(() => clearInterval(ping));
  const closed = await silent.waitClosed(3_000);
  assert.equal(closed.code, 4004);
  assert.equal(closed.reason, 'timeout');
  assert.ok(silent.frames.filter((f) => f.type === 'ping').length >= 2, 'the server sent keep-alives');
  assert.equal(alive.closed, undefined, 'the client that kept talking is still connected');
  assert.equal((await server.stats()).closeReasons.timeout, 1, 'the timeout is counted');
});

test('a client whose frames wait on a slow server is not timed out; every frame is processed', async (t) => {
  // The server, not the client, is slow: each publish waits in the authorize hook until the test
  // opens it, so the frames wait in the connection's chain while the client is quiet.
  let open = () => {};
  const gate = new Promise<void>((resolve) => (open = resolve));
  const { connect } = await serve(t, {
    websocket: { idleTimeoutMs: 300, keepAliveMs: 100 },
    authorize: async () => {
      await gate;
      return true;
    },
  });
  const { client } = await connect();
  const ids = Array.from({ length: 10 }, (_, i) => `slow-${i}`);
  for (const id of ids) client.send({ type: 'data', id, channel: '/nowhere', data: id });
  // A silent connection opened after those frames is closed for its idle timeout: by then the
  // client has been quiet for longer than that, with its frames still waiting.
  const { client: silent } = await connect();
  assert.deepEqual(await silent.waitClosed(), { code: 4004, reason: 'timeout' });
  assert.equal(client.closed, undefined, 'not closed as idle while its frames waited');
  open();
  const acked = () => new Set(client.frames.flatMap((f) => (f.type === 'ack' ? (f.ids as string[]) : [])));
  await client.until(() => ids.every((id) => acked().has(id)) || client.closed !== undefined, 5_000);
  assert.equal(client.closed, undefined, 'not closed afterwards either');
  assert.deepEqual([...acked()].sort(), [...ids].sort());
});

test('a newer connection of the same session supersedes the old one (4000); other tabs are untouched', async (t) => {
  const { connect } = await serve(t);
  const { client: old, welcome } = await connect();
  const { client: otherTab } = await connect();
  const { client: newer, welcome: resumed } = await connect({ session: welcome.session as string });
  assert.equal(resumed.resumed, true);
  const closed = await old.waitClosed();
  assert.equal(closed.code, 4000);
  assert.equal(closed.reason, 'superseded');
  // A round trip on each after the supersede: both are still served.
  for (const [name, client] of [
    ['the other tab', otherTab],
    ['the newer connection', newer],
  ] as const) {
    client.send({ type: 'data', id: `still-${name}`, data: 0 });
    await client.until(
      () => client.closed !== undefined || client.frames.some((f) => f.type === 'ack'),
      5_000,
      `an ack on ${name}`,
    );
    assert.equal(client.closed, undefined, `${name} is open`);
  }
});

test('an unknown or ended session is replaced by a new one, never by a client-chosen id', async (t) => {
  const { server, connect } = await serve(t);
  const { welcome } = await connect({ session: 'made-up-id' });
  assert.equal(welcome.resumed, false);
  assert.notEqual(welcome.session, 'made-up-id');
  const { client, welcome: first } = await connect();
  client.close();
  await server.closeSession(first.session as string);
  const { welcome: after } = await connect({ session: first.session as string });
  assert.equal(after.resumed, false);
  assert.deepEqual(after.close, { code: 4501, reason: 'not_allowed', reconnect: false });
});

test('bad frames get an error with a code and change nothing; the server stays up', async (t) => {
  const { server, url, connect, track } = await serve(t, { websocket: { maxPayload: 4096 } });
  const warnings: unknown[] = [];
  server.on('warning', (warning) => warnings.push(warning));
  const { client } = await connect();
  const errors = () => client.frames.filter((f) => f.type === 'error');
  const expectError = async (frame: string | object, code: string) => {
    const before = errors().length;
    client.send(frame);
    await client.until(() => errors().length > before, 5_000, code);
    assert.equal(errors()[before]?.code, code, JSON.stringify(frame));
  };
  await expectError('not json', 'SB_ERR_BAD_JSON');
  await expectError({ type: 'nope' }, 'SB_ERR_BAD_MESSAGE');
  await expectError({ type: 'ack', upTo: -1 }, 'SB_ERR_BAD_MESSAGE');
  await expectError({ type: 'ack', upTo: 'x' }, 'SB_ERR_BAD_MESSAGE');
  await expectError({ type: 'data', id: '', data: 1 }, 'SB_ERR_BAD_MESSAGE');
  await expectError({ type: 'data', id: 'no-data' }, 'SB_ERR_BAD_MESSAGE');
  await expectError({ type: 'data', id: 'p', channel: '/meta/secret', data: 1 }, 'SB_ERR_BAD_PATH');
  await expectError({ type: 'data', id: 'to', channel: 'nobody', data: 1 }, 'SB_ERR_NO_SESSION');
  // A frame with one message the core refuses processes the others; the refused one is named.
  const inbox: unknown[] = [];
  server.on('message', (m) => inbox.push(m.data));
  await expectError(
    [
      { type: 'data', id: 'ok', data: 'first' },
      { type: 'data', id: 'bad', channel: '/meta/x', data: 2 },
    ],
    'SB_ERR_BAD_PATH',
  );
  assert.deepEqual(errors().at(-1)?.ids, ['bad']);
  await client.until(() => inbox.length > 0, 5_000, 'the valid message');
  assert.deepEqual(inbox, ['first']);
  // A frame that cannot be read as a whole (malformed) processes none of it.
  await expectError(
    [
      { type: 'data', id: 'ok2', data: 'second' },
      { type: 'data', id: 'bad2' },
    ],
    'SB_ERR_BAD_MESSAGE',
  );
  // Frames are processed in order: once a valid one sent after it is in, so is all of that one.
  client.send({ type: 'data', id: 'after', data: 'after' });
  await client.until(() => inbox.length > 1, 5_000, 'the frame after the malformed one');
  assert.deepEqual(inbox, ['first', 'after']);
  assert.equal(client.closed, undefined, 'errors in frames do not close the connection');

  client.send('x'.repeat(5000));
  assert.equal((await client.waitClosed()).code, 1009, 'a frame over maxPayload closes with 1009');

  const { client: binary } = await connect();
  binary.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.equal((await binary.waitClosed()).code, 1003, 'binary frames close with 1003');

  const noHello = await RawWsClient.open(url);
  track(noHello);
  noHello.send({ type: 'data', id: '1', data: 1 });
  const refused = await noHello.next('error', 5_000, 0);
  assert.equal(refused.code, 'SB_ERR_BAD_REQUEST');
  assert.equal((await noHello.waitClosed()).code, 4102);

  const { welcome } = await connect();
  assert.equal(typeof welcome.session, 'string', 'the server still takes connections');
  assert.deepEqual(warnings, [], "a client's bad frames are not the server's warnings");
});

test('a hook that fails refuses the whole frame with 500, names no message (they may be sent again) and warns', async (t) => {
  const { server, connect } = await serve(t, {
    authorize: (action, target) => {
      if (action === 'publish' && target === '/boom') throw new Error('the hook broke');
      return true;
    },
  });
  const warnings: string[] = [];
  server.on('warning', (warning) => warnings.push(warning.code));
  const inbox: unknown[] = [];
  server.on('message', (m) => inbox.push(m.data));
  const { client } = await connect();
  client.send([
    { type: 'data', id: 'a', channel: '/fine', data: 1 },
    { type: 'data', id: 'b', channel: '/boom', data: 2 },
  ]);
  const error = await client.next('error', 5_000, 0);
  assert.equal(error.code, 'SB_ERR_INTERNAL');
  assert.equal(error.ids, undefined, "the server's failure is no refusal of these messages");
  assert.equal(
    String(error.message).includes('the hook broke'),
    false,
    'the cause is not told to the client',
  );
  assert.deepEqual(warnings, ['SB_ERR_INTERNAL']);
  client.send({ type: 'data', id: 'c', channel: '/fine', data: 3 });
  await client.until(() => client.frames.some((f) => f.type === 'ack' && (f.ids as string[]).includes('c')));
  assert.deepEqual(inbox, [3], 'nothing of the failed frame was processed');
  assert.equal(
    client.frames.some((f) => f.type === 'ack' && (f.ids as string[]).includes('a')),
    false,
    'nor acked',
  );
  assert.equal(client.closed, undefined);
});

test('a slow consumer is closed with slow (4005) and resumes with nothing reliable lost', async (t) => {
  const { server, connect } = await serve(t, {
    // 1,500 messages of 32 KB, each counted with its encoded frame (about 64 KB): room for all.
    settings: { batchWindowMs: 2, maxQueueMessages: 5_000, maxQueueBytes: 128 * 2 ** 20, maxUnacked: 5_000 },
    websocket: { highWaterBytes: 64 * 1024, slowTimeoutMs: 300, idleTimeoutMs: 60_000 },
  });
  const { client, welcome } = await connect();
  await subscribe(client, '/firehose');
  client.ws.pause(); // stop reading: the server's writes back up
  const payload = 'x'.repeat(32 * 1024);
  // ~48 MB: more than loopback socket buffers hold for a reader that never reads (Linux lets a
  // receive buffer grow to net.ipv4.tcp_rmem's max, 32 MB here, plus a 4 MB send buffer).
  const total = 1_500;
  for (let i = 1; i <= total; i++) {
    await server.publish('/firehose', { i, payload });
    if (i % 50 === 0) await new Promise((r) => setImmediate(r)); // let the flushes happen
  }
  // Blocked for slowTimeoutMs, the server lets it go (the close waits in the unread socket).
  await eventually(async () => (await server.stats()).closeReasons.slow === 1, 'the slow close');
  client.ws.resume();
  const closed = await client.waitClosed(10_000);
  assert.equal(closed.code, 4005);
  assert.equal(closed.reason, 'slow');
  assert.equal((await server.stats()).closeReasons.slow, 1);
  const before = client.data.map((d) => (d.data as { i: number }).i);
  assert.ok(before.length < total, 'the slow connection did not get everything');

  const { client: again, welcome: resumed } = await connect({
    session: welcome.session as string,
    last: client.lastId,
  });
  assert.equal(resumed.resumed, true);
  await again.until(() => before.length + again.data.length >= total, 10_000, 'the rest after resume');
  const all = [...before, ...again.data.map((d) => (d.data as { i: number }).i)];
  assert.deepEqual(
    all,
    Array.from({ length: total }, (_, i) => i + 1),
  );
});

test('a burst larger than a batch and than the unacked window still flows, paced by acks', async (t) => {
  const { server, connect } = await serve(t, {
    settings: { batchWindowMs: 2, maxBatchMessages: 5, maxUnacked: 20 },
  });
  const { client, welcome } = await connect();
  await subscribe(client, '/burst');
  const total = 100;
  for (let i = 1; i <= total; i++) await server.publish('/burst', i);
  // Without acks the server stops at the unacked window: it has taken (given ids to) 20, and the
  // other 80 wait unsent, so no more can be on their way.
  await client.until(() => client.data.length >= 20, 5_000, 'the first window');
  const queue = await server.inspect(welcome.session as string);
  assert.deepEqual([queue?.unacked.length, queue?.unsent.length], [20, 80]);
  assert.equal(client.data.length, 20, 'no more than maxUnacked in flight');
  // ...and each ack lets the next window go, batch after batch, with no new publish to wake it.
  while (client.data.length < total) {
    const before = client.data.length;
    client.ack();
    await client.until(() => client.data.length > before, 5_000, `more after ${before}`);
  }
  assert.deepEqual(
    client.data.map((d) => d.data),
    Array.from({ length: total }, (_, i) => i + 1),
  );
});

test('a consumer that falls behind is let go as slow before its queue overflows; unreliable goes first', async (t) => {
  const { server, connect } = await serve(t, {
    settings: { batchWindowMs: 2, maxQueueMessages: 200, maxQueueBytes: 64 * 2 ** 20, maxUnacked: 1_000 },
    // The timer would never fire here: the queue's pressure mark is what closes it.
    websocket: { highWaterBytes: 64 * 1024, slowTimeoutMs: 60_000, idleTimeoutMs: 60_000 },
  });
  const { client, welcome } = await connect();
  await subscribe(client, '/lag');
  client.ws.pause();
  // 190 × 48 KiB: more than loopback socket buffers hold for a reader that does not read, so the
  // socket backs up; 190 is past the pressure mark (150) and under the hard bound (200).
  const payload = 'x'.repeat(48 * 1024);
  const total = 190;
  for (let i = 1; i <= total; i++) {
    await server.publish('/lag', { i, payload }, { reliable: i % 4 !== 0 });
    await new Promise((r) => setImmediate(r)); // let each flush happen, as a live stream would
  }
  client.ws.resume();
  const closed = await client.waitClosed(10_000);
  assert.equal(closed.code, 4005);
  assert.equal(closed.reason, 'slow');
  const stats = await server.stats();
  assert.equal(stats.closeReasons.overflow ?? 0, 0, 'the session was not ended');
  assert.ok((stats.counters.discarded ?? 0) > 0, 'unreliable messages were dropped under pressure');

  const { client: again } = await connect({
    session: welcome.session as string,
    ...(client.lastId > 0 && { last: client.lastId }),
  });
  const reliable = Array.from({ length: total }, (_, i) => i + 1).filter((i) => i % 4 !== 0);
  const numbers = () => [...client.data, ...again.data].map((d) => (d.data as { i: number }).i);
  await again.until(() => reliable.every((i) => numbers().includes(i)), 10_000, 'every reliable message');
  const got = numbers();
  assert.deepEqual(
    got.filter((i) => i % 4 !== 0),
    reliable,
    'every reliable message once, in order',
  );
  assert.ok(got.length < total, 'some unreliable ones were dropped');
});

test('a client flooding 5,000 frames at once: every one is processed and acked, in order, on an open connection', async (t) => {
  const { server, connect } = await serve(t);
  const inbox: number[] = [];
  server.on('message', (m) => inbox.push(m.data as number));
  const { client } = await connect();
  const total = 5_000;
  for (let i = 1; i <= total; i++) client.send({ type: 'data', id: `f${i}`, data: i });
  await client.until(
    () => client.frames.filter((f) => f.type === 'ack').flatMap((f) => f.ids as string[]).length >= total,
    20_000,
    'every ack',
  );
  assert.deepEqual(
    inbox,
    Array.from({ length: total }, (_, i) => i + 1),
  );
  assert.equal(client.closed, undefined);
});

test('the wire is lean: no seq frame between consecutive ids, no ack frame without ids', async (t) => {
  const { server, connect } = await serve(t);
  const { client, welcome } = await connect();
  const session = welcome.session as string;
  const from = client.frames.length;
  client.send({ type: 'data', id: 'up1', data: 'to the app' });
  await client.until(() => client.frames.some((f) => f.type === 'ack'));
  for (const text of ['a', 'b', 'c']) await server.send(session, text);
  await client.until(() => client.data.length === 3, 5_000, 'three messages');
  const after = client.frames.slice(from);
  assert.deepEqual(
    after.map((f) => f.type),
    ['ack', 'seq', 'data', 'data', 'data'],
    'the first id is announced, 2 and 3 follow without one; messages without acks carry no ack frame',
  );
  assert.deepEqual(after[0]?.ids, ['up1']);
  assert.equal(after[1]?.next, 1);
  assert.deepEqual(
    client.data.map((d) => [d.id, d.data]),
    [
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ],
  );
  // Resumed having taken only 1: the tail comes again from 2, announced once.
  client.close();
  const resumed = await connect({ session, last: 1 });
  await resumed.client.until(() => resumed.client.data.length === 2, 5_000, 'the unacked tail');
  const frames = resumed.client.frames.filter((f) => f.type !== 'welcome');
  assert.deepEqual(
    frames.map((f) => f.type),
    ['seq', 'data', 'data'],
  );
  assert.equal(frames[0]?.next, 2);
  assert.deepEqual(
    resumed.client.data.map((d) => [d.id, d.data]),
    [
      [2, 'b'],
      [3, 'c'],
    ],
  );
});

test('a client gone while its hello was processed is not attached: nothing of it stays live', async (t) => {
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  let opened = 0;
  const { server, origin, url, connect } = await serve(t, {
    settings: { batchWindowMs: 2, maxSocketsPerAddress: 1 },
    // The first session's open waits until its client has gone.
    onSessionOpen: async () => {
      if (opened++ === 0) await held;
      return undefined;
    },
  });
  const client = await RawWsClient.open(url, {}, { localAddress: '127.0.0.5' });
  client.send({ type: 'hello' });
  await eventually(() => Promise.resolve(opened === 1), 'the hello to reach the open hook');
  client.close();
  // The server has seen the socket close once its address's one socket slot is free again.
  const health = () =>
    send('127.0.0.5', `${origin}/healthz`, { method: 'GET' }).then(
      (answer) => answer.status === 200,
      () => false, // refused: the slot is still taken
    );
  await eventually(health, "the server to see the client's socket close");
  release();
  // Another client's whole hello, after the first one's has finished.
  await connect();
  assert.equal((await server.stats()).liveConnectionsByProtocol.websocket, 1, 'only the second client');
});

test('a resume whose unacked tail is longer than a batch gets all of it again, in order, before anything new', async (t) => {
  const { server, connect } = await serve(t, { settings: { batchWindowMs: 2, maxBatchMessages: 3 } });
  const { client, welcome } = await connect();
  const session = welcome.session as string;
  for (let i = 1; i <= 10; i++) await server.send(session, `m${i}`);
  await client.until(() => client.data.length === 10, 5_000, 'ten messages');
  // Gone without acking: the client saw nothing past 2 (its writes were lost, say).
  client.close();
  const resumed = await connect({ session, last: 2 });
  await resumed.client.until(() => resumed.client.data.length === 8, 5_000, 'the tail after 2');
  await server.send(session, 'new');
  await resumed.client.until(() => resumed.client.data.length === 9, 5_000, 'then the new one');
  assert.deepEqual(
    resumed.client.data.map((d) => [d.id, d.data]),
    [3, 4, 5, 6, 7, 8, 9, 10].map((id) => [id, `m${id}`]).concat([[11, 'new']]),
  );
});
