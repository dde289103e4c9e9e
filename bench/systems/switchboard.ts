/**
 * Switchboard through each of its transports, with defaults a user would run: subscribers subscribe
 * to `/bench`, a publisher sends to that path (the hub never echoes to the sender). Echo mode
 * answers each message to its sender's session from the application API.
 */
import type { Server } from 'node:http';
import { WebSocket } from 'ws';
import { createClient, type ClientOptions } from '../../src/client/index.js';
import { Switchboard } from '../../src/server/switchboard.js';
import { BENCH_SETTINGS, type BenchSystem, type ServerHandle, type ServerMode } from '../lib/system.js';
import { openRawLpio } from './lpio-raw-client.js';

const PATH = '/bench';

function startSwitchboard(server: Server, mode: ServerMode): Promise<ServerHandle> {
  const hub = new Switchboard({ settings: BENCH_SETTINGS });
  if (mode === 'echo') {
    hub.on('message', (message, session) => {
      hub.send(session.id, message.data).catch(() => undefined);
    });
  }
  hub.attach(server);
  return hub.start().then(() => ({ close: () => hub.close() }));
}

/** LPIO with a bare protocol-level client (bench/systems/lpio-raw-client.ts): the cheapest load. */
export const switchboardLpio: BenchSystem = {
  name: 'switchboard-lpio',
  pkg: 'switchboard',
  kind: 'polling',
  startServer: startSwitchboard,
  async connect(baseUrl, onMessage, mode = 'broadcast') {
    const client = await openRawLpio(
      `${baseUrl}/lpio`,
      (data) => onMessage(data as string),
      mode === 'broadcast' ? [PATH] : [],
    );
    const channel = mode === 'broadcast' ? { channel: PATH } : {};
    return { send: (payload) => client.send({ data: payload, ...channel }), close: () => client.close() };
  },
};

/**
 * Switchboard through the SDK (`switchboard/client`) as an application would use it, over one
 * transport: subscribe to the path, publish to it, or (echo) send to the application.
 */
function sdkSystem(
  name: string,
  kind: BenchSystem['kind'],
  options: (baseUrl: string) => ClientOptions,
): BenchSystem {
  return {
    name,
    pkg: 'switchboard',
    kind,
    startServer: startSwitchboard,
    async connect(baseUrl, onMessage, mode = 'broadcast') {
      const client = createClient(options(baseUrl));
      client.on('message', (message) => onMessage(message.data as string));
      const connected = new Promise<void>((resolve) => client.on('connected', resolve));
      client.connect();
      if (mode === 'broadcast') await client.subscribe(PATH);
      else await connected;
      const sendOptions = mode === 'broadcast' ? { path: PATH } : {};
      return {
        send: (payload) => {
          client.send(payload, sendOptions).catch(() => undefined);
        },
        close: () => client.disconnect(),
      };
    },
  };
}

export const switchboardLpioSdk = sdkSystem('switchboard-lpio-sdk', 'polling', (baseUrl) => ({
  url: `${baseUrl}/lpio`,
}));

export const switchboardWsSdk = sdkSystem('switchboard-ws-sdk', 'websocket', (baseUrl) => ({
  url: `${baseUrl}/ws`,
  transport: 'websocket',
  WebSocket: WebSocket,
  ackTimeout: 30_000,
}));

/**
 * WebSocket with a bare protocol client (docs/protocols/websocket.md): hello, one subscribe, then
 * data frames counted by prefix and read without JSON.parse, acked cumulatively every 128 frames
 * or after 0.75–1.25 s (drawn each time), like the SDK.
 */
export const switchboardWs: BenchSystem = {
  name: 'switchboard-ws',
  pkg: 'switchboard',
  kind: 'websocket',
  startServer: startSwitchboard,
  connect(baseUrl, onMessage, mode = 'broadcast') {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/ws`);
      let next = 0;
      let acked = 0;
      let seq = 0;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const ack = () => {
        clearTimeout(timer);
        timer = undefined;
        if (next - 1 > acked && socket.readyState === WebSocket.OPEN) {
          acked = next - 1;
          socket.send(`{"type":"ack","upTo":${acked}}`);
        }
      };
      const channel = mode === 'broadcast' ? `,"channel":"${PATH}"` : '';
      const handle = {
        send: (payload: string) =>
          socket.send(`{"type":"data","id":"m${seq++}"${channel},"data":"${payload}"}`),
        close: () => socket.terminate(),
      };
      socket.once('error', reject);
      socket.on('open', () => socket.send('{"type":"hello"}'));
      socket.on('message', (raw: Buffer) => {
        const text = raw.toString();
        if (text.startsWith('{"type":"data"')) {
          next++;
          // Bench payloads are plain strings at the end of the frame: `"data":"…"}`.
          onMessage(text.slice(text.lastIndexOf('"data":"') + 8, -2));
          if (next - 1 - acked >= 128) ack();
          else timer ??= setTimeout(ack, 750 + Math.random() * 500);
        } else if (text.startsWith('{"type":"seq"')) {
          next = (JSON.parse(text) as { next: number }).next;
        } else if (text.startsWith('{"type":"welcome"')) {
          if (mode === 'broadcast')
            socket.send(`{"type":"data","id":"sub","channel":"/meta/subscribe","data":"${PATH}"}`);
          else resolve(handle);
        } else if (text.startsWith('{"type":"ack"') && text.includes('"sub"')) {
          resolve(handle);
        }
      });
    });
  },
};
