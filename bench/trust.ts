/**
 * What a hostile anonymous client can make one node hold: memory per idle, full, pattern-heavy and
 * dedupe-heavy session, how long a stalled request body is kept, how many sessions one address may
 * open, and what echoing a huge bad frame costs. Only the public server API (`createSwitchboard`,
 * `settings`, `listen`, `close`, `send`, `subscribe`, `stats`) and the wire (node:http, node:net,
 * `ws`) are used, and every answer is recorded as it came (429, 408, 413, …), never assumed, so
 * this same file measures later versions unchanged.
 *
 * Usage: node --expose-gc dist/bench/trust.js [scenario...] [--label before|after] [--repeats n]
 *   scenarios: idle-session full-session deep-patterns dedupe-window stalled-body session-rate
 *              error-echo (none given: all of them)
 *   --label    names the result file: bench/results/trust-<label>.json (default "run")
 *   --repeats  runs per scenario, one at a time (default 3); the table gives median (min–max)
 *
 * Each run is its own child process (this file, `--expose-gc`, `--child <scenario>`), killed by PID
 * if it outlives its bound; the server and its hostile client share that process, except in
 * error-echo, whose server runs in a grandchild (`--host`) so the client's send buffers are not
 * counted as server memory. Memory is RSS and heapUsed after two `global.gc()`, after minus before,
 * divided by the count. Every load loop is bounded in count and in time. Sessions are opened over
 * the wire, one source address each (127.0.0.2 … 127.0.200.x); the scenarios that need many raise
 * maxSessions and any rate or per-address limit DEFAULT_SETTINGS has (the settings are recorded).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket, type RawData } from 'ws';
import { createSwitchboard, DEFAULT_SETTINGS } from '../src/index.js';

const here = fileURLToPath(import.meta.url);
const root = join(dirname(here), '..', '..');
const KiB = 1024;
const MiB = 1024 * 1024;

// ---------------------------------------------------------------- shared helpers

type Value = number | string;
type Measure = { readonly name: string; readonly value: Value; readonly unit: string };
/** A measure; a number that is not finite (per session of 0 sessions, say) is recorded as "n/a". */
const m = (name: string, value: Value, unit = ''): Measure => ({
  name,
  value: typeof value === 'number' && !Number.isFinite(value) ? 'n/a' : value,
  unit,
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const gc = (globalThis as { gc?: () => void }).gc;

type Memory = { readonly rss: number; readonly heapUsed: number };
/** RSS and heap once closed sockets are gone, after two full collections. */
async function memory(): Promise<Memory> {
  if (!gc) throw new Error('run with node --expose-gc');
  await sleep(500);
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

/** RSS and heap per item in KiB, between two readings. */
const perItem = (before: Memory, after: Memory, count: number, what: string): Measure[] => [
  m(`RSS per ${what}`, (after.rss - before.rss) / count / KiB, 'KiB'),
  m(`heap per ${what}`, (after.heapUsed - before.heapUsed) / count / KiB, 'KiB'),
];

/** The k-th source address: 127.0.0.2 … 127.0.0.251, 127.0.1.2 …, up to 127.0.200.251. */
function sourceAddress(k: number): string {
  if (k < 0 || k >= 201 * 250) throw new Error(`no source address ${k}`);
  return `127.0.${Math.floor(k / 250)}.${2 + (k % 250)}`;
}
/** Warm-up sessions come from addresses that no measured session uses. */
const WARMUP_ADDRESSES = 50_000;

const count = (tally: Map<string, number>, key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);
const tallyText = (tally: Map<string, number>): string =>
  [...tally].map(([key, n]) => `${key} ×${n}`).join(', ') || 'none';

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (i: number) => sorted[i] ?? NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? at(mid) : (at(mid - 1) + at(mid)) / 2;
}

type Answer = {
  readonly status?: number;
  readonly headers?: IncomingHttpHeaders;
  readonly body?: string;
  readonly error?: string;
  readonly ms: number;
};
type RequestOptions = {
  readonly localAddress?: string;
  readonly headers?: Record<string, string>;
  /** A keep-alive agent; without one each request has its own connection, closed after the answer. */
  readonly agent?: Agent;
  readonly timeoutMs?: number;
};

/** One HTTP request to the server on 127.0.0.1. Never rejects: a failure is `error`. */
function httpRequest(
  port: number,
  method: string,
  path: string,
  body?: string,
  options: RequestOptions = {},
) {
  const started = performance.now();
  return new Promise<Answer>((resolve) => {
    let done = false;
    const finish = (answer: Omit<Answer, 'ms'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...answer, ms: performance.now() - started });
    };
    const headers: Record<string, string> = { ...options.headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    if (!options.agent) headers.connection = 'close';
    const { localAddress, agent = false } = options;
    const req = request({ host: '127.0.0.1', port, method, path, headers, localAddress, agent }, (res) => {
      const chunks: Buffer[] = [];
      const { statusCode: status, headers } = res;
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => finish({ status, headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('close', () => finish({ status, headers, error: 'aborted' }));
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish({ error: 'no answer (aborted)' });
    }, options.timeoutMs ?? 10_000);
    req.on('error', (error: NodeJS.ErrnoException) => finish({ error: error.code ?? error.message }));
    req.end(body);
  });
}

/** How an answer is tallied: "200", "429 Retry-After 30", "error ECONNRESET". */
function answerLabel({ status, headers, error }: Answer): string {
  if (status === undefined) return `error ${error ?? '?'}`;
  const retry = headers?.['retry-after'];
  return `${status}${retry === undefined ? '' : ` Retry-After ${String(retry)}`}${error ? ` ${error}` : ''}`;
}

function parse(text: string | undefined): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text ?? '') as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
/** The new session id an LPIO answer carries in `set.id`, if any. */
function sessionIdOf(answer: Answer): string | undefined {
  if (answer.status !== 200) return undefined;
  const set = parse(answer.body)?.set as { id?: unknown } | undefined;
  return typeof set?.id === 'string' ? set.id : undefined;
}

/** Runs task(0 … n-1), `concurrency` at a time, starting none after `deadline`; returns how many ran. */
async function pool(n: number, concurrency: number, deadline: number, task: (i: number) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < n && Date.now() < deadline) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return next;
}

async function until(condition: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!condition() && Date.now() < end) await sleep(50);
}

