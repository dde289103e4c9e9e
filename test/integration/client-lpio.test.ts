/**
 * The client SDK against a real Switchboard over LPIO: sessions, routing, acks, timeouts, auth,
 * and exactly-once delivery across failed requests and a server restart.
 */
import * as assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import {
  createClient,
  type Client,
  type ClientError,
  type ClientEvents,
  type ClientMessage,
  type ClientOptions,
  type SessionInfo,
} from '../../src/client/index.js';
import { createSwitchboard, type Switchboard } from '../../src/index.js';
import { startServer } from '../helpers/start-server.js';
import { eventually, until } from '../helpers/until.js';
import { readAll } from '../helpers/read-all.js';

/** A client-chosen id as a client should make one: random (weak ones are refused, docs/security.md). */
const STATIC_ID = 'static-resume-9f2c41d7b8e35a60';

const FAST_BACKOFF = { min: 20, max: 200, factor: 2, jitter: 0 };

/**
 * Cleanups run last-registered first, so clients stop before their server closes (a client that
 * keeps polling keeps the server's keep-alive socket busy, and its close() waiting).
 */
function cleanups(t: TestContext): (fn: () => unknown) => void {
  const stack: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of stack.reverse()) await fn();
  });
  return (fn) => stack.push(fn);
}

/** Resolves with the next emission of `event` (rejects after `ms`). */
function next<E extends keyof ClientEvents>(client: Client, event: E, ms = 5_000): Promise<ClientEvents[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off(event, handler);
      reject(new Error(`no '${String(event)}' within ${ms} ms`));
    }, ms);
    const handler = (...args: ClientEvents[E]) => {
      clearTimeout(timer);
      client.off(event, handler);
      resolve(args);
    };
    client.on(event, handler);
  });
}

function inbox(client: Client): ClientMessage[] {
  const list: ClientMessage[] = [];
  client.on('message', (m) => list.push(m));
  return list;
}

