/**
 * The pending-ack bound end to end (docs/configuration.md `dedupeWindow`, docs/errors.md
 * `SB_ERR_ACKS_PENDING`): a session holds at most half its dedupe window of acks its client has
 * not taken. A message past that is refused alone, not processed; the SDK sends it again behind
 * the request that takes the acks, on every transport, so each message arrives once (in order over
 * LPIO) and no send fails.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { createClient, type TransportName } from '../../src/client/index.js';
import { serve } from '../helpers/start-server.js';

for (const transport of ['lpio', 'websocket'] as const satisfies readonly TransportName[]) {
  test(`${transport}: a burst past the pending-ack bound is refused in part, sent again by the SDK, and arrives once${transport === 'lpio' ? ', in order' : ''}`, async (t) => {
    // A 4-id window: 2 pending acks at most. 30 sends in one turn go out in one or a few requests.
    const server = await serve(t, { settings: { dedupeWindow: 4 } });
    const received: unknown[] = [];
    server.server.on('message', (message) => received.push(message.data));
    const client = createClient({
      url: server.origin,
      transports: [transport],
      ackTimeout: 10_000,
      WebSocket: WebSocket,
    });
    const errors: string[] = [];
    client.on('error', (error) => errors.push(error.code));
    t.after(() => client.disconnect());
    client.connect();
    const sends = Array.from({ length: 30 }, (_, i) => client.send(i));
    await Promise.all(sends);
    const expected = Array.from({ length: 30 }, (_, i) => i);
    // Over LPIO one request waits for the answer of the one before, so what goes again goes
    // first. A WebSocket streams on: a later frame may overtake one sent again (docs/errors.md).
    if (transport === 'lpio') assert.deepEqual(received, expected);
    else
      assert.deepEqual(
        [...received].sort((a, b) => Number(a) - Number(b)),
        expected,
      );
    const stats = await server.server.stats();
    assert.ok(stats.counters.acks_pending > 0, 'the bound refused some of the burst');
    assert.equal(stats.counters.messages_in, 30);
    assert.deepEqual(errors, []);
    assert.equal(stats.counters.duplicates, 0);
  });
}
