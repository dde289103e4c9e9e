import type { ChildProcess } from 'node:child_process';

/**
 * Request/response over a child's IPC channel: each request carries an id, the child answers with
 * `{ id, ...result }` or `{ id, error }`.
 */
export interface IpcRequest {
  readonly id: number;
  readonly cmd: string;
  readonly [key: string]: unknown;
}

let nextId = 1;

export function request<T>(
  child: ChildProcess,
  cmd: string,
  args: object = {},
  timeoutMs = 120_000,
): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`${cmd}: no answer from pid ${child.pid} in ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: unknown) => {
      const reply = message as { id?: number; error?: string };
      if (reply.id !== id) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      if (reply.error !== undefined) reject(new Error(`${cmd}: ${reply.error}`));
      else resolve(reply as T);
    };
    child.on('message', onMessage);
    child.send({ id, cmd, ...args });
  });
}

/** Child side: routes requests to handlers and sends their results back. */
export function serve(handlers: Record<string, (req: IpcRequest) => Promise<object> | object>): void {
  process.on('message', (message: IpcRequest) => {
    const handler = handlers[message.cmd];
    const reply = (body: object) => process.send?.({ id: message.id, ...body });
    if (!handler) {
      reply({ error: `unknown command ${message.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message))
      .then(reply, (error: unknown) =>
        reply({ error: error instanceof Error ? error.message : String(error) }),
      );
  });
}

/** What the load process reports for a measured window. */
export interface LoadReport {
  deliveries: number;
  published: number;
  elapsedMs: number;
  loadCpuMicros: number;
  histogram: [number, number][];
}
