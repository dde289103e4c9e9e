/**
 * Graceful shutdown as README and docs/errors.md promise it (`server.close()`,
 * src/server/switchboard.ts): held LPIO polls are answered with state 3 `{"state":3,"messages":[]}`
 * ("server destroyed"), WebSocket connections are closed with 4003 `shutdown` (those that have
 * not said hello yet too), and then the server stops. While the hub drains (observed on a server
 * the application attached it to, which the hub does not close), `/healthz` answers 503
 * `{"status":"draining"}`, every LPIO request (new or of an open session, one whose body was
 * still arriving included) is answered state 3 and processed in nothing, and a WebSocket upgrade
 * is refused with 503 SB_ERR_SHUTTING_DOWN (with `Retry-After`, as for every refused 503).
 */
import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { createSwitchboard, type Switchboard } from '../../src/index.js';
import { liveConnections, within, wsUrlOf } from '../helpers/parties.js';
import { UPGRADE_REQUEST } from '../helpers/from-address.js';
import { lpioPost, openLpioSession, startServer } from '../helpers/start-server.js';
import { RawWsClient } from '../helpers/ws-client.js';

const SHUT = { code: 4003, reason: 'shutdown' };
const DESTROYED = { state: 3, messages: [] };

test('close(): held LPIO polls get state 3, WebSocket connections (said hello or not) close with 4003 shutdown, then the port is closed', async (t) => {
  const { server, origin, lpioUrl } = await startServer({ settings: { holdTimeoutMs: 30_000 } });
  t.after(() => server.close());
  const polls = [await openLpioSession(lpioUrl), await openLpioSession(lpioUrl)].map(({ id }) =>
    lpioPost(lpioUrl, { messages: [] }, { 'lpio-client': id }),
  );
  await liveConnections(server, 'lpio', 2);
  const { client: ws } = await RawWsClient.connect(wsUrlOf(origin));
  t.after(() => ws.close());
  const silent = await RawWsClient.open(wsUrlOf(origin));
  t.after(() => silent.close());
  await liveConnections(server, 'websocket', 1);

  await server.close();
  for (const poll of polls) {
    const { status, body } = await within(poll, 10_000, 'the held poll');
    assert.deepEqual([status, body], [200, DESTROYED]);
  }
  assert.deepEqual(await ws.waitClosed(), SHUT);
  assert.deepEqual(await silent.waitClosed(), SHUT, 'a socket that had not said hello yet');
  const after = await fetch(`${origin}/healthz`).then(
    () => 'answered',
    (error: Error & { cause?: { code?: string } }) => error.cause?.code,
  );
  assert.equal(after, 'ECONNREFUSED', 'the server stopped listening');
});

/** A hub attached to a server of the test's own: close() ends the hub, the server keeps answering. */
async function attached(t: TestContext): Promise<{ hub: Switchboard; origin: string; http: Server }> {
  const hub = createSwitchboard({ settings: { holdTimeoutMs: 30_000, batchWindowMs: 2 } });
  const http = createServer();
  hub.attach(http);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await hub.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });
  return { hub, origin: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, http };
}

/** Sends an LPIO request's headers and the first half of its body; `finish()` sends the rest and resolves with the raw answer. */
async function halfSent(origin: string, body: string): Promise<{ finish(): Promise<string> }> {
  const { port } = new URL(origin);
  const socket = connect(Number(port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  const ended = new Promise<string>((resolve) => socket.once('close', () => resolve(answer)));
  const half = Math.floor(body.length / 2);
  socket.write(
    `POST /lpio HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`,
  );
  return {
    finish: () => {
      socket.write(body.slice(half));
      return ended;
    },
  };
}

test('while the hub drains: /healthz 503 draining, every LPIO request state 3 with nothing processed, upgrades 503 SB_ERR_SHUTTING_DOWN', async (t) => {
  const { hub, origin } = await attached(t);
  const url = `${origin}/lpio`;
  const received: unknown[] = [];
  hub.on('message', (m) => received.push(m.data));
  const opened: string[] = [];
  hub.on('sessionOpen', (s) => opened.push(s.id));

  const healthy = await fetch(`${origin}/healthz`);
  assert.deepEqual([healthy.status, await healthy.json()], [200, { status: 'ok' }]);
  const alice = await openLpioSession(url);
  const held = lpioPost(url, { messages: [] }, { 'lpio-client': alice.id });
  await liveConnections(hub, 'lpio', 1);
  const { client: ws } = await RawWsClient.connect(wsUrlOf(origin));
  t.after(() => ws.close());
  // A request whose body is still arriving when the close begins.
  const arriving = await halfSent(
    origin,
    JSON.stringify({ client: alice.id, messages: [{ type: 'data', id: 'late', data: 'arriving' }] }),
  );
  const sessions = opened.length;

  await hub.close();
  assert.deepEqual((await within(held, 10_000, 'the held poll')).body, DESTROYED);
  assert.deepEqual(await ws.waitClosed(), SHUT);

  const health = await fetch(`${origin}/healthz`);
  assert.deepEqual([health.status, await health.json()], [503, { status: 'draining' }]);
  for (const [what, body, headers] of [
    ['a poll of an open session', { messages: [] }, { 'lpio-client': alice.id }],
    [
      'a send',
      { messages: [{ type: 'data', id: 'm1', data: 'during the drain' }] },
      { 'lpio-client': alice.id },
    ],
    ['a request for a new session', {}, {}],
    ['a request with a new chosen id', { messages: [] }, { 'lpio-client': 'a-new-random-looking-id-Qx7Zk2' }],
  ] as const) {
    const reply = await lpioPost(url, body, headers);
    assert.deepEqual([reply.status, reply.body], [200, DESTROYED], what);
  }
  const late = await within(arriving.finish(), 10_000, 'the answer to the body that was arriving');
  assert.match(late, /^HTTP\/1\.1 200 /);
  assert.deepEqual(
    JSON.parse(late.slice(late.indexOf('\r\n\r\n') + 4)),
    DESTROYED,
    'the body that was arriving',
  );

  const upgrade = await RawWsClient.open(wsUrlOf(origin)).then(
    (client) => {
      client.close();
      throw new Error('upgraded during the drain');
    },
    (e: { status?: number; body?: string }) => e,
  );
  assert.equal(upgrade.status, 503);
  assert.equal(
    (JSON.parse(upgrade.body ?? '{}') as { error?: { code?: string } }).error?.code,
    'SB_ERR_SHUTTING_DOWN',
  );
  assert.deepEqual(received, [], 'nothing sent during the drain was processed');
  assert.equal(opened.length, sessions, 'no session was opened during the drain');
});

test('a refused upgrade during the drain carries Retry-After, as docs/errors.md says of every refused 503', async (t) => {
  const { hub, origin } = await attached(t);
  await hub.start();
  await hub.close();
  const { port } = new URL(origin);
  const socket = connect(Number(port), '127.0.0.1');
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  const ended = new Promise((resolve) => socket.once('close', resolve));
  socket.write(UPGRADE_REQUEST);
  await ended;
  assert.match(answer, /^HTTP\/1\.1 503 /);
  assert.match(answer, /\r\nretry-after: \d+\r\n/i);
  assert.match(answer, /"code":"SB_ERR_SHUTTING_DOWN"/);
});