type Server = ReturnType<typeof createSwitchboard>;

/** A limit on a rate or on one client address, by its name (durations excluded). */
const RATE_OR_ADDRESS_LIMIT = /per(Minute|Second|Hour|Address|Ip|Client)|rate|burst/i;
/** maxSessions and any rate or per-address limit this version has, raised (existing keys only). */
function raisedLimits(sessions: number): Record<string, number> {
  const raised: Record<string, number> = {};
  for (const [key, value] of Object.entries(DEFAULT_SETTINGS as unknown as Record<string, unknown>)) {
    if (typeof value !== 'number') continue;
    if (key === 'maxSessions') raised[key] = Math.max(value, sessions * 4);
    else if (RATE_OR_ADDRESS_LIMIT.test(key) && !/(Ms|Seconds)$/.test(key))
      raised[key] = Math.max(value, 10_000_000);
  }
  return raised;
}

/**
 * A server listening on 127.0.0.1, and its settings as `key=value` text. A raised key that the
 * version refuses (SB_ERR_CONFIG naming it) is dropped.
 */
async function startServer(settings: Record<string, number> = {}) {
  const given = { ...settings };
  for (;;) {
    let server: Server;
    try {
      server = createSwitchboard({ settings: given });
    } catch (error) {
      const refused = Object.keys(given).find((key) => String(error).includes(`"${key}"`));
      if (refused === undefined || refused === 'maxSessions') throw error;
      delete given[refused];
      continue;
    }
    server.on('warning', () => undefined);
    const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
    const text = Object.entries(given).map(([key, value]) => `${key}=${value}`);
    return { server, port, settings: text.join(', ') || 'defaults' };
  }
}

