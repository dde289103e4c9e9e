/**
 * A TCP proxy on loopback that plays a bad network between a client and a server: it can cut
 * every connection (`cut()`), refuse new ones (`refuse(true)`: accepted and closed at once, as a
 * dead route looks to the client), and hold what the server says (`holdReplies(true)`: bytes from
 * the server are kept back, so a request reaches the server and its answer, an ack, never reaches
 * the client; released in order by `holdReplies(false)`, dropped by `cut()`).
 * It speaks bytes, not HTTP, so it serves long polls and WebSockets alike.
 * Always close it (`await proxy.close()`), e.g. in `t.after`.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface CuttingProxy {
  /** e.g. http://127.0.0.1:45678 */
  readonly origin: string;
  /** Connections accepted so far (refused ones included). */
  readonly accepted: number;
  cut(): void;
  refuse(on: boolean): void;
  holdReplies(on: boolean): void;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly server: Socket;
  /** Server bytes kept back while replies are held. */
  held: Buffer[];
}

export async function cuttingProxy(targetPort: number): Promise<CuttingProxy> {
  const pairs = new Set<Pair>();
  let refusing = false;
  let holding = false;
  let accepted = 0;
  const proxy = createServer((client) => {
    accepted++;
    if (refusing) {
      client.destroy();
      return;
    }
    const server = connect(targetPort, '127.0.0.1');
    const pair: Pair = { client, server, held: [] };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('data', (chunk) => server.write(chunk));
    server.on('data', (chunk) => {
      if (holding) pair.held.push(chunk);
      else client.write(chunk);
    });
    for (const socket of [client, server]) {
      socket.on('error', end);
      socket.on('close', end);
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  const cut = () => {
    for (const pair of [...pairs]) {
      pairs.delete(pair);
      pair.client.destroy();
      pair.server.destroy();
    }
  };
  return {
    origin: `http://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    cut,
    refuse(on) {
      refusing = on;
    },
    holdReplies(on) {
      holding = on;
      if (on) return;
      for (const pair of pairs) {
        for (const chunk of pair.held) pair.client.write(chunk);
        pair.held = [];
      }
    },
    close() {
      cut();
      return new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
