/**
 * Messages as the Redis engine's script stores them, and the node's cache of decoded ones.
 * @module
 */
import { SwitchboardError } from '../../core/errors.js';
import { utf8Bytes } from '../../core/json.js';
import { messageCost } from '../../core/memory-cost.js';
import type { Outbound } from '../../core/types.js';

/**
 * A message in the script's argument form: mid, body, cost, reliable, urgent, created, origin
 * ('' when nobody listens to its states; see StateListeners), wire bytes.
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
    message.bytes,
    message.cost,
  ]);
  return [
    mid,
    body,
    String(message.cost),
    message.reliable ? '1' : '0',
    message.urgent ? '1' : '0',
    String(message.createdAt),
    origin,
    String(message.bytes),
  ];
}

/**
 * Decoded messages by mid, so every local recipient of a message shares one `Outbound` (and the
 * frames encoded for it). Bounded by count and by what the messages hold (`Outbound.cost`),
 * oldest first out. Mids are never reused (MessageIds), so an entry can only ever stand for the
 * message it was decoded from.
 */
export class MessageCache {
  readonly #max: number;
  readonly #maxBytes: number;
  readonly #messages = new Map<string, Outbound>();
  #bytes = 0;

  constructor(max: number, maxBytes: number) {
    this.#max = max;
    this.#maxBytes = maxBytes;
  }

  /** The shared `Outbound` of a message: decoded once per node, then the same object for every recipient. */
  decode(mid: string, body: string | undefined): Outbound {
    const cached = this.#messages.get(mid);
    if (cached) return cached;
    if (body === undefined) throw new SwitchboardError('SB_ERR_INTERNAL', `message ${mid} has no body`);
    const [path, channel, sender, json, urgent, reliable, createdAt, wire, held] = JSON.parse(body) as [
      string | null,
      string | null,
      string | null,
      string,
      number,
      number,
      number,
      number | undefined,
      number | undefined,
    ];
    const bytes = wire ?? utf8Bytes(json);
    const message: Outbound = {
      path: path ?? undefined,
      channel: channel ?? undefined,
      sender: sender ?? undefined,
      json,
      bytes,
      cost: held ?? messageCost(json, bytes),
      urgent: urgent === 1,
      reliable: reliable === 1,
      createdAt,
    };
    this.#messages.set(mid, message);
    this.#bytes += message.cost;
    while (this.#messages.size > this.#max || (this.#bytes > this.#maxBytes && this.#messages.size > 1)) {
      const [oldest, evicted] = this.#messages.entries().next().value as [string, Outbound];
      this.#messages.delete(oldest);
      this.#bytes -= evicted.cost;
    }
    return message;
  }

  clear(): void {
    this.#messages.clear();
    this.#bytes = 0;
  }
}
