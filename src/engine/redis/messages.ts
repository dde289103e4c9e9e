/**
 * Messages as the Redis engine's script stores them, and the node's cache of decoded ones.
 * @module
 */
import { SwitchboardError } from '../../core/errors.js';
import type { Outbound } from '../../core/types.js';

/**
 * A message in the script's argument form: mid, body, bytes, reliable, urgent, created, origin
 * ('' when nobody listens to its states; see StateListeners).
 */
export function messageArgs(mid: string, message: Outbound, origin: string): string[] {
  const body = JSON.stringify([
    message.path ?? null,
    message.channel ?? null,
    message.sender ?? null,
    message.json,
    message.urgent ? 1 : 0,
    message.reliable ? 1 : 0,
    message.createdAt,
  ]);
  return [
    mid,
    body,
    String(message.bytes),
    message.reliable ? '1' : '0',
    message.urgent ? '1' : '0',
    String(message.createdAt),
    origin,
  ];
}

/**
 * Decoded messages by mid, so every local recipient of a message shares one `Outbound` (and the
 * frames encoded for it). Bounded, oldest first out. Mids are never reused (MessageIds), so an
 * entry can only ever stand for the message it was decoded from.
 */
export class MessageCache {
  readonly #max: number;
  readonly #messages = new Map<string, Outbound>();

  constructor(max: number) {
    this.#max = max;
  }

  /** The shared `Outbound` of a message: decoded once per node, then the same object for every recipient. */
  decode(mid: string, body: string | undefined): Outbound {
    const cached = this.#messages.get(mid);
    if (cached) return cached;
    if (body === undefined) throw new SwitchboardError('SB_ERR_INTERNAL', `message ${mid} has no body`);
    const [path, channel, sender, json, urgent, reliable, createdAt] = JSON.parse(body) as [
      string | null,
      string | null,
      string | null,
      string,
      number,
      number,
      number,
    ];
    const message: Outbound = {
      path: path ?? undefined,
      channel: channel ?? undefined,
      sender: sender ?? undefined,
      data: JSON.parse(json) as unknown,
      json,
      bytes: json.length,
      urgent: urgent === 1,
      reliable: reliable === 1,
      createdAt,
    };
    this.#messages.set(mid, message);
    if (this.#messages.size > this.#max) this.#messages.delete(this.#messages.keys().next().value as string);
    return message;
  }

  clear(): void {
    this.#messages.clear();
  }
}
