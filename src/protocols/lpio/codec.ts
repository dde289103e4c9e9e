/**
 * LPIO wire format (seed 000 and the final public spec v0.2.2): pure parsing and formatting, no
 * I/O. See docs/protocols/lpio.md for every choice made where the two forms differ.
 * @module
 */
import type { CloseReason } from '../../core/close-reasons.js';
import { dataMembers, encodeOnce } from '../../core/encode-once.js';
import {
  INT32_MAX,
  type Batch,
  type ClientMessageId,
  type InboundMessage,
  type MessageId,
} from '../../core/types.js';

/** Response states (spec v0.2.2). */
export const STATE = { RECONNECT: 0, NEW_MESSAGES: 1, ERROR: 2, SERVER_DESTROYED: 3 } as const;

/** The spec's own error strings, answered with state 2. */
export const LPIO_ERRORS = {
  messages: 'Bad messages.',
  message: 'Bad message.',
  id: 'Bad message id.',
  type: 'Bad message type.',
  data: 'Bad message data.',
  channel: 'Bad message channel.',
  options: 'Bad message options.',
  client: 'Bad client id.',
  tooMany: 'Too many messages.',
} as const;

export const MAX_ID_LENGTH = 128;
const CLIENT_ID = /^[\x21-\x7e]{1,128}$/;

/** A request refused as a whole: answered with state 2, the spec's string, our code and a detail. */
export class LpioError extends Error {
  constructor(
    /** One of LPIO_ERRORS: what the spec's clients match on. */
    message: string,
    readonly code: string,
    /** Ours: what exactly was wrong, for people (never more than a short prefix of the input). */
    readonly detail?: string,
  ) {
    super(message);
  }
}

export interface LpioRequest {
  /** From the `LPIO-Client` header (v0.2.2) or the body's `client` field (seed). */
  readonly clientId: string | undefined;
  readonly messages: InboundLpioMessage[];
  /** Server message ids the client acked. */
  readonly acks: MessageId[];
  /**
   * Switchboard's extension `"seq": "<instance>.<n>"`: the client's own request order, so a poll
   * that reached a slow node after the client's next request cannot claim the session back.
   */
  readonly order: { readonly instance: string; readonly seq: number } | undefined;
}

export interface InboundLpioMessage {
  readonly id: ClientMessageId;
  readonly data: unknown;
  /** `channel` (v0.2.x) or `recipient` (seed); a path when it starts with "/", else an address. */
  readonly channel: string | undefined;
  readonly urgent: boolean | undefined;
  readonly reliable: boolean | undefined;
}

/**
 * Parses a request body (already JSON-decoded) and the `LPIO-Client` header. Throws LpioError
 * with the spec's string for the first problem; the caller then processes nothing.
 */
export function parseRequest(
  body: unknown,
  header: string | string[] | undefined,
  maxMessages: number,
): LpioRequest {
  // The adapter refuses such a body (400) before it gets here; refused here too, not a TypeError.
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new LpioError(LPIO_ERRORS.messages, 'SB_ERR_BAD_REQUEST', 'the request body must be a JSON object');
  }
  const fields = body as Record<string, unknown>;
  const clientId = parseClientId(header, fields.client);
  const raw = fields.messages ?? [];
  if (!Array.isArray(raw)) throw new LpioError(LPIO_ERRORS.messages, 'SB_ERR_BAD_MESSAGE');
  if (raw.length > maxMessages) throw new LpioError(LPIO_ERRORS.tooMany, 'SB_ERR_TOO_MANY_MESSAGES');
  const messages: InboundLpioMessage[] = [];
  const acks: MessageId[] = [];
  for (const item of raw) {
    const m = (typeof item === 'object' && item !== null && !Array.isArray(item) ? item : {}) as Record<
      string,
      unknown
    >;
    if (typeof m.id !== 'string' || m.id.length === 0 || m.id.length > MAX_ID_LENGTH) {
      throw new LpioError(LPIO_ERRORS.id, 'SB_ERR_BAD_MESSAGE');
    }
    if (m.type === 'ack') {
      // Acks name ids this server gave (decimal int32). Anything else, such as lpio-client's ack
      // of the seed's "option" message (id "client"), acks nothing and is ignored.
      const id = parseServerId(m.id);
      if (id !== undefined) acks.push(id);
      continue;
    }
    const channel = m.channel ?? m.recipient;
    if (channel !== undefined && typeof channel !== 'string')
      throw new LpioError(LPIO_ERRORS.channel, 'SB_ERR_BAD_MESSAGE');
    if (m.type === 'data') {
      if (!('data' in m)) throw new LpioError(LPIO_ERRORS.data, 'SB_ERR_BAD_MESSAGE');
    } else if (m.type !== 'option') {
      throw new LpioError(LPIO_ERRORS.type, 'SB_ERR_BAD_MESSAGE');
    }
    if (
      (m.urgent !== undefined && typeof m.urgent !== 'boolean') ||
      (m.reliable !== undefined && typeof m.reliable !== 'boolean')
    ) {
      throw new LpioError(LPIO_ERRORS.options, 'SB_ERR_BAD_MESSAGE');
    }
    // An "option" message from a client sets nothing here; it is acked like any non-ack.
    if (m.type === 'option') continue;
    messages.push({
      id: m.id,
      data: m.data,
      channel: channel === '' ? undefined : channel,
      urgent: m.urgent,
      reliable: m.reliable,
    });
  }
  return { clientId, messages, acks, order: parseOrder(fields.seq) };
}

