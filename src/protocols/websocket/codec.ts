/**
 * The WebSocket wire format (docs/protocols/websocket.md): JSON text frames, each one message
 * object or an array of them. Parsing throws WsFrameError with a stable code; the adapter answers
 * it with an `error` frame and processes nothing of that frame.
 * @module
 */
import type { CloseReason } from '../../core/close-reasons.js';
import { dataMembers, encodeOnce } from '../../core/encode-once.js';
import { quote, truncate, MAX_ERROR_MESSAGE } from '../../core/errors.js';
import { parseJson } from '../../core/json.js';
import { INT32_MAX, type InboundMessage, type MessageId, type Outbound } from '../../core/types.js';

const MAX_ID_LENGTH = 128;

export class WsFrameError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The client message id the error is about, when there is one. */
    readonly id?: string,
    /** Every data message id of the refused frame, when the frame could be read. */
    readonly ids?: readonly string[],
  ) {
    super(message);
  }
}

/** The first frame of every connection: a new session, or the session to resume. */
export interface Hello {
  readonly session: string | undefined;
  /** The id of the last server message the client received (resume). */
  readonly last: MessageId | undefined;
}

/** One frame after the hello, decoded. */
export interface ClientFrame {
  readonly messages: InboundMessage[];
  /** Cumulative ack: every server message up to this id was received. */
  readonly ackUpTo: MessageId | undefined;
}

function decode(text: string): unknown {
  try {
    return parseJson(text, 'the frame');
  } catch (error) {
    // parseJson throws only SwitchboardErrors, whose messages are short and quote little.
    throw new WsFrameError('SB_ERR_BAD_JSON', (error as Error).message);
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function serverId(value: unknown, field: string): MessageId {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > INT32_MAX) {
    throw new WsFrameError('SB_ERR_BAD_MESSAGE', `${field} must be an integer from 0 to ${INT32_MAX}`);
  }
  return value;
}

export function parseHello(text: string): Hello {
  const frame = decode(text);
  if (!isObject(frame) || frame.type !== 'hello') {
    throw new WsFrameError('SB_ERR_BAD_REQUEST', 'the first frame must be {"type":"hello"}');
  }
  const session = frame.session;
  if (session !== undefined && (typeof session !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(session))) {
    throw new WsFrameError('SB_ERR_BAD_REQUEST', 'session must be 1–128 printable ASCII characters');
  }
  return {
    session: session === undefined ? undefined : session,
    last: frame.last === undefined ? undefined : serverId(frame.last, 'last'),
  };
}

export function parseFrame(text: string, maxMessages: number): ClientFrame {
  const frame = decode(text);
  const items = Array.isArray(frame) ? frame : [frame];
  if (items.length > maxMessages) {
    // Named, so the client can fail exactly these instead of waiting for acks that never come:
    // ids that are valid (at most 128 characters), and no more of them than a frame may carry.
    const ids: string[] = [];
    for (const item of items) {
      if (ids.length >= maxMessages) break;
      const id = isObject(item) ? item.id : undefined;
      if (typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH) ids.push(id);
    }
    throw new WsFrameError(
      'SB_ERR_TOO_MANY_MESSAGES',
      `a frame may carry at most ${maxMessages} messages, got ${items.length}`,
      undefined,
      ids,
    );
  }
  const messages: InboundMessage[] = [];
  let ackUpTo: MessageId | undefined;
  for (const item of items) {
    if (!isObject(item)) throw new WsFrameError('SB_ERR_BAD_MESSAGE', 'each message must be a JSON object');
    switch (item.type) {
      case 'ping':
        continue;
      case 'ack': {
        const upTo = serverId(item.upTo, 'ack upTo');
        ackUpTo = ackUpTo === undefined ? upTo : Math.max(ackUpTo, upTo);
        continue;
      }
      case 'data':
        messages.push(dataMessage(item));
        continue;
      default:
        throw new WsFrameError('SB_ERR_BAD_MESSAGE', `unknown message type ${quote(item.type)}`);
    }
  }
  return { messages, ackUpTo };
}

function dataMessage(item: Record<string, unknown>): InboundMessage {
  const { id, channel, data, urgent, reliable } = item;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new WsFrameError('SB_ERR_BAD_MESSAGE', `id must be a string of 1–${MAX_ID_LENGTH} characters`);
  }
  if (data === undefined)
    throw new WsFrameError('SB_ERR_BAD_MESSAGE', `message ${quote(id)} has no data`, id);
  if (channel !== undefined && (typeof channel !== 'string' || channel === '')) {
    throw new WsFrameError(
      'SB_ERR_BAD_MESSAGE',
      `message ${quote(id)}: channel must be a non-empty string`,
      id,
    );
  }
  if (
    (urgent !== undefined && typeof urgent !== 'boolean') ||
    (reliable !== undefined && typeof reliable !== 'boolean')
  ) {
    throw new WsFrameError(
      'SB_ERR_BAD_MESSAGE',
      `message ${quote(id)}: urgent and reliable must be booleans`,
      id,
    );
  }
  const base = {
    id,
    data,
    ...(urgent !== undefined && { urgent }),
    ...(reliable !== undefined && { reliable }),
  };
  if (channel === undefined) return base;
  return channel.startsWith('/') ? { ...base, path: channel } : { ...base, to: channel };
}

