/**
 * Seed 002's connection layer (src/client/connection.ts) step by step against a real `ws` server on
 * loopback whose every frame the test scripts: what makes a socket ready, reconnects with and
 * without an `onClose`, make-before-break rotation (refused while one runs, a failed one tried
 * again soon), a socket that is closing is not a connection, and the keep-alive and idle timers,
 * read exactly in mocked time (`Date` and `setInterval`) while the sockets stay real.
 */
import { strict as assert } from 'node:assert';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import {
  WebSocketConnection,
  type CloseEventInfo,
  type ConnectionOptions,
} from '../../src/client/connection.js';
import { SocketRecorder } from '../helpers/recording-websocket.js';
import { until } from '../helpers/until.js';

interface Peer {
  readonly ws: WebSocket;
  readonly frames: string[];
  closed: { code: number; reason: string } | undefined;
}

/** A `ws` server; `greet` runs on every frame a connection receives. */
async function scriptedServer(
  t: TestContext,
  greet: (peer: Peer, frame: string, index: number) => void,
): Promise<{ url: string; peers: Peer[] }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const peers: Peer[] = [];
  t.after(() => {
    for (const ws of wss.clients) ws.terminate();
    return new Promise((resolve) => wss.close(resolve));
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws) => {
    const peer: Peer = { ws, frames: [], closed: undefined };
    const index = peers.length;
    peers.push(peer);
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      peer.frames.push(text);
      greet(peer, text, index);
    });
    ws.on('close', (code, reason) => (peer.closed = { code, reason: reason.toString() }));
  });
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`, peers };
}

const HELLO = '{"type":"hello"}';
const WELCOME = '{"type":"welcome","session":"s","address":"a","resumed":false}';
/** Answers every hello with a welcome. */
const welcoming = (peer: Peer, frame: string) => {
  if (frame === HELLO) peer.ws.send(WELCOME);
};

function layer(
  t: TestContext,
  options: Partial<ConnectionOptions> & { url: string },
  events: ConstructorParameters<typeof WebSocketConnection>[1] = {},
): { layer: WebSocketConnection; recorder: SocketRecorder } {
  const recorder = new SocketRecorder();
  const l = new WebSocketConnection(
    {
      WebSocket: recorder.WebSocket,
      backoff: { min: 5, max: 20 },
      greeting: () => HELLO,
      isReady: (msg) => msg.startsWith('{"type":"welcome"'),
      rotate: false,
      ...options,
    },
    events,
  );
  t.after(() => l.stop());
  return { layer: l, recorder };
}

test('without a WebSocket class (Node 20 has no global one) the layer says what to pass', () => {
  assert.equal((globalThis as { WebSocket?: unknown }).WebSocket, undefined);
  assert.throws(() => new WebSocketConnection({ url: 'ws://127.0.0.1:1/ws' }), {
    name: 'TypeError',
    message: 'no WebSocket implementation: pass options.WebSocket (e.g. the ws package)',
  });
});

test('without isReady the first frame makes the socket ready, and later ones keep it; without onClose it reconnects', async (t) => {
  const { url, peers } = await scriptedServer(t, (peer, frame) => {
    if (frame === HELLO) {
      peer.ws.send('one');
      peer.ws.send('two');
    }
  });
  const { layer: l } = layer(t, { url, isReady: undefined });
  const heard: Array<[string, boolean]> = [];
  l.onMessage = (msg) => heard.push([msg, l.isConnected()]);
  l.start();
  await until(() => heard.length === 2, 'both frames');
  assert.deepEqual(heard, [
    ['one', true],
    ['two', true],
  ]);
  assert.equal(l.send('after'), true, 'the socket is still the one in use');
  const first = peers[0] as Peer;
  await until(() => first.frames.includes('after'), 'the frame after');
  assert.equal(first.closed, undefined);
  // The server closes it: with no onClose to ask, the layer connects again.
  first.ws.close(4000, 'bye');
  await until(() => peers.length === 2 && heard.length === 4, 'a new connection, greeted');
  assert.deepEqual(peers[1]?.frames, [HELLO]);
});

test('rotate(): not before start, not while one runs, not after stop; the old socket is let go with 1000 rotated', async (t) => {
  const { url, peers } = await scriptedServer(t, welcoming);
  const opened: boolean[] = [];
  const closes: CloseEventInfo[] = [];
  const { layer: l, recorder } = layer(
    t,
    { url },
    { onOpen: (rotated) => opened.push(rotated), onClose: (info) => closes.push(info) > 0 },
  );
  l.rotate();
  assert.equal(recorder.sockets.length, 0, 'not started: nothing to rotate');
  l.start();
  await until(() => l.isConnected(), 'connected');
  l.rotate();
  l.rotate();
  assert.equal(recorder.sockets.length, 2, 'one rotation at a time');
  await until(() => opened.length === 2, 'the rotation done');
  assert.deepEqual(opened, [false, true], 'the first socket opens, the second rotates');
  await until(() => peers[0]?.closed !== undefined, 'the old socket closed');
  assert.deepEqual(peers[0]?.closed, { code: 1000, reason: 'rotated' });
  assert.equal(l.send('on the new one'), true);
  await until(() => peers[1]?.frames.includes('on the new one') === true, 'sent on the new socket');
  assert.deepEqual(closes, [], 'a rotation is not a close');
  l.stop();
  l.rotate();
  assert.equal(recorder.sockets.length, 2, 'stopped: nothing to rotate');
  // Started again after a stop, it connects again.
  l.start();
  assert.equal(recorder.sockets.length, 3);
  await until(() => opened.length === 3, 'connected again');
  assert.deepEqual(opened, [false, true, false]);
});

test('a failed rotation leaves the working socket alone and is tried again soon, without a close', async (t) => {
  // The second connection is refused before its welcome; every other one is welcomed.
  const { url, peers } = await scriptedServer(t, (peer, frame, index) => {
    if (index === 1) peer.ws.close(4000, 'not now');
    else welcoming(peer, frame);
  });
  const opened: boolean[] = [];
  const closes: CloseEventInfo[] = [];
  // Rotations every 100 ms to about 3 h: a retry "soon" is min(min, 60 s), 100 ms.
  const { layer: l } = layer(
    t,
    { url, rotate: { min: 100, max: 10_000_000 } },
    { onOpen: (rotated) => opened.push(rotated), onClose: (info) => closes.push(info) > 0 },
  );
  l.start();
  await until(() => opened.length === 1, 'connected');
  l.rotate();
  await until(() => peers[1]?.closed !== undefined, 'the rotation refused');
  assert.equal(l.isConnected(), true, 'the working socket goes on');
  await until(() => opened.length === 2, 'the rotation tried again');
  assert.deepEqual(opened, [false, true]);
  assert.equal(peers.length, 3);
  assert.deepEqual(closes, [], 'neither the refused rotation nor the rotation is a close');
});

test('a socket that is closing is not a connection: isConnected and send say false', async (t) => {
  const { url, peers } = await scriptedServer(t, welcoming);
  const { layer: l, recorder } = layer(t, { url });
  l.start();
  await until(() => l.isConnected(), 'connected');
  // The server sends a close frame and then reads nothing more: the client's socket stays
  // closing (it waits for the server's end of the close handshake).
  const server = peers[0] as Peer;
  const raw = (server.ws as unknown as { _socket: import('node:net').Socket })._socket;
  raw.pause();
  raw.write(Buffer.from([0x88, 0x02, 0x03, 0xe8])); // a close frame, code 1000
  const socket = recorder.sockets[0]?.inner as WebSocket;
  await until(() => socket.readyState === WebSocket.CLOSING, 'the client socket closing');
  assert.equal(l.isConnected(), false);
  assert.equal(l.send('into a closing socket'), false);
  raw.destroy();
});

test('keep-alives and the idle timeout, in mocked time', async (t) => {
  // The server never answers but the hello: nothing comes in after the welcome.
  const { url, peers } = await scriptedServer(t, welcoming);
  t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_000_000 });
  const closes: CloseEventInfo[] = [];
  const { layer: l, recorder } = layer(
    t,
    { url, keepAliveFrame: 'ping', keepAliveMs: 100, idleTimeoutMs: 1_000 },
    { onClose: (info) => closes.push(info) > 0 },
  );
  // A millisecond at a time: within one tick() the mocked Date already reads the end.
  const advance = (ms: number) => {
    for (let i = 0; i < ms; i++) t.mock.timers.tick(1);
  };
  l.start();
  await until(() => l.isConnected(), 'connected');
  const sent = recorder.sockets[0]?.sent as string[];
  const pings = () => sent.filter((f) => f === 'ping').length;
  // Ready at 0 (nothing sent since): the idle check runs every max(50, min(100, 1000) / 4) ms.
  advance(99);
  assert.equal(pings(), 0, 'nothing before keepAliveMs');
  advance(1);
  assert.equal(pings(), 1, 'a keep-alive once nothing was sent for keepAliveMs');
  // The server's timers replace them: the check every 50 ms, a keep-alive after 120 ms quiet.
  l.setTimers(120, 1_000);
  advance(149);
  assert.equal(pings(), 1, 'checked at 150 and 200 ms: not yet 120 ms quiet at 150, 200');
  advance(1);
  assert.equal(pings(), 2, 'at 250 ms, 150 ms quiet');
  // Zero is "no value": the layer keeps 120 ms and 1,000 ms.
  l.setTimers(0, 0);
  advance(50);
  assert.equal(pings(), 2, 'keepAliveMs is still 120 ms');
  // Nothing heard since the welcome at 0: at 1,000 ms the socket is kept, past it it is let go.
  advance(1_000 - 300);
  assert.equal(l.isConnected(), true, 'at exactly idleTimeoutMs it is kept');
  advance(50);
  assert.equal(l.isConnected(), false, 'past idleTimeoutMs it is let go');
  assert.deepEqual(closes, [{ code: 4004, reason: 'timeout', beforeReady: false }]);
  await until(() => peers[0]?.closed !== undefined, 'the server sees the close');
  assert.deepEqual(peers[0]?.closed, { code: 4004, reason: 'timeout' });
  await until(() => peers.length === 2, 'a new connection');
});

test('the active socket lost during a rotation: the new one opens as a plain open, not a rotation', async (t) => {
  // The rotation's hello is answered only when the test says so.
  let welcomeRotation: (() => void) | undefined;
  const { url, peers } = await scriptedServer(t, (peer, frame, index) => {
    if (index === 1) welcomeRotation = () => welcoming(peer, frame);
    else welcoming(peer, frame);
  });
  const opened: boolean[] = [];
  const closes: CloseEventInfo[] = [];
  const { layer: l } = layer(
    t,
    { url },
    { onOpen: (rotated) => opened.push(rotated), onClose: (info) => closes.push(info) > 0 },
  );
  l.start();
  await until(() => opened.length === 1, 'connected');
  l.rotate();
  await until(() => welcomeRotation !== undefined, 'the rotation greeted');
  peers[0]?.ws.close(4000, 'gone');
  await until(() => closes.length === 1, 'the active socket closed');
  assert.deepEqual(closes, [{ code: 4000, reason: 'gone', beforeReady: false }]);
  assert.equal(l.isConnected(), false);
  welcomeRotation?.();
  await until(() => opened.length === 2, 'the pending socket ready');
  assert.deepEqual(opened, [false, false], 'nothing was replaced: not a rotation');
  assert.equal(peers.length, 2, 'no reconnect of its own while one was pending');
});
