/**
 * Faye (Bayeux) with its defaults. Broadcast: every client subscribes to `/bench` and publishes to
 * it. Faye has no "everyone but the sender" and an `incoming` extension cannot filter per recipient,
 * so a publish also reaches its sender, as in any Faye chat (the harness counts `receivers + 1`
 * deliveries per publish for Faye, so its CPU per delivery is not inflated).
 * Echo: each client subscribes to its own `/echo/<id>` and publishes there, so the server delivers
 * each message to its sender only, with no server-side client republishing it.
 * `faye-longpolling` disables the WebSocket transport; the Node client has no EventSource one, so it
 * long-polls over HTTP.
 */
import { randomUUID } from 'node:crypto';
import faye from 'faye';
import type { BenchSystem } from '../lib/system.js';

function fayeSystem(name: string, transport: 'websocket' | 'long-polling'): BenchSystem {
  return {
    name,
    pkg: 'faye',
    kind: transport === 'websocket' ? 'websocket' : 'polling',
    startServer(server) {
      const bayeux = new faye.NodeAdapter({ mount: '/faye', timeout: 45 });
      bayeux.attach(server);
      return Promise.resolve({
        close: () => {
          bayeux.close();
          return Promise.resolve();
        },
      });
    },
    async connect(baseUrl, onMessage, mode = 'broadcast') {
      const client = new faye.Client(`${baseUrl}/faye`);
      if (transport === 'long-polling') client.disable('websocket');
      const channel = mode === 'echo' ? `/echo/${randomUUID()}` : '/bench';
      await client.subscribe(channel, (message) => onMessage(message as string));
      return {
        send: (payload) => {
          void client.publish(channel, payload);
        },
        close: () => client.disconnect(),
      };
    },
  };
}

export const fayeWs = fayeSystem('faye-ws', 'websocket');
export const fayeLongPolling = fayeSystem('faye-longpolling', 'long-polling');
