/**
 * Why a session or a connection ended. Every protocol maps these to its own wire form; clients
 * decide from the code alone whether to reconnect (centrifuge's disconnect table).
 *
 * Codes: 4000–4099 the client should reconnect (resuming the session if it still exists),
 * 4100–4199 the client should reconnect with a new session, 4500–4599 the client must not
 * reconnect without a change (new credentials, user action). See docs/errors.md.
 * @module
 */

export interface CloseReason {
  readonly name: CloseReasonName;
  readonly code: number;
  /** Whether a client should try again on its own. */
  readonly reconnect: boolean;
  /** Whether the session itself is gone (false: only one connection of a live session ended). */
  readonly sessionEnded: boolean;
  readonly description: string;
}

export const CLOSE_REASONS = {
  superseded: {
    code: 4000,
    reconnect: true,
    sessionEnded: false,
    description: 'A newer request or connection of the same session replaced this one.',
  },
  hold_timeout: {
    code: 4001,
    reconnect: true,
    sessionEnded: false,
    description: 'A held long-poll request had nothing to deliver within the hold timeout.',
  },
  stale: {
    code: 4002,
    reconnect: true,
    sessionEnded: false,
    description: 'The connection saw no I/O for the stale period (5 min by default) and was culled.',
  },
  shutdown: {
    code: 4003,
    reconnect: true,
    sessionEnded: false,
    description:
      'The server is shutting down; another node (or this one after restart) can resume the session.',
  },
  timeout: {
    code: 4004,
    reconnect: true,
    sessionEnded: false,
    description:
      'A streaming connection heard nothing from its client (not even a keep-alive) for the idle timeout (5 s by default).',
  },
  slow: {
    code: 4005,
    reconnect: true,
    sessionEnded: false,
    description:
      'The client read too slowly: its connection stayed over the write high-water mark for too long. The queue is kept for a resume.',
  },
  inactive: {
    code: 4100,
    reconnect: true,
    sessionEnded: true,
    description:
      'No request or connection for the inactivity timeout; the session and its queue were discarded.',
  },
  overflow: {
    code: 4101,
    reconnect: true,
    sessionEnded: true,
    description:
      'The session’s send queue reached its bound with reliable messages; it was closed rather than drop them silently.',
  },
  error: {
    code: 4102,
    reconnect: true,
    sessionEnded: true,
    description: 'An internal or protocol error ended the session.',
  },
  sequence_exhausted: {
    code: 4103,
    reconnect: true,
    sessionEnded: true,
    description: 'The session used every int32 message id; a new session starts again at 1.',
  },
  lost: {
    code: 4104,
    reconnect: true,
    sessionEnded: true,
    description:
      'The engine lost the session’s state (Redis restarted without its data): messages queued for it are gone. A new session starts.',
  },
  terminated: {
    code: 4500,
    reconnect: false,
    sessionEnded: true,
    description: 'The client ended the session.',
  },
  not_allowed: {
    code: 4501,
    reconnect: false,
    sessionEnded: true,
    description: 'The application closed the session or refused to open it.',
  },
  unauthorized: {
    code: 4502,
    reconnect: false,
    sessionEnded: true,
    description: 'Authentication failed or was revoked.',
  },
} as const satisfies Record<string, Omit<CloseReason, 'name'>>;

export type CloseReasonName = keyof typeof CLOSE_REASONS;

export function closeReason(name: CloseReasonName): CloseReason {
  return { name, ...CLOSE_REASONS[name] };
}

export function isCloseReasonName(value: unknown): value is CloseReasonName {
  return typeof value === 'string' && Object.hasOwn(CLOSE_REASONS, value);
}
