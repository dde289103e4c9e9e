/**
 * The SDK's LPIO transport step by step, against a real node:http server on loopback whose every
 * answer the test writes by hand: each request is held until the test answers it, so what the
 * client puts on the wire (ids, acks, `seq`, `describe`, headers) and what it does with each kind
 * of answer (an aborted poll, a 503, a 429 with Retry-After, a state 0, 2 or 3, a 401, a session ended or replaced,
 * refused messages, limits) are read one request at a time.
 */
import { strict as assert } from 'node:assert';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { createClient, type Client, type ClientError, type ClientOptions } from '../../src/client/index.js';
import { until } from '../helpers/until.js';
import { readAll } from '../helpers/read-all.js';

interface WireMessage {
  readonly type: string;
  readonly id: string;
  readonly data?: unknown;
}

interface Held {
  readonly body: { seq?: string; describe?: boolean; messages: WireMessage[] };
  readonly headers: IncomingHttpHeaders;
  /** The client aborted it before it was answered. */
  aborted: boolean;
  answer(value: unknown, status?: number, headers?: Record<string, string>): void;
}

const ID = 'scripted-session-Qw3rTy7uIoP9aSdF';

/** A server that holds every request until the test answers it. */
async function scripted(t: TestContext): Promise<{ url: string; requests: Held[] }> {
  const requests: Held[] = [];
  const server = createServer((req, res) => {
    void readAll(req).then((text) => {
      let answered = false;
      const held: Held = {
        body: JSON.parse(text) as Held['body'],
        headers: req.headers,
        aborted: false,
        answer(value, status = 200, headers = {}) {
          answered = true;
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(typeof value === 'string' ? value : JSON.stringify(value));
        },
      };
      res.on('close', () => {
        if (!answered) held.aborted = true;
      });
      requests.push(held);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/lpio`, requests };
}

function lpio(t: TestContext, options: Partial<ClientOptions> & { url: string }): Client {
  const c = createClient({
    transport: 'lpio',
    backoff: { min: 5, max: 1_000, jitter: 0 },
    ackTimeout: 60_000,
    responseTimeout: 60_000,
    ...options,
  });
  t.after(() => c.disconnect());
  return c;
}

async function request(requests: Held[], n: number): Promise<Held> {
  await until(() => requests.length > n, `request ${n}`);
  return requests[n] as Held;
}

const data = (held: Held) => held.body.messages.filter((m) => m.type === 'data').map((m) => m.data);
const acks = (held: Held) => held.body.messages.filter((m) => m.type === 'ack').map((m) => m.id);
const stateOf = (c: Client, id: string) => c.messages().find((m) => m.id === id)?.state;
const lastId = (c: Client) => c.messages().at(-1)?.id as string;

test('the wire, request by request: ids, acks, seq, headers, and each kind of answer', async (t) => {
  const { url, requests } = await scripted(t);
  const c = lpio(t, { url, batchWindow: 0 });
  const errors: ClientError[] = [];
  const lost: unknown[] = [];
  const got: unknown[] = [];
  const states: string[] = [];
  c.on('error', (e) => errors.push(e));
  c.on('disconnected', (r) => lost.push(r));
  c.on('state', (state) => states.push(state));
  c.on('message', (m) => got.push(m.data));
  c.connect();

  // The id request: no id, no acks, no data, no describe; JSON both ways; seq counts from 1.
  const r0 = await request(requests, 0);
  assert.deepEqual(r0.body.messages, []);
  assert.equal(r0.body.describe, undefined);
  assert.equal(r0.headers['lpio-client'], undefined);
  assert.equal(r0.headers.accept, 'application/json');
  const seq = /^([0-9a-z]+)\.(\d+)$/.exec(r0.body.seq ?? '');
  assert.ok(seq, `seq names the instance and the request: ${r0.body.seq}`);
  const instance = seq[1] as string;
  // Sent while the id request is out: it is not aborted for it, and it waits for the id.
  void c.send('a').then(() => got.push('a delivered'));
  assert.equal(stateOf(c, lastId(c)), 'unsent');
  // The seed's option message names the id; an option of another name is not the id.
  r0.answer({
    state: 1,
    messages: [
      { type: 'option', id: 'client', data: ID },
      { type: 'option', id: 'other', data: 'not-the-id' },
    ],
    set: { address: 'addr-1' },
  });
  await until(() => c.state === 'connected', 'connected');
  assert.equal(c.id, ID);
  assert.equal(c.address, 'addr-1');

  // Next: the message, with the id, seq 2, and the acks of the option messages only.
  const r1 = await request(requests, 1);
  assert.equal(r1.headers['lpio-client'], ID);
  assert.equal(r1.body.seq, `${instance}.2`);
  assert.deepEqual(acks(r1), ['client', 'other']);
  assert.deepEqual(data(r1), ['a']);
  const a = r1.body.messages.find((m) => m.type === 'data')?.id as string;
  r1.answer({
    state: 1,
    messages: [null, 5, 'text', { type: 'ack', id: a }, { type: 'data', id: 'm1', data: 'one' }],
  });
  await until(
    () => got.includes('a delivered') && got.includes('one'),
    `the ack and the message: ${JSON.stringify(got)}`,
  );

  // The ack of m1 goes in the next request; a 503 loses it, so it goes again, and again after a
  // state 2 (the request refused whole, no code: the defaults), and once more until one succeeds.
  const r2 = await request(requests, 2);
  assert.deepEqual(acks(r2), ['m1']);
  assert.equal(r2.body.seq, `${instance}.3`);
  r2.answer({ error: 'the store is away' }, 503);
  const r3 = await request(requests, 3);
  assert.deepEqual(acks(r3), ['m1']);
  r3.answer({ state: 2 });
  const r4 = await request(requests, 4);
  assert.deepEqual(acks(r4), ['m1']);
  r4.answer('42');
  const r5 = await request(requests, 5);
  assert.deepEqual(acks(r5), ['m1']);
  r5.answer({ state: 0 });
  const r6 = await request(requests, 6);
  assert.deepEqual(acks(r6), []);
  r6.answer({ state: 3 });
  const r7 = await request(requests, 7);
  assert.deepEqual(
    errors.map((e) => [e.code, e.message, e.status]),
    [
      ['SB_ERR_HTTP_503', 'the store is away', 503],
      ['SB_ERR_BAD_REQUEST', 'the server rejected the request', 200],
      ['SB_ERR_BAD_RESPONSE', 'the response is not LPIO JSON: not an object', 200],
      ['SB_ERR_SERVER_DESTROYED', 'the server is shutting down', undefined],
    ],
  );
  // A 503 and a server shutting down are network failures: disconnected at once, connected again
  // on the next success (state 0 here); a refusal (state 2) and a bad body are not, and the
  // backoff never reached its maximum.
  assert.deepEqual(lost, ['the store is away', 'the server is shutting down']);
  assert.deepEqual(states, ['connecting', 'connected', 'connecting', 'connected', 'connecting']);
  assert.ok(
    requests.every((r) => !r.aborted),
    'no poll was aborted',
  );

  // A held poll and two messages in one turn: the first goes at once (aborting the poll), the
  // urgent second waits, since a request that carries messages is never aborted.
  const refused = c.send('b').then(
    () => 'delivered',
    (e: ClientError) => e.code,
  );
  const b = lastId(c);
  void c.send('c', { urgent: true });
  const cId = lastId(c);
  assert.equal(stateOf(c, b), 'sent', 'the first message after a quiet window goes at once');
  assert.equal(stateOf(c, cId), 'unsent', 'the request carrying b is not aborted');
  await until(() => r7.aborted, 'the held poll aborted');
  const r8 = await request(requests, 8);
  assert.deepEqual(data(r8), ['b']);
  // b is refused one by one (no code: the default); the entry naming c, not in this request, is not c's.
  r8.answer({ state: 1, messages: [], errors: [{ id: cId, code: 'SB_ERR_NOT_YOURS' }, { id: b }] });
  const r9 = await request(requests, 9);
  assert.deepEqual(data(r9), ['c']);
  assert.equal(await refused, 'SB_ERR_BAD_MESSAGE');
  assert.deepEqual(errors.slice(4), [], 'a refused message is reported by its promise alone');
  assert.equal(c.state, 'connected', 'the answer was a success');
  r9.answer({
    state: 1,
    messages: [
      { type: 'ack', id: cId },
      { type: 'data', id: 'm2', data: 'two' },
    ],
  });
  await until(() => stateOf(c, cId) === 'delivered', 'c delivered');

  // The ack of m2 goes out, the server answers 401: the client stops, and keeps the ack for later.
  const r10 = await request(requests, 10);
  assert.deepEqual(acks(r10), ['m2']);
  r10.answer('', 401);
  await until(() => c.state === 'disconnected', 'stopped by the 401');
  const last = errors.at(-1);
  assert.deepEqual(
    [last?.code, last?.message, last?.status],
    ['SB_ERR_UNAUTHORIZED', 'the server answered 401', 401],
  );
  // Stopped: a send waits, nothing goes out.
  // Sent again once connected, never acked: dropped when the server ends the session.
  const whileStopped = assert.rejects(c.send('while stopped'), {
    code: 'SB_ERR_DROPPED',
    message: 'the server ended the session (gone)',
  });
  assert.equal(stateOf(c, lastId(c)), 'unsent');
  c.connect();
  const r11 = await request(requests, 11);
  assert.deepEqual(acks(r11), ['m2']);
  assert.deepEqual(data(r11), ['while stopped']);
  // The server ends the session for good, with one more message: the client stops, and the
  // message after the close is not handed over.
  r11.answer({
    state: 1,
    close: { code: 4500, reason: 'gone', reconnect: false },
    messages: [{ type: 'data', id: 'm3', data: 'after the close' }],
  });
  await until(() => c.state === 'disconnected', 'the session ended');
  assert.ok(!got.includes('after the close'), JSON.stringify(got));
  assert.equal(requests.length, 12, 'no request after the end');
  await whileStopped;
});

test('disconnect aborts the held poll; connect polls again; a send meanwhile waits', async (t) => {
  const { url, requests } = await scripted(t);
  const c = lpio(t, { url, id: ID });
  c.connect();
  // A static id: the first request has it, asks for the address, and carries no acks.
  const r0 = await request(requests, 0);
  assert.equal(r0.headers['lpio-client'], ID);
  assert.equal(r0.body.describe, true);
  assert.deepEqual(r0.body.messages, []);
  // An empty address is no address: the next request asks again.
  r0.answer({ state: 1, messages: [], session: { address: '' } });
  await until(() => c.state === 'connected', 'connected');
  assert.equal(c.address, undefined);
  const r1 = await request(requests, 1);
  assert.equal(r1.body.describe, true);
  r1.answer({ state: 1, messages: [], session: { address: 'addr-s' } });
  const r2 = await request(requests, 2);
  assert.equal(c.address, 'addr-s');
  assert.equal(r2.body.describe, undefined);
  c.disconnect();
  await until(() => r2.aborted, 'the held poll aborted by disconnect');
  // Connected again with nothing to send: it polls again.
  c.connect();
  const r3 = await request(requests, 3);
  assert.deepEqual(r3.body.messages, []);
  c.disconnect();
  await until(() => r3.aborted, 'the second held poll aborted by disconnect');
  const later = assert.rejects(
    c.send('later'),
    { code: 'SB_ERR_SESSION_LOST', message: /^message \d+-\d+ was sent in a session that ended/ },
    'sent, then a new session took the old one’s place without acking it: it may or may not have been delivered',
  );
  assert.equal(stateOf(c, lastId(c)), 'unsent', 'nothing is sent while disconnected');
  c.connect();
  const r4 = await request(requests, 4);
  assert.deepEqual(data(r4), ['later']);
  // A session replaced (close with reconnect, and the new session): connected again at once.
  const states: string[] = [];
  c.on('state', (s) => states.push(s));
  r4.answer({
    state: 1,
    close: { code: 4104, reason: 'lost', reconnect: true },
    set: { id: ID, address: 'addr-new' },
    messages: [],
  });
  await request(requests, 5);
  await until(() => states.includes('connected'), 'connected on the new session');
  assert.equal(c.address, 'addr-new');
  await later;
  const r5 = requests[5] as Held;
  assert.deepEqual(data(r5), [], 'not sent again to the new session');
  c.disconnect();
});

test('a send during a backoff waits for the retry', async (t) => {
  const { url, requests } = await scripted(t);
  const c = lpio(t, { url, id: ID, backoff: { min: 60_000, max: 60_000, jitter: 0 } });
  const errors: string[] = [];
  c.on('error', (e) => errors.push(e.code));
  c.connect();
  (await request(requests, 0)).answer('busy', 503);
  await until(() => errors.length === 1, 'the 503');
  const duringBackoff = assert.rejects(
    c.send('during the backoff'),
    { code: 'SB_ERR_DROPPED' },
    'never sent: dropped when the client is let go',
  );
  assert.equal(stateOf(c, lastId(c)), 'unsent');
  assert.deepEqual(errors, ['SB_ERR_HTTP_503']);
  c.disconnect();
  await duringBackoff;
});

test('messages too large for a request are refused; a handler that disconnects stops the rest', async (t) => {
  const { url, requests } = await scripted(t);
  const c = lpio(t, { url });
  const got: unknown[] = [];
  const errors: ClientError[] = [];
  c.on('message', (m) => {
    got.push(m.data);
    c.disconnect();
  });
  c.on('error', (e) => errors.push(e));
  c.connect();
  (await request(requests, 0)).answer({
    state: 1,
    messages: [],
    set: { id: ID, address: 'addr' },
    limits: { bytes: 700 },
  });
  await until(() => c.state === 'connected', 'connected');
  const r1 = await request(requests, 1);
  const big = c.send('x'.repeat(300));
  const id = lastId(c);
  await assert.rejects(big, {
    code: 'SB_ERR_PAYLOAD_TOO_LARGE',
    message: `message ${id} does not fit in a request of 700 bytes`,
  });
  // It aborted the held poll, and the next one goes without it.
  await until(() => r1.aborted, 'the poll aborted');
  const r2 = await request(requests, 2);
  assert.deepEqual(r2.body.messages, []);
  r2.answer({
    state: 1,
    messages: [
      { type: 'data', id: 'm1', data: 'first' },
      { type: 'data', id: 'm2', data: 'second' },
    ],
  });
  await until(() => c.state === 'disconnected', 'disconnected by the handler');
  assert.deepEqual(got, ['first']);
  assert.deepEqual(errors, []);
});

test('a handler that disconnects at a refusal stops the rest of the answer; the refusal is no error event', async (t) => {
  const { url, requests } = await scripted(t);
  const c = lpio(t, { url, id: ID });
  const errors: string[] = [];
  const dropped: string[] = [];
  const got: unknown[] = [];
  c.on('message', (m) => got.push(m.data));
  c.on('error', (e) => errors.push(e.code));
  c.on('messageState', (change) => {
    if (change.state !== 'dropped') return;
    dropped.push(change.id);
    c.disconnect();
  });
  // Both go in the first request (a static id needs no id request).
  const sent = [c.send('one'), c.send('two')].map((p) => p.catch((e: ClientError) => e.code));
  c.connect();
  const r0 = await request(requests, 0);
  const ids = r0.body.messages.map((m) => m.id);
  assert.deepEqual(data(r0), ['one', 'two']);
  r0.answer({
    session: { address: 'addr' },
    state: 1,
    errors: [{ id: ids[0], code: 'SB_ERR_NO_0', message: 'no 0' }],
    messages: [{ type: 'data', id: 'm1', data: 'after the refusal' }],
  });
  assert.deepEqual(await Promise.all(sent), ['SB_ERR_NO_0', 'SB_ERR_DROPPED']);
  assert.deepEqual(dropped, ids, 'the refused one, then the other given up by the disconnect');
  assert.deepEqual(errors, [], 'reported by the promise alone');
  assert.deepEqual(got, [], 'nothing handed over after the handler disconnected');
});

test('the first message on a held poll goes at once, whatever the batch window', async (t) => {
  const { url, requests } = await scripted(t);
  const c = lpio(t, { url, id: ID, batchWindow: 60_000 });
  c.connect();
  (await request(requests, 0)).answer({ state: 1, messages: [], session: { address: 'addr' } });
  await until(() => c.state === 'connected', 'connected');
  const r1 = await request(requests, 1);
  const sent = c.send('first');
  assert.equal(stateOf(c, lastId(c)), 'sent');
  await until(() => r1.aborted, 'the poll aborted for it');
  (await request(requests, 2)).answer({ state: 1, messages: [{ type: 'ack', id: lastId(c) }] });
  await sent;
});

test('a request that gets no answer, and a server that is not there, are reported with what happened', async (t) => {
  const { url, requests } = await scripted(t);
  const c = lpio(t, { url, responseTimeout: 100 });
  const errors: ClientError[] = [];
  c.on('error', (e) => errors.push(e));
  c.connect();
  await until(() => errors.length >= 1, 'the response timeout');
  assert.equal(errors[0]?.code, 'SB_ERR_RESPONSE_TIMEOUT');
  assert.equal(errors[0]?.message, 'no response within 100 ms');
  assert.ok(requests.length >= 1);
  c.disconnect();

  // A port nothing listens on (taken, then freed).
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const gone = lpio(t, { url: `http://127.0.0.1:${port}/lpio` });
  const failures: ClientError[] = [];
  gone.on('error', (e) => failures.push(e));
  gone.connect();
  await until(() => failures.length >= 1, 'the network error');
  const failure = failures[0] as ClientError;
  assert.equal(failure.code, 'SB_ERR_NETWORK');
  assert.match(failure.message, /^request failed: fetch failed \(.*ECONNREFUSED/);
  assert.ok(failure.cause instanceof Error, 'the fetch error is the cause');
});

test('a 429 or 503 with Retry-After waits at least that long (at most a minute); a date or none, the backoff', async (t) => {
  const { url, requests } = await scripted(t);
  const c = lpio(t, { url, id: ID });
  const delays: number[] = [];
  const lost: string[] = [];
  c.on('reconnecting', ({ delay }) => delays.push(delay));
  c.on('disconnected', (reason) => lost.push(reason ?? ''));
  c.connect();
  (await request(requests, 0)).answer({ state: 1, messages: [], session: { address: 'addr' } });
  await until(() => c.state === 'connected', 'connected');
  (await request(requests, 1)).answer({ error: 'slow down' }, 429, { 'retry-after': '0' });
  await until(() => delays.length === 1, 'the first retry');
  (await request(requests, 2)).answer({ error: 'slow down' }, 429, {
    'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT',
  });
  await until(() => delays.length === 2, 'the second retry');
  assert.deepEqual(delays, [5, 10], 'no usable Retry-After: the backoff (5 ms, then 10)');
  assert.deepEqual(lost, [], 'a 429 is a refusal, not an outage');
  (await request(requests, 3)).answer({ error: 'busy' }, 503, { 'retry-after': '1' });
  await until(() => delays.length === 3, 'the third retry');
  assert.equal(delays[2], 1_000, 'Retry-After: 1 is a second, over the backoff');
  assert.deepEqual(lost, ['busy'], 'a 503 is an outage: disconnected at once');
  (await request(requests, 4)).answer({ error: 'busy' }, 503, { 'retry-after': '3600' });
  await until(() => delays.length === 4, 'the fourth retry');
  assert.equal(delays[3], 60_000, 'an hour is taken as a minute');
  c.disconnect();
});
