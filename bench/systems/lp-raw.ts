/**
 * The long-polling floor: a bare `node:http` server with the least a long poll can do. Each client
 * holds one POST at a time (`?c=<client>`); a broadcast answers every held poll with a JSON array of
 * the waiting payloads and queues for the rest; no sessions, acks, ids or redelivery. Nothing
 * real-world runs like this; it shows what Node's HTTP layer alone costs per delivery.
 */
import { Agent, request, type ServerResponse } from 'node:http';
import type { BenchSystem } from '../lib/system.js';

interface Waiting {
  res: ServerResponse | undefined;
  queue: string[];
}

const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 100_000 });

function post(url: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'Content-Length': Buffer.byteLength(body) } },
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

export const lpRaw: BenchSystem = {
  name: 'lp-raw',
  pkg: 'node',
  kind: 'polling',
  startServer(server, mode) {
    const clients = new Map<string, Waiting>();
    const answer = (waiting: Waiting) => {
      const res = waiting.res;
      if (!res || waiting.queue.length === 0) return;
      waiting.res = undefined;
      const body = `[${waiting.queue.join(',')}]`;
      waiting.queue = [];
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    server.on('request', (req, res) => {
      const url = req.url ?? '';
      const client = url.slice(url.indexOf('?c=') + 3);
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        let waiting = clients.get(client);
        if (!waiting) clients.set(client, (waiting = { res: undefined, queue: [] }));
        if (body === '') {
          waiting.res = res;
          answer(waiting);
          return;
        }
        res.writeHead(204).end();
        const json = JSON.stringify(body);
        if (mode === 'echo') {
          waiting.queue.push(json);
          answer(waiting);
          return;
        }
        for (const [id, other] of clients) {
          if (id === client) continue;
          other.queue.push(json);
          answer(other);
        }
      });
    });
    return Promise.resolve({ close: () => Promise.resolve() });
  },
  connect(baseUrl, onMessage) {
    const url = `${baseUrl}/lp?c=${Math.random().toString(36).slice(2)}`;
    let closed = false;
    const poll = async () => {
      while (!closed) for (const payload of JSON.parse(await post(url, '')) as string[]) onMessage(payload);
    };
    // The first poll registers the client; sends before that would miss nobody but itself.
    poll().catch(() => undefined);
    return new Promise((resolve) =>
      setTimeout(
        () =>
          resolve({
            send: (payload) => {
              post(url, payload).catch(() => undefined);
            },
            close: () => {
              closed = true;
            },
          }),
        20,
      ),
    );
  },
};
