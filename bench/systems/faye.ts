/**
 * Faye (Bayeux) with its defaults: clients subscribe to `/bench` and publish to it. Faye delivers a
 * publish to every subscriber, the publisher included (the harness counts `receivers + 1` deliveries
 * per publish for Faye, so its CPU per delivery is not inflated). `faye-longpolling` disables the
 * WebSocket transport so the client long-polls over HTTP.
 * Echo: the client subscribes to `/echo/<id>` and publishes to `/echo-in/<id>`; a server-side
 * client republishes.
 */
import faye from 'faye';
import type { BenchSystem } from '../lib/system.js';

function fayeSystem(name: string, transport: 'websocket' | 'long-polling'): BenchSystem {
  return {
    name,
    pkg: 'faye',
    kind: transport === 'websocket' ? 'websocket' : 'polling',
    startServer(server, mode) {
      const bayeux = new faye.NodeAdapter({ mount: '/faye', timeout: 45 });
      bayeux.attach(server);
      if (mode === 'echo') {
        const local = bayeux.getClient();
        void local.subscribe('/echo-in/*', (message) => {
          const { id, payload } = message as { id: string; payload: string };
          void local.publish(`/echo/${id}`, payload);
        });
      }
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
      const id = Math.random().toString(36).slice(2);
      const channel = mode === 'echo' ? `/echo/${id}` : '/bench';
      await client.subscribe(channel, (message) => onMessage(message as string));
      const target = mode === 'echo' ? `/echo-in/${id}` : '/bench';
      return {
        send: (payload) => {
          void client.publish(target, mode === 'echo' ? { id, payload } : payload);
        },
        close: () => client.disconnect(),
      };
    },
  };
}

export const fayeWs = fayeSystem('faye-ws', 'websocket');
export const fayeLongPolling = fayeSystem('faye-longpolling', 'long-polling');
