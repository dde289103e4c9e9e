/**
 * The server under test, alone in its process (the harness pins it to one core with taskset).
 * Usage (by the harness): node server-process.js <system> <broadcast|echo>
 * Answers `stats` with its own CPU time, memory and HTTP request count, so the harness can charge
 * the server exactly what it spent in the measured window.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from './lib/ipc.js';
import type { ServerMode } from './lib/system.js';
import { systemNamed } from './systems/index.js';

const [systemName = '', modeArg = 'broadcast'] = process.argv.slice(2);
const system = systemNamed(systemName);
const mode: ServerMode = modeArg === 'echo' ? 'echo' : 'broadcast';

const server = createServer();
let requests = 0;
let upgrades = 0;
// Counted at emit, not with a listener: socket.io, sockjs and Switchboard take over existing
// 'request' listeners when they attach, so a listener would miss their requests.
const emit = server.emit.bind(server);
server.emit = (event: string | symbol, ...args: unknown[]): boolean => {
  if (event === 'request') requests++;
  else if (event === 'upgrade') upgrades++;
  return emit(event as string, ...args);
};
// Thousands of connections arrive in bursts: a deep accept backlog keeps the kernel from dropping them.
server.maxConnections = 100_000;

const handle = await system.startServer(server, mode);
await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));

const gc = (globalThis as { gc?: () => void }).gc;

serve({
  stats: () => {
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    return {
      cpuMicros: cpu.user + cpu.system,
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      requests,
      upgrades,
    };
  },
  gc: () => {
    gc?.();
    return { collected: gc !== undefined };
  },
  stop: async () => {
    await handle.close();
    server.closeAllConnections();
    server.close(() => undefined);
    setTimeout(() => process.exit(0), 200).unref();
    return {};
  },
});

process.send?.({ ready: true, port: (server.address() as AddressInfo).port });
