/**
 * One client of a real server, on either protocol, for tests that must hold on both: a `Party`
 * sends messages in one LPIO request or one WebSocket frame and says which the server acked and
 * which it refused (LPIO's `errors`, WebSocket's `error` frames), and collects what it receives.
 * LPIO parties poll over raw HTTP (`lpioPost`) and ack what they received on their next request;
 * WebSocket parties speak raw frames (`RawWsClient`) and never ack unless told to.
 */
import type { TestContext } from 'node:test';
import type { AuthRequest, AuthResult, Switchboard } from '../../src/index.js';
import { lpioPost, type LpioReply } from './start-server.js';
import { RawWsClient, type Frame } from './ws-client.js';
export { eventually } from './until.js';

export type ProtocolUnderTest = 'lpio' | 'websocket';
export const PROTOCOLS: readonly ProtocolUnderTest[] = ['lpio', 'websocket'];

/** One client message: to a path (`/…`), an address, `/meta/subscribe`, or the application (no channel). */
export interface Outgoing {
  readonly type: 'data';
  readonly id: string;
  readonly channel?: string;
  readonly data: unknown;
}

export const message = (id: string, channel: string | undefined, data: unknown): Outgoing => ({
  type: 'data',
  id,
  ...(channel !== undefined && { channel }),
  data,
});

/** What the server said about the messages of one request or frame. */
export interface Outcome {
  readonly acked: string[];
  readonly refused: Array<{ readonly id: string; readonly code: string }>;
}

export interface Delivered {
  readonly id: number;
  readonly channel: string | undefined;
  readonly sender: string | undefined;
  readonly data: unknown;
}

/** An LPIO reply with the members the shared `LpioReply` type leaves out. */
export interface FullReply extends LpioReply {
  errors?: Array<{ id: string; code: string; message: string }>;
  session?: { address: string };
  limits?: unknown;
}

export interface Party {
  readonly protocol: ProtocolUnderTest;
  readonly id: string;
  readonly address: string;
  /** Sends `messages` in one request or frame; resolves once each was acked or refused. */
  send(messages: readonly Outgoing[]): Promise<Outcome>;
  /** Subscribes (one message per pattern, one request); throws unless every one was acked. */
  subscribe(...patterns: string[]): Promise<void>;
  /**
   * Collects what arrives, in order, until a message satisfies `last` (or `ms` passes); returns
   * everything collected since the previous call.
   */
  receiveUntil(last: (d: Delivered) => boolean, ms?: number): Promise<Delivered[]>;
}

/** Who a party is: sent as `x-user` (the auth hook of `usersAuth` reads it). */
export interface PartyOptions {
  readonly user?: string;
}

export function userHeaders(user: string | undefined): Record<string, string> {
  return user === undefined ? {} : { 'x-user': user };
}

/** The test auth hook's rule: `x-user` names the user (or `?user=` for clients that cannot set headers); `eve` is refused; no user is anonymous. */
export function usersAuth(req: AuthRequest): AuthResult {
  const header = req.headers['x-user'];
  const query = new URL(req.url, 'http://localhost').searchParams.get('user');
  const user = typeof header === 'string' ? header : (query ?? undefined);
  if (user === undefined) return true;
  if (user === 'eve') return false;
  return { user };
}

export const wsUrlOf = (origin: string): string => `${origin.replace(/^http/, 'ws')}/ws`;

/** Opens a new session as a party of `protocol` on the server at `origin`. */
export async function openParty(
  t: TestContext,
  protocol: ProtocolUnderTest,
  origin: string,
  options: PartyOptions = {},
): Promise<Party> {
  return protocol === 'lpio' ? openLpioParty(`${origin}/lpio`, options) : openWsParty(t, origin, options);
}

async function openLpioParty(url: string, { user }: PartyOptions): Promise<Party> {
  const headers = userHeaders(user);
  const opened = await lpioPost(url, {}, headers);
  const { id, address } = opened.body.set ?? {};
  if (opened.status !== 200 || id === undefined || address === undefined)
    throw new Error(`no LPIO session: ${opened.status} ${JSON.stringify(opened.body)}`);
  return lpioParty(url, headers, id, address);
}

