import { strict as assert } from 'node:assert';
import { on, once } from 'node:events';
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, afterEach, before, beforeEach, test, type TestContext } from 'node:test';
import { SwitchboardError } from './errors.js';
import {
  RequestDeadlines,
  errorHeaders,
  readBody,
  readJson,
  rejectUpgrade,
  requireContentType,
  sendError,
  sendJson,
} from './http.js';

// One real server for the file. Each test takes the next request (or upgrade) it causes.
type Exchange = { req: IncomingMessage; res: ServerResponse };
const waiting: Array<(exchange: Exchange) => void> = [];
const upgrades: Array<(socket: Duplex) => void> = [];
const sockets = new Set<Duplex>();
// What no test asked for is destroyed.
const server = createServer((req, res) => (waiting.shift() ?? (() => res.destroy()))({ req, res }));
server.on('connection', (socket: Socket) => sockets.add(socket));
server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
  sockets.add(socket);
  (upgrades.shift() ?? (() => socket.destroy()))(socket);
});
let port = 0;
let agent: Agent;

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
beforeEach(() => {
  // Keep-alive, so that a `connection: close` in a reply is the server's choice, not the client's.
  agent = new Agent({ keepAlive: true });
});
afterEach(() => {
  agent.destroy();
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  waiting.length = 0;
  upgrades.length = 0;
});
after(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});

const nextExchange = () => new Promise<Exchange>((resolve) => waiting.push(resolve));
const nextUpgrade = () => new Promise<Duplex>((resolve) => upgrades.push(resolve));
/** One turn of the event loop: promise reactions to what already happened have run. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

async function rawClient(): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  sockets.add(socket);
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** Writes a request (head and what there is of its body) on `client`; resolves with its exchange. */
function post(client: Socket, headers: string, body: string | Buffer = ''): Promise<Exchange> {
  const next = nextExchange();
  client.write(`POST / HTTP/1.1\r\nHost: x\r\n${headers}\r\n\r\n`);
  client.write(body);
  return next;
}
const CHUNKED = 'Transfer-Encoding: chunked';

/** Everything the server writes until it ends the connection. */
async function readToEnd(socket: Socket): Promise<string> {
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  await once(socket, 'end');
  return text;
}

/** Resolves once `req` has emitted `bytes` bytes (to whoever reads it). */
async function received(req: IncomingMessage, bytes: number): Promise<void> {
  let seen = 0;
  for await (const [chunk] of on(req, 'data')) if ((seen += (chunk as Buffer).length) >= bytes) return;
}

type Reply = { status: number; headers: IncomingMessage['headers']; body: string };

type Headers = Record<string, string>;
/** A keep-alive request from node's own client; `respond` answers it on the server. */
async function exchange(respond: (e: Exchange) => void, headers: Headers = {}): Promise<Reply> {
  const next = nextExchange();
  const req = request({ host: '127.0.0.1', port, method: 'POST', agent, headers });
  req.end();
  respond(await next);
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  let body = '';
  res.setEncoding('utf8');
  for await (const chunk of res) body += chunk as string;
  return { status: res.statusCode ?? 0, headers: res.headers, body };
}

/** What `fn` throws, or undefined. */
function thrownBy(fn: () => void): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Whether `promise` has settled, asked after a turn of the event loop. */
function watch(promise: Promise<unknown>): () => Promise<boolean> {
  let settled = false;
  const done = () => (settled = true);
  promise.then(done, done);
  return () => flush().then(() => settled);
}

/** readBody's four listeners are gone (the server itself listens to none of them). */
function unheard(req: IncomingMessage, what = 'all listeners removed'): void {
  assert.deepEqual(
    ['data', 'end', 'error', 'close'].map((e) => req.listenerCount(e)),
    [0, 0, 0, 0],
    what,
  );
}

/** Checks a refusal: its code, the status docs/errors.md gives it, and its message. */
function failsWith(code: string, status: number, message: RegExp, check?: (error: SwitchboardError) => void) {
  return (error: unknown) => {
    assert.ok(error instanceof SwitchboardError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.status, status);
    assert.match(error.message, message);
    check?.(error);
    return true;
  };
}

/** Mock timers, and a clock that moves with them. */
function mockClock(t: TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let clock = 5_000;
  const advance = (ms: number) => {
    clock += ms;
    t.mock.timers.tick(ms);
  };
  return { now: () => clock, advance };
}

