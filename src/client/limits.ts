/**
 * What the server accepts in one request or frame, as it announces it (LPIO's `limits` with a
 * new session or a `describe` answer, WebSocket's `welcome.limits`), and how the SDK splits what
 * it sends to fit: a frame or body past the server's limit is refused whole (413, or 1009 and a
 * reconnect loop for WebSocket), so the client never sends one.
 * @module
 */

export interface ServerLimits {
  /** Messages per request or frame. */
  readonly messages: number;
  /** Bytes of one request body or frame. */
  readonly bytes: number;
  /** UTF-8 bytes of one message's JSON payload. */
  readonly messageBytes: number;
}

/** The server's defaults (docs/configuration.md): used until the server says otherwise. */
export const DEFAULT_LIMITS: ServerLimits = Object.freeze({
  messages: 1_000,
  bytes: 1_048_576,
  messageBytes: 65_536,
});

/** Reads announced limits; keeps `current` for anything missing or not a positive integer. */
export function limitsOf(value: unknown, current: ServerLimits): ServerLimits {
  if (typeof value !== 'object' || value === null) return current;
  const v = value as Record<string, unknown>;
  const pick = (key: keyof ServerLimits): number => {
    const n = v[key];
    return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : current[key];
  };
  return { messages: pick('messages'), bytes: pick('bytes'), messageBytes: pick('messageBytes') };
}

/** UTF-8 bytes of `text`, without allocating (limits count bytes; `length` counts UTF-16 units). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4; // a surrogate pair: one 4-byte character
      i++;
    } else bytes += 3; // the rest of the BMP, and a lone surrogate (sent as U+FFFD, 3 bytes)
  }
  return bytes;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * How many items, from the front of `items`, fit in one request of at most `limits.messages`
 * items and `limits.bytes` bytes, `overhead` of which are taken already (each item costs
 * `size(item)` plus a separator). Never more than fits: callers refuse items that cannot fit
 * even alone, and an item that does not fit now waits for the next request.
 */
export function takeFitting<T>(
  items: readonly T[],
  size: (item: T) => number,
  limits: ServerLimits,
  overhead: number,
): number {
  let bytes = overhead;
  let n = 0;
  for (const item of items) {
    if (n >= limits.messages) break;
    const cost = size(item) + 1;
    if (bytes + cost > limits.bytes) break;
    bytes += cost;
    n++;
  }
  return n;
}
