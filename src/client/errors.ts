/**
 * The SDK's one error class. Match on `code`, not on `instanceof` (two copies of the SDK may be
 * loaded). Codes: the server's own (`SB_ERR_*` from docs/errors.md, carried by LPIO state 2 or an
 * HTTP error body) plus the client-side ones in CLIENT_ERROR_CODES.
 * @module
 */

export const CLIENT_ERROR_CODES = {
  /** No ack arrived within `deliveryTimeout`, however often the message was sent again. */
  DELIVERY_TIMEOUT: 'SB_ERR_DELIVERY_TIMEOUT',
  /**
   * The session the message was sent in ended before acking it, and a new one took its place: the
   * message may or may not have been delivered, and is not sent again.
   */
  SESSION_LOST: 'SB_ERR_SESSION_LOST',
  /** `maxPending` messages (or `maxPendingBytes`) already wait for their acks: refused at once. */
  SEND_BUFFER_FULL: 'SB_ERR_SEND_BUFFER_FULL',
  /** The message was given up: `disconnect()`, or the server ended the session for good. */
  DROPPED: 'SB_ERR_DROPPED',
  /** No response within `responseTimeout`; the request was aborted and is retried. */
  RESPONSE_TIMEOUT: 'SB_ERR_RESPONSE_TIMEOUT',
  /** The request failed below HTTP (DNS, refused, reset). */
  NETWORK: 'SB_ERR_NETWORK',
  /** The server answered with something that is not a valid response. */
  BAD_RESPONSE: 'SB_ERR_BAD_RESPONSE',
  /** HTTP 401: the client stops. */
  UNAUTHORIZED: 'SB_ERR_UNAUTHORIZED',
  /** HTTP 403: the client stops. */
  FORBIDDEN: 'SB_ERR_FORBIDDEN',
  /** The server is shutting down (LPIO state 3); the client retries. */
  SERVER_DESTROYED: 'SB_ERR_SERVER_DESTROYED',
  /** A transport could not connect at all; the client fell back to the next one. */
  TRANSPORT_BLOCKED: 'SB_ERR_TRANSPORT_BLOCKED',
  /** An event handler threw; the error is in `cause`. */
  HANDLER: 'SB_ERR_HANDLER',
} as const;

/**
 * The server's refusal of one message that only says "not now": the session holds too many acks
 * the client has not taken yet. The SDK sends the message again (state `retrying`) with its next
 * request, which takes those acks; it is not reported as an error.
 */
export const ACKS_PENDING = 'SB_ERR_ACKS_PENDING';

/**
 * The server's refusal of a message sent to a session that had ended: not processed. The SDK sends
 * it to the new session unless an earlier attempt may have reached the old one.
 */
export const SESSION_CLOSED = 'SB_ERR_SESSION_CLOSED';

export class ClientError extends Error {
  readonly code: string;
  /** The HTTP status of the response that caused it, when there was one. */
  readonly status: number | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ClientError';
    this.code = code;
    this.status = options?.status;
  }
}