/** A party for an LPIO session that exists already (its next request resumes it). */
export function lpioParty(url: string, headers: Record<string, string>, id: string, address: string): Party {
  const inbox: Delivered[] = [];
  let toAck: string[] = [];

  /** One request with our acks; whatever data comes back goes to the inbox. */
  async function post(messages: readonly Outgoing[]): Promise<FullReply> {
    const acks = toAck.map((n) => ({ type: 'ack', id: n }));
    const reply = await lpioPost(
      url,
      { messages: [...acks, ...messages] },
      { ...headers, 'lpio-client': id },
    );
    if (reply.status !== 200) throw new Error(`LPIO answered ${reply.status}: ${JSON.stringify(reply.body)}`);
    const body = reply.body as FullReply;
    if (body.state === 2) throw new Error(`LPIO refused the request: ${JSON.stringify(body)}`);
    toAck = [];
    for (const m of body.messages ?? []) {
      if (m.type !== 'data') continue;
      toAck.push(String(m.id));
      inbox.push({
        id: Number(m.id),
        channel: m.channel as string | undefined,
        sender: m.sender as string | undefined,
        data: m.data,
      });
    }
    return body;
  }

  const party: Party = {
    protocol: 'lpio',
    id,
    address,
    async send(messages) {
      const body = await post(messages);
      const acked = (body.messages ?? []).filter((m) => m.type === 'ack').map((m) => String(m.id));
      const refused = (body.errors ?? []).map(({ id: refusedId, code }) => ({ id: refusedId, code }));
      return { acked, refused };
    },
    async subscribe(...patterns) {
      const sent = patterns.map((p, i) => message(`sub-${Date.now()}-${i}`, '/meta/subscribe', p));
      const outcome = await party.send(sent);
      if (outcome.acked.length !== sent.length)
        throw new Error(`subscribe refused: ${JSON.stringify(outcome)}`);
    },
    async receiveUntil(last, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (!inbox.some(last)) {
        if (Date.now() > deadline) throw new Error(`LPIO party received only ${JSON.stringify(inbox)}`);
        const body = await post([]);
        if (body.close) throw new Error(`the session ended: ${JSON.stringify(body.close)}`);
      }
      return inbox.splice(0, inbox.findIndex(last) + 1);
    },
  };
  return party;
}

async function openWsParty(t: TestContext, origin: string, { user }: PartyOptions): Promise<Party> {
  const { client, welcome } = await RawWsClient.connect(wsUrlOf(origin), {}, userHeaders(user));
  t.after(() => client.close());
  let consumed = 0;
  const party: Party = {
    protocol: 'websocket',
    id: welcome.session as string,
    address: welcome.address as string,
    async send(messages) {
      const from = client.frames.length;
      const ids = messages.map((m) => m.id);
      client.send(messages.length === 1 ? messages[0] : messages);
      const outcome = (): Outcome => {
        const frames = client.frames.slice(from);
        return {
          acked: frames
            .flatMap((f) => (f.type === 'ack' ? (f.ids as string[]) : []))
            .filter((i) => ids.includes(i)),
          refused: frames
            .filter((f): f is Frame & { ids: string[]; code: string } => f.type === 'error')
            .flatMap((f) => f.ids.filter((i) => ids.includes(i)).map((i) => ({ id: i, code: f.code }))),
        };
      };
      await client.until(
        () => {
          const { acked, refused } = outcome();
          return ids.every((i) => acked.includes(i) || refused.some((r) => r.id === i));
        },
        10_000,
        `an answer for ${ids.join(', ')}`,
      );
      return outcome();
    },
    async subscribe(...patterns) {
      const sent = patterns.map((p, i) => message(`sub-${Date.now()}-${i}`, '/meta/subscribe', p));
      const outcome = await party.send(sent);
      if (outcome.acked.length !== sent.length)
        throw new Error(`subscribe refused: ${JSON.stringify(outcome)}`);
    },
    async receiveUntil(last, ms = 10_000) {
      const delivered = () =>
        client.data
          .slice(consumed)
          .map((d) => ({ id: d.id, channel: d.channel, sender: d.sender, data: d.data }));
      await client.until(() => delivered().some(last) || client.closed !== undefined, ms, 'a message');
      const got = delivered();
      const end = got.findIndex(last);
      if (end === -1)
        throw new Error(`the socket closed ${JSON.stringify(client.closed)} after ${JSON.stringify(got)}`);
      consumed += end + 1;
      return got.slice(0, end + 1);
    },
  };
  return party;
}

/** Resolves once the hub holds `count` live connections of `protocol` (a held poll, an open socket). */
export async function liveConnections(
  server: Switchboard,
  protocol: ProtocolUnderTest,
  count: number,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const live = (await server.stats()).liveConnectionsByProtocol[protocol] ?? 0;
    if (live === count) return;
    if (Date.now() > deadline) throw new Error(`${live} live ${protocol} connections, not ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** An upgrade the server refused: its status and the code in its JSON body. */
export async function refusedUpgrade(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number | undefined; code: string | undefined }> {
  const error = await RawWsClient.open(url, headers).then(
    (client) => {
      client.close();
      throw new Error('the upgrade was accepted');
    },
    (e: unknown) => e as { status?: number; body?: string },
  );
  const body =
    error.body === undefined ? undefined : (JSON.parse(error.body) as { error?: { code?: string } });
  return { status: error.status, code: body?.error?.code };
}

/** `promise`, or a rejection naming `what` if it has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
