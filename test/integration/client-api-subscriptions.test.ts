/**
 * The SDK's Client keeps its subscriptions across new sessions (src/client/client.ts), against a
 * real server whose session the test ends (`closeSession(id, 'lost')`: 4104, a new session under
 * the same id): a subscribe that timed out or was given up is still ours and goes to the new
 * session; one the server refused, at first or on a later session, is forgotten; a refusal or
 * timeout of a re-subscribe (which no promise of the application's carries) is reported as 'error'.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { type Client, type ClientError } from '../../src/client/index.js';
import { testClient as client } from '../helpers/sdk-client.js';
import { serve } from '../helpers/start-server.js';
import { until } from '../helpers/until.js';

async function connected(c: Client): Promise<void> {
  if (c.state === 'disconnected') c.connect();
  await until(() => c.state === 'connected', 'connected');
}

/** Ends the client's session for a new one, and waits until the client has it. */
async function newSession(server: Awaited<ReturnType<typeof serve>>, c: Client): Promise<void> {
  const address = c.address;
  assert.equal(await server.server.closeSession(c.id as string, 'lost'), true);
  await until(() => c.address !== address && c.state === 'connected', 'the new session');
}

test('a subscribe that timed out, and one given up by disconnect(), go to the next new session', async (t) => {
  const server = await serve(t);
  const c = client(t, { url: server.lpioUrl, deliveryTimeout: 500 });
  const got: unknown[] = [];
  c.on('message', (m) => got.push(m.data));
  // Before connect() nothing is sent: it times out.
  await assert.rejects(c.subscribe('/timed'), { code: 'SB_ERR_DELIVERY_TIMEOUT' });
  c.connect();
  const given = c.subscribe('/given');
  c.disconnect();
  await assert.rejects(given, { code: 'SB_ERR_DROPPED' });
  await connected(c);
  // Sent after the re-subscribes, so acked after them.
  await c.subscribe('/marker');
  await server.server.publish('/timed', 'timed');
  await server.server.publish('/given', 'given');
  await server.server.publish('/marker', 'marker');
  await until(() => got.includes('marker'), 'the marker');
  assert.deepEqual(got, ['timed', 'given', 'marker']);
});

test('a pattern the server refuses, at first or on a new session, is refused once and forgotten', async (t) => {
  const refused = new Set(['/never']);
  const server = await serve(t, {
    authorize: (action, target) => !(action === 'subscribe' && refused.has(target)),
  });
  const c = client(t, { url: server.lpioUrl, ackTimeout: 5_000 });
  const errors: ClientError[] = [];
  c.on('error', (e) => errors.push(e));
  const got: unknown[] = [];
  c.on('message', (m) => got.push(m.data));
  await connected(c);
  await assert.rejects(c.subscribe('/never'), { code: 'SB_ERR_FORBIDDEN' });
  await c.subscribe('/later');
  const refusals = () => errors.filter((e) => e.code === 'SB_ERR_FORBIDDEN').length;
  assert.equal(refusals(), 0, 'the application’s own subscribe: reported by its promise alone');

  refused.add('/later');
  await newSession(server, c);
  await c.subscribe('/marker');
  // /later was refused again (its re-subscribe has no promise: reported as an error, once); /never
  // was not asked for again.
  assert.equal(refusals(), 1, errors.map((e) => e.message).join('; '));

  await newSession(server, c);
  await c.subscribe('/marker2');
  assert.equal(refusals(), 1, 'neither is asked for on the next session');
  refused.clear();
  for (const path of ['/never', '/later', '/marker2']) await server.server.publish(path, path);
  await until(() => got.includes('/marker2'), 'the marker');
  assert.deepEqual(got, ['/marker2']);
});

test('a re-subscribe that times out is reported as an error', async (t) => {
  let holdSubscribes = false;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  t.after(() => release());
  const server = await serve(t, {
    // Once told to, a request that carries a subscribe waits for the test.
    auth: async (request) => {
      if (holdSubscribes && JSON.stringify(request.body).includes('/meta/subscribe')) await released;
      return true;
    },
  });
  const c = client(t, { url: server.lpioUrl, deliveryTimeout: 300 });
  const errors: ClientError[] = [];
  c.on('error', (e) => errors.push(e));
  await connected(c);
  await c.subscribe('/a');
  holdSubscribes = true;
  await newSession(server, c);
  await until(() => errors.some((e) => e.code === 'SB_ERR_DELIVERY_TIMEOUT'), 'the timeout reported');
  const [timeout] = errors.filter((e) => e.code === 'SB_ERR_DELIVERY_TIMEOUT');
  assert.match(timeout?.message ?? '', /^no ack for message \d+-\d+ within 300 ms$/);
});
