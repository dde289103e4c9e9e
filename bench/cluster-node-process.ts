/**
 * One Switchboard node of the `cluster` scenario, alone in its process (the harness pins it with
 * taskset). Usage (by the harness): node cluster-node-process.js <memory | redis://127.0.0.1:PORT>
 * Same server as the `switchboard-*` bench systems (defaults, `/ws` and `/lpio`), on the memory
 * engine or on a Redis engine shared with the other nodes. Answers `stats` with its own CPU time,
 * memory and the Redis commands its engine sent (`engine.calls`: each script call counts one).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RedisEngine } from '../src/engine/redis/index.js';
import { Switchboard } from '../src/server/switchboard.js';
import { serve } from './lib/ipc.js';
import { BENCH_SETTINGS } from './lib/system.js';

const [engineArg = 'memory'] = process.argv.slice(2);
const redis = engineArg === 'memory' ? undefined : new RedisEngine({ url: engineArg, prefix: 'sb:' });

const server = createServer();
server.maxConnections = 100_000;
const hub = new Switchboard({ settings: BENCH_SETTINGS, ...(redis && { engine: redis }) });
hub.attach(server);
let warnings = 0;
let firstWarning: string | undefined;
hub.on('warning', (error) => {
  warnings++;
  firstWarning ??= `${error.code}: ${error.message}`;
});
await hub.start();
await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));

serve({
  stats: () => {
    const cpu = process.cpuUsage();
    return {
      cpuMicros: cpu.user + cpu.system,
      rss: process.memoryUsage().rss,
      engineCalls: redis?.calls ?? 0,
      warnings,
      firstWarning,
    };
  },
  stop: async () => {
    await hub.close();
    server.closeAllConnections();
    server.close(() => undefined);
    setTimeout(() => process.exit(0), 200).unref();
    return {};
  },
});

process.send?.({ ready: true, port: (server.address() as AddressInfo).port });
