/**
 * The cheapest honest LPIO client for load generation: plain `node:http` with keep-alive, one
 * request at a time, acks on the next poll. It speaks the wire protocol of docs/protocols/lpio.md,
 * nothing more: no backoff, no message states. The SDK's own cost is measured separately
 * (`switchboard-lpio-sdk`).
 *
 * Like the other bare clients (issue 9: "count deliveries without parsing where the scenario
 * allows"), it reads a `state: 1` answer by scanning for data messages instead of JSON.parse:
 * the server writes each as `{"type":"data","id":"<n>",…,"data":<payload>}`, and bench payloads
 * are plain strings without escapes. Any other answer is parsed in full.
 */
import { Agent, request } from 'node:http';

const DATA = '{"type":"data","id":"';

const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 100_000 });

interface Body {
  state?: number;
  messages?: { type?: string; id?: string; data?: unknown }[];
  set?: { id?: string };
}

function post(url: URL, id: string | undefined, messages: readonly object[]): Promise<Body> {
  return postText(url, id, JSON.stringify({ messages })).then((text) => JSON.parse(text) as Body);
}

function postText(url: URL, id: string | undefined, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
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
        res.on('end', () => resolve(text));
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

  const received = (idText: string, data: () => unknown): void => {
    acks.push(idText);
    const n = Number(idText);
    if (n <= lastSeen) return;
    lastSeen = n;
    onData?.(data());
  };
  const exchange = async (messages: object[]): Promise<void> => {
    const parts = acks.map((ack) => `{"type":"ack","id":"${ack}"}`);
    for (const message of messages) parts.push(JSON.stringify(message));
    const text = await postText(url, id, `{"messages":[${parts.join(',')}]}`);
    acks = [];
    if (text.startsWith('{"state":1,')) {
      for (let at = text.indexOf(DATA); at !== -1; at = text.indexOf(DATA, at + DATA.length)) {
        const idStart = at + DATA.length;
        const idText = text.slice(idStart, text.indexOf('"', idStart));
        received(idText, () => {
          const start = text.indexOf('"data":"', idStart) + 8;
          return text.slice(start, text.indexOf('"', start));
        });
      }
      return;
    }
    const body = JSON.parse(text) as Body;
    if (body.state === 2) throw new Error(`rejected: ${text}`);
    for (const m of body.messages ?? []) {
      if (m.type === 'data' && m.id !== undefined) received(m.id, () => m.data);
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
