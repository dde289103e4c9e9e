/**
 * The SDK's Client (src/client/client.ts) against a real server: the events it emits when the
 * connection drops and comes back, when the server ends a session for good or for a new one, the
 * states a message goes through when its requests fail, what a send puts on the wire, and the
 * fallback between transports (its order, what it carries over, what it remembers).
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { type Client, type ClientError, type SessionInfo } from '../../src/client/index.js';
import { testClient as client } from '../helpers/sdk-client.js';
import { serve } from '../helpers/start-server.js';
import { until } from '../helpers/until.js';
import { startWsTap } from '../helpers/ws-tap.js';

async function connected(c: Client): Promise<void> {
  if (c.state === 'disconnected') c.connect();
  await until(() => c.state === 'connected', 'connected');
}

/** Every emission of the client's lifecycle events, in order. */
function record(c: Client) {
  const log = {
    sessions: [] as SessionInfo[],
    disconnected: [] as Array<string | undefined>,
    connected: 0,
    errors: [] as ClientError[],
  };
  c.on('session', (s) => log.sessions.push(s));
  c.on('disconnected', (reason) => log.disconnected.push(reason));
  c.on('connected', () => log.connected++);
  c.on('error', (e) => log.errors.push(e));
  return log;
}

/** A promise the test resolves: what a gated hook waits for. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

test('a dropped connection: one disconnected, then the same session announced as resumed', async (t) => {
  const server = await serve(t, { settings: { batchWindowMs: 2 } });
  const tap = await startWsTap(Number(new URL(server.origin).port));
  t.after(() => tap.close());
  const c = client(t, { url: `${tap.origin}/ws`, transport: 'websocket', rotate: false });
  const log = record(c);
  await connected(c);
  const [opened] = log.sessions;
  assert.ok(opened);
  assert.equal(opened.resumed, false);
  tap.cut();
  await until(() => log.connected === 2, 'connected again');
  assert.equal(log.disconnected.length, 1, JSON.stringify(log.disconnected));
  assert.deepEqual(log.sessions, [opened, { id: opened.id, address: opened.address, resumed: true }]);
  assert.equal(c.id, opened.id);
});

test('while the server is down: one disconnected, however many attempts fail', async (t) => {
  const server = await serve(t);
  const c = client(t, { url: server.lpioUrl, backoff: { min: 1, max: 2, factor: 2, jitter: 0 } });
  const log = record(c);
  await connected(c);
  await server.close();
  // Each failed attempt is an error; the backoff is at its maximum after the second.
  await until(() => log.errors.filter((e) => e.code === 'SB_ERR_NETWORK').length >= 6, 'failed attempts');
  assert.equal(c.state, 'connecting');
  assert.equal(log.disconnected.length, 1, JSON.stringify(log.disconnected));
});

// Over WebSocket: the close reaches the client at once, while its send waits (LPIO would learn
// it only from the answer to the request that carries the send).
test('the server ends a connected session for good: one disconnected, pending sends dropped with the reason', async (t) => {
  const held = gate();
  t.after(held.open);
  const server = await serve(t, {
    settings: { batchWindowMs: 2 },
    // A publish to /held is not answered until the test says so: its send stays pending.
    authorize: async (action, target) => {
      if (action === 'publish' && target === '/held') await held.opened;
      return true;
    },
  });
  const c = client(t, { url: `${server.origin}/ws`, transport: 'websocket', ackTimeout: 10_000 });
  const log = record(c);
  await connected(c);
  const id = c.id as string;
  const pending = c.send('waits', { path: '/held' });
  await until(() => c.messages()[0]?.state === 'sent', 'the send on the wire');
  assert.equal(await server.server.closeSession(id), true);
  await assert.rejects(pending, (error: ClientError) => {
    assert.equal(error.code, 'SB_ERR_DROPPED');
    assert.equal(error.message, 'the server ended the session (not_allowed)');
    return true;
  });
  assert.equal(c.state, 'disconnected');
  assert.deepEqual(log.disconnected, ['not_allowed']);
});

test('a session refused as it opens: one disconnected though never connected, pending sends dropped', async (t) => {
  const server = await serve(t, { onSessionOpen: () => false });
  const c = client(t, { url: `${server.origin}/ws`, transport: 'websocket' });
  const log = record(c);
  const states: string[] = [];
  c.on('state', (s) => states.push(s));
  const pending = c.send('never');
  c.connect();
  await assert.rejects(pending, {
    code: 'SB_ERR_DROPPED',
    message: 'the server ended the session (not_allowed)',
  });
  assert.deepEqual(states, ['connecting', 'disconnected']);
  assert.deepEqual(log.disconnected, ['not_allowed']);
  assert.equal(log.connected, 0);
});

test('a send whose requests time out: sent, retrying once per failure, attempts counted, then delivered', async (t) => {
  const held = gate();
  t.after(held.open);
  const server = await serve(t, {
    // A request carrying "slow" waits for the test: the client's responseTimeout gives up on it.
    auth: async (request) => {
      if (JSON.stringify(request.body).includes('"slow"')) await held.opened;
      return true;
    },
  });
  const c = client(t, { url: server.lpioUrl, responseTimeout: 100, ackTimeout: 20_000 });
  await connected(c);
  // Each change with the attempts counted when it was told.
  const states: Array<[string, number]> = [];
  c.on('messageState', (change) =>
    states.push([change.state, c.messages().find((m) => m.id === change.id)?.attempts ?? -1]),
  );
  const sent = c.send('slow', { path: '/p' });
  // The third attempt is on the wire: two requests carrying it have timed out.
  await until(() => (c.messages()[0]?.attempts ?? 0) >= 3, 'a third attempt');
  held.open();
  await sent;
  const [done] = c.messages();
  assert.ok(done);
  assert.equal(done.state, 'delivered');
  // unsent; sent (attempt 1); retrying when its first request failed, before attempt 2 (not on
  // later failures: it is retrying already); retrying for each later attempt; delivered.
  assert.deepEqual(states, [
    ['unsent', 0],
    ['sent', 1],
    ['retrying', 1],
    ...Array.from({ length: done.attempts - 1 }, (_, i): [string, number] => ['retrying', i + 2]),
    ['delivered', done.attempts],
  ]);
});

test('what a send puts on the wire: reliable only when false, urgent only when true, the path', async (t) => {
  const server = await serve(t);
  const seen: unknown[] = [];
  server.server.on('message', (m) => seen.push([m.data, m.path, m.reliable, m.urgent]));
  const c = client(t, { url: server.lpioUrl });
  await connected(c);
  await c.send(1, { path: '/p', reliable: false });
  await c.send(2, { path: '/p', reliable: true, urgent: true });
  await c.send(3, { path: '/p' });
  // The server hands on the fields as the message carried them: absent ones are undefined.
  assert.deepEqual(seen, [
    [1, '/p', false, undefined],
    [2, '/p', undefined, true],
    [3, '/p', undefined, undefined],
  ]);
});
