/**
 * Encoding a broadcast once: every protocol writes the same bytes (or the same tail after a
 * per-session id) for each recipient of a message, so it encodes each message once and reuses it.
 * @module
 */
import type { Outbound } from './types.js';

/**
 * Wraps a per-message encoder so each message is encoded once: kept weakly with the message (it
 * goes when the message goes), and the last one is answered without the map, since a fan-out asks
 * for the same message once per recipient, in a row.
 */
export function encodeOnce<T>(encode: (message: Outbound) => T): (message: Outbound) => T {
  const encoded = new WeakMap<Outbound, T>();
  let lastMessage: Outbound | undefined;
  let last: T | undefined;
  return (message) => {
    if (message === lastMessage) return last as T;
    let value = encoded.get(message);
    if (value === undefined) {
      value = encode(message);
      encoded.set(message, value);
    }
    lastMessage = message;
    last = value;
    return value;
  };
}

/**
 * A data message's members after its type and id, closing brace included, as both LPIO and the
 * WebSocket protocol write them: `,"channel":…,"sender":…,"urgent":true,"data":…}`. The payload
 * is spliced in as the JSON serialized once at publish.
 */
export function dataMembers(message: Outbound): string {
  let text = '';
  if (message.channel !== undefined) text += `,"channel":${JSON.stringify(message.channel)}`;
  if (message.sender !== undefined) text += `,"sender":${JSON.stringify(message.sender)}`;
  if (message.urgent) text += ',"urgent":true';
  return `${text},"data":${message.json}}`;
}
