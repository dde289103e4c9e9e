/**
 * Client messages on their way in: each is checked against the core's rules (size, path,
 * recipient, permission, subscription count) before anything of the request is processed, and
 * turned into the route the engine applies. A message that breaks a rule is refused alone: the
 * messages beside it go on (a refused subscribe must not take an innocent send down with it).
 * @module
 */
import { SwitchboardError, quote, toSwitchboardError } from './errors.js';
import type { AuthorizeHook, Permission } from './hooks.js';
import { utf8Bytes } from './json.js';
import { messageCost } from './memory-cost.js';
import { META_SUBSCRIBE, META_UNSUBSCRIBE, isMetaPath, parsePath, parsePattern } from './paths.js';
import type { HubSettings } from './settings.js';
import type {
  Address,
  ClientMessageId,
  InboundMessage,
  MessageStateListener,
  Outbound,
  Path,
  PathPattern,
  SessionId,
  SessionInfo,
} from './types.js';
import type { Route } from '../engine/engine.js';

/** A client message that passed every check and is ready to process. */
export interface PreparedMessage {
  readonly message: InboundMessage;
  readonly json: string;
  /** UTF-8 bytes of `json`. */
  readonly jsonBytes: number;
  readonly kind: 'publish' | 'direct' | 'server' | 'subscribe' | 'unsubscribe';
  /** For publish: the path; for direct: the recipient session; for (un)subscribe: unused. */
  readonly target: string | undefined;
  readonly patterns: readonly PathPattern[];
}

/** A client message the core refused; nothing of it was processed, and it is not acked. */
export interface Refusal {
  readonly id: ClientMessageId;
  readonly error: SwitchboardError;
}

/** One request's messages after the checks: the ones to process, in order, and the refused ones. */
export interface Prepared {
  readonly messages: readonly PreparedMessage[];
  readonly refused: readonly Refusal[];
}

/** Options of a message the hub creates: the application's send options or the client's flags. */
export interface OutboundOptions {
  readonly urgent?: boolean | undefined;
  readonly reliable?: boolean | undefined;
  readonly onState?: MessageStateListener | undefined;
}

const SERVER_ROUTE: Route = Object.freeze({ kind: 'server' });

export class InboundChecks {
  readonly #settings: HubSettings;
  readonly #findByAddress: (address: Address) => Promise<SessionId | undefined>;
  readonly #authorize: AuthorizeHook | undefined;
  readonly #now: () => number;

  constructor(
    settings: HubSettings,
    findByAddress: (address: Address) => Promise<SessionId | undefined>,
    authorize: AuthorizeHook | undefined,
    now: () => number,
  ) {
    this.#settings = settings;
    this.#findByAddress = findByAddress;
    this.#authorize = authorize;
    this.#now = now;
  }

  /**
   * Checks every message. Throws only for what concerns the request as a whole (too many
   * messages; a hook or engine failure, status ≥ 500): then nothing is processed.
   */
  async prepare(session: SessionInfo, messages: readonly InboundMessage[]): Promise<Prepared> {
    const max = this.#settings.maxMessagesPerRequest;
    if (messages.length > max) {
      throw new SwitchboardError(
        'SB_ERR_TOO_MANY_MESSAGES',
        `a request may carry at most ${max} messages, got ${messages.length}`,
      );
    }
    const ready: PreparedMessage[] = [];
    const refused: Refusal[] = [];
    for (const message of messages) {
      try {
        ready.push(await this.#prepareOne(session, message));
      } catch (error) {
        const failure = toSwitchboardError(error);
        if (failure.status >= 500) throw failure;
        refused.push({ id: message.id, error: failure });
      }
    }
    return { messages: ready, refused };
  }

  async #prepareOne(session: SessionInfo, message: InboundMessage): Promise<PreparedMessage> {
    const json = serialize(message.data, `message ${quote(message.id)}`);
    const jsonBytes = this.#checkSize(json, `message ${quote(message.id)}`);
    const base = { message, json, jsonBytes, patterns: [] as PathPattern[] };
    if (message.path !== undefined) {
      parsePath(message.path);
      if (message.path === META_SUBSCRIBE || message.path === META_UNSUBSCRIBE) {
        const patterns = Array.isArray(message.data) ? (message.data as unknown[]) : [message.data];
        const max = this.#settings.maxSubscriptions;
        if (patterns.length > max) {
          throw new SwitchboardError(
            'SB_ERR_TOO_MANY_SUBSCRIPTIONS',
            `a subscribe may name at most ${max} patterns, got ${patterns.length}`,
          );
        }
        for (const p of patterns) parsePattern(p);
        if (message.path === META_SUBSCRIBE) {
          for (const p of patterns) await this.#permit('subscribe', p as string, session);
        }
        const kind = message.path === META_SUBSCRIBE ? 'subscribe' : 'unsubscribe';
        return { ...base, kind, target: undefined, patterns: patterns as PathPattern[] };
      }
      if (isMetaPath(message.path)) {
        throw new SwitchboardError('SB_ERR_BAD_PATH', `path ${quote(message.path)} is reserved`);
      }
      await this.#permit('publish', message.path, session);
      return { ...base, kind: 'publish', target: message.path };
    }
    if (message.to !== undefined) {
      const recipient = await this.#findByAddress(message.to);
      if (!recipient)
        throw new SwitchboardError('SB_ERR_NO_SESSION', `no session has the address ${quote(message.to)}`);
      await this.#permit('send', message.to, session);
      return { ...base, kind: 'direct', target: recipient };
    }
    return { ...base, kind: 'server', target: undefined };
  }

