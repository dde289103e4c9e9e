import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import {
  FALLBACK_MEMORY_MS,
  forgetFallback,
  probeWebSocket,
  recallFallback,
  rememberFallback,
} from './fallback.js';

test('a fallback is remembered per URL for ten minutes, then forgotten', () => {
  const url = `http://fallback-${Math.random()}.test`;
  assert.equal(FALLBACK_MEMORY_MS, 600_000);
  assert.equal(recallFallback(url, ['websocket', 'lpio']), undefined);
  rememberFallback(url, 'lpio', 1_000);
  assert.equal(recallFallback(url, ['websocket', 'lpio'], 1_000 + FALLBACK_MEMORY_MS - 1), 'lpio');
  assert.equal(recallFallback(url, ['websocket', 'lpio'], 1_000 + FALLBACK_MEMORY_MS), undefined, 'expired');
  assert.equal(recallFallback(url, ['websocket'], 1_000), undefined, 'only one of the transports given');
  assert.equal(recallFallback(`${url}/other`, ['websocket', 'lpio'], 1_000), undefined, 'per URL');
  forgetFallback(url);
  assert.equal(recallFallback(url, ['websocket', 'lpio'], 1_000), undefined);
});

test('a fallback survives a reload through localStorage; an unreadable entry counts as none', (t) => {
  const items = new Map<string, string>();
  const localStorage = {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
  };
  Object.assign(globalThis, { localStorage });
  t.after(() => Reflect.deleteProperty(globalThis, 'localStorage'));
  const url = `http://stored-${Math.random()}.test`;
  rememberFallback(url, 'lpio', 5_000);
  assert.deepEqual(JSON.parse(items.get(`switchboard:fallback:${url}`) ?? 'null'), {
    transport: 'lpio',
    until: 5_000 + FALLBACK_MEMORY_MS,
  });
  // Another page (no in-memory copy) reads it from storage.
  const other = `http://stored-other-${Math.random()}.test`;
  items.set(`switchboard:fallback:${other}`, JSON.stringify({ transport: 'lpio', until: 10_000 }));
  assert.equal(recallFallback(other, ['websocket', 'lpio'], 9_999), 'lpio');
  items.set(`switchboard:fallback:${other}`, '{not json');
  assert.equal(recallFallback(other, ['websocket', 'lpio'], 0), undefined);
  items.set(`switchboard:fallback:${other}`, JSON.stringify({ transport: 'lpio' }));
  assert.equal(recallFallback(other, ['websocket', 'lpio'], 0), undefined, 'no expiry: not trusted');
  forgetFallback(url);
  assert.equal(items.has(`switchboard:fallback:${url}`), false);
});

test('the probe tells a WebSocket that opens from one that cannot, and closes what it opened', async (t) => {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const closed = new Promise<number>((resolve) =>
    server.once('connection', (socket) => socket.once('close', (code) => resolve(code))),
  );
  assert.equal(await probeWebSocket(WebSocket, `ws://127.0.0.1:${port}/ws`, 5_000), true);
  assert.equal(await closed, 1000, 'the probe socket is closed at once');
  // A port with nothing behind it refuses; a bad URL throws in the constructor.
  const refused = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => refused.once('listening', resolve));
  const freePort = (refused.address() as { port: number }).port;
  await new Promise((resolve) => refused.close(resolve));
  assert.equal(await probeWebSocket(WebSocket, `ws://127.0.0.1:${freePort}/ws`, 5_000), false);
  assert.equal(await probeWebSocket(WebSocket, 'not a url', 5_000), false);
});
