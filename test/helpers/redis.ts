/**
 * Starts a throwaway Debian `redis-server` for integration tests: 127.0.0.1, a free port, no
 * automatic persistence, its own temp dir. No Redis client library is involved, so a broken engine
 * client cannot hide behind a broken fixture. Always stop it (`await redis.stop()`) in
 * `after`/`t.after`; if a test forgets, the child is still killed (and its dir removed) when the
 * test process exits.
 *
 * The data dir lives until that final stop, so a test can restart the same server from what it
 * persisted: an explicit `SAVE` snapshot, or every write with `appendfsyncAlways`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REDIS_SERVER = '/usr/bin/redis-server';
const READY_TIMEOUT_MS = 10_000;
const COMMAND_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 10_000;

export interface RedisOptions {
  /** Listen on this port instead of a free one. */
  port?: number;
  /**
   * `--appendonly yes --appendfsync always`: every write reaches the AOF on disk before Redis
   * answers, so a restart with `keepData` (even after `kill()`) loses nothing acknowledged.
   */
  appendfsyncAlways?: boolean;
}

export interface RestartOptions {
  /**
   * Start again from the data dir instead of empty. A running server first runs `SAVE` (as a
   * clean shutdown with persistence would); after `kill()` the new server loads whatever was
   * persisted before the crash: the last `SAVE` snapshot, or the AOF with `appendfsyncAlways`.
   */
  keepData?: boolean;
}

export interface RedisProcess {
  readonly port: number;
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  /** The current server's pid; it changes on restart(). */
  readonly pid: number;
  /** SIGTERM, then waits for the exit (SIGKILL if it takes longer than 10 s) and removes its data dir. */
  stop(): Promise<void>;
  /** SIGKILL, then waits for the exit: a crashed node, as far as clients can tell. The data dir stays. */
  kill(): Promise<void>;
  /**
   * Stops it if it runs, then starts it again on the same port and waits until it answers: empty,
   * or with `keepData` from what it persisted.
   */
  restart(options?: RestartOptions): Promise<void>;
  /**
   * Sends one command over a fresh connection and returns the raw reply (e.g. `$1\r\nv\r\n`).
   * Error replies come back as text (`-ERR ...`), not as a rejection.
   */
  command(...args: string[]): Promise<string>;
}

/** Children still running and data dirs not yet removed; cleaned up synchronously if the test process exits first. */
const live = new Set<ChildProcess>();
const dirs = new Set<string>();
let reaperInstalled = false;

