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
export {
  Client,
  createClient,
  type AuthParts,
  type ClientEvents,
  type ClientMessage,
  type ClientOptions,
  type ClientState,
  type CloseInfo,
  type IncomingFrame,
  type OutgoingFrame,
  type OutgoingSnapshot,
  type OutgoingState,
  type SendOptions,
  type SessionInfo,
  type Transport,
  type TransportHost,
  type TransportName,
  type TransportSettings,
} from './client.js';
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
