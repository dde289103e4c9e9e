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
    removeItem: (k: string) => store.delete(k),
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

test('remembered: a fallback is written once, read first for ten minutes, then not', async (t) => {
  const server = await serve(t, { websocket: false });
  const key = `switchboard:fallback:${server.origin}`;
  const storage = installStorage(t, {});
  const c = client(t, { url: server.origin, transports: ['websocket', 'lpio'], probe: false });
  assert.equal(c.transport, 'websocket', 'nothing remembered: the first one');
  c.connect();
  for (let i = 0; i < 3; i++) await c.send(i);
  assert.equal(c.transport, 'lpio');
  assert.equal(storage.writes.length, 1, 'the fallback, written once');
  const [writtenKey, written] = storage.writes[0] ?? [];
  assert.equal(writtenKey, key);
  const entry = JSON.parse(written ?? '') as { transport: string; until: number };
  assert.equal(entry.transport, 'lpio');
  assert.ok(Math.abs(entry.until - (Date.now() + 600_000)) < 60_000, `until ${entry.until}`);
  // Another page of the same site (a fresh in-memory copy is not needed: storage is read first).
  const next = client(t, { url: server.origin, transports: ['websocket', 'lpio'], probe: false });
  assert.equal(next.transport, 'lpio', 'the remembered fallback first');
  const other = client(t, { url: `${server.origin}/`, transports: ['websocket', 'lpio'], probe: false });
  assert.equal(other.transport, 'websocket', 'per URL');
  // Expired: the preferred one first again.
  storage.store.set(
    `switchboard:fallback:${server.origin}/x`,
    JSON.stringify({ transport: 'lpio', until: Date.now() - 1 }),
  );
  const expired = client(t, { url: `${server.origin}/x`, transports: ['websocket', 'lpio'], probe: false });
  assert.equal(expired.transport, 'websocket');
});

test('an explicit choice is never remembered, and a remembered fallback does not override it', async (t) => {
  const server = await serve(t);
  const storage = installStorage(t, {
    [`switchboard:fallback:${server.origin}`]: JSON.stringify({
      transport: 'lpio',
      until: Date.now() + 60_000,
    }),
  });
  const one = client(t, { url: `${server.origin}/ws`, transport: 'websocket' });
  assert.equal(one.transport, 'websocket');
  const listed = client(t, { url: server.origin, transports: ['websocket'] });
  assert.equal(listed.transport, 'websocket', 'a list of one is a choice');
  one.connect();
  listed.connect();
  await one.send('a');
  await listed.send('b');
  assert.deepEqual(storage.writes, []);
});

test('on a remembered fallback the preferred transport is probed and taken back: nothing lost, nothing twice', async (t) => {
  const server = await serve(t);
  const key = `switchboard:fallback:${server.origin}`;
  const storage = installStorage(t, {
    [key]: JSON.stringify({ transport: 'lpio', until: Date.now() + 60_000 }),
  });
  const c = client(t, {
    url: server.origin,
    transports: ['websocket', 'lpio'],
    probe: { min: 200, max: 400 },
  });
  const transports: TransportName[] = [];
  c.on('transport', (name) => transports.push(name));
  const received: unknown[] = [];
  c.on('message', (m) => received.push(m.data));
  c.connect();
  await c.subscribe('/up');
  const address = c.address;
  // Messages both ways keep flowing while the client moves over.
  let n = 0;
  const sent: Promise<void>[] = [];
  const publishing = (async () => {
    while (transports.length < 2 && n < 500) {
      await server.server.publish('/up', n++);
      sent.push(c.send(n));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (let i = 0; i < 5; i++) await server.server.publish('/up', n++);
  })();
  await publishing;
  assert.deepEqual(transports, ['lpio', 'websocket']);
  await Promise.all(sent);
  await until(() => received.length === n, `all ${n} published messages received`);
  assert.deepEqual(
    received,
    Array.from({ length: n }, (_, i) => i),
    'in order, none twice',
  );
  assert.equal(c.address, address, 'the same session');
  assert.equal(storage.store.has(key), false, 'the fallback is forgotten');
});