function reapOnExit(): void {
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.on('exit', () => {
    for (const orphan of live) orphan.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
}

/** Listening on port 0 and closing again is the only portable way to ask the OS for a free port. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Sends `payload` to 127.0.0.1:port and resolves with the first complete reply. `PING` goes inline
 * so readiness never depends on our own RESP encoder.
 */
function exchange(port: number, payload: string | Buffer, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(
      () => fail(new Error(`no reply from redis on port ${port} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    function fail(error: Error): void {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    }
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = replyEnd(buffered, 0);
      if (end === undefined) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(buffered.subarray(0, end).toString('utf8'));
    });
    socket.on('error', fail);
    socket.on('close', () => fail(new Error(`redis on port ${port} closed the connection before replying`)));
  });
}

/**
 * Where the RESP value starting at `start` ends, or undefined while it is incomplete. Lengths are
 * in bytes, hence the Buffer. Covers RESP2 and the RESP3 types, in case a test switches with HELLO.
 */
function replyEnd(buffer: Buffer, start: number): number | undefined {
  const lineEnd = buffer.indexOf('\r\n', start);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buffer[start] ?? 0);
  const afterLine = lineEnd + 2;
  switch (type) {
    case '+':
    case '-':
    case ':':
    case '_':
    case ',':
    case '#':
    case '(':
      return afterLine;
    case '$':
    case '!':
    case '=': {
      const length = Number(buffer.toString('latin1', start + 1, lineEnd));
      if (length < 0) return afterLine;
      const end = afterLine + length + 2;
      return buffer.length >= end ? end : undefined;
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      const count = Number(buffer.toString('latin1', start + 1, lineEnd));
      const elements = type === '%' || type === '|' ? count * 2 : count;
      let position: number | undefined = afterLine;
      for (let i = 0; i < elements && position !== undefined; i++) position = replyEnd(buffer, position);
      return position;
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)} in ${JSON.stringify(buffer.toString())}`);
  }
}

function encodeCommand(args: string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return Buffer.from(parts.join(''));
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisProcess> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-redis-'));
  dirs.add(dir);
  reapOnExit();
  const logPath = join(dir, 'redis.log');
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  /** The last server's output, read when it exits. */
  let output = '';

  async function start(): Promise<void> {
    // Recreated if a stop() removed it: every start has somewhere to write.
    mkdirSync(dir, { recursive: true });
    // A file rather than a pipe: an open pipe would keep the test process alive on its own.
    const log = openSync(logPath, 'a');
    // No save points: a snapshot exists only where a test asks for one (SAVE).
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', ''];
    args.push(
      ...(options.appendfsyncAlways
        ? ['--appendonly', 'yes', '--appendfsync', 'always']
        : ['--appendonly', 'no']),
    );
    args.push('--dir', dir, '--daemonize', 'no', '--protected-mode', 'no');
    const started = spawn(REDIS_SERVER, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    child = started;
    live.add(started);
    exited = new Promise((resolve) => {
      const done = () => {
        live.delete(started);
        output = readLog(logPath);
        resolve();
      };
      started.once('exit', done);
      // A spawn failure (no redis-server installed) emits 'error' and never 'exit'.
      started.once('error', (error) => {
        done();
        output = `${REDIS_SERVER}: ${error.message}`;
      });
    });
    // Unreferenced so a forgotten stop() cannot hang the test file; stop() and kill() re-reference.
    started.unref();

    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError: unknown;
    for (;;) {
      if (hasExited(started) || started.pid === undefined) {
        await exited;
        throw new Error(`redis-server exited before it was ready on port ${port}:\n${output}`);
      }
      try {
        const reply = await exchange(port, 'PING\r\n', 1_000);
        if (reply.startsWith('+PONG')) return;
        lastError = new Error(`PING answered ${JSON.stringify(reply)}`);
      } catch (error) {
        lastError = error;
      }
      if (Date.now() >= deadline) {
        started.ref();
        started.kill('SIGKILL');
        await exited;
        throw new Error(
          `redis-server on port ${port} not ready in ${READY_TIMEOUT_MS} ms (${String(lastError)}):\n${output}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10)); // and PING again
    }
  }

  async function terminate(signal: NodeJS.Signals): Promise<void> {
    const current = child;
    if (!current || hasExited(current)) return exited;
    current.ref();
    current.kill(signal);
    const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => current.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid ?? -1;
    },
    async stop() {
      await terminate('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
    kill: () => terminate('SIGKILL'),
    async restart(restartOptions: RestartOptions = {}) {
      if (restartOptions.keepData) {
        if (child && !hasExited(child)) {
          const saved = await exchange(port, encodeCommand(['SAVE']), COMMAND_TIMEOUT_MS);
          if (!saved.startsWith('+OK')) throw new Error(`SAVE answered ${JSON.stringify(saved)}`);
        }
        await terminate('SIGTERM');
      } else {
        await terminate('SIGTERM');
        // Empty means empty: no snapshot or AOF of the last server may be loaded.
        rmSync(dir, { recursive: true, force: true });
      }
      await start();
    },
    command: (...args: string[]) => exchange(port, encodeCommand(args), COMMAND_TIMEOUT_MS),
  };
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    // The server never got to write its log (a spawn failure): nothing to show.
    return '(no output)';
  }
}