function parseClientId(header: string | string[] | undefined, field: unknown): string | undefined {
  if (Array.isArray(header)) throw new LpioError(LPIO_ERRORS.client, 'SB_ERR_BAD_REQUEST');
  // An empty header means "no id" (the spec's own test sends `LPIO-Client:` empty).
  const fromHeader = header === undefined || header === '' ? undefined : header;
  if (field !== undefined && field !== null && field !== '' && typeof field !== 'string') {
    throw new LpioError(LPIO_ERRORS.client, 'SB_ERR_BAD_REQUEST');
  }
  const fromBody = typeof field === 'string' && field !== '' ? field : undefined;
  if (fromHeader !== undefined && fromBody !== undefined && fromHeader !== fromBody) {
    throw new LpioError(LPIO_ERRORS.client, 'SB_ERR_BAD_REQUEST');
  }
  const id = fromHeader ?? fromBody;
  if (id !== undefined && !CLIENT_ID.test(id)) throw new LpioError(LPIO_ERRORS.client, 'SB_ERR_BAD_REQUEST');
  return id;
}

function parseServerId(id: string): MessageId | undefined {
  if (!/^[1-9][0-9]{0,9}$/.test(id)) return undefined;
  const n = Number(id);
  return n <= INT32_MAX ? n : undefined;
}

/** Converts parsed messages to the core's form: a "/" channel is a path, any other an address. */
export function toInbound(message: InboundLpioMessage): InboundMessage {
  const base = {
    id: message.id,
    data: message.data,
    ...(message.urgent !== undefined && { urgent: message.urgent }),
    ...(message.reliable !== undefined && { reliable: message.reliable }),
  };
  if (message.channel === undefined) return base;
  return message.channel.startsWith('/')
    ? { ...base, path: message.channel }
    : { ...base, to: message.channel };
}

/** What one request may carry, announced so a client can split what it sends (docs/protocols/lpio.md). */
export interface AnnouncedLimits {
  /** Messages per request (`maxMessagesPerRequest`). */
  readonly messages: number;
  /** Bytes of one request body (`maxBodyBytes`). */
  readonly bytes: number;
  /** UTF-8 bytes of one message's JSON payload (`maxMessageBytes`). */
  readonly messageBytes: number;
}

/** A client message the server refused alone; the others of its request were processed. */
export interface MessageError {
  readonly id: string;
  readonly code: string;
  readonly message: string;
}

export interface ResponseExtras {
  /** `set` (v0.2.2): a new client id and, from Switchboard, the session's public address. */
  readonly set?: { readonly id?: string; readonly address?: string };
  /** Seed-form id assignment: an `option` message carrying the new id. */
  readonly option?: string;
  /** The session ended (or an earlier one did): why, and whether to reconnect. */
  readonly close?: CloseReason;
  /** Answer to a request with `describe: true`: the resumed session's public address. */
  readonly session?: { readonly address: string };
  /**
   * Messages of this request that were refused one by one (not acked, not processed). Outside
   * `messages` on purpose: LPIO clients ack every non-ack message by its id, and client ids may
   * look like ours (lpio-client's are numbers).
   */
  readonly errors?: readonly MessageError[];
  /** Sent with every new session and every `describe` answer. */
  readonly limits?: AnnouncedLimits;
}

/** Everything of a data message after its id, the same for every recipient: encoded once. */
const dataTail = encodeOnce(dataMembers);

/** Formats a state-1 response. Payloads are spliced in as already-serialized JSON (serialized once per publish). */
export function formatBatch(batch: Batch, extras: ResponseExtras = {}): string {
  const parts: string[] = [];
  for (const id of batch.acks) parts.push(`{"type":"ack","id":${JSON.stringify(id)}}`);
  if (extras.option !== undefined)
    parts.push(`{"type":"option","id":"client","data":${JSON.stringify(extras.option)}}`);
  for (const { id, message } of batch.deliveries)
    parts.push(`{"type":"data","id":"${id}"${dataTail(message)}`);
  return `{"state":${STATE.NEW_MESSAGES},"messages":[${parts.join(',')}]${formatExtras(extras)}}`;
}

/** A response with no messages: reconnect (0), error (2) or server destroyed (3). */
export function formatState(
  state: number,
  extras: ResponseExtras & { readonly error?: string; readonly code?: string; readonly detail?: string } = {},
): string {
  const error = extras.error === undefined ? '' : `,"error":${JSON.stringify(extras.error)}`;
  const code = extras.code === undefined ? '' : `,"code":${JSON.stringify(extras.code)}`;
  const detail = extras.detail === undefined ? '' : `,"message":${JSON.stringify(extras.detail)}`;
  return `{"state":${state}${error}${code}${detail},"messages":[]${formatExtras(extras)}}`;
}

function formatExtras(extras: ResponseExtras): string {
  let text = '';
  if (extras.set) text += `,"set":${JSON.stringify(extras.set)}`;
  if (extras.session) text += `,"session":${JSON.stringify(extras.session)}`;
  if (extras.limits) text += `,"limits":${JSON.stringify(extras.limits)}`;
  if (extras.errors && extras.errors.length > 0) text += `,"errors":${JSON.stringify(extras.errors)}`;
  if (extras.close) {
    const { code, name, reconnect } = extras.close;
    text += `,"close":${JSON.stringify({ code, reason: name, reconnect })}`;
  }
  return text;
}

/** `"<instance>.<n>"`, instance 1–64 URL-safe characters, n a safe integer; anything else is ignored. */
function parseOrder(value: unknown): LpioRequest['order'] {
  if (typeof value !== 'string') return undefined;
  const match = /^([A-Za-z0-9_-]{1,64})\.(\d{1,15})$/.exec(value);
  if (!match) return undefined;
  return { instance: match[1] as string, seq: Number(match[2]) };
}
