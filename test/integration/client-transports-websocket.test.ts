/**
 * The SDK's WebSocket transport against a real `ws` server on loopback whose every frame the test
 * scripts: what each close code makes the client do (4100–4599, 4500–4599 and 1008 final), when
 * it gives up on WebSocket for LPIO (and when it does not), a welcome that carries a close, the
 * hello's `last` and ids repeated after a resume, framing (urgent, one message, a frame's limit)
 * and frames the client cannot use.
 */
import { strict as assert } from 'node:assert';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import {
  createClient,
  type Client,
  type ClientError,
  type ClientOptions,
  type SessionInfo,
  type TransportName,
  type WebSocketConstructor,
} from '../../src/client/index.js';
import { until } from '../helpers/until.js';

const WS = WebSocket as unknown as WebSocketConstructor;

interface Peer {
  readonly ws: WebSocket;
  readonly frames: string[];
  /** Frames the server sent, in order, with the frames it had received by then. */
  readonly log: string[];
  closed: { code: number; reason: string } | undefined;
}

type Script = (peer: Peer, frame: string, index: number) => void;

/** An HTTP server with a `ws` server on it; LPIO requests get a session, then are held. */
async function scriptedServer(t: TestContext, script: Script): Promise<{ origin: string; peers: Peer[] }> {
  let lpioRequests = 0;
  const http = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (lpioRequests++ > 0) return; // held until the end of the test
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ state: 1, messages: [], set: { id: 'lpio-session', address: 'lpio-addr' } }));
    });
  });
  const wss = new WebSocketServer({ server: http });
  const peers: Peer[] = [];
  wss.on('connection', (ws) => {
    const peer: Peer = { ws, frames: [], log: [], closed: undefined };
    const index = peers.length;
    peers.push(peer);
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      peer.frames.push(text);
      peer.log.push(`in ${text}`);
      // Every message is acked (the sends settle); the script sees every frame.
      const parsed = JSON.parse(text) as { type?: string; id?: string } | Array<{ id: string }>;
      const ids = Array.isArray(parsed) ? parsed.map((m) => m.id) : parsed.type === 'data' ? [parsed.id] : [];
      if (ids.length > 0) send(peer, { type: 'ack', ids });
      script(peer, text, index);
    });
    ws.on('close', (code, reason) => (peer.closed = { code, reason: reason.toString() }));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const ws of wss.clients) ws.terminate();
    http.closeAllConnections();
    wss.close();
    return new Promise((resolve) => http.close(resolve));
  });
  return { origin: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, peers };
}

function send(peer: Peer, frame: unknown): void {
  const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
  peer.log.push(`out ${text}`);
  peer.ws.send(text);
}

const welcome = (session: string, extra: Record<string, unknown> = {}) => ({
  type: 'welcome',
  session,
  address: `${session}-addr`,
  resumed: false,
  ...extra,
});

const isHello = (frame: string) => frame.startsWith('{"type":"hello"');

function ws(t: TestContext, options: Partial<ClientOptions> & { url: string }): Client {
  const c = createClient({
    ...(options.transports === undefined && { transport: 'websocket' as const }),
    WebSocket: WS,
    backoff: { min: 5, max: 20 },
    ackTimeout: 60_000,
    rotate: false,
    ...options,
  });
  t.after(() => c.disconnect());
  return c;
}

interface Seen {
  errors: ClientError[];
  sessions: SessionInfo[];
  lost: Array<string | undefined>;
}

function watch(c: Client): Seen {
  const seen: Seen = { errors: [], sessions: [], lost: [] };
  c.on('error', (e) => seen.errors.push(e));
  c.on('session', (s) => seen.sessions.push(s));
  c.on('disconnected', (r) => seen.lost.push(r));
  return seen;
}

/** The first connection is welcomed and then closed with `code`; later ones are welcomed. */
async function closedWith(t: TestContext, code: number, reason: string) {
  const { origin, peers } = await scriptedServer(t, (peer, frame, index) => {
    if (!isHello(frame)) return;
    send(peer, welcome(`s${index}`));
    if (index === 0) peer.ws.close(code, reason);
  });
  const c = ws(t, { url: `${origin}/ws` });
  const seen = watch(c);
  c.connect();
  await until(() => seen.lost.length === 1, `the close ${code}`);
  return { c, seen, peers };
}

