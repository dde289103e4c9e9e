/**
 * Starts one Switchboard node as its own process through the real CLI, for cluster tests: several
 * nodes share an engine (usually the Redis of ./redis.ts) and a test can SIGKILL one mid-stream,
 * which an in-process server cannot simulate. Runs the compiled CLI, so build first. Always stop it
 * (`await node.stop()`) in `after`/`t.after`; if a test forgets, the child is still killed when the
 * test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

/** This file runs as dist/test/helpers/node-process.js, three levels below the repository root. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../../dist/src/cli/main.js', import.meta.url));
const LISTENING = /listening on (https?):\/\/([^\s:]+|\[[^\]]+\]):(\d+)/;
const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 10_000;

export interface NodeOptions {
  /** Passed as `--engine`, e.g. a RedisProcess's url. */
  engineUrl: string;
  /** Passed as `--redis-prefix`: nodes of one cluster share it, separate clusters must not. */
  prefix?: string;
  /** More CLI arguments, after the ones above. */
  args?: string[];
  /** Merged over this process's environment. */
  env?: NodeJS.ProcessEnv;
}

export interface NodeProcess {
  /** e.g. http://127.0.0.1:45678, as the node printed it. */
  readonly origin: string;
  readonly pid: number;
  /** Everything the node wrote so far. */
  stdout(): string;
  stderr(): string;
  /** Sends `signal` (default SIGKILL: a crash) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM for a graceful close, then waits for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
}

/** Children still running; killed synchronously if the test process exits first. */
const live = new Set<ChildProcess>();
let reaperInstalled = false;

function reapOnExit(child: ChildProcess): void {
  live.add(child);
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.on('exit', () => {
    for (const orphan of live) orphan.kill('SIGKILL');
  });
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export async function startNode(options: NodeOptions): Promise<NodeProcess> {
  const args = ['serve', '--host', '127.0.0.1', '--port', '0', '--engine', options.engineUrl];
  if (options.prefix !== undefined) args.push('--redis-prefix', options.prefix);
  args.push(...(options.args ?? []));
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  reapOnExit(child);
  let out = '';
  let err = '';
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
    // A spawn failure emits 'error' and never 'exit'.
    child.once('error', (error) => {
      spawnError = error;
      live.delete(child);
      resolve();
    });
  });
  // Unreferenced, pipes included, so a forgotten stop() cannot hang the test file; the ready timer
  // keeps the process alive while waiting, and kill() re-references the child.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) if (stream instanceof Socket) stream.unref();
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));

  const origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      child.kill('SIGKILL');
      reject(new Error(`switchboard did not start in ${READY_TIMEOUT_MS} ms; stderr:\n${err}`));
    }, READY_TIMEOUT_MS);
    const onData = () => {
      const match = LISTENING.exec(out);
      if (!match) return;
      cleanup();
      resolve(`${match[1]}://${match[2]}:${match[3]}`);
    };
    const onExit = () => {
      cleanup();
      const how = spawnError
        ? spawnError.message
        : `exit code ${String(child.exitCode)}, signal ${String(child.signalCode)}`;
      reject(new Error(`switchboard exited before listening (${how}); stderr:\n${err}`));
    };
    function cleanup(): void {
      clearTimeout(timer);
      child.stdout.off('data', onData);
    }
    child.stdout.on('data', onData);
    void exited.then(onExit);
  });

  async function kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (hasExited(child) || spawnError) return exited;
    child.ref();
    child.kill(signal);
    await exited;
  }

  return {
    origin,
    pid: child.pid ?? -1,
    stdout: () => out,
    stderr: () => err,
    kill,
    async stop() {
      if (hasExited(child) || spawnError) return exited;
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await kill('SIGTERM');
      clearTimeout(timer);
    },
  };
}
