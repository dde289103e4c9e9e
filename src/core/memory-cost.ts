/**
 * What the bounds count: bytes as this process really holds them, measured with V8's heap
 * statistics (`bench/trust.ts`), so that a limit in bytes bounds memory and not a proxy for it.
 * A JavaScript string costs 16 bytes plus one byte per character when every character is Latin-1,
 * two otherwise; these functions charge two per character unless the text is ASCII, an upper bound
 * that needs no scan beyond the UTF-8 length every limit computes anyway.
 * @module
 */

/**
 * One queued message beyond its payload: the shared message object (about 110 bytes), its queue
 * entry (about 80), the slots that hold it and its channel string. A publish shares the object
 * between recipients, so this over-counts them: the bound stays an upper bound.
 */
export const MESSAGE_OVERHEAD = 256;

/** One client message id remembered for dedupe or a pending ack: string header, set entry, slots. */
export const ID_OVERHEAD = 64;

/** Bytes a string of `length` characters holds, given its UTF-8 size (ASCII when the two match). */
export function stringCost(length: number, utf8Bytes: number): number {
  return 16 + (utf8Bytes === length ? length : 2 * length);
}

/**
 * What one queued copy of a message with this payload JSON holds: the JSON, and the copy a
 * protocol encodes once it is sent (a WebSocket frame, an LPIO data member), which lives with the
 * message until it is acked.
 */
export function messageCost(json: string, utf8Bytes: number): number {
  return MESSAGE_OVERHEAD + stringCost(json.length, utf8Bytes) + utf8Bytes;
}

/**
 * What remembering one client message id holds, at its worst (two bytes per character): ids are
 * short and counted often, so no UTF-8 scan here.
 */
export function idCost(id: string): number {
  return ID_OVERHEAD + 2 * id.length;
}
