/**
 * An SDK client for a test: the `ws` package's WebSocket (Node 20 has none of its own), a short
 * backoff without jitter so reconnects come quickly, and disconnected when the test ends.
 */
import type { TestContext } from 'node:test';
import { WebSocket } from 'ws';
import {
  createClient,
  type Client,
  type ClientOptions,
  type WebSocketConstructor,
} from '../../src/client/index.js';

/** The ws package's class fits the SDK's option as it is: strict tsc checks this line, no cast. */
export const WS: WebSocketConstructor = WebSocket;
export const FAST_BACKOFF = { min: 5, max: 50, factor: 2, jitter: 0 };

export function testClient(t: TestContext, options: ClientOptions): Client {
  const c = createClient({ WebSocket: WS, backoff: FAST_BACKOFF, ...options });
  t.after(() => c.disconnect());
  return c;
}