async function connected(options: ClientOptions): Promise<Client> {
  const client = createClient({ backoff: FAST_BACKOFF, ...options });
  const ready = next(client, 'connected');
  client.connect();
  await ready;
  return client;
}

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeHttp(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Like startServer() but on an http.Server of our own, closed with closeAllConnections(): Node's
 * fetch (undici) opens a spare socket after an aborted request, and a socket that never sends a
 * request keeps server.close() waiting until headersTimeout (hold timeout + 10 s).
 */
async function startHub(
  port = 0,
): Promise<{ hub: Switchboard; lpioUrl: string; port: number; close(): Promise<void> }> {
  const hub = createSwitchboard();
  await hub.start();
  const http = createServer();
  hub.attach(http);
  const bound = await listen(http, port);
  return {
    hub,
    lpioUrl: `http://127.0.0.1:${bound}/lpio`,
    port: bound,
    close: async () => {
      await hub.close();
      await closeHttp(http);
    },
  };
}

/**
 * An HTTP proxy on loopback in front of `target`. `dropWhen` decides, per exchange, to let the
 * server process the request but kill the client's connection instead of answering: a lost response.
 */
async function startProxy(target: string) {
  const upstream = new URL(target);
  const state = {
    dropWhen: (_req: IncomingMessage, _body: string, _answer: string) => false,
    dropped: 0,
    /** Every request body that went through, in order. */
    bodies: [] as string[],
  };
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      state.bodies.push(body);
      const headers: Record<string, string> = {};
      for (const name of ['accept', 'content-type', 'lpio-client']) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, path: upstream.pathname, method: 'POST', headers },
        (answer) => {
          void readAll(answer).then((text) => {
            if (state.dropWhen(req, body, text)) {
              state.dropped++;
              req.socket.destroy();
              return;
            }
            res.writeHead(answer.statusCode ?? 502, { 'content-type': 'application/json' });
            res.end(text);
          });
        },
      );
      forward.on('error', () => req.socket.destroy());
      // The client gave up (aborted a held poll): end the upstream request too.
      res.on('close', () => forward.destroy());
      forward.end(body);
    })();
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}${upstream.pathname}`, state, close: () => closeHttp(server) };
}

void test('connect gets an id and an address, then "connected" and "session"', async (t) => {
  const defer = cleanups(t);
  const server = await startServer();
  defer(() => server.close());
  const client = createClient({ url: server.lpioUrl, transport: 'lpio' });
  defer(() => client.disconnect());
  const states: string[] = [];
  client.on('state', (s) => states.push(s));
  const session = next(client, 'session');
  const ready = next(client, 'connected');
  client.connect();
  const [info] = await session;
  await ready;
  assert.equal(client.state, 'connected');
  assert.equal(typeof client.id, 'string');
  assert.equal(typeof client.address, 'string');
  assert.notEqual(client.id, client.address);
  assert.deepEqual(info, { id: client.id, address: client.address, resumed: false });
  assert.deepEqual(states, ['connecting', 'connected']);
  client.disconnect();
  assert.equal(client.state, 'disconnected');
  assert.deepEqual(states, ['connecting', 'connected', 'disconnected']);
});

void test('two clients talk through a path and directly; a sender never gets its own message', async (t) => {
  const defer = cleanups(t);
  const server = await startHub();
  defer(() => server.close());
  const a = await connected({ url: server.lpioUrl });
  defer(() => a.disconnect());
  const b = await connected({ url: server.lpioUrl });
  defer(() => b.disconnect());
  const inA = inbox(a);
  const inB = inbox(b);
  await Promise.all([a.subscribe('/chat/*'), b.subscribe('/chat/*')]);

  const changes: string[] = [];
  a.on('messageState', (c) => changes.push(c.state));
  await a.send({ text: 'hello' }, { path: '/chat/room' });
  await until(() => inB.length === 1, 'b to get the path message', 5_000);
  assert.deepEqual(inB[0], { id: 1, data: { text: 'hello' }, path: '/chat/room', from: a.address });
  const sent = a.messages();
  assert.equal(sent.length, 1);
  assert.equal(sent[0]?.state, 'delivered');
  assert.equal(sent[0]?.attempts, 1);
  assert.deepEqual(changes, ['unsent', 'sent', 'delivered']);

  await b.send('psst', { to: a.address as string, urgent: true });
  await until(() => inA.length === 1, 'a to get the direct message', 5_000);
  assert.deepEqual(inA[0], { id: 1, data: 'psst', from: b.address });

  // An echo of a's own path message would have been queued for a before these direct ones
  // (psst was urgent and may overtake; these are not): once they are in, it is not coming.
  await b.send('marker for a', { to: a.address as string });
  await a.send('marker for b', { to: b.address as string });
  const arrived = (inbox: ClientMessage[], data: string) => inbox.some((m) => m.data === data);
  await until(() => arrived(inA, 'marker for a') && arrived(inB, 'marker for b'), 'the markers');
  assert.deepEqual(
    inA.map((m) => m.data),
    ['psst', 'marker for a'],
  );
  assert.deepEqual(
    inB.map((m) => m.data),
    [{ text: 'hello' }, 'marker for b'],
  );

  // Unsubscribed, a gets nothing more from the path: the direct message sent after it comes alone.
  await a.unsubscribe('/chat/*');
  await b.send('after', { path: '/chat/x' });
  await b.send('second marker for a', { to: a.address as string });
  await until(() => arrived(inA, 'second marker for a'), 'the second marker');
  assert.deepEqual(
    inA.map((m) => m.data),
    ['psst', 'marker for a', 'second marker for a'],
  );
});

void test('a send the server refuses rejects with the server code', async (t) => {
  const defer = cleanups(t);
  const server = await startServer();
  defer(() => server.close());
  const a = await connected({ url: server.lpioUrl });
  defer(() => a.disconnect());
  const errors: ClientError[] = [];
  a.on('error', (e) => errors.push(e));
  await assert.rejects(a.send('x', { to: 'nobody-has-this-address' }), { code: 'SB_ERR_NO_SESSION' });
  assert.equal(a.messages()[0]?.state, 'dropped');
  // The client keeps going.
  await a.send('fine', { path: '/chat/ok' });
  assert.deepEqual(errors, [], 'reported once: by the promise, not as an error event too');
});

void test('no ack within ackTimeout: retrying; none within deliveryTimeout: SB_ERR_DELIVERY_TIMEOUT', async (t) => {
  const defer = cleanups(t);
  // A server that accepts requests and never answers.
  const silent = createServer(() => {});
  const port = await listen(silent);
  defer(() => closeHttp(silent));
  const client = createClient({
    url: `http://127.0.0.1:${port}/lpio`,
    id: 'static-client',
    ackTimeout: 200,
    deliveryTimeout: 600,
  });
  defer(() => client.disconnect());
  const states: string[] = [];
  client.on('messageState', (change) => states.push(change.state));
  client.connect();
  await assert.rejects(client.send('anyone?'), (error: ClientError) => {
    assert.equal(error.code, 'SB_ERR_DELIVERY_TIMEOUT');
    assert.equal(error.message, `no ack for message ${client.messages()[0]?.id} within 600 ms`);
    assert.ok(error instanceof Error);
    return true;
  });
  assert.deepEqual(states, ['unsent', 'sent', 'retrying', 'dropped']);
  assert.equal(client.messages()[0]?.state, 'dropped');
  assert.equal(client.state, 'connecting');
});