test('RequestDeadlines: each deadline expires at its timeout, not before, unless stopped', (t) => {
  const clock = mockClock(t);
  const deadlines = new RequestDeadlines(1_000, clock.now);
  const expired: string[] = [];
  const expire = () => expired.push('shared');
  const first = deadlines.start(expire);
  const stopped = deadlines.start(expire); // the same function twice: two deadlines
  deadlines.start(() => expired.push('a'));
  stopped();
  clock.advance(400);
  deadlines.start(() => expired.push('later'));
  clock.advance(599);
  assert.deepEqual(expired, [], 'nothing before 1000 ms');
  clock.advance(1);
  assert.deepEqual(expired, ['shared', 'a'], 'the stopped one alone is gone');
  first(); // stopping an expired deadline is harmless
  clock.advance(399);
  assert.deepEqual(expired, ['shared', 'a']);
  clock.advance(1);
  assert.deepEqual(expired, ['shared', 'a', 'later']);
  clock.advance(10_000);
  assert.equal(expired.length, 3, 'each expires once');
});

test('RequestDeadlines: clear() drops the pending ones; 0 or less means no deadline', (t) => {
  const clock = mockClock(t);
  const deadlines = new RequestDeadlines(50, clock.now);
  let expired = 0;
  deadlines.start(() => expired++);
  deadlines.start(() => expired++);
  deadlines.clear();
  clock.advance(1_000);
  assert.equal(expired, 0, 'cleared');
  deadlines.start(() => expired++);
  clock.advance(50);
  assert.equal(expired, 1, 'a deadline after clear() still expires');
  for (const timeout of [0, -1]) {
    const none = new RequestDeadlines(timeout, clock.now);
    const stop = none.start(() => expired++);
    clock.advance(10 ** 9);
    assert.equal(expired, 1, `timeout ${timeout}: never expires`);
    stop();
    none.clear();
  }
});

test('readBody: a declared length at the limit is read, one byte over is refused before any byte', async () => {
  const client = await rawClient();
  let { req } = await post(client, 'Content-Length: 5', 'hello');
  assert.equal((await readBody(req, 5)).toString(), 'hello');
  unheard(req);
  ({ req } = await post(client, 'Content-Length: 6')); // and no body yet
  await assert.rejects(
    readBody(req, 5),
    failsWith('SB_ERR_PAYLOAD_TOO_LARGE', 413, /^the request body is over the limit of 5 bytes$/),
  );
  unheard(req, 'nothing was listened to');
});

test('readBody: an undeclared (chunked) body at the limit is read, one byte more is refused and reading stops', async () => {
  const client = await rawClient();
  let { req } = await post(client, CHUNKED, '3\r\nabc\r\n');
  let body = readBody(req, 5);
  await received(req, 3); // a second chunk, in a second read
  client.write('2\r\nde\r\n0\r\n\r\n');
  assert.equal((await body).toString(), 'abcde', 'the chunks, concatenated');
  unheard(req);

  // One chunk: the body is that chunk, not a copy.
  ({ req } = await post(client, CHUNKED, '4\r\nwxyz\r\n0\r\n\r\n'));
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  const single = await readBody(req, 5);
  assert.equal(chunks.length, 1);
  assert.equal(single, chunks[0]);

  ({ req } = await post(client, CHUNKED, '3\r\nabc\r\n'));
  body = readBody(req, 5);
  await received(req, 3);
  client.write('3\r\ndef\r\n0\r\n\r\n'); // and the end: a body not refused would be read
  await assert.rejects(body, failsWith('SB_ERR_PAYLOAD_TOO_LARGE', 413, /limit of 5 bytes/));
  assert.equal(req.isPaused(), true, 'reading stopped');
  unheard(req);
});

test('readBody: a body that stalls is refused at its deadline (408), saying how much came', async (t) => {
  const clock = mockClock(t);
  const deadlines = new RequestDeadlines(1_000, clock.now);
  const client = await rawClient();
  const { req, res } = await post(client, 'Content-Length: 10', 'abc');
  const body = readBody(req, 100, deadlines);
  const settled = watch(body);
  await received(req, 3);
  clock.advance(999);
  assert.equal(await settled(), false, 'still waiting before the deadline');
  clock.advance(1);
  assert.equal(await settled(), true, 'refused at the deadline');
  const failure: unknown = await body.catch((error: unknown) => error);
  const timedOut = /^the request body did not arrive in time \(3 of 10 bytes\)$/;
  failsWith('SB_ERR_REQUEST_TIMEOUT', 408, timedOut)(failure);
  assert.equal(req.isPaused(), true, 'reading stopped');
  unheard(req);
  // The reply closes the connection: the rest of the body is never read.
  const reply = readToEnd(client);
  sendError(res, failure);
  const text = await reply;
  assert.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(text, /\r\nconnection: close\r\n/i);
  assert.match(text, /"code":"SB_ERR_REQUEST_TIMEOUT"/);
});

