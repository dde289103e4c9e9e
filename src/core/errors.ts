/**
 * One error hierarchy with stable codes. Match on `code`, not on `instanceof`: classes may be
 * loaded twice (two copies of the package), codes never change. Every code is listed in docs/errors.md.
 * @module
 */

export const ERROR_CODES = {
  SB_ERR_BAD_REQUEST: 400,
  SB_ERR_BAD_JSON: 400,
  SB_ERR_BAD_MESSAGE: 400,
  SB_ERR_BAD_PATH: 400,
  SB_ERR_WEAK_CLIENT_ID: 400,
  SB_ERR_TOO_MANY_SUBSCRIPTIONS: 400,
  SB_ERR_UNAUTHORIZED: 401,
  SB_ERR_FORBIDDEN: 403,
  SB_ERR_TLS_REQUIRED: 403,
  SB_ERR_BAD_ORIGIN: 403,
  SB_ERR_NOT_FOUND: 404,
  SB_ERR_NO_SESSION: 404,
  SB_ERR_METHOD_NOT_ALLOWED: 405,
  SB_ERR_REQUEST_TIMEOUT: 408,
  SB_ERR_PAYLOAD_TOO_LARGE: 413,
  SB_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  SB_ERR_TOO_MANY_MESSAGES: 413,
  SB_ERR_RATE_LIMITED: 429,
  SB_ERR_ACKS_PENDING: 429,
  SB_ERR_HEADERS_TOO_LARGE: 431,
  SB_ERR_QUEUE_FULL: 503,
  SB_ERR_TOO_MANY_SESSIONS: 503,
  SB_ERR_SHUTTING_DOWN: 503,
  SB_ERR_ENGINE_UNAVAILABLE: 503,
  SB_ERR_OVERLOADED: 503,
  SB_ERR_SESSION_CLOSED: 410,
  SB_ERR_CONFIG: 500,
  SB_ERR_INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Longest message an error carries on the wire: a safety net behind `quote()`. */
export const MAX_ERROR_MESSAGE = 300;

export class SwitchboardError extends Error {
  readonly code: ErrorCode;
  /** The HTTP status an adapter answers with when this error ends a request. */
  readonly status: number;
  /** For 429 and 503: how many seconds the client should wait before trying again (`Retry-After`). */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfter?: number }) {
    super(message, options);
    this.name = 'SwitchboardError';
    this.code = code;
    this.status = ERROR_CODES[code];
    this.retryAfter = options?.retryAfter;
  }

  /** The JSON body every adapter sends for a transport-level fault. */
  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: truncate(this.message, MAX_ERROR_MESSAGE) } };
  }
}

/**
 * A client's input as an error message may show it: JSON-quoted and cut to a short prefix, so an
 * error never echoes (and never costs the node) more than a few dozen bytes of what was wrong.
 */
export function quote(value: unknown, max = 40): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = typeof value;
  }
  const shown = text.length > max ? `${text.slice(0, max)}…` : text;
  const quoted = JSON.stringify(shown);
  return text.length > max ? `${quoted} (${text.length} characters)` : quoted;
}

/** Cuts `text` to `max` characters, marking the cut. */
export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function isSwitchboardError(value: unknown): value is SwitchboardError {
  return (
    value instanceof Error &&
    typeof (value as Partial<SwitchboardError>).code === 'string' &&
    Object.hasOwn(ERROR_CODES, (value as SwitchboardError).code)
  );
}

/** Turns anything thrown into a SwitchboardError, keeping the original as `cause`. */
export function toSwitchboardError(value: unknown): SwitchboardError {
  if (isSwitchboardError(value)) return value;
  return new SwitchboardError('SB_ERR_INTERNAL', 'internal error', { cause: value });
}
