/**
 * The SDK's WebSocket transport and seed 002's connection layer against a real server: the
 * connection-layer API, sessions and routing, reconnects after the network drops (through a TCP
 * proxy that cuts every connection), make-before-break rotation under a steady stream in both
 * directions, keep-alives, and fallback to LPIO when WebSocket is refused.
 */
import { strict as assert } from 'node:assert';
import { createServer, Socket, type Server } from 'node:net';
import { test, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import {
  createClient,
  type Client,
  type ClientMessage,
  type ClientOptions,
  type TransportName,
} from '../../src/client/index.js';
import { WebSocketConnection, type WebSocketConstructor } from '../../src/client/connection.js';
import type { SwitchboardOptions } from '../../src/index.js';
import { startServer } from '../helpers/start-server.js';
import { until } from '../helpers/until.js';
import { RawWsClient } from '../helpers/ws-client.js';

const WS = WebSocket as unknown as WebSocketConstructor;
const FAST = { min: 10, max: 200 };

async function serve(t: TestContext, options: SwitchboardOptions = {}) {
  const started = await startServer({ settings: { batchWindowMs: 2 }, ...options });
  t.after(() => started.close());
  return started;
}

function client(t: TestContext, options: Partial<ClientOptions> & { url: string }): Client {
  const c = createClient({
    ...(options.transports === undefined && { transport: 'websocket' as const }),
    WebSocket: WS,
    backoff: FAST,
    ackTimeout: 5_000,
    ...options,
  });
  t.after(() => c.disconnect());
  return c;
}

async function connected(c: Client): Promise<void> {
  if (c.state === 'disconnected') c.connect();
  await until(() => c.state === 'connected', 'connected');
}

/** A TCP proxy on loopback whose connections can all be cut at once (a network drop). */
async function startProxy(t: TestContext, targetPort: number): Promise<{ port: number; cut(): void }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = new Socket();
    outbound.connect(targetPort, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      // cut() destroys both ends on purpose; the resets that follow are the point, not a failure.
      s.on('error', () => undefined);
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

test('connection layer: isConnected, send returns the same, onMessage gets strings', async (t) => {
  const server = await serve(t);
  const url = server.origin.replace('http', 'ws') + '/ws';
  const layer = new WebSocketConnection({
    url,
    WebSocket: WS,
    greeting: () => JSON.stringify({ type: 'hello' }),
    isReady: (msg) => msg.startsWith('{"type":"welcome"'),
  });
  t.after(() => layer.stop());
  const received: string[] = [];
  layer.onMessage = (msg) => received.push(msg);
  assert.equal(layer.isConnected(), false);
  assert.equal(layer.send('{"type":"ping"}'), false, 'send says false when there is no connection');
  layer.start();
  await until(() => layer.isConnected(), 'connected');
  assert.equal(typeof received[0], 'string');
  const welcome = JSON.parse(received[0] as string) as { type: string; session: string };
  assert.equal(welcome.type, 'welcome');
  assert.equal(layer.send(JSON.stringify({ type: 'data', id: 'x1', data: 'hello server' })), true);
  await until(() => received.some((m) => m.includes('"ack"') && m.includes('x1')), 'the ack');
  layer.stop();
  assert.equal(layer.isConnected(), false);
  assert.equal(layer.send('{}'), false);
});

test('SDK over WebSocket: sessions, subscriptions, paths and direct messages', async (t) => {
  const server = await serve(t);
  const a = client(t, { url: `${server.origin}/ws` });
  const b = client(t, { url: `${server.origin}/ws` });
  const got: ClientMessage[] = [];
  a.on('message', (m) => got.push(m));
  await connected(a);
  await connected(b);
  assert.equal(a.transport, 'websocket');
  await a.subscribe('/news/*');
  await b.send({ headline: 'x' }, { path: '/news/today' });
  await b.send('psst', { to: a.address as string });
  await until(() => got.length === 2, 'the path and the direct message');
  assert.deepEqual(
    got.map((m) => [m.id, m.path, m.from, m.data]),
    [
      [1, '/news/today', b.address, { headline: 'x' }],
      [2, undefined, b.address, 'psst'],
    ],
  );
  await assert.rejects(
    b.send('x', { path: '/meta/nope' }),
    { code: 'SB_ERR_BAD_PATH' },
    'a refused frame fails exactly its messages',
  );
});

test('the network drops repeatedly under a steady stream: the client resumes, nothing lost or twice', async (t) => {
  const server = await serve(t);
  const proxy = await startProxy(t, Number(new URL(server.origin).port));
  const c = client(t, { url: `ws://127.0.0.1:${proxy.port}/ws` });
  const got: number[] = [];
  c.on('message', (m) => got.push(m.data as number));
  let drops = 0;
  let connects = 0;
  c.on('disconnected', () => drops++);
  c.on('state', (state) => {
    if (state === 'connected') connects++;
  });
  await connected(c);
  await c.subscribe('/tick');
  const sessionId = c.id;
  const total = 1_500;
  for (let i = 1; i <= total; i++) {
    await server.server.publish('/tick', i);
    if (i % 300 === 0) {
      // Each cut hits a live connection: wait until the client is back from the previous one.
      const cuts = i / 300;
      await until(() => connects >= cuts, `reconnect ${cuts}`);
      proxy.cut();
    }
    // A steady stream, not one burst: the client keeps within 100 messages of the publisher.
    if (i % 50 === 0) await until(() => got.length >= i - 100, `message ${i - 100}`);
  }
  // One more after the last: once it is in, anything sent twice before it would be in too.
  await server.server.publish('/tick', total + 1);
  await until(() => got.length >= total + 1, 'every message and the last one');
  assert.deepEqual(
    got,
    Array.from({ length: total + 1 }, (_, i) => i + 1),
  );
  assert.equal(c.id, sessionId, 'the same session throughout');
  assert.ok(drops >= 3, `the connection really dropped (${drops} times)`);
});

test('make-before-break rotation under load in both directions: zero loss, no duplicates, in order', async (t) => {
  const server = await serve(t);
  const inbound: number[] = [];
  server.server.on('message', (m) => inbound.push(m.data as number));
  const c = client(t, { url: `${server.origin}/ws`, rotate: { min: 100, max: 150 } });
  const opened: string[] = [];
  server.server.on('sessionOpen', (s) => opened.push(s.id));
  const got: number[] = [];
  c.on('message', (m) => got.push(m.data as number));
  const lost: string[] = [];
  c.on('disconnected', (reason) => lost.push(reason ?? ''));
  await connected(c);
  await c.subscribe('/flow');
  // A steady stream both ways until at least 2,000 messages and 4 rotations (bounded: 20,000).
  const rotations = async () => (await server.server.stats()).counters.superseded ?? 0;
  const sends: Promise<void>[] = [];
  let total = 0;
  while (total < 20_000) {
    total++;
    await server.server.publish('/flow', total);
    sends.push(c.send(total));
    if (total % 20 === 0) {
      // A steady stream, not one burst: each side keeps within 200 messages of the other.
      const behind = total - 200;
      await until(() => got.length >= behind && inbound.length >= behind, `message ${behind} both ways`);
      if (total >= 2_000 && (await rotations()) >= 4) break;
    }
  }
  await Promise.all(sends);
  // One more each way after the last: once they are in, anything sent twice before them would be too.
  total++;
  await server.server.publish('/flow', total);
  await c.send(total);
  await until(() => got.length >= total && inbound.length >= total, 'every message and the last ones');
  const stats = await server.server.stats();
  assert.ok((stats.counters.superseded ?? 0) >= 4, `rotations happened (${stats.counters.superseded})`);
  assert.deepEqual(
    got,
    Array.from({ length: total }, (_, i) => i + 1),
    'server → client',
  );
  assert.deepEqual(
    inbound,
    Array.from({ length: total }, (_, i) => i + 1),
    'client → server',
  );
  assert.equal(opened.length, 1, 'one session throughout');
  assert.deepEqual(lost, [], 'a rotation is not a disconnect');
});

test('keep-alives hold a quiet connection open across several idle timeouts', async (t) => {
  const server = await serve(t, { websocket: { idleTimeoutMs: 300, keepAliveMs: 100 } });
  const c = client(t, { url: `${server.origin}/ws` });
  const lost: unknown[] = [];
  c.on('disconnected', (r) => lost.push(r));
  await connected(c);
  // Silent connections opened one after another, each closed for its idle timeout: by the last
  // close the client has been quiet (keep-alives aside) for longer than three idle timeouts.
  const wsUrl = `${server.origin.replace('http', 'ws')}/ws`;
  for (let i = 0; i < 3; i++) {
    const { client: silent } = await RawWsClient.connect(wsUrl);
    t.after(() => silent.close());
    assert.deepEqual(await silent.waitClosed(), { code: 4004, reason: 'timeout' });
  }
  assert.deepEqual(lost, []);
  assert.equal(c.state, 'connected');
  const stats = await server.server.stats();
  assert.equal(stats.closeReasons.timeout, 3, 'only the silent connections timed out');
});

test('fallback: WebSocket refused, the client goes on over LPIO and remembers it', async (t) => {
  const server = await serve(t, { websocket: false });
  const transports: TransportName[] = [];
  const options = { url: server.origin, transports: ['websocket', 'lpio'] as TransportName[] };
  const c = client(t, options);
  c.on('transport', (name) => transports.push(name));
  const got: unknown[] = [];
  c.on('message', (m) => got.push(m.data));
  const pending = c.send('sent before the fallback');
  c.connect();
  await until(() => c.state === 'connected', 'connected over lpio');
  assert.deepEqual(transports, ['websocket', 'lpio']);
  assert.equal(c.transport, 'lpio');
  await pending;
  await c.subscribe('/x');
  await server.server.publish('/x', 'over lpio');
  await until(() => got.length === 1, 'the publish over lpio');
  assert.deepEqual(got, ['over lpio']);

  const next = client(t, options);
  assert.equal(next.transport, 'lpio', 'the next client starts with what worked');
});

test('a server gone silent is left after its idle timeout (4004) and the client connects again', async (t) => {
  // A peer that greets and then says nothing, not even keep-alives: a stalled server or a
  // half-dead network path. A real Switchboard server would keep the connection alive.
  const { WebSocketServer } = await import('ws');
  const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  t.after(() => {
    for (const ws of silent.clients) ws.terminate();
    return new Promise((resolve) => silent.close(resolve));
  });
  await new Promise((resolve) => silent.once('listening', resolve));
  const { port } = silent.address() as { port: number };
  const heard: string[][] = [];
  const closes: number[] = [];
  silent.on('connection', (ws) => {
    const frames: string[] = [];
    heard.push(frames);
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      frames.push(text);
      if (text.includes('"hello"')) {
        ws.send(
          JSON.stringify({
            type: 'welcome',
            session: `s${heard.length}`,
            address: 'a',
            resumed: false,
            keepAlive: 100,
            timeout: 400,
          }),
        );
      }
    });
    ws.on('close', (code) => closes.push(code));
  });
  const c = client(t, { url: `ws://127.0.0.1:${port}/ws` });
  c.connect();
  await until(() => closes.length >= 1 && heard.length >= 2, 'the idle close and a new connection');
  assert.equal(closes[0], 4004, 'closed by the client for its idle timeout');
  const first = heard[0] ?? [];
  assert.ok(first[0]?.includes('"hello"'), String(first[0]));
  assert.ok(
    first.includes('{"type":"ping"}'),
    `the client kept its side alive meanwhile: ${JSON.stringify(first)}`,
  );
});
