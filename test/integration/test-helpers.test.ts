/**
 * The cluster-test fixtures themselves, against real processes and sockets: a cluster test that
 * fails should point at the engine, never at a Redis that kept its data or a proxy that was sticky.
 */
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { startRedis } from '../helpers/redis.js';
import { startRoundRobinProxy } from '../helpers/round-robin-proxy.js';

test('startRedis runs a real, empty redis that restart() empties on the same port', async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);

  assert.equal(await redis.command('SET', 'k', 'v'), '+OK\r\n');
  assert.equal(await redis.command('GET', 'k'), '$1\r\nv\r\n');
  assert.match(await redis.command('CONFIG', 'GET', 'save'), /^\*2\r\n\$4\r\nsave\r\n\$0\r\n\r\n$/);
  assert.match(await redis.command('NOSUCHCOMMAND'), /^-ERR /);

  const { pid, port } = redis;
  await redis.restart();
  assert.equal(redis.port, port);
  assert.notEqual(redis.pid, pid);
  assert.equal(await redis.command('GET', 'k'), '$-1\r\n');
  assert.equal(await redis.command('DBSIZE'), ':0\r\n');

  await redis.stop();
  assert.throws(() => process.kill(redis.pid, 0), { code: 'ESRCH' });
  await assert.rejects(redis.command('PING'), { code: 'ECONNREFUSED' });
});

test('startRedis restarts from its own data with keepData: a SAVE snapshot after a crash, or every write with appendfsyncAlways', async (t) => {
  const snapshotted = await startRedis();
  t.after(() => snapshotted.stop());
  await snapshotted.command('SET', 'k', 'saved');
  assert.equal(await snapshotted.command('SAVE'), '+OK\r\n');
  await snapshotted.command('SET', 'k', 'after the snapshot');
  await snapshotted.command('SET', 'only-after', '1');
  // A crash: what was written after the snapshot is gone, the snapshot comes back.
  await snapshotted.kill();
  await snapshotted.restart({ keepData: true });
  assert.equal(await snapshotted.command('GET', 'k'), '$5\r\nsaved\r\n');
  assert.equal(await snapshotted.command('EXISTS', 'only-after'), ':0\r\n');
  // A restart of a running server with keepData saves first, like a clean shutdown.
  await snapshotted.command('SET', 'k', 'clean');
  await snapshotted.restart({ keepData: true });
  assert.equal(await snapshotted.command('GET', 'k'), '$5\r\nclean\r\n');
  // And a plain restart still means empty, even though a snapshot is on disk.
  await snapshotted.restart();
  assert.equal(await snapshotted.command('DBSIZE'), ':0\r\n');

  const durable = await startRedis({ appendfsyncAlways: true });
  t.after(() => durable.stop());
  assert.match(await durable.command('CONFIG', 'GET', 'appendfsync'), /always/);
  await durable.command('SET', 'k', 'every write');
  await durable.kill();
  await durable.restart({ keepData: true });
  assert.equal(await durable.command('GET', 'k'), '$11\r\nevery write\r\n');
});

/** An HTTP server that answers every request with its own name and upgrades to an echo WebSocket. */
async function backend(name: string): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    req.resume();
    res.end(name);
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data: Buffer) => ws.send(`${name}:${data.toString()}`)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function close(server: Server): Promise<void> {
  if (!server.listening) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

test('the round-robin proxy alternates, skips a dead target and carries WebSockets', async (t) => {
  const a = await backend('a');
  const b = await backend('b');
  const proxy = await startRoundRobinProxy([a.origin, b.origin]);
  t.after(async () => {
    await proxy.close();
    await close(a.server);
    await close(b.server);
  });

  const get = async (path = '/') => {
    const res = await fetch(proxy.url(path));
    return { status: res.status, body: await res.text() };
  };
  const bodies: string[] = [];
  for (let i = 0; i < 4; i++) bodies.push((await get(`/n/${i}`)).body);
  assert.deepEqual(bodies, ['a', 'b', 'a', 'b']);
  assert.deepEqual(proxy.picks, [0, 1, 0, 1]);

  const posted = await fetch(proxy.url('/echo'), { method: 'POST', body: 'x'.repeat(1000) });
  assert.equal(await posted.text(), 'a');
  const huge = await fetch(proxy.url('/huge'), { method: 'POST', body: 'x'.repeat(1024 * 1024 + 1) });
  assert.equal(huge.status, 413);
  await huge.body?.cancel();
  assert.equal((await get()).body, 'b');

  // A refused body takes no turn, so the rotation now points at a again, which is about to die.
  assert.deepEqual(proxy.picks, [0, 1, 0, 1, 0, 1]);
  await close(a.server);
  assert.deepEqual(await get(), { status: 200, body: 'b' });
  assert.equal(proxy.picks.at(-1), 1);

  const ws = new WebSocket(proxy.url('/ws').replace(/^http/, 'ws'));
  t.after(() => ws.terminate());
  await once(ws, 'open');
  ws.send('hello');
  const [reply] = (await once(ws, 'message')) as [Buffer];
  assert.equal(String(reply), 'b:hello');
  ws.close();
  await once(ws, 'close');

  await close(b.server);
  assert.equal((await get()).status, 502);
  assert.equal(proxy.picks.at(-1), -1);
});
