#!/usr/bin/env node
/**
 * `switchboard serve [--host H] [--port P] [--config FILE]`: the server with the embedded memory
 * engine and the demo page. SIGINT/SIGTERM close it gracefully (held polls answered, then exit).
 * @module
 */
import { parseArgs } from 'node:util';
import { isSwitchboardError } from '../core/errors.js';
import { loadConfig } from '../server/config.js';
import { createSwitchboard } from '../server/switchboard.js';

const USAGE = `usage: switchboard serve [--host HOST] [--port PORT] [--config FILE]

  --host    address to bind (default 127.0.0.1)
  --port    port to bind (default $PORT or 8080; 0 picks a free one)
  --config  JSON file: {"host", "port", "demo", "lpio": {"strict"}, "settings": {...}}
`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const [command = 'serve'] = parsed.positionals;
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command !== 'serve') {
    process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  const config = await loadConfig(parsed.values.config, parsed.values, process.env);
  const server = createSwitchboard({ settings: config.settings, demo: config.demo, lpio: config.lpio });
  server.on('warning', (error) => process.stderr.write(`warning ${error.code}: ${error.message}\n`));
  const address = await server.listen({ host: config.host, port: config.port });
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  process.stdout.write(`switchboard listening on http://${host}:${address.port} (engine: memory)\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: closing\n`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`close failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    const message = isSwitchboardError(error) ? `${error.code}: ${error.message}` : String(error);
    process.stderr.write(`switchboard: ${message}\n`);
    process.exit(1);
  },
);
