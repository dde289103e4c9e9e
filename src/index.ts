/**
 * Switchboard's server API. Start with `createSwitchboard()`; see README.md.
 * @module
 */
export {
  createSwitchboard,
  isProduction,
  Switchboard,
  type TlsOptions,
  type ListenOptions,
  type SwitchboardOptions,
} from './server/switchboard.js';
export {
  Hub,
  randomId,
  type AuthHook,
  type AuthRequest,
  type AuthResult,
  type AuthorizeHook,
  type Connection,
  type HubEvents,
  type HubOptions,
  type Identity,
  type Permission,
  type PreparedMessage,
  type SendOptions,
  type SessionOpenHook,
} from './core/hub.js';
export { CLOSE_REASONS, closeReason, type CloseReason, type CloseReasonName } from './core/close-reasons.js';
export { ERROR_CODES, SwitchboardError, isSwitchboardError, type ErrorCode } from './core/errors.js';
export { DEFAULT_SETTINGS, resolveSettings, type HubSettings } from './core/settings.js';
export { PathRouter, type Router } from './core/router.js';
export type { StatsSnapshot } from './core/stats.js';
export type * from './core/types.js';
export type * from './engine/engine.js';
export { MemoryEngine } from './engine/memory/memory-engine.js';
export type { ProtocolAdapter } from './core/protocol.js';
export { createLpioAdapter, type LpioOptions } from './protocols/lpio/index.js';
export {
  createWebSocketAdapter,
  WEBSOCKET_DEFAULTS,
  type WebSocketOptions,
} from './protocols/websocket/index.js';