const stop = (server: Server) => Promise.race([server.close(), sleep(5_000)]);

/** Sessions the server says it holds (stats().sessionsByProtocol), or "n/a". */
async function sessionsHeld(server: Server): Promise<Value> {
  try {
    const stats = (await server.stats()) as { sessionsByProtocol?: Record<string, unknown> };
    const counts = Object.values(stats.sessionsByProtocol ?? {}).filter((n) => typeof n === 'number');
    return counts.length > 0 ? counts.reduce((a, b) => a + b, 0) : 'n/a';
  } catch {
    return 'n/a';
  }
}

type Session = { readonly id: string; readonly address: string };
type Opened = { sessions: Session[]; created: number; answers: Map<string, number>; elapsedMs: number };
/** Opens up to n LPIO sessions (POST /lpio `{}`), one source address each from `firstAddress` on. */
async function openSessions(port: number, n: number, firstAddress: number, keep = true): Promise<Opened> {
  const opened: Opened = { sessions: [], created: 0, answers: new Map(), elapsedMs: 0 };
  const started = performance.now();
  await pool(n, 32, Date.now() + 120_000, async (i) => {
    const address = sourceAddress(firstAddress + i);
    const answer = await httpRequest(port, 'POST', '/lpio', '{}', { localAddress: address });
    const id = sessionIdOf(answer);
    const label = id !== undefined ? '200' : answerLabel(answer) + (answer.status === 200 ? ' no id' : '');
    count(opened.answers, label);
    if (id === undefined) return;
    opened.created++;
    if (keep) opened.sessions.push({ id, address });
  });
  opened.elapsedMs = performance.now() - started;
  return opened;
}

const errorCode = (error: unknown): string =>
  String((error as { code?: unknown }).code ?? (error instanceof Error ? error.message : error));

// ---------------------------------------------------------------- scenarios

/** 1. RSS and heap per idle LPIO session (20,000, from 20,000 addresses). */
async function idleSession(): Promise<Measure[]> {
  const N = 20_000;
  const { server, port, settings } = await startServer(raisedLimits(N));
  try {
    await openSessions(port, 50, WARMUP_ADDRESSES, false);
    const before = await memory();
    const opened = await openSessions(port, N, 0, false);
    const after = await memory();
    return [
      m('sessions requested', N, 'sessions'),
      m('sessions created', opened.created, 'sessions'),
      m('sessions held (server stats, incl. 50 warm-up)', await sessionsHeld(server), 'sessions'),
      m('open time', opened.elapsedMs / 1000, 's'),
      m('open rate', opened.created / (opened.elapsedMs / 1000), 'sessions/s'),
      ...perItem(before, after, opened.created, 'session'),
      m('answers', tallyText(opened.answers)),
      m('settings', settings),
    ];
  } finally {
    await stop(server);
  }
}

/** What a fill did: its own measures, and how many items (messages, patterns) the server now holds. */
type Filled = { readonly measures: Measure[]; readonly items: number; readonly what: string };
type Fill = (server: Server, port: number, sessions: readonly Session[], warmUp: boolean) => Promise<Filled>;

/**
 * Opens N sessions and fills them; memory is read before the sessions, after opening them and
 * after the fill. The same fill runs first on 2 warm-up sessions, so that code and caches it
 * brings in are in the baseline.
 */