void test('responseTimeout aborts the request, reports SB_ERR_RESPONSE_TIMEOUT and polls again', async (t) => {
  const defer = cleanups(t);
  let requests = 0;
  let aborted = 0;
  // Answers nothing, ever: only the client's own response timeout can end a request.
  const silent = createServer((req) => {
    requests++;
    req.socket.once('close', () => aborted++);
  });
  const port = await listen(silent);
  defer(() => closeHttp(silent));
  const client = createClient({
    url: `http://127.0.0.1:${port}/lpio`,
    id: 'static-client',
    responseTimeout: 100,
    backoff: FAST_BACKOFF,
  });
  defer(() => client.disconnect());
  const error = next(client, 'error');
  client.connect();
  const [failure] = await error;
  assert.equal(failure.code, 'SB_ERR_RESPONSE_TIMEOUT');
  await until(() => aborted >= 1, 'the client to abort the request it gave up on', 5_000);
  await until(() => requests >= 2, 'a new request after the timeout', 5_000);
});

void test('a static-id client resuming an existing session from a new process learns its address', async (t) => {
  const defer = cleanups(t);
  const server = await startServer({ settings: { holdTimeoutMs: 300 } });
  defer(() => server.close());
  const first = createClient({ url: server.lpioUrl, id: STATIC_ID, backoff: FAST_BACKOFF });
  const opened = next(first, 'session');
  first.connect();
  const [{ address, resumed }] = await opened;
  assert.equal(resumed, false);
  first.disconnect();

  const second = createClient({ url: server.lpioUrl, id: STATIC_ID, backoff: FAST_BACKOFF });
  defer(() => second.disconnect());
  const again = next(second, 'session');
  second.connect();
  assert.deepEqual(await again, [{ id: STATIC_ID, address, resumed: true }]);
  assert.equal(second.address, address);
});

void test('403 from the auth hook stops the client with SB_ERR_FORBIDDEN', async (t) => {
  const defer = cleanups(t);
  const seen: unknown[] = [];
  const server = await startServer({
    auth: (request) => {
      seen.push((request.body as { token?: unknown }).token, request.headers['x-token']);
      return false;
    },
  });
  defer(() => server.close());
  const client = createClient({
    url: server.lpioUrl,
    auth: () => ({ headers: { 'X-Token': 'h' }, body: { token: 'b' } }),
    backoff: FAST_BACKOFF,
  });
  defer(() => client.disconnect());
  const error = next(client, 'error');
  const pending = client.send('never');
  client.connect();
  const [failure] = await error;
  assert.equal(failure.code, 'SB_ERR_FORBIDDEN');
  assert.equal(failure.status, 403);
  assert.equal(client.state, 'disconnected');
  await assert.rejects(pending, { code: 'SB_ERR_FORBIDDEN' });
  assert.deepEqual(seen, ['b', 'h']);
});

void test('lost responses: messages are resent with the same ids and arrive exactly once, in order', async (t) => {
  const defer = cleanups(t);
  const server = await startServer();
  defer(() => server.close());
  const proxy = await startProxy(server.lpioUrl);
  defer(() => proxy.close());
  const ids = new Map<string, Set<string>>();
  server.server.on('message', (m) => {
    const set = ids.get(String(m.data)) ?? new Set();
    set.add(m.id);
    ids.set(String(m.data), set);
  });

  const receiver = await connected({ url: proxy.url, ackTimeout: 8_000 });
  defer(() => receiver.disconnect());
  const sender = await connected({ url: proxy.url, ackTimeout: 8_000 });
  defer(() => sender.disconnect());
  const got = inbox(receiver);
  await receiver.subscribe('/feed/*');

  // Lose the answers to the sender's first two requests that carry messages (the server did
  // process them), and the receiver's first two answers that carry messages (the server resends).
  let senderDrops = 0;
  let receiverDrops = 0;
  proxy.state.dropWhen = (req, body, answer) => {
    const who = req.headers['lpio-client'];
    if (who === sender.id && body.includes('"type":"data"') && senderDrops < 2) return ++senderDrops > 0;
    if (who === receiver.id && answer.includes('"type":"data"') && receiverDrops < 2)
      return ++receiverDrops > 0;
    return false;
  };
  const errors: string[] = [];
  sender.on('error', (e) => errors.push(e.code));

  const first = [1, 2, 3].map((n) => sender.send(`m${n}`, { path: '/feed/x' }));
  await Promise.all(first);
  const second = [4, 5, 6].map((n) => sender.send(`m${n}`, { path: '/feed/x' }));
  await Promise.all(second);
  await until(() => got.length >= 6, 'six messages', 5_000);
  // The proxy did lose four answers (else nothing here was tested).
  assert.equal(proxy.state.dropped, 4);
  // One more, with nothing lost: once it is in, a duplicate of the six would be in too.
  await sender.send('m7', { path: '/feed/x' });
  await until(() => got.length >= 7, 'the seventh message', 5_000);

  assert.deepEqual(
    got.map((m) => m.data),
    ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'],
  );
  const { counters } = await server.server.stats();
  assert.ok(counters.retransmits >= 2, `the server resent what the receiver lost (${counters.retransmits})`);
  assert.ok(
    counters.duplicates >= 1,
    `the server dropped what the sender sent again (${counters.duplicates})`,
  );
  assert.ok(errors.includes('SB_ERR_NETWORK'), `errors: ${errors.join()}`);
  assert.ok(sender.messages().some((m) => m.attempts > 1));
  assert.ok(sender.messages().every((m) => m.state === 'delivered'));
  // The server saw each message under one id only, though some came twice.
  for (let n = 1; n <= 7; n++) assert.equal(ids.get(`m${n}`)?.size, 1);
});

