/**
 * SockJS (sockjs-node on the server, sockjs-client in Node): a broadcast writes to every other
 * connection (SockJS has no broadcast primitive; this loop is what its docs show). `sockjs-ws` uses
 * the WebSocket transport, `sockjs-xhr-polling` the XHR long-polling one.
 */
import sockjs from 'sockjs';
import SockJS from 'sockjs-client';
import type { BenchSystem } from '../lib/system.js';

function sockjsSystem(name: string, transport: 'websocket' | 'xhr-polling'): BenchSystem {
  return {
    name,
    pkg: 'sockjs',
    kind: transport === 'websocket' ? 'websocket' : 'polling',
    startServer(server, mode) {
      const connections = new Set<sockjs.Connection>();
      const service = sockjs.createServer({ prefix: '/sockjs', log: () => undefined });
      service.on('connection', (conn) => {
        connections.add(conn);
        conn.on('close', () => connections.delete(conn));
        conn.on('data', (payload: string) => {
          if (mode === 'echo') {
            conn.write(payload);
            return;
          }
          for (const other of connections) if (other !== conn) other.write(payload);
        });
      });
      service.installHandlers(server);
      return Promise.resolve({
        close: () => {
          for (const conn of connections) conn.destroy();
          return Promise.resolve();
        },
      });
    },
    connect(baseUrl, onMessage) {
      return new Promise((resolve, reject) => {
        const socket = new SockJS(`${baseUrl}/sockjs`, undefined, { transports: [transport] });
        socket.onmessage = (event: { data: string }) => onMessage(event.data);
        socket.onclose = (event: { reason: string }) => reject(new Error(`closed: ${event.reason}`));
        socket.onopen = () =>
          resolve({
            send: (payload) => socket.send(payload),
            close: () => socket.close(),
          });
      });
    },
  };
}

export const sockjsWs = sockjsSystem('sockjs-ws', 'websocket');
export const sockjsPolling = sockjsSystem('sockjs-xhr-polling', 'xhr-polling');