test('readBody: the deadline of an undeclared body says "unknown"; a body read in time stops its deadline', async (t) => {
  const clock = mockClock(t);
  const deadlines = new RequestDeadlines(1_000, clock.now);
  let { req } = await post(await rawClient(), CHUNKED, '2\r\nab\r\n');
  const stalled = readBody(req, 100, deadlines);
  const settled = watch(stalled);
  await received(req, 2);
  clock.advance(1_000);
  assert.equal(await settled(), true, 'refused at the deadline');
  await assert.rejects(stalled, failsWith('SB_ERR_REQUEST_TIMEOUT', 408, /\(2 of unknown bytes\)$/));

  ({ req } = await post(await rawClient(), 'Content-Length: 2', 'ok'));
  assert.equal((await readBody(req, 100, deadlines)).toString(), 'ok');
  clock.advance(5_000);
  assert.equal(req.isPaused(), false, 'the deadline was stopped: it did not fire on the read request');
});

test('readBody: a client gone mid-body is a 400 with the socket error as its cause', async () => {
  const client = await rawClient();
  const { req } = await post(client, 'Content-Length: 10', 'abc');
  const body = readBody(req, 100);
  await received(req, 3);
  client.destroy();
  await assert.rejects(
    body,
    failsWith('SB_ERR_BAD_REQUEST', 400, /^the request body could not be read$/, (error) =>
      assert.equal((error.cause as NodeJS.ErrnoException).code, 'ECONNRESET'),
    ),
  );
  unheard(req);
});

test('readBody: a request destroyed without an error, before its end, rejects instead of waiting forever', async () => {
  const closedEarly = failsWith('SB_ERR_BAD_REQUEST', 400, /^the request body could not be read$/, (error) =>
    assert.match((error.cause as Error).message, /^the connection closed before the body was complete$/),
  );
  /** Destroys `req` (no error) and checks the body promise settled by the time it closed. */
  const destroy = async (req: IncomingMessage, body: Promise<Buffer>) => {
    const settled = watch(body);
    const closed = once(req, 'close');
    req.destroy();
    await closed;
    assert.equal(await settled(), true, 'settled on close');
    assert.equal(req.readableEnded, false, "no 'end'");
    await assert.rejects(body, closedEarly);
    unheard(req);
  };
  // The whole body has arrived (`complete`), but its 'end' is still to come when the request is
  // destroyed: 'close' comes without 'end' and without 'error'.
  let { req } = await post(await rawClient(), 'Content-Length: 5', 'hello');
  req.pause();
  await flush();
  assert.equal(req.complete, true);
  await destroy(req, readBody(req, 100));

  // Mid-body, the same.
  ({ req } = await post(await rawClient(), 'Content-Length: 10', 'abc'));
  const body = readBody(req, 100);
  await received(req, 3);
  await destroy(req, body);

  // Already closed when asked: no 'close' is coming either.
  const late = readBody(req, 100);
  assert.equal(await watch(late)(), true, 'settled at once');
  await assert.rejects(
    late,
    failsWith('SB_ERR_BAD_REQUEST', 400, /could not be read/, (error) =>
      assert.match((error.cause as Error).message, /^the request was destroyed before its body was read$/),
    ),
  );
  unheard(req, 'nothing was listened to');
});

test('readJson: parses a UTF-8 body split anywhere; bad JSON is 400, too large 413', async () => {
  const client = await rawClient();
  const json = Buffer.from('{"text":"héllo ✓"}');
  let { req } = await post(client, `Content-Length: ${json.length}`, json.subarray(0, 11)); // in é
  const parsed = readJson(req, json.length);
  await received(req, 11);
  client.write(json.subarray(11));
  assert.deepEqual(await parsed, { text: 'héllo ✓' });
  ({ req } = await post(client, 'Content-Length: 5', '{"a":'));
  await assert.rejects(readJson(req, 100), failsWith('SB_ERR_BAD_JSON', 400, /not valid JSON/));
  ({ req } = await post(client, 'Content-Length: 3', '[1]'));
  await assert.rejects(readJson(req, 2), failsWith('SB_ERR_PAYLOAD_TOO_LARGE', 413, /limit of 2 bytes/));
});

