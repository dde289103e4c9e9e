/**
 * Requests from a chosen loopback source address (127.0.0.2, 127.0.0.3, …: every 127.x address
 * is this machine's), so per-address limits can be tested with an attacker and a bystander on one
 * host. Raw node:http, one socket per request (no agent reuse), nothing assumed about the answer.
 */
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** The parsed body, when it is JSON. */
  readonly json: Record<string, unknown> | undefined;
}

/** One HTTP request from `from`; rejects only on a network error. */
export function send(
  from: string,
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'POST',
        localAddress: from,
        agent: false,
        headers: {
          ...(options.body !== undefined && { 'content-type': 'application/json' }),
          ...options.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let json: Record<string, unknown> | undefined;
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // Not JSON (Node's own answers, HTML): `text` has it.
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** POST /lpio with a JSON body from `from`. */
export function lpioFrom(
  from: string,
  lpioUrl: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return send(from, lpioUrl, { body: JSON.stringify(body), headers });
}

/** A WebSocket upgrade request for /ws, written by hand (for sockets that must misbehave). */
export const UPGRADE_REQUEST =
  'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

/**
 * A raw TCP connection from `from` to `port` on 127.0.0.1, connected. `allowHalfOpen`: the socket
 * stays open after the server's FIN until it is ended here (a client that never closes).
 */
export function rawSocket(from: string, port: number, allowHalfOpen = false): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: from, allowHalfOpen });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything `socket` receives until it closes (or `ms` passes), and whether it closed. */
export function readUntilClosed(socket: Socket, ms: number): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    const done = (closed: boolean) => {
      clearTimeout(timer);
      resolve({ text, closed });
    };
    const timer = setTimeout(() => done(false), ms);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    // A reset ends the socket like a close does; 'close' follows and reports it.
    socket.on('error', () => undefined);
    socket.once('close', () => done(true));
  });
}
