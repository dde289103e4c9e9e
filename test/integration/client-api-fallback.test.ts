/**
 * The SDK's Client with `transports` against a real server: where each transport is served under
 * `url`, the fallback (its error, what it carries over and what it does not), and the transport
 * remembered per URL, read and written through the page's localStorage where there is one.
 * Node 20 has no localStorage: a test that needs one installs a Map-backed one on globalThis (an
 * input, like a browser's, not a stand-in for any part under test) and removes it after.
 */
import { strict as assert } from 'node:assert';
import { test, type TestContext } from 'node:test';
import { type ClientError, type TransportName } from '../../src/client/index.js';
import { testClient as client } from '../helpers/sdk-client.js';
import { serve } from '../helpers/start-server.js';
import { until } from '../helpers/until.js';

function installStorage(t: TestContext, items: Record<string, string>) {
  const store = new Map(Object.entries(items));
  const writes: Array<[string, string]> = [];
  const g = globalThis as { localStorage?: unknown };
  assert.equal(g.localStorage, undefined, 'no localStorage of its own here');
  g.localStorage = {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => {
      writes.push([k, v]);
      store.set(k, v);
    },
  };
  t.after(() => delete g.localStorage);
  return { store, writes };
}

test('paths under url: a trailing slash on url and a path without its leading one are joined', async (t) => {
  const server = await serve(t);
  const got: unknown[] = [];
  server.server.on('message', (m) => got.push(m.data));
  const c = client(t, { url: `${server.origin}//`, transports: ['lpio'], paths: { lpio: 'lpio' } });
  c.connect();
  await c.send('through /lpio');
  assert.equal(c.state, 'connected');
  assert.deepEqual(got, ['through /lpio']);
});

test('fallback: the error says why and to what; what was given up before it is not sent', async (t) => {
  const server = await serve(t, { websocket: false });
  const got: unknown[] = [];
  server.server.on('message', (m) => got.push(m.data));
  const c = client(t, { url: server.origin, transports: ['websocket', 'lpio'] });
  const transports: TransportName[] = [];
  c.on('transport', (name) => transports.push(name));
  const errors: ClientError[] = [];
  c.on('error', (e) => errors.push(e));
  c.connect();
  const given = c.send('given up');
  c.disconnect();
  await assert.rejects(given, { code: 'SB_ERR_DROPPED', message: 'the client disconnected' });
  const kept = c.send('kept');
  c.connect();
  await kept;
  await c.send('after');
  assert.equal(c.transport, 'lpio');
  assert.deepEqual(transports, ['websocket', 'websocket', 'lpio']);
  assert.deepEqual(got, ['kept', 'after']);
  const blocked = errors.filter((e) => e.code === 'SB_ERR_TRANSPORT_BLOCKED');
  assert.equal(blocked.length, 1);
  assert.match(blocked[0]?.message ?? '', /^websocket could not connect \(.+\); falling back to lpio$/);
});

test('remembered: read from localStorage first, the rest in order after it, written once', async (t) => {
  const server = await serve(t, { websocket: false });
  const key = `switchboard:transport:${server.origin}`;
  // A page that last got through over websocket; this server refuses it now.
  const storage = installStorage(t, { [key]: 'websocket' });
  const c = client(t, { url: server.origin, transports: ['lpio', 'websocket'] });
  assert.equal(c.transport, 'websocket', 'the remembered one first');
  const transports: TransportName[] = [];
  c.on('transport', (name) => transports.push(name));
  c.connect();
  for (let i = 0; i < 3; i++) await c.send(i);
  await until(() => c.state === 'connected', 'connected');
  assert.deepEqual(transports, ['websocket', 'lpio'], 'then the others, in their order');
  assert.deepEqual(storage.writes, [[key, 'lpio']], 'what worked, written once');
  const next = client(t, { url: server.origin, transports: ['websocket', 'lpio'] });
  assert.equal(next.transport, 'lpio');
});