test('final close codes stop the client: 1008 as forbidden, 4500 and 4599 as the session ended', async (t) => {
  for (const [code, reason] of [
    [1008, 'policy'],
    [4500, 'not allowed'],
    [4599, ''],
  ] as const) {
    const { c, seen } = await closedWith(t, code, reason);
    const why = reason || `closed (${code})`;
    assert.equal(c.state, 'disconnected', `${code} is final`);
    assert.equal(seen.lost[0], why);
    assert.deepEqual(
      seen.errors.map((e) => [e.code, e.message]),
      code === 1008 ? [['SB_ERR_FORBIDDEN', why]] : [],
      `${code}`,
    );
  }
});

test('other close codes reconnect: 4100–4499 named as the previous session, the rest not', async (t) => {
  for (const [code, reason, previous] of [
    [4100, '', true],
    [4498, 'moved', true],
    [4099, 'x', false],
    [4600, 'later', false],
  ] as const) {
    const { c, seen } = await closedWith(t, code, reason);
    await until(() => seen.sessions.length === 2 && c.state === 'connected', `${code}: the next session`);
    assert.deepEqual(seen.errors, [], `${code}`);
    assert.equal(seen.lost[0], reason || `closed (${code})`);
    assert.deepEqual(
      seen.sessions[1]?.previous,
      previous ? { code, reason: reason || `closed (${code})`, reconnect: true } : undefined,
      `${code}`,
    );
  }
});

test('blocked: two connects in a row that never got a welcome fall back to LPIO, and say why', async (t) => {
  const { origin, peers } = await scriptedServer(t, (peer, frame) => {
    if (isHello(frame)) peer.ws.close(4000, 'nope');
  });
  const c = ws(t, { url: origin, transports: ['websocket', 'lpio'] });
  const seen = watch(c);
  const transports: TransportName[] = [];
  let socketsAtFallback = -1;
  c.on('transport', (name) => {
    transports.push(name);
    if (name === 'lpio') socketsAtFallback = peers.length;
  });
  c.connect();
  await until(() => c.state === 'connected', 'connected over lpio');
  assert.deepEqual(transports, ['websocket', 'lpio']);
  assert.equal(socketsAtFallback, 2);
  assert.deepEqual(
    seen.errors.map((e) => [e.code, e.message]),
    [['SB_ERR_TRANSPORT_BLOCKED', 'websocket could not connect (4000 nope); falling back to lpio']],
  );

  // Refused at the upgrade: no close frame, code 1006 and no reason.
  const refusing = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ state: 1, messages: [], set: { id: 'l2', address: 'l2-addr' } }));
    });
  });
  refusing.on('upgrade', (_req, socket) => socket.destroy());
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    refusing.closeAllConnections();
    return new Promise((resolve) => refusing.close(resolve));
  });
  const other = ws(t, {
    url: `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`,
    transports: ['websocket', 'lpio'],
  });
  const errors: string[] = [];
  other.on('error', (e) => errors.push(e.message));
  other.connect();
  await until(() => other.transport === 'lpio' && other.state === 'connected', 'the second client on lpio');
  assert.deepEqual(errors.slice(0, 1), ['websocket could not connect (1006); falling back to lpio']);
});

test('once connected, failed reconnects do not count as blocked: the client stays on WebSocket', async (t) => {
  // Welcomed, then closed; the next two are closed before their welcome; the fourth is welcomed.
  const { origin, peers } = await scriptedServer(t, (peer, frame, index) => {
    if (!isHello(frame)) return;
    if (index === 1 || index === 2) {
      peer.ws.close(4000, 'not yet');
      return;
    }
    send(peer, welcome('s', { resumed: index > 0 }));
    if (index === 0) peer.ws.close(4000, 'bye');
  });
  const c = ws(t, { url: origin, transports: ['websocket', 'lpio'] });
  const transports: TransportName[] = [];
  c.on('transport', (name) => transports.push(name));
  const seen = watch(c);
  c.connect();
  await until(() => peers.length === 4 && c.state === 'connected', 'connected again on the fourth socket');
  assert.deepEqual(transports, ['websocket']);
  assert.equal(c.transport, 'websocket');
  assert.deepEqual(seen.errors, []);
});