test('requireContentType: the media type alone counts, in any case; anything else is 415', async () => {
  const check = async (headers: Headers) => {
    let thrown: unknown;
    await exchange(({ req, res }) => {
      thrown = thrownBy(() => requireContentType(req, 'application/json'));
      res.end();
    }, headers);
    return thrown;
  };
  for (const type of ['application/json', 'Application/JSON; charset=utf-8', 'application/json ; x=1']) {
    assert.equal(await check({ 'content-type': type }), undefined, type);
  }
  const refused = (message: string) =>
    failsWith('SB_ERR_UNSUPPORTED_MEDIA_TYPE', 415, new RegExp(`^${message}$`));
  refused('Content-Type must be application/json, got none')(await check({}));
  for (const type of ['text/plain', 'application/json5', 'application/jsonx; charset=utf-8', '']) {
    refused(`Content-Type must be application/json, got "${type}"`)(await check({ 'content-type': type }));
  }
  refused('.*got "text/x{35}…" \\(105 characters\\)')(
    await check({ 'content-type': `text/${'x'.repeat(100)}` }),
  );
});

/** The headers every JSON reply has. */
function assertJsonReply(reply: Reply, status: number, body: string): void {
  assert.equal(reply.status, status);
  assert.equal(reply.body, body);
  assert.equal(reply.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(reply.headers['cache-control'], 'no-store');
  assert.equal(reply.headers['content-length'], String(Buffer.byteLength(body)));
}

test('sendJson: content type, no-store and the length in bytes; extra headers join them', async () => {
  const body = JSON.stringify({ word: 'héllo' });
  let reply = await exchange(({ res }) => sendJson(res, 201, body));
  assertJsonReply(reply, 201, body);
  assert.equal(reply.headers.connection, 'keep-alive');
  reply = await exchange(({ res }) => sendJson(res, 405, '{}', { allow: 'POST', 'x-extra': 'yes' }));
  assertJsonReply(reply, 405, '{}');
  assert.equal(reply.headers.allow, 'POST');
  assert.equal(reply.headers['x-extra'], 'yes');
});

test('sendJson: a response already answered or destroyed is left alone', async () => {
  let second: unknown = 'not called';
  const reply = await exchange(({ res }) => {
    sendJson(res, 200, '"first"');
    second = thrownBy(() => sendJson(res, 500, '"second"'));
  });
  assert.equal(second, undefined, 'no throw');
  assertJsonReply(reply, 200, '"first"');

  const { res } = await post(await rawClient(), 'Content-Length: 0');
  res.destroy();
  sendJson(res, 200, '{}');
  assert.equal(res.headersSent, false);
  assert.equal(res.writableEnded, false);
});

test('errorHeaders: close after 413 and 408, Retry-After when known or when the engine is away', () => {
  const headers = (code: ConstructorParameters<typeof SwitchboardError>[0], retryAfter?: number) =>
    errorHeaders(new SwitchboardError(code, 'x', retryAfter === undefined ? {} : { retryAfter }));
  const close = { connection: 'close' };
  assert.deepEqual(headers('SB_ERR_PAYLOAD_TOO_LARGE'), close);
  assert.deepEqual(headers('SB_ERR_TOO_MANY_MESSAGES'), close);
  assert.deepEqual(headers('SB_ERR_REQUEST_TIMEOUT'), close);
  assert.deepEqual(headers('SB_ERR_PAYLOAD_TOO_LARGE', 3), { ...close, 'retry-after': '3' });
  for (const code of ['SB_ERR_BAD_REQUEST', 'SB_ERR_FORBIDDEN', 'SB_ERR_HEADERS_TOO_LARGE'] as const) {
    assert.deepEqual(headers(code), {}, code);
  }
  assert.deepEqual(headers('SB_ERR_RATE_LIMITED', 7), { 'retry-after': '7' });
  assert.deepEqual(headers('SB_ERR_RATE_LIMITED', 0), { 'retry-after': '0' });
  assert.deepEqual(headers('SB_ERR_RATE_LIMITED'), {});
  assert.deepEqual(headers('SB_ERR_ENGINE_UNAVAILABLE'), { 'retry-after': '1' });
  assert.deepEqual(headers('SB_ERR_SHUTTING_DOWN'), { 'retry-after': '1' });
  assert.deepEqual(headers('SB_ERR_ENGINE_UNAVAILABLE', 9), { 'retry-after': '9' });
  assert.deepEqual(headers('SB_ERR_OVERLOADED', 5), { 'retry-after': '5' });
  assert.deepEqual(headers('SB_ERR_OVERLOADED'), {});
  assert.deepEqual(headers('SB_ERR_QUEUE_FULL'), {});
});

const errorBody = (code: string, message: string) => JSON.stringify({ error: { code, message } });

test('sendError: the status and {error: {code, message}}, with the error headers over the given ones', async () => {
  const big = new SwitchboardError('SB_ERR_PAYLOAD_TOO_LARGE', 'big');
  let reply = await exchange(({ res }) => sendError(res, big));
  assertJsonReply(reply, 413, errorBody('SB_ERR_PAYLOAD_TOO_LARGE', 'big'));
  assert.equal(reply.headers.connection, 'close');

  const notAllowed = new SwitchboardError('SB_ERR_METHOD_NOT_ALLOWED', 'POST only');
  reply = await exchange(({ res }) => sendError(res, notAllowed, { allow: 'POST' }));
  assertJsonReply(reply, 405, errorBody('SB_ERR_METHOD_NOT_ALLOWED', 'POST only'));
  assert.equal(reply.headers.allow, 'POST');
  assert.equal(reply.headers.connection, 'keep-alive');
  assert.equal(reply.headers['retry-after'], undefined);

  const closing = new SwitchboardError('SB_ERR_SHUTTING_DOWN', 'closing');
  reply = await exchange(({ res }) => sendError(res, closing, { 'retry-after': '60', 'x-a': 'b' }));
  assert.equal(reply.status, 503);
  assert.equal(reply.headers['retry-after'], '1', 'the error decides Retry-After');
  assert.equal(reply.headers['x-a'], 'b');

  reply = await exchange(({ res }) => sendError(res, new Error('secret detail')));
  assertJsonReply(reply, 500, errorBody('SB_ERR_INTERNAL', 'internal error'));
});

async function upgrading(): Promise<{ client: Socket; socket: Duplex }> {
  const client = await rawClient();
  const upgrade = nextUpgrade();
  client.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  return { client, socket: await upgrade };
}

/** What the client of an upgrade refused with `error` (twice, if asked) reads. */
async function refusedUpgrade(error: unknown, twice = false): Promise<string> {
  const { client, socket } = await upgrading();
  const reply = readToEnd(client);
  rejectUpgrade(socket, error);
  if (twice) rejectUpgrade(socket, new SwitchboardError('SB_ERR_FORBIDDEN', 'second'));
  return reply;
}

/** The exact bytes of a refused upgrade. */
function upgradeReply(status: string, code: string, message: string, extra = ''): string {
  const body = errorBody(code, message);
  return (
    `HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`
  );
}

test('rejectUpgrade: a whole HTTP reply on the raw socket, Retry-After kept, one Connection: close', async () => {
  const limited = new SwitchboardError('SB_ERR_RATE_LIMITED', 'slow down ✓', { retryAfter: 30 });
  assert.equal(
    await refusedUpgrade(limited),
    upgradeReply('429 Too Many Requests', 'SB_ERR_RATE_LIMITED', 'slow down ✓', 'retry-after: 30\r\n'),
  );
  assert.equal(
    await refusedUpgrade(new SwitchboardError('SB_ERR_REQUEST_TIMEOUT', 'too slow')),
    upgradeReply('408 Request Timeout', 'SB_ERR_REQUEST_TIMEOUT', 'too slow'),
  );
  assert.equal(
    await refusedUpgrade(new SwitchboardError('SB_ERR_SHUTTING_DOWN', 'closing')),
    upgradeReply('503 Service Unavailable', 'SB_ERR_SHUTTING_DOWN', 'closing', 'retry-after: 1\r\n'),
  );
  assert.equal(
    await refusedUpgrade('not an error', true),
    upgradeReply('500 Internal Server Error', 'SB_ERR_INTERNAL', 'internal error'),
    'a second call on the ended socket writes nothing',
  );
});

test('rejectUpgrade: a status without a reason phrase says "Error"; a destroyed socket is left alone', async () => {
  const odd = new SwitchboardError('SB_ERR_INTERNAL', 'odd');
  (odd as { status: number }).status = 599;
  assert.equal(await refusedUpgrade(odd), upgradeReply('599 Error', 'SB_ERR_INTERNAL', 'odd'));

  const { socket } = await upgrading();
  socket.destroy();
  rejectUpgrade(socket, new SwitchboardError('SB_ERR_FORBIDDEN', 'no'));
  assert.equal(socket.writableEnded, false, 'not written to');
  await flush(); // an 'error' on the socket (it has no listener) would fail the test
});
