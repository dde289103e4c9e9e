import type { CloseInfo } from './transport.js';

/**
 * Reads a server's `close: {code, reason, reconnect}` (LPIO responses, WebSocket welcomes):
 * undefined when there is none; missing fields get safe defaults (reconnect unless told not to).
 */
export function closeInfoOf(close: unknown): CloseInfo | undefined {
  if (typeof close !== 'object' || close === null) return undefined;
  const { code, reason, reconnect } = close as { code?: unknown; reason?: unknown; reconnect?: unknown };
  return {
    code: typeof code === 'number' ? code : 0,
    reason: typeof reason === 'string' ? reason : 'closed',
    reconnect: reconnect !== false,
  };
}