test('a welcome that carries a close: a new session names it, a final one stops the client', async (t) => {
  const { origin } = await scriptedServer(t, (peer, frame, index) => {
    if (!isHello(frame)) return;
    const close = index === 0 ? { code: 4104, reason: 'lost', reconnect: true } : undefined;
    send(peer, welcome(`s${index}`, close ? { close } : {}));
  });
  const c = ws(t, { url: `${origin}/ws` });
  const seen = watch(c);
  c.connect();
  await until(() => c.state === 'connected', 'connected');
  assert.deepEqual(seen.sessions[0]?.previous, { code: 4104, reason: 'lost', reconnect: true });

  const { origin: second } = await scriptedServer(t, (peer, frame) => {
    if (isHello(frame))
      send(peer, welcome('ended', { close: { code: 4500, reason: 'banned', reconnect: false } }));
  });
  const d = ws(t, { url: `${second}/ws` });
  const ended = watch(d);
  d.connect();
  await until(() => ended.lost.length === 1, 'the session ended');
  assert.equal(d.state, 'disconnected');
  assert.deepEqual(ended.lost, ['banned']);
  assert.deepEqual(ended.sessions, [], 'no session after the final close');
});

test('the hello names the last id received; ids at or below it are dropped', async (t) => {
  const { origin, peers } = await scriptedServer(t, (peer, frame, index) => {
    if (!isHello(frame)) return;
    send(peer, welcome('s', { resumed: index > 0 }));
    if (index === 1) {
      send(peer, { type: 'seq', next: 1 });
      for (const d of ['one', 'two', 'three']) send(peer, { type: 'data', data: d });
      // Sent again (a resume may repeat some): ids 2 and 3 again.
      send(peer, { type: 'seq', next: 2 });
      send(peer, { type: 'data', data: 'two again' });
    }
    if (index < 2) peer.ws.close(4000, 'again');
  });
  const c = ws(t, { url: `${origin}/ws` });
  const got: Array<[number, unknown]> = [];
  c.on('message', (m) => got.push([m.id, m.data]));
  c.connect();
  await until(() => peers.length === 3 && (peers[2]?.frames.length ?? 0) >= 1, 'the third hello');
  assert.deepEqual(JSON.parse(peers[0]?.frames[0] as string), { type: 'hello' });
  assert.deepEqual(
    JSON.parse(peers[1]?.frames[0] as string),
    { type: 'hello', session: 's' },
    'nothing seen: no last',
  );
  assert.deepEqual(JSON.parse(peers[2]?.frames[0] as string), { type: 'hello', session: 's', last: 3 });
  assert.deepEqual(got, [
    [1, 'one'],
    [2, 'two'],
    [3, 'three'],
  ]);
});

test('framing: one message is one object frame, an urgent one goes alone, a turn of sends is one array', async (t) => {
  const { origin, peers } = await scriptedServer(t, (peer, frame) => {
    if (isHello(frame)) send(peer, welcome('s'));
  });
  const c = ws(t, { url: `${origin}/ws` });
  c.connect();
  await until(() => c.state === 'connected', 'connected');
  const dataFrames = () => (peers[0]?.frames ?? []).filter((f) => f.includes('"type":"data"'));
  await c.send('alone');
  await Promise.all([c.send('urgent', { urgent: true }), c.send('after'), c.send('and after')]);
  const frames = dataFrames().map((f) => JSON.parse(f) as unknown);
  const dataOf = (f: unknown) =>
    Array.isArray(f) ? f.map((m: { data: unknown }) => m.data) : (f as { data: unknown }).data;
  assert.deepEqual(frames.map(dataOf), ['alone', 'urgent', ['after', 'and after']]);
});