  async #permit(action: Permission, target: string, session: SessionInfo): Promise<void> {
    if (!this.#authorize) return;
    let allowed: boolean;
    try {
      allowed = await this.#authorize(action, target, session);
    } catch (error) {
      throw toSwitchboardError(error);
    }
    if (allowed !== true)
      throw new SwitchboardError('SB_ERR_FORBIDDEN', `not allowed to ${action} ${quote(target)}`);
  }

  /** The route the engine applies for a prepared message of `session`. */
  routeOf(session: SessionInfo, prepared: PreparedMessage): Route {
    const { message, json, jsonBytes } = prepared;
    switch (prepared.kind) {
      case 'subscribe':
      case 'unsubscribe':
        return { kind: prepared.kind, patterns: prepared.patterns };
      case 'publish': {
        const path = prepared.target as Path;
        const outbound = this.#make(path, path, session.address, json, jsonBytes, message);
        return { kind: 'publish', path, message: outbound };
      }
      case 'direct': {
        // A client cannot be told "full" after its message was accepted, so the recipient that
        // cannot keep up is closed as `overflow` instead (docs/architecture.md, "Bounds").
        const outbound = this.#make(undefined, message.to, session.address, json, jsonBytes, message);
        return { kind: 'direct', to: prepared.target as SessionId, message: outbound };
      }
      case 'server':
        return SERVER_ROUTE;
    }
  }

  /** A message of the application's: serialized once here; SB_ERR_BAD_MESSAGE or 413 if it cannot go. */
  outbound(
    path: Path | undefined,
    channel: string | undefined,
    data: unknown,
    options: OutboundOptions,
  ): Outbound {
    const json = serialize(data, 'the message');
    return this.#make(path, channel, undefined, json, this.#checkSize(json, 'the message'), options);
  }

  /** Checks the payload's UTF-8 size against `maxMessageBytes`; returns it. */
  #checkSize(json: string, what: string): number {
    const limit = this.#settings.maxMessageBytes;
    // Cheap first: a string of more UTF-16 units than `limit` has at least as many UTF-8 bytes,
    // so a far too large payload is refused without counting.
    const bytes = json.length > limit ? undefined : utf8Bytes(json);
    if (bytes === undefined || bytes > limit) {
      throw new SwitchboardError(
        'SB_ERR_PAYLOAD_TOO_LARGE',
        `${what} is ${bytes ?? `at least ${json.length}`} bytes, over the limit of ${limit}`,
      );
    }
    return bytes;
  }

  /**
   * The one shared message object. It keeps the JSON only, never the parsed value beside it: a
   * payload of many small objects takes 20 times its JSON's size once parsed.
   */
  #make(
    path: Path | undefined,
    channel: string | undefined,
    sender: Address | undefined,
    json: string,
    jsonBytes: number,
    options: OutboundOptions,
  ): Outbound {
    return {
      path,
      channel,
      sender,
      json,
      bytes: jsonBytes,
      cost: messageCost(json, jsonBytes),
      urgent: options.urgent === true,
      reliable: options.reliable !== false,
      createdAt: this.#now(),
      onState: options.onState,
    };
  }
}

/** `JSON.stringify`, refusing what has no JSON form (undefined, functions, cycles, BigInt). */
function serialize(data: unknown, what: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (error) {
    throw new SwitchboardError(
      'SB_ERR_BAD_MESSAGE',
      `${what} cannot be serialized to JSON: ${(error as Error).message}`,
    );
  }
  if (json === undefined) throw new SwitchboardError('SB_ERR_BAD_MESSAGE', `${what} has no data`);
  return json;
}
