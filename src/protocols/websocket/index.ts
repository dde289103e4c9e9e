export { createWebSocketAdapter, WEBSOCKET_DEFAULTS, type WebSocketOptions } from './adapter.js';