async function fillScenario(N: number, fill: Fill): Promise<Measure[]> {
  const { server, port, settings } = await startServer(raisedLimits(N));
  try {
    await fill(server, port, (await openSessions(port, 2, WARMUP_ADDRESSES)).sessions, true);
    const before = await memory();
    const opened = await openSessions(port, N, 0);
    const afterOpen = await memory();
    const { measures, items, what } = await fill(server, port, opened.sessions, false);
    const after = await memory();
    return [
      m('sessions created', opened.created, 'sessions'),
      ...perItem(before, after, opened.created, 'session'),
      ...perItem(afterOpen, after, opened.created, 'session, fill only'),
      ...perItem(afterOpen, after, items, what),
      ...measures,
      m('open answers', tallyText(opened.answers)),
      m('settings', settings),
    ];
  } finally {
    await stop(server);
  }
}

/** 2. 20 sessions, each queue filled with `[{},{},…]` payloads until the first rejection. */
function fullSession(): Promise<Measure[]> {
  // `[` + n × `{}` + (n − 1) × `,` + `]` is 3n + 1 characters: just under maxMessageBytes.
  const items = Math.floor((DEFAULT_SETTINGS.maxMessageBytes - 2) / 3);
  const text = `[${Array.from({ length: items }, () => '{}').join(',')}]`;
  return fillScenario(20, async (server, _port, sessions) => {
    const queued: number[] = [];
    const stops = new Map<string, number>();
    for (const { id } of sessions) {
      let n = 0;
      // 1 MiB of 64 KiB payloads is 16 messages; 10,000 would mean no bound at all.
      for (; n < 10_000; n++) {
        try {
          // Parsed afresh for each message, as a payload from the wire would be.
          await server.send(id, JSON.parse(text));
        } catch (error) {
          count(stops, errorCode(error));
          break;
        }
      }
      if (n === 10_000) count(stops, 'no rejection in 10,000');
      queued.push(n);
    }
    const measures = [
      m('payload size (JSON)', text.length, 'bytes'),
      m('messages queued per session (median)', median(queued), 'messages'),
      m('payload bytes queued per session (median)', (median(queued) * text.length) / KiB, 'KiB'),
      m('first rejection', tallyText(stops)),
    ];
    return { measures, items: queued.reduce((a, b) => a + b, 0), what: 'queued message' };
  });
}

/** A 16-segment pattern of exactly 256 characters; every segment is unique to (session, pattern). */
function deepPattern(session: number, pattern: number): string {
  const segment = (k: number) => `${k.toString(36)}${session.toString(36)}.${pattern.toString(36)}`;
  return '/' + Array.from({ length: 16 }, (_, k) => segment(k).padEnd(15, '-')).join('/');
}

/** 3. 500 sessions, each subscribed to 100 distinct 16-segment patterns. */
function deepPatterns(): Promise<Measure[]> {
  return fillScenario(500, async (server, _port, sessions, warmUp) => {
    const answers = new Map<string, number>();
    let accepted = 0;
    for (const [s, { id }] of sessions.entries()) {
      const patterns = Array.from({ length: 100 }, (_, p) => deepPattern((warmUp ? 10_000 : 0) + s, p));
      try {
        await server.subscribe(id, ...patterns);
        accepted += patterns.length;
        count(answers, 'ok');
      } catch (error) {
        count(answers, errorCode(error));
      }
    }
    const measures = [
      m('pattern length', deepPattern(0, 0).length, 'characters'),
      m('patterns accepted', accepted, 'patterns'),
      m('subscribe calls', tallyText(answers)),
    ];
    return { measures, items: accepted, what: 'pattern' };
  });
}

