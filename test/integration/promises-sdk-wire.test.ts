/**
 * The SDK (`src/client`, Node) against the real server, watched on the wire through a loopback
 * proxy that reads every WebSocket frame (test/helpers/ws-tap.ts), for what
 * docs/protocols/websocket.md ("Client") promises:
 * - acks are cumulative (`{"type":"ack","upTo":n}`), name only ids that already reached the
 *   client, go at the latest every 128 messages (not one per message), and the last id received
 *   is acked; a resume's `hello` names the last id received;
 * - reconnects use exponential backoff with full jitter: each delay uniform in [0, min·2ⁿ],
 *   capped at `max`, reset by every `welcome`. The delays are read exactly, in the SDK's own
 *   (mocked) timer time, not on the wall clock: the proxy cuts or refuses connections, and the
 *   test advances the mocked clock a millisecond at a time until the SDK opens its next socket.
 */
import { strict as assert } from 'node:assert';
import { test, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { createClient, DEFAULT_BACKOFF, type WebSocketConstructor } from '../../src/client/index.js';
import { SocketRecorder } from '../helpers/recording-websocket.js';
import { serve, type TestServer } from '../helpers/start-server.js';
import { until } from '../helpers/until.js';
import { startWsTap, type WsTap } from '../helpers/ws-tap.js';

const WS = WebSocket as unknown as WebSocketConstructor;
/** docs/protocols/websocket.md, Client, Acks: "0.75–1.25 s after a message arrives … or every 128 messages". */
const ACK_EVERY = 128;
const ACK_DELAY_MIN_MS = 750;

async function tap(t: TestContext, server: TestServer): Promise<WsTap> {
  const proxy = await startWsTap(Number(new URL(server.origin).port));
  t.after(() => proxy.close());
  return proxy;
}

interface WireFrame {
  readonly type?: string;
  readonly next?: number;
  readonly upTo?: number;
  readonly last?: number;
}

const parsed = (proxy: WsTap) => proxy.frames.map((f) => ({ ...f, frame: JSON.parse(f.text) as WireFrame }));

test('SDK acks on the wire: cumulative, only for ids received, at least every 128 messages, the last id acked', async (t) => {
  const server = await serve(t, { settings: { batchWindowMs: 2 } });
  const proxy = await tap(t, server);
  const client = createClient({
    url: `${proxy.origin}/ws`,
    transport: 'websocket',
    WebSocket: WS,
    rotate: false,
  });
  t.after(() => client.disconnect());
  const got: number[] = [];
  client.on('message', (m) => got.push(m.id));
  client.connect();
  await until(() => client.state === 'connected', 'connected');
  const session = client.id as string;

  const total = 300;
  const started = Date.now();
  // Queued in one turn: the client gets them as one burst, faster than any ack timer.
  for (let i = 1; i <= total; i++) await server.server.send(session, i);
  await until(() => got.length === total, `${total} messages`);
  const ackOf = (n: number) =>
    parsed(proxy).some((f) => f.dir === 'up' && f.frame.type === 'ack' && f.frame.upTo === n);
  await until(() => ackOf(total), 'an ack of the last id');
  const elapsed = Date.now() - started;
  assert.deepEqual(
    got,
    Array.from({ length: total }, (_, i) => i + 1),
  );

  // The proxy's log is causal: an ack it read was sent by a client that had at most the ids before it.
  let next = 0;
  let reached = 0;
  let acked = 0;
  const acks: number[] = [];
  for (const { dir, frame } of parsed(proxy)) {
    if (dir === 'down') {
      if (frame.type === 'seq') next = frame.next as number;
      if (frame.type === 'data') reached = next++;
      continue;
    }
    if (frame.type !== 'ack') continue;
    const upTo = frame.upTo as number;
    assert.ok(upTo <= reached, `an ack of ${upTo} when only ids up to ${reached} had reached the client`);
    assert.ok(upTo > acked, `cumulative: ack ${upTo} after ack ${acked}`);
    assert.ok(
      upTo - acked <= ACK_EVERY,
      `ack ${upTo} leaves ${upTo - acked} messages unacked since ${acked}`,
    );
    acks.push(upTo);
    acked = upTo;
  }
  assert.equal(acked, total);
  t.diagnostic(`acks: ${acks.join(', ')} in ${elapsed} ms`);
  // Not one ack per message: one per 128, plus at most one per ack delay (0.75 s) of the run.
  const most = Math.ceil(total / ACK_EVERY) + 1 + Math.floor(elapsed / ACK_DELAY_MIN_MS);
  assert.ok(
    acks.length <= most,
    `${acks.length} acks (${acks.join(', ')}) for ${total} messages in ${elapsed} ms`,
  );
  // The server agrees, once the ack the proxy passed on has reached it: nothing is left unacked.
  const end = Date.now() + 10_000;
  while (((await server.server.inspect(session))?.unacked.length ?? -1) !== 0) {
    if (Date.now() > end) assert.fail('the server still holds unacked messages');
    await new Promise((r) => setTimeout(r, 5));
  }

  // After a drop, the resuming hello names exactly the last id received.
  let drops = 0;
  client.on('disconnected', () => drops++);
  proxy.cut();
  await until(() => drops === 1 && client.state === 'connected', 'resumed after the drop');
  const hellos = parsed(proxy).filter((f) => f.dir === 'up' && f.frame.type === 'hello');
  assert.deepEqual(
    hellos.map((f) => [f.conn, f.frame.last]),
    [
      [1, undefined],
      [2, total],
    ],
  );
});

/**
 * Advances the mocked clock one millisecond at a time until the SDK constructs its next socket;
 * returns how many milliseconds that took: the reconnect delay it drew.
 */
function reconnectDelay(t: TestContext, recorder: SocketRecorder, limit: number): number {
  const before = recorder.constructed;
  t.mock.timers.tick(0);
  let elapsed = 0;
  while (recorder.constructed === before && elapsed < limit) {
    t.mock.timers.tick(1);
    elapsed++;
  }
  assert.notEqual(recorder.constructed, before, `no reconnect within ${limit} ms of mocked time`);
  return elapsed;
}

test('SDK reconnect delays: full jitter in [0, min·2ⁿ] capped at max, reset by every welcome', async (t) => {
  const server = await serve(t, { settings: { batchWindowMs: 2 } });
  const proxy = await tap(t, server);
  const recorder = new SocketRecorder();
  // No backoff option: the documented defaults.
  const { min, max } = DEFAULT_BACKOFF;
  const client = createClient({
    url: `${proxy.origin}/ws`,
    transport: 'websocket',
    WebSocket: recorder.WebSocket,
    rotate: false,
  });
  t.after(() => client.disconnect());
  client.connect();
  await recorder.until(() => client.state === 'connected', 'connected');

  /** Cuts the connection; resolves once the SDK has handled the close (and so set its timer). */
  const cut = async () => {
    const closes = recorder.closesHandled;
    proxy.cut();
    await recorder.until(() => recorder.closesHandled > closes, 'the SDK saw the drop');
  };
  const limit = 4 * max;
  const afterWelcome: number[] = [];
  const outage: number[] = [];
  t.mock.timers.enable({ apis: ['setTimeout'] });
  try {
    // Drops of a working connection: every reconnect follows a welcome, so each delay is from [0, min].
    for (let i = 0; i < 8; i++) {
      await cut();
      afterWelcome.push(reconnectDelay(t, recorder, limit));
      await recorder.until(() => client.state === 'connected', 'resumed');
    }
    // An outage: connects fail in a row (accepted, then closed at once), the bound doubling from min.
    proxy.refuse = true;
    await cut();
    for (let n = 0; n <= 10; n++) {
      if (n === 10) proxy.refuse = false;
      const closes = recorder.closesHandled;
      outage.push(reconnectDelay(t, recorder, limit));
      if (n < 10) await recorder.until(() => recorder.closesHandled > closes, 'the refused connect closed');
    }
    await recorder.until(() => client.state === 'connected', 'back after the outage');
    // That welcome reset the backoff: the next drop's delay is from [0, min] again.
    await cut();
    afterWelcome.push(reconnectDelay(t, recorder, limit));
    await recorder.until(() => client.state === 'connected', 'resumed');
  } finally {
    t.mock.timers.reset();
  }

  t.diagnostic(`delays after a welcome: ${afterWelcome.join(', ')}; in the outage: ${outage.join(', ')}`);
  for (const delay of afterWelcome) assert.ok(delay >= 0 && delay <= min, `${delay} ms after a welcome`);
  assert.ok(new Set(afterWelcome).size >= 3, `jittered, not fixed: ${afterWelcome.join(', ')}`);
  outage.forEach((delay, n) => {
    const bound = Math.min(min * 2 ** n, max);
    assert.ok(delay >= 0 && delay <= bound, `failure ${n + 1}: ${delay} ms, bound ${bound}`);
  });
  assert.ok(new Set(outage).size >= 3, `jittered: ${outage.join(', ')}`);
  assert.ok(
    outage.some((delay) => delay > 2 * min),
    `the bound grows with failures: ${outage.join(', ')}`,
  );
  assert.equal(recorder.constructed, 1 + afterWelcome.length + outage.length, 'one socket per attempt');
});
