/**
 * A raw `ws` client that speaks Switchboard's WebSocket frames by hand, for protocol tests: it
 * records every frame, tracks data ids the way the wire defines them (a `seq` frame sets the next
 * id, each data frame takes one) and acks only when told to.
 */
import { WebSocket, type ClientOptions } from 'ws';

export interface Frame {
  readonly type: string;
  readonly [key: string]: unknown;
}

export interface DataFrame {
  readonly id: number;
  readonly channel?: string;
  readonly sender?: string;
  readonly data: unknown;
}

export class RawWsClient {
  readonly frames: Frame[] = [];
  readonly data: DataFrame[] = [];
  closed: { code: number; reason: string } | undefined;
  #next = 0;
  #waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (raw: Buffer, isBinary) => {
      if (isBinary) throw new Error('the server sent a binary frame');
      const frame = JSON.parse(raw.toString()) as Frame;
      this.frames.push(frame);
      if (frame.type === 'seq') this.#next = frame.next as number;
      if (frame.type === 'data') this.data.push({ ...(frame as object), id: this.#next++ } as DataFrame);
      this.#notify();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.#notify();
    });
    // A failed connection is reported by open()'s own listeners, a lost one by 'close' (`closed`).
    ws.on('error', () => undefined);
  }

  static open(
    url: string,
    headers: Record<string, string> = {},
    options: ClientOptions = {},
  ): Promise<RawWsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { ...options, headers });
      const client = new RawWsClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () =>
          reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body })),
        );
      });
    });
  }

  /** Opens a connection and says hello; resolves with the welcome frame. */
  static async connect(
    url: string,
    hello: { session?: string; last?: number } = {},
    headers: Record<string, string> = {},
    options: ClientOptions = {},
  ): Promise<{ client: RawWsClient; welcome: Frame }> {
    const client = await RawWsClient.open(url, headers, options);
    client.send({ type: 'hello', ...hello });
    const welcome = await client.next('welcome');
    return { client, welcome };
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  get lastId(): number {
    return this.#next - 1;
  }

  ack(): void {
    if (this.data.length > 0) this.send({ type: 'ack', upTo: this.lastId });
  }

  /** Resolves once `check` holds (checked after every frame and on close). */
  until(check: () => boolean, ms = 5_000, what = 'condition'): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      const waiter = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve();
      };
      this.#waiters.push(waiter);
    });
  }

  /** The first frame of `type` received after now (or already received, when `from` is 0). */
  async next(type: string, ms = 5_000, from = this.frames.length): Promise<Frame> {
    let found: Frame | undefined;
    await this.until(
      () => (found = this.frames.slice(from).find((f) => f.type === type)) !== undefined,
      ms,
      `a ${type} frame`,
    );
    return found as Frame;
  }

  waitClosed(ms = 5_000): Promise<{ code: number; reason: string }> {
    return this.until(() => this.closed !== undefined, ms, 'close').then(
      () => this.closed as { code: number; reason: string },
    );
  }

  close(): void {
    this.ws.terminate();
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}