/** 4. 100 sessions, each sending 4,096 data messages with unique 128-character ids, 1,000 a request. */
function dedupeWindow(): Promise<Measure[]> {
  return fillScenario(100, async (_server, port, sessions, warmUp) => {
    const answers = new Map<string, number>();
    const total = warmUp ? 10 : 4_096;
    let [acks, sent] = [0, 0];
    await pool(sessions.length, 4, Date.now() + 120_000, async (s) => {
      const { id, address } = sessions[s] as Session;
      for (let first = 0; first < total; first += 1_000) {
        const messages = [];
        for (let i = first; i < Math.min(total, first + 1_000); i++)
          messages.push({ type: 'data', id: `${warmUp ? 'w' : 's'}${s}m${i}`.padEnd(128, 'x'), data: 0 });
        sent += messages.length;
        // Answered at once with acks, usually; a request still held after 5 s is aborted.
        const answer = await httpRequest(port, 'POST', '/lpio', JSON.stringify({ messages }), {
          localAddress: address,
          headers: { 'lpio-client': id },
          timeoutMs: 5_000,
        });
        const body = parse(answer.body);
        count(
          answers,
          answerLabel(answer) + (body?.state === undefined ? '' : ` state ${JSON.stringify(body.state)}`),
        );
        const list: unknown[] = Array.isArray(body?.messages) ? body.messages : [];
        acks += list.filter((message) => (message as { type?: unknown } | null)?.type === 'ack').length;
      }
    });
    const measures = [
      m('messages sent per session', total, 'messages'),
      m('messages sent (all sessions)', sent, 'messages'),
      m('messages acked (all sessions)', acks, 'messages'),
      m('requests', tallyText(answers)),
    ];
    return { measures, items: acks, what: 'acked message id' };
  });
}

/** One request whose body never completes: headers, 10 of 100 bytes, then nothing. */
type Stall = {
  socket: Socket;
  connected: boolean;
  line?: string;
  answeredMs?: number;
  closedMs?: number;
  error?: string;
};
function stall(port: number, localAddress: string): Stall {
  const started = performance.now();
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  const s: Stall = { socket, connected: false };
  let head = '';
  socket.on('connect', () => {
    s.connected = true;
    socket.write('POST /lpio HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n');
    socket.write('Content-Length: 100\r\n\r\n{"messages');
  });
  socket.on('data', (chunk: Buffer) => {
    s.answeredMs ??= performance.now() - started;
    if (s.line !== undefined) return;
    head += chunk.toString('latin1');
    const end = head.indexOf('\r\n');
    if (end !== -1 || head.length > 200) s.line = head.slice(0, end === -1 ? 200 : end);
  });
  socket.on('error', (error: NodeJS.ErrnoException) => (s.error ??= error.code ?? error.message));
  socket.on('close', () => (s.closedMs = performance.now() - started));
  return s;
}

/** 5. How long a stalled body is kept, and whether /healthz is served beside 1,100 of them. */
async function stalledBody(): Promise<Measure[]> {
  const limit = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim();
  const { server, port } = await startServer();
  const stalls: Stall[] = [];
  try {
    const one = stall(port, '127.0.0.5');
    await until(() => one.closedMs !== undefined, 40_000);
    one.socket.destroy();
    const secondsOr = (ms: number | undefined, none: string) => (ms === undefined ? none : ms / 1000);
    const measures = [
      m('ulimit -n', Number(limit) || limit),
      m('one stalled body: answered after', secondsOr(one.answeredMs, 'no answer within 40 s'), 's'),
      m('one stalled body: answer', one.line ?? 'none'),
      m('one stalled body: closed after', secondsOr(one.closedMs, 'not closed within 40 s'), 's'),
    ];
    // 1,100 at once from 127.0.0.2 (two descriptors each: server and client share this process).
    await pool(1_100, 100, Date.now() + 30_000, async () => {
      const s = stall(port, '127.0.0.2');
      stalls.push(s);
      await until(() => s.connected || s.closedMs !== undefined || s.error !== undefined, 5_000);
    });
    await sleep(1_000);
    const health = await httpRequest(port, 'GET', '/healthz', undefined, {
      localAddress: '127.0.0.1',
      timeoutMs: 5_000,
    });
    const [answered, errors] = [new Map<string, number>(), new Map<string, number>()];
    for (const s of stalls) {
      if (s.line !== undefined) count(answered, s.line);
      if (s.error !== undefined) count(errors, s.error);
    }
    return [
      ...measures,
      m('1,100 stalled: connected', stalls.filter((s) => s.connected).length, 'connections'),
      m('1,100 stalled: answered by the server', tallyText(answered)),
      m(
        '1,100 stalled: closed by the server',
        stalls.filter((s) => s.closedMs !== undefined).length,
        'connections',
      ),
      m('1,100 stalled: client errors', tallyText(errors)),
      m('/healthz from 127.0.0.1 beside them', answerLabel(health)),
      m('/healthz time', health.ms, 'ms'),
    ];
  } finally {
    for (const s of stalls) s.socket.destroy();
    await stop(server);
  }
}