test('frames before the welcome do not make the socket ready: sends wait for the welcome', async (t) => {
  let greet: (() => void) | undefined;
  const { origin, peers } = await scriptedServer(t, (peer, frame) => {
    if (!isHello(frame)) return;
    send(peer, { type: 'ping' });
    greet = () => send(peer, welcome('s'));
  });
  const pings: number[] = [];
  // The client's own socket, to see the ping arrive before anything else is done.
  const Counting = class extends WebSocket {
    constructor(url: string) {
      super(url);
      this.on('message', () => pings.push(1));
    }
  } as unknown as WebSocketConstructor;
  const d = ws(t, { url: `${origin}/ws`, WebSocket: Counting });
  d.connect();
  await until(() => pings.length === 1, 'the ping before the welcome');
  const early = d.send('early');
  // Its write would be queued as a microtask: once they have all run, it is still unsent.
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(d.messages()[0]?.state, 'unsent', 'nothing goes before the welcome');
  greet?.();
  await until(() => (peers[0]?.frames ?? []).some((f) => f.includes('"early"')), 'the message');
  const log = peers[0]?.log ?? [];
  const at = log.findIndex((l) => l.startsWith('in ') && l.includes('"early"'));
  const welcomed = log.findIndex((l) => l.startsWith('out {"type":"welcome"'));
  assert.ok(welcomed >= 0 && at > welcomed, `sent after the welcome: ${JSON.stringify(log)}`);
  await early;
  assert.equal(d.state, 'connected');
});

test('frames the client cannot use are errors with codes: not JSON, an error frame without a code', async (t) => {
  const { origin } = await scriptedServer(t, (peer, frame) => {
    if (!isHello(frame)) return;
    send(peer, welcome('s'));
    send(peer, 'not json');
    send(peer, { type: 'error' });
  });
  const c = ws(t, { url: `${origin}/ws` });
  const seen = watch(c);
  c.connect();
  await until(() => seen.errors.length === 2, 'two errors');
  assert.deepEqual(
    seen.errors.map((e) => [e.code, e.message]),
    [
      ['SB_ERR_BAD_RESPONSE', 'a frame is not JSON'],
      ['SB_ERR_BAD_REQUEST', 'the server refused a frame'],
    ],
  );
  assert.ok(seen.errors[0]?.cause instanceof SyntaxError);
  assert.equal(c.state, 'connected');
});

test("a message that cannot fit in a frame of the server's limit is refused; one that just fits goes", async (t) => {
  const LIMIT = 200;
  const { origin, peers } = await scriptedServer(t, (peer, frame) => {
    if (isHello(frame)) send(peer, welcome('s', { limits: { bytes: LIMIT } }));
  });
  const c = ws(t, { url: `${origin}/ws` });
  c.connect();
  await until(() => c.state === 'connected', 'connected');
  const sent = c.send('probe');
  const probe = c.messages()[0]?.id as string;
  const prefix = probe.slice(0, probe.lastIndexOf('-'));
  // On the wire: {"type":"data","id":"<id>","data":"<x…>"}, with brackets and a separator 3 more.
  const wire = (id: string, data: string) => JSON.stringify({ type: 'data', id, data }).length + 3;
  const fill = (id: string, total: number) => 'x'.repeat(total - wire(id, ''));
  const fits = c.send(fill(`${prefix}-2`, LIMIT));
  const over = c.send(fill(`${prefix}-3`, LIMIT + 1));
  await assert.rejects(over, {
    code: 'SB_ERR_PAYLOAD_TOO_LARGE',
    message: `message ${prefix}-3 does not fit in a frame of ${LIMIT} bytes`,
  });
  await Promise.all([sent, fits]);
  assert.ok(
    (peers[0]?.frames ?? []).some((f) => f.includes(`"${prefix}-2"`)),
    'the one that fits went',
  );
});

test('disconnect, then connect again: the same client connects again', async (t) => {
  const { origin, peers } = await scriptedServer(t, (peer, frame) => {
    if (isHello(frame)) send(peer, welcome('s', { resumed: true }));
  });
  const c = ws(t, { url: `${origin}/ws` });
  c.connect();
  await until(() => c.state === 'connected', 'connected');
  c.disconnect();
  c.connect();
  await until(() => c.state === 'connected' && peers.length === 2, 'connected again');
});
