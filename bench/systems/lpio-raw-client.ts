/**
 * The cheapest honest LPIO client for load generation: plain `node:http` with keep-alive, one
 * request at a time, acks on the next poll. It speaks the wire protocol of docs/protocols/lpio.md,
 * nothing more: no backoff, no message states. The SDK's own cost is measured separately
 * (`switchboard-lpio-sdk`).
 */
import { Agent, request } from 'node:http';

const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 100_000 });

interface Body {
  state?: number;
  messages?: { type?: string; id?: string; data?: unknown }[];
  set?: { id?: string };
}

function post(url: URL, id: string | undefined, messages: readonly object[]): Promise<Body> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ messages });
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          ...(id !== undefined && { 'LPIO-Client': id }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          try {
            resolve(JSON.parse(text) as Body);
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export interface RawLpioClient {
  send(message: object): void;
  close(): void;
}

/**
 * Opens a session. With `onData` a poll is always held and every data message is handed over once
 * (a request resends the unacked tail, so ids at or below the last one seen are skipped). Sends go
 * on their own request, which the server answers at once; it supersedes the held poll, which comes
 * back empty and is sent again.
 */
export async function openRawLpio(
  endpoint: string,
  onData: ((data: unknown) => void) | undefined,
  subscribe: readonly string[],
): Promise<RawLpioClient> {
  const url = new URL(endpoint);
  const opened = await post(url, undefined, []);
  const id = opened.set?.id;
  if (id === undefined) throw new Error(`no session id in ${JSON.stringify(opened)}`);
  let closed = false;
  let acks: string[] = [];
  let outbox: object[] = [];
  let sending = false;
  let lastSeen = -1;
  let seq = 0;

  const exchange = async (messages: object[]): Promise<void> => {
    const body = await post(url, id, [...acks.map((ack) => ({ type: 'ack', id: ack })), ...messages]);
    acks = [];
    if (body.state === 2) throw new Error(`rejected: ${JSON.stringify(body)}`);
    for (const m of body.messages ?? []) {
      if (m.type !== 'data' || m.id === undefined) continue;
      acks.push(m.id);
      const n = Number(m.id);
      if (n <= lastSeen) continue;
      lastSeen = n;
      onData?.(m.data);
    }
  };
  const report = (error: unknown) => {
    if (!closed)
      console.error(`lpio client ${id}: ${error instanceof Error ? error.message : String(error)}`);
  };
  const poll = async () => {
    while (!closed) await exchange([]);
  };
  const flush = async () => {
    sending = true;
    while (!closed && outbox.length > 0) {
      const batch = outbox;
      outbox = [];
      await exchange(batch);
    }
    sending = false;
  };

  if (subscribe.length > 0)
    await exchange([{ type: 'data', id: `s${seq++}`, channel: '/meta/subscribe', data: subscribe }]);
  if (onData) poll().catch(report);
  return {
    send: (message) => {
      outbox.push({ type: 'data', id: `m${seq++}`, ...message });
      if (!sending) flush().catch(report);
    },
    close: () => {
      closed = true;
    },
  };
}
