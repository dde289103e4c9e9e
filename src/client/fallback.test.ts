import * as assert from 'node:assert/strict';
import { mock, test } from 'node:test';
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
  // The probe's waits on a mocked clock (jittered by ±25 %: 20, 40, 80, then at most 160 ms).
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const advance = async (ms: number) => {
    mock.timers.tick(ms);
    await new Promise((resolve) => setImmediate(resolve));
  };
  // Nothing answers LPIO here (port 1): the client stays on its fallback.
  const url = `http://127.0.0.1:1/probe-${Math.random()}`;
  rememberFallback(url, 'lpio');
  let open = false;
  const { made, ScriptedSocket } = scriptedSockets(() => open);
  const client = new Client({
    url,
    transports: ['websocket', 'lpio'],
    WebSocket: ScriptedSocket,
    probe: { min: 20, max: 160 },
  });
  t.after(() => client.disconnect());
  const transports: string[] = [];
  client.on('transport', (name) => transports.push(name));
  client.on('error', () => undefined);
  client.connect();
  assert.equal(client.transport, 'lpio', 'the remembered fallback first');
  for (const [earliest, latest] of [
    [15, 25],
    [30, 50],
    [60, 100],
  ] as const) {
    const probes = made.length;
    await advance(earliest - 1);
    assert.equal(made.length, probes, `no probe before ${earliest} ms`);
    await advance(latest - earliest + 1);
    assert.equal(made.length, probes + 1, `a probe by ${latest} ms`);
    await advance(1); // its socket fails 1 ms in: the next wait starts then
  }
  assert.equal(client.transport, 'lpio', 'still on the fallback');
  open = true;
  await advance(200);
  await advance(1);
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