/** 6. Sessions one address (127.0.0.3) opens in 10 s, 16 requests in flight; then 127.0.0.4 once. */
async function sessionRate(): Promise<Measure[]> {
  const { server, port } = await startServer();
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  try {
    const answers = new Map<string, number>();
    const ids = new Set<string>();
    const started = performance.now();
    const sent = await pool(1_000_000, 16, Date.now() + 10_000, async () => {
      const answer = await httpRequest(port, 'POST', '/lpio', '{}', { localAddress: '127.0.0.3', agent });
      const id = sessionIdOf(answer);
      if (id !== undefined && !ids.has(id)) count(answers, '200 new session');
      else count(answers, answerLabel(answer) + (answer.status === 200 ? ' no new id' : ''));
      if (id !== undefined) ids.add(id);
    });
    const seconds = (performance.now() - started) / 1000;
    const other = await httpRequest(port, 'POST', '/lpio', '{}', { localAddress: '127.0.0.4' });
    const limited = [...answers].reduce((sum, [key, n]) => sum + (key.startsWith('429') ? n : 0), 0);
    return [
      m('requests sent', sent, 'requests'),
      m('flood time', seconds, 's'),
      m('sessions created', ids.size, 'sessions'),
      m('sessions per minute (extrapolated)', (ids.size / seconds) * 60, 'sessions/min'),
      m('429 answers', limited, 'answers'),
      m('answers', tallyText(answers)),
      m('127.0.0.4 right after', answerLabel(other)),
      m('127.0.0.4 got a session', sessionIdOf(other) === undefined ? 'no' : 'yes'),
    ];
  } finally {
    agent.destroy();
    await stop(server);
  }
}

/** This file in a child process, with --expose-gc and an IPC channel. */
const launch = (...args: string[]) =>
  spawn(process.execPath, ['--expose-gc', here, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });

