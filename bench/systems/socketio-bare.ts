/**
 * Socket.IO's server with bare protocol clients (Engine.IO v4 + Socket.IO v5 packets, written for
 * load generation only): the same server as `socketio-ws` / `socketio-polling`, with a client that
 * costs the load generator as little as ours does, so peak throughput compares servers, not
 * client libraries. Handles the open packet, the namespace connect, pings and event packets;
 * nothing else (no reconnection, no acks, no binary).
 */
import { Agent, request } from 'node:http';
import { WebSocket } from 'ws';
import type { BenchSystem } from '../lib/system.js';
import { socketioPolling, socketioWs } from './socketio.js';

const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 100_000 });
const SEPARATOR = '\x1e';
/** An event packet for `m` is `42["m","<payload>"]`; bench payloads need no JSON escaping. */
const EVENT_PREFIX = '42["m","';
const encode = (payload: string) => `${EVENT_PREFIX}${payload}"]`;

function onPacket(packet: string, onMessage: (payload: string) => void, pong: () => void): void {
  if (packet.startsWith(EVENT_PREFIX)) onMessage(packet.slice(EVENT_PREFIX.length, -2));
  else if (packet === '2') pong();
}

function http(method: 'GET' | 'POST', url: string, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, agent, headers: body === undefined ? {} : { 'Content-Type': 'text/plain' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode}: ${text}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export const socketioPollingBare: BenchSystem = {
  ...socketioPolling,
  name: 'socketio-polling-bare',
  async connect(baseUrl, onMessage) {
    const base = `${baseUrl}/socket.io/?EIO=4&transport=polling`;
    const open = await http('GET', base);
    const sid = (JSON.parse(open.slice(1)) as { sid: string }).sid;
    const url = `${base}&sid=${sid}`;
    let closed = false;
    // Engine.IO takes one POST at a time: packets queue while one is in flight.
    let outbox: string[] = [];
    let posting = false;
    const post = (packet: string) => {
      outbox.push(packet);
      if (posting) return;
      posting = true;
      void (async () => {
        while (outbox.length > 0 && !closed) {
          const body = outbox.join(SEPARATOR);
          outbox = [];
          await http('POST', url, body).catch(() => undefined);
        }
        posting = false;
      })();
    };
    post('40');
    const connected = await http('GET', url);
    if (!connected.startsWith('40')) throw new Error(`no namespace connect: ${connected}`);
    void (async () => {
      while (!closed) {
        const text = await http('GET', url).catch(() => undefined);
        if (text === undefined) return;
        for (const packet of text.split(SEPARATOR)) onPacket(packet, onMessage, () => post('3'));
      }
    })();
    return {
      send: (payload) => post(encode(payload)),
      close: () => {
        closed = true;
        post('1');
      },
    };
  },
};

export const socketioWsBare: BenchSystem = {
  ...socketioWs,
  name: 'socketio-ws-bare',
  connect(baseUrl, onMessage) {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
      socket.once('error', reject);
      socket.on('message', (data: Buffer) => {
        const packet = data.toString();
        if (packet.startsWith('0')) socket.send('40');
        else if (packet.startsWith('40'))
          resolve({ send: (payload) => socket.send(encode(payload)), close: () => socket.terminate() });
        else onPacket(packet, onMessage, () => socket.send('3'));
      });
    });
  },
};
