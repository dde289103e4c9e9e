/**
 * The floor: a bare `ws` server whose broadcast is the naive loop most people write (one `send` per
 * socket, so each message is framed once per recipient).
 */
import { WebSocket, WebSocketServer } from 'ws';
import type { BenchSystem } from '../lib/system.js';

export const wsRaw: BenchSystem = {
  name: 'ws-raw',
  pkg: 'ws',
  kind: 'websocket',
  startServer(server, mode) {
    const wss = new WebSocketServer({ server, path: '/ws-raw' });
    wss.on('connection', (socket) => {
      socket.on('message', (data, isBinary) => {
        if (mode === 'echo') {
          socket.send(data, { binary: isBinary });
          return;
        }
        for (const client of wss.clients) {
          if (client !== socket && client.readyState === WebSocket.OPEN)
            client.send(data, { binary: isBinary });
        }
      });
    });
    return Promise.resolve({
      close: () =>
        new Promise<void>((resolve) => {
          for (const client of wss.clients) client.terminate();
          wss.close(() => resolve());
        }),
    });
  },
  connect(baseUrl, onMessage) {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(baseUrl.replace(/^http/, 'ws') + '/ws-raw');
      socket.on('message', (data: Buffer) => onMessage(data.toString()));
      socket.once('error', reject);
      socket.once('open', () =>
        resolve({
          send: (payload) => socket.send(payload),
          close: () => socket.terminate(),
        }),
      );
    });
  },
};