function nextMessage<T>(child: ChildProcess, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer from pid ${child.pid} in ${ms} ms`)), ms);
    timer.unref();
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve(message as T);
    });
  });
}

/** Resolves when the child has exited; killed by its PID after `ms`. */
function exited(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** 7. A WebSocket client that stops reading and sends frames with 900,000-character types. */
async function errorEcho(): Promise<Measure[]> {
  const host = launch('--host');
  const serverMemory = () => {
    const answer = nextMessage<Memory>(host, 30_000);
    host.send({ cmd: 'memory' });
    return answer;
  };
  let ws: WebSocket | undefined;
  try {
    const { port } = await nextMessage<{ port: number }>(host, 30_000);
    const client = (ws = new WebSocket(`ws://127.0.0.1:${port}/ws`));
    await new Promise<void>((resolve, reject) => {
      client.once('open', () => resolve()).once('error', reject);
    });
    const welcome = new Promise<void>((resolve) => client.once('message', () => resolve()));
    client.send('{"type":"hello"}');
    await Promise.race([welcome, sleep(5_000)]);
    const socket = (client as unknown as { _socket: Socket })._socket;
    socket.pause();
    let closed: string | undefined;
    client.on('close', (code) => (closed = String(code)));
    const before = await serverMemory();
    const frame = `{"type":"${'x'.repeat(900_000)}"}`;
    const started = performance.now();
    let sent = 0;
    while (performance.now() - started < 1_500 && sent < 2_000 && client.readyState === client.OPEN) {
      // At most 16 MiB waits on our side: what the server buffers is what is measured.
      if (client.bufferedAmount > 16 * MiB) await sleep(1);
      else {
        client.send(frame);
        if (++sent % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const sending = performance.now() - started;
    await sleep(1_000);
    const after = await serverMemory();
    let errorBytes: Value = 'none within 10 s';
    const firstError = new Promise<void>((resolve) => {
      client.on('message', (data: RawData) => {
        const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
        if (typeof errorBytes === 'number' || !/"type"\s*:\s*"error"/.test(bytes.toString('utf8', 0, 99)))
          return;
        errorBytes = bytes.length;
        resolve();
      });
      client.on('close', () => resolve());
    });
    socket.resume();
    await Promise.race([firstError, sleep(10_000)]);
    return [
      m('frames sent', sent, 'frames'),
      m('bytes sent', (sent * frame.length) / MiB, 'MiB'),
      m('send time', sending / 1000, 's'),
      m('server RSS before', before.rss / MiB, 'MiB'),
      m('server RSS growth', (after.rss - before.rss) / MiB, 'MiB'),
      m('server heap growth', (after.heapUsed - before.heapUsed) / MiB, 'MiB'),
      m('server RSS growth per frame sent', (after.rss - before.rss) / sent / KiB, 'KiB'),
      m('one error frame', errorBytes, 'bytes'),
      m('connection closed by server (code)', closed ?? 'not closed'),
    ];
  } finally {
    ws?.terminate();
    if (host.connected) host.send({ cmd: 'close' });
    await exited(host, 5_000);
  }
}

/** The server of error-echo, alone in its process: answers `memory`, stops on `close`. */
async function hostServer(): Promise<void> {
  const { server, port } = await startServer();
  setTimeout(() => process.exit(2), 120_000).unref();
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: { cmd?: string }) => {
    if (message.cmd === 'memory') void memory().then((mem) => process.send?.(mem));
    if (message.cmd === 'close') void stop(server).finally(() => process.exit(0));
  });
  process.send?.({ port });
}

const SCENARIOS: Record<string, () => Promise<Measure[]>> = {
  'idle-session': idleSession,
  'full-session': fullSession,
  'deep-patterns': deepPatterns,
  'dedupe-window': dedupeWindow,
  'stalled-body': stalledBody,
  'session-rate': sessionRate,
  'error-echo': errorEcho,
};

// ---------------------------------------------------------------- runs and report

type Run = { scenario: string; repeat: number; seconds: number; measures: Measure[]; error?: string };

/** One scenario in a fresh child process, bounded at 240 s. */
async function runChild(scenario: string, repeat: number): Promise<Run> {
  const started = performance.now();
  const child = launch('--child', scenario);
  type Reply = { measures?: Measure[]; error?: string };
  const reply = await Promise.race([
    nextMessage<Reply>(child, 240_000).catch((error: Error): Reply => ({ error: error.message })),
    new Promise<Reply>((resolve) =>
      child.once('exit', (code, signal) => resolve({ error: `exited (${code ?? signal}) without a result` })),
    ),
  ]);
  await exited(child, 10_000);
  return { scenario, repeat, seconds: (performance.now() - started) / 1000, measures: [], ...reply };
}

function format(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1000 || Number.isInteger(value)) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
}

/**
 * Numbers: median, min and max of the runs. Text (in any run): the runs' values in order, joined
 * with " / ", or the one value they all gave (each run's own value is in `runs` of the record).
 */
type Summary = { scenario: string; name: string; unit: string; runs: number } & (
  { median: number; min: number; max: number } | { text: string }
);

