/**
 * Switchboard through each of its transports, with defaults a user would run: subscribers subscribe
 * to `/bench`, a publisher sends to that path (the hub never echoes to the sender). Echo mode
 * answers each message to its sender's session from the application API.
 */
import type { Server } from 'node:http';
import { createClient } from '../../src/client/index.js';
import { Switchboard } from '../../src/server/switchboard.js';
import type { BenchSystem, ServerHandle, ServerMode } from '../lib/system.js';
import { openRawLpio } from './lpio-raw-client.js';

const PATH = '/bench';

function startSwitchboard(server: Server, mode: ServerMode): Promise<ServerHandle> {
  const hub = new Switchboard();
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

/** LPIO with the SDK (`switchboard/client`) as an application would use it. */
export const switchboardLpioSdk: BenchSystem = {
  name: 'switchboard-lpio-sdk',
  pkg: 'switchboard',
  kind: 'polling',
  startServer: startSwitchboard,
  async connect(baseUrl, onMessage, mode = 'broadcast') {
    const client = createClient({ url: `${baseUrl}/lpio` });
    client.on('message', (message) => onMessage(message.data as string));
    const connected = new Promise<void>((resolve) => client.on('connected', resolve));
    client.connect();
    if (mode === 'broadcast') await client.subscribe(PATH);
    else await connected;
    const options = mode === 'broadcast' ? { path: PATH } : {};
    return {
      send: (payload) => {
        client.send(payload, options).catch(() => undefined);
      },
      close: () => client.disconnect(),
    };
  },
};
