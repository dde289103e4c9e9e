/**
 * The Switchboard client SDK (`switchboard/client`), for browsers and Node.
 *
 * ```ts
 * import { createClient } from 'switchboard/client';
 * const client = createClient({ url: '/', transports: ['websocket', 'lpio'] });
 * client.on('message', (m) => console.log(m.path, m.data));
 * client.connect();
 * await client.subscribe('/chat/*');
 * await client.send('hi', { path: '/chat/room' });
 * ```
 * @module
 */
export { Client, createClient, DEFAULT_PATHS } from './client.js';
export type {
  ClientEvents,
  ClientMessage,
  ClientOptions,
  ClientState,
  OutgoingSnapshot,
  SendOptions,
  SessionInfo,
} from './api.js';
export { DEFAULT_OUTBOX, type OutboxSettings, type OutgoingState } from './outbox.js';
export { FALLBACK_MEMORY_MS } from './fallback.js';
export type {
  AuthParts,
  CloseInfo,
  IncomingFrame,
  OutgoingFrame,
  Transport,
  TransportHost,
  TransportName,
  TransportSettings,
} from './transport.js';
export { ClientError, CLIENT_ERROR_CODES } from './errors.js';
export {
  WebSocketConnection,
  DEFAULT_ROTATE,
  type CloseEventInfo,
  type ConnectionEvents,
  type ConnectionOptions,
  type WebSocketConstructor,
  type WebSocketLike,
} from './connection.js';
export { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export type { Handler } from './emitter.js';

export const VERSION = '0.1.0';