function summarize(runs: readonly Run[]): Summary[] {
  const groups = new Map<string, { scenario: string; name: string; unit: string; values: Value[] }>();
  for (const { scenario, measures } of runs)
    for (const { name, unit, value } of measures) {
      const group = groups.get(`${scenario}|${name}`) ?? { scenario, name, unit, values: [] };
      group.values.push(value);
      groups.set(`${scenario}|${name}`, group);
    }
  return [...groups.values()].map(({ values, ...group }) => {
    const numbers = values.filter((v) => typeof v === 'number');
    if (numbers.length < values.length) {
      const texts = values.map((v) => (typeof v === 'number' ? format(v) : v));
      const distinct = [...new Set(texts)];
      return { ...group, runs: values.length, text: (distinct.length === 1 ? distinct : texts).join(' / ') };
    }
    const [min, max] = [Math.min(...numbers), Math.max(...numbers)];
    return { ...group, runs: values.length, median: median(numbers), min, max };
  });
}

function cell(s: Summary): string {
  if ('text' in s) return s.text;
  return s.min === s.max ? format(s.median) : `${format(s.median)} (${format(s.min)}–${format(s.max)})`;
}

const table = (summaries: readonly Summary[]): string =>
  ['| scenario | measure | median (min–max) | unit | runs |', '| --- | --- | ---: | --- | ---: |']
    .concat(summaries.map((s) => `| ${s.scenario} | ${s.name} | ${cell(s)} | ${s.unit} | ${s.runs} |`))
    .join('\n');

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      label: { type: 'string', default: 'run' },
      repeats: { type: 'string', default: '3' },
      child: { type: 'string' },
      host: { type: 'boolean', default: false },
    },
  });
  if (values.host) return hostServer();
  if (values.child !== undefined) {
    const scenario = SCENARIOS[values.child];
    if (!scenario) throw new Error(`unknown scenario ${values.child}`);
    process.on('disconnect', () => process.exit(1));
    const failed = (error: unknown) => ({
      error: error instanceof Error ? (error.stack ?? '') : String(error),
    });
    const reply = await scenario().then((measures) => ({ measures }), failed);
    process.send?.(reply, () => process.exit(0));
    return;
  }
  const names = positionals.length > 0 ? positionals : Object.keys(SCENARIOS);
  const unknown = names.filter((name) => !(name in SCENARIOS));
  if (unknown.length > 0) {
    console.error(`unknown scenario ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}`);
    process.exit(2);
  }
  const repeats = Math.max(1, Number(values.repeats) || 1);
  const described = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: root, encoding: 'utf8' });
  const revision = described.status === 0 ? described.stdout.trim() : 'unknown';
  const ulimit = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim();
  const cpu = cpus();
  const machine = `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}, Node ${process.version}, ulimit -n ${ulimit}`;
  const command = `node --expose-gc dist/bench/trust.js ${process.argv.slice(2).join(' ')}`.trim();
  console.log(`# ${command}\n# ${machine}\n# code: ${revision}`);
  const runs: Run[] = [];
  for (let repeat = 1; repeat <= repeats; repeat++)
    for (const scenario of names) {
      const run = await runChild(scenario, repeat);
      runs.push(run);
      const shown = run.measures.filter((x) => typeof x.value === 'number').slice(0, 6);
      const text = shown.map((x) => `${x.name} ${format(x.value as number)} ${x.unit}`).join('; ');
      console.log(
        `  ${scenario} #${repeat} (${run.seconds.toFixed(0)} s): ${run.error ? `FAILED ${run.error}` : text}`,
      );
    }
  const summaries = summarize(runs);
  console.log('\n' + table(summaries));
  const file = join(root, 'bench', 'results', `trust-${values.label}.json`);
  mkdirSync(dirname(file), { recursive: true });
  const date = new Date().toISOString();
  const record = { command, label: values.label, revision, machine, date, defaults: DEFAULT_SETTINGS };
  writeFileSync(file, JSON.stringify({ ...record, runs, summaries }, null, 2) + '\n');
  console.log(`\nrecorded ${file}`);
}

await main();