// ------------------------------------------------------------------ server frames

/** What one client frame may carry, announced in `welcome` so the client splits what it sends. */
export interface AnnouncedLimits {
  /** Messages per frame (`maxMessagesPerRequest`). */
  readonly messages: number;
  /** Bytes of one frame (`maxPayload`): larger ones close the connection with 1009. */
  readonly bytes: number;
  /** UTF-8 bytes of one message's JSON payload (`maxMessageBytes`). */
  readonly messageBytes: number;
}

export function formatWelcome(
  session: { readonly id: string; readonly address: string },
  resumed: boolean,
  timers: { readonly keepAliveMs: number; readonly idleTimeoutMs: number },
  previous: CloseReason | undefined,
  limits: AnnouncedLimits,
): string {
  return JSON.stringify({
    type: 'welcome',
    session: session.id,
    address: session.address,
    resumed,
    keepAlive: timers.keepAliveMs,
    timeout: timers.idleTimeoutMs,
    limits,
    ...(previous && { close: { code: previous.code, reason: previous.name, reconnect: previous.reconnect } }),
  });
}

export const formatAcks = (ids: readonly string[]): string => JSON.stringify({ type: 'ack', ids });

/** Announces the id of the next data frame (ids then count up by one per data frame). */
export const formatSeq = (next: MessageId): string => `{"type":"seq","next":${next}}`;

export const PING_FRAME = '{"type":"ping"}';

export function formatError(error: {
  readonly code: string;
  readonly message: string;
  readonly id?: string | undefined;
  readonly ids?: readonly string[] | undefined;
}): string {
  return JSON.stringify({
    type: 'error',
    code: error.code,
    message: truncate(error.message, MAX_ERROR_MESSAGE),
    id: error.id, // JSON.stringify leaves it out when undefined
    ...(error.ids !== undefined && error.ids.length > 0 && { ids: error.ids }),
  });
}

/**
 * A data frame carries no id, so its bytes are the same for every recipient: encoded and framed
 * once per message, and the same Buffer is written to every socket.
 */
export const dataFrame: (message: Outbound) => Buffer = encodeOnce((message) =>
  textFrame(`{"type":"data"${dataMembers(message)}`),
);

/**
 * A whole WebSocket frame (RFC 6455 §5.2): final, text, unmasked (server frames never are). `ws`
 * frames every send itself; framing a broadcast once is what lets a fan-out write one ready
 * Buffer per socket, with no per-recipient header or copy. The text is written straight into a
 * buffer of its own (not a slice of Node's shared pool, which a long-lived frame would pin whole,
 * and not via a temporary copy): it lives as long as its message waits for acks.
 */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafeSlow(header + length);
  frame[0] = 0x81;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.write(text, header, 'utf8');
  return frame;
}

/** The payload of a frame built by textFrame(). */
export function payloadOf(frame: Buffer): Buffer {
  const length = (frame[1] ?? 0) & 0x7f;
  return frame.subarray(length === 126 ? 4 : length === 127 ? 10 : 2);
}
