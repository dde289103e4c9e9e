/**
 * Vocabulary shared by the core, the engines and every protocol adapter.
 * See docs/architecture.md for the glossary.
 * @module
 */

import type { CloseReasonName } from './close-reasons.js';

/** Secret token that names a session; whoever presents it may resume the session. Never shown to other clients. */
export type SessionId = string;
/** Public name of a session: other clients address direct messages to it and see it as `sender`. */
export type Address = string;
/** Server-to-client message id: per session, assigned when first sent, increasing int32 (seed 001). */
export type MessageId = number;
/** Client-to-server message id, chosen by the client; used for acks and duplicate detection. */
export type ClientMessageId = string;
/** A router path such as `/chat/room-1`. */
export type Path = string;
/** A path or a Bayeux wildcard pattern: `/chat/*` (one segment) or `/chat/**` (any depth). */
export type PathPattern = string;

export type ProtocolName = 'lpio' | 'webchannel' | 'websocket' | 'sse' | 'tunnel' | 'server';

export const INT32_MAX = 2_147_483_647;

/**
 * Progress of one outbound message for one session (seed 001 "timestamped progress state").
 * unsent → sent → (retrying → …) → delivered; unreliable ones may go unsent → discarding → dropped;
 * a reliable one ends as dropped only when its session closes before the ack.
 */
export type MessageState = 'unsent' | 'sent' | 'retrying' | 'delivered' | 'discarding' | 'dropped';

/**
 * One message on its way out. It is created once per publish and shared by reference by every
 * session it fans out to: the payload is serialized once (`json`), never copied per subscriber.
 */
export interface Outbound {
  /** The path it was published to, or undefined for a direct or server message. */
  readonly path: Path | undefined;
  /** What the wire shows as the message's channel (the path, or the address it was sent to). */
  readonly channel: string | undefined;
  /** Address of the client session that sent it; undefined when the application sent it. */
  readonly sender: Address | undefined;
  /**
   * The payload as JSON, serialized once. The parsed value is not kept: every protocol writes
   * the JSON, and a parsed payload of many small objects holds 20 times the JSON's size.
   */
  readonly json: string;
  /** UTF-8 bytes of `json`: what it weighs on the wire, counted against the batch byte limits. */
  readonly bytes: number;
  /**
   * What one queued copy of the message holds in memory (`messageCost`: the JSON's storage, the
   * copy encoded for the wire once sent, a fixed overhead), counted against `maxQueueBytes`.
   */
  readonly cost: number;
  readonly urgent: boolean;
  readonly reliable: boolean;
  readonly createdAt: number;
  /** Told of every state change; set only on direct sends, which have one recipient. */
  readonly onState?: MessageStateListener | undefined;
}

export type MessageStateListener = (state: MessageState, at: number, id: MessageId | undefined) => void;

/** A message the core hands to a connection to write. `id` is final: retransmits reuse it. */
export interface Delivery {
  readonly id: MessageId;
  readonly message: Outbound;
  /** True when this id was written before and not acked (a retransmission). */
  readonly retry: boolean;
}

/** What a connection writes in one go: acks for the client's messages, then messages in id order. */
export interface Batch {
  readonly acks: readonly ClientMessageId[];
  readonly deliveries: readonly Delivery[];
  /** The batch limits left messages behind: take again right away. */
  readonly more?: boolean;
  /** A newer connection claimed the session: this one must end (`superseded`); nothing was taken. */
  readonly superseded?: boolean;
  /**
   * The session is gone and this is why (a connection may still be held for it: the close
   * happened elsewhere, or a shared engine lost its data). The connection ends with that reason.
   */
  readonly ended?: CloseReasonName;
}

export type SessionStatus = 'init' | 'open' | 'closed';

/** The public, read-only view of a session. */
export interface SessionInfo {
  readonly id: SessionId;
  readonly address: Address;
  readonly protocol: ProtocolName;
  /** The identity the auth hook returned when the session opened, if any. */
  readonly user: string | undefined;
  readonly status: SessionStatus;
  readonly createdAt: number;
  readonly lastSeen: number;
}

/** One message as the application sees it arrive from a client. */
export interface InboundMessage {
  /** The client's id for the message (unique per session). */
  readonly id: ClientMessageId;
  readonly data: unknown;
  /** Set when the client published to a path. */
  readonly path?: Path;
  /** Set when the client sent directly to another session's address. */
  readonly to?: Address;
  readonly urgent?: boolean;
  readonly reliable?: boolean;
}

/** Snapshot of one queued message, for `hub.inspect()`. */
export interface MessageSnapshot {
  readonly id: MessageId | undefined;
  readonly state: MessageState;
  /** When the message entered its current state (ms since epoch). */
  readonly at: number;
  readonly attempts: number;
  readonly path: Path | undefined;
  readonly urgent: boolean;
  readonly reliable: boolean;
}

export interface QueueSnapshot {
  readonly unsent: readonly MessageSnapshot[];
  readonly unacked: readonly MessageSnapshot[];
  readonly nextId: MessageId;
  readonly bytes: number;
}
