/**
 * Starts a real Switchboard on 127.0.0.1 with a free port, for integration tests.
 * Always close it (`await server.close()`) in `after`/`t.after`.
 */
import { createSwitchboard, type Switchboard, type SwitchboardOptions } from '../../src/index.js';
import { eventually } from './until.js';

export interface TestServer {
  readonly server: Switchboard;
  /** e.g. http://127.0.0.1:45678 */
  readonly origin: string;
  /** e.g. http://127.0.0.1:45678/lpio */
  readonly lpioUrl: string;
  close(): Promise<void>;
}

export async function startServer(options: SwitchboardOptions = {}): Promise<TestServer> {
  const server = createSwitchboard(options);
  const address = await server.listen({ host: '127.0.0.1', port: 0 });
  const origin = `http://127.0.0.1:${address.port}`;
  return { server, origin, lpioUrl: `${origin}/lpio`, close: () => server.close() };
}

/** Starts a server for one test, closed when the test ends. */
export async function serve(
  t: { after(fn: () => unknown): void },
  options: SwitchboardOptions = {},
): Promise<TestServer> {
  const server = await startServer(options);
  t.after(() => server.close());
  return server;
}

/** One raw LPIO POST; returns the HTTP status and the parsed JSON body. */
export async function lpioPost(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<{ status: number; body: LpioReply; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json;charset=UTF-8', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal && { signal }),
  });
  return { status: res.status, body: (await res.json()) as LpioReply, headers: res.headers };
}

export interface LpioReply {
  state?: number;
  messages?: Array<Record<string, unknown>>;
  set?: { id?: string; address?: string };
  error?: string | { code: string; message: string };
  code?: string;
  close?: { code: number; reason: string; reconnect: boolean };
  /** Messages refused one by one (not acked, not processed). */
  errors?: Array<{ id: string; code: string; message: string }>;
}

/** Opens a new LPIO session and returns its secret id and public address. */
export async function openLpioSession(url: string): Promise<{ id: string; address: string }> {
  const { body } = await lpioPost(url, {});
  if (!body.set?.id || !body.set.address) throw new Error(`no session in ${JSON.stringify(body)}`);
  return { id: body.set.id, address: body.set.address };
}

/**
 * Starts `request` (a poll, a hello) and resolves once `server` has attached it to its session:
 * from then on it is held (or being answered), so a later request supersedes it, a publish wakes
 * it, and close() answers it. `reply` is the request's own outcome, to await as usual.
 */
export async function attached<T>(
  server: Switchboard,
  request: () => Promise<T>,
): Promise<{ reply: Promise<T> }> {
  const opened = async () => (await server.stats()).counters.connections_opened;
  const before = await opened();
  const reply = request();
  let failed = false;
  // Only noted here: the caller awaits `reply` and sees the rejection itself.
  reply.catch(() => (failed = true));
  await eventually(async () => failed || (await opened()) > before, 'the request to be attached');
  return { reply };
}