void test('server restart: clients report disconnected, get new sessions, re-subscribe and talk again', async (t) => {
  const defer = cleanups(t);
  let server = await startHub();
  const port = server.port;
  defer(() => server.close());
  const url = server.lpioUrl;
  const backoff = { min: 10, max: 80, factor: 2, jitter: 0 };
  const a = await connected({ url, backoff, ackTimeout: 3_000 });
  defer(() => a.disconnect());
  const b = await connected({ url, backoff, ackTimeout: 3_000 });
  defer(() => b.disconnect());
  await b.subscribe('/room/*');
  const oldAddress = b.address;

  const lost = next(b, 'disconnected');
  const sessions: SessionInfo[] = [];
  b.on('session', (s) => sessions.push(s));
  await server.close();
  await lost;
  assert.equal(b.state, 'connecting');

  server = await startHub(port);
  await until(() => b.state === 'connected' && a.state === 'connected', 'reconnection', 5_000);
  assert.equal(sessions.length, 1);
  assert.equal(sessions[0]?.resumed, false);
  assert.notEqual(b.address, oldAddress);

  const got = inbox(b);
  // b subscribes again by itself: wait until the new server has its subscription.
  const hub = server.hub;
  await eventually(
    async () => (await hub.engine.subscriptions(b.id as string)).includes('/room/*'),
    "b's subscription on the new server",
  );
  await a.send('after the restart', { path: '/room/1' });
  await until(() => got.length > 0, 'b to get a message after the restart');
  assert.deepEqual(
    got.map((m) => [m.from, m.data]),
    [[a.address, 'after the restart']],
  );
});

test('batch window: the first message after a quiet window goes at once, the next ones gather', async (t) => {
  const defer = cleanups(t);
  const server = await startHub();
  defer(() => server.close());
  const proxy = await startProxy(server.lpioUrl);
  defer(() => proxy.close());
  const opened = async () => (await server.hub.stats()).counters.connections_opened;
  const live = async () => (await server.hub.stats()).liveConnectionsByProtocol.lpio ?? 0;
  // A window far longer than the test: a message that leaves early was not held by it.
  const client = await connected({ url: proxy.url, batchWindow: 60_000, ackTimeout: 10_000 });
  defer(() => client.disconnect());
  const carried = () =>
    proxy.state.bodies
      .map((body) =>
        ((JSON.parse(body) as { messages?: Array<{ type: string; data?: unknown }> }).messages ?? [])
          .filter((m) => m.type === 'data')
          .map((m) => m.data),
      )
      .filter((data) => data.length > 0);
  await eventually(async () => (await live()) === 1, 'the first poll to be held');

  // The first message after a quiet window aborts the held poll and goes at once.
  const before = await opened();
  await client.send('first');
  assert.deepEqual(carried(), [['first']]);
  // Its request, then the next poll, are attached: the poll is held again.
  await eventually(async () => (await opened()) >= before + 2 && (await live()) === 1, 'the next poll');

  // The next ones, inside the window, wait for it; an urgent one goes at once and takes them along.
  const second = client.send('second');
  const third = client.send('third');
  const urgent = client.send('urgent', { urgent: true });
  await Promise.all([second, third, urgent]);
  assert.deepEqual(carried(), [['first'], ['second', 'third', 'urgent']]);
});
