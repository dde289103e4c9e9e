import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { Client } from './client.js';
import {
  FALLBACK_MEMORY_MS,
  forgetFallback,
  probeWebSocket,
  recallFallback,
  rememberFallback,
} from './fallback.js';
import { until } from '../../test/helpers/until.js';

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

/** A WebSocket class whose sockets open or fail, as the test says, a moment after they are made. */
function scriptedSockets(opens: () => boolean) {
  const made: number[] = [];
  class ScriptedSocket {
    readyState = 0;
    onopen: ((event: unknown) => void) | null = null;
    onmessage: ((event: { data: unknown }) => void) | null = null;
    onclose: ((event: { code: number; reason: string }) => void) | null = null;
    onerror: ((event: unknown) => void) | null = null;
    constructor() {
      made.push(Date.now());
      setTimeout(() => {
        if (opens()) {
          this.readyState = 1;
          this.onopen?.({});
          return;
        }
        this.onerror?.({});
        this.onclose?.({ code: 1006, reason: '' });
      }, 1);
    }
    send(): void {}
    close(): void {
      this.readyState = 3;
    }
  }
  return { made, ScriptedSocket };
}

test('on a remembered fallback WebSocket is probed, twice as long after each failure, and taken back once it opens', async (t) => {
  // Nothing answers LPIO here (port 1): the client stays on its fallback, retrying.
  const url = `http://127.0.0.1:1/probe-${Math.random()}`;
  rememberFallback(url, 'lpio');
  let open = false;
  const { made, ScriptedSocket } = scriptedSockets(() => open);
  const client = new Client({
    url,
    transports: ['websocket', 'lpio'],
    WebSocket: ScriptedSocket,
    probe: { min: 20, max: 160 },
    backoff: { min: 5, max: 20 },
  });
  t.after(() => client.disconnect());
  const transports: string[] = [];
  client.on('transport', (name) => transports.push(name));
  client.on('error', () => undefined);
  client.connect();
  assert.equal(client.transport, 'lpio', 'the remembered fallback first');
  await until(() => made.length >= 4, 'four failed probes');
  const waits = made.slice(1, 4).map((at, i) => at - (made[i] as number));
  // Jittered by ±25 %: 20, 40, 80 ms (then at most 160), each after the previous probe failed.
  assert.ok(
    waits[2] !== undefined && waits[0] !== undefined && waits[2] > waits[0],
    `growing: ${waits.join(', ')}`,
  );
  assert.equal(transports.length, 1, 'still on lpio');
  open = true;
  await until(() => transports.length === 2, 'moved back');
  assert.deepEqual(transports, ['lpio', 'websocket']);
  assert.equal(client.transport, 'websocket');
  assert.equal(recallFallback(url, ['websocket', 'lpio']), undefined, 'the fallback forgotten');
});

test('probe: false never probes', async (t) => {
  const url = `http://127.0.0.1:1/no-probe-${Math.random()}`;
  rememberFallback(url, 'lpio');
  const { made, ScriptedSocket } = scriptedSockets(() => true);
  const client = new Client({
    url,
    transports: ['websocket', 'lpio'],
    WebSocket: ScriptedSocket,
    probe: false,
    backoff: { min: 1, max: 2 },
  });
  t.after(() => client.disconnect());
  let retries = 0;
  client.on('reconnecting', () => retries++);
  client.on('error', () => undefined);
  client.connect();
  // LPIO retries every 1–2 ms; a probe with any wait would have come within these 30.
  await until(() => retries >= 30, '30 LPIO retries');
  assert.deepEqual(made, []);
  assert.equal(client.transport, 'lpio');
});
