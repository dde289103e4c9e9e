/**
 * Socket.IO in its default configuration (both transports allowed on the server). The client picks
 * one transport: `socketio-ws` is what most deployments end up on, `socketio-polling` is its
 * long-polling fallback. A broadcast goes to everyone but the sender (`socket.broadcast.emit`).
 */
import { Server } from 'socket.io';
import { io as connectClient } from 'socket.io-client';
import type { BenchSystem } from '../lib/system.js';

function socketio(name: string, transport: 'websocket' | 'polling'): BenchSystem {
  return {
    name,
    pkg: 'socket.io',
    kind: transport === 'websocket' ? 'websocket' : 'polling',
    startServer(server, mode) {
      const io = new Server(server);
      io.on('connection', (socket) => {
        socket.on('m', (payload: string) => {
          if (mode === 'echo') socket.emit('m', payload);
          else socket.broadcast.emit('m', payload);
        });
      });
      return Promise.resolve({
        // Not io.close(): it also closes the harness's HTTP server and waits until that has finished.
        // engine.close() is the part of it that drops every connection at once.
        close: () => {
          io.engine.close();
          return Promise.resolve();
        },
      });
    },
    connect(baseUrl, onMessage) {
      return new Promise((resolve, reject) => {
        const socket = connectClient(baseUrl, { transports: [transport], reconnection: false });
        socket.on('m', onMessage);
        socket.once('connect_error', reject);
        socket.once('connect', () =>
          resolve({
            send: (payload) => {
              socket.emit('m', payload);
            },
            close: () => socket.disconnect(),
          }),
        );
      });
    },
  };
}

export const socketioWs = socketio('socketio-ws', 'websocket');
export const socketioPolling = socketio('socketio-polling', 'polling');
