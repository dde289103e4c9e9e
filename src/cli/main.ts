#!/usr/bin/env node
/**
 * `switchboard serve [--host H] [--port P] [--config FILE] [--engine URL]`: the server with the
 * demo page, on the embedded memory engine or on Redis (a cluster node). SIGINT/SIGTERM close it
 * gracefully (held polls answered, then exit). `--print-config` shows the effective config (file,
 * then environment, then flags) with secrets masked; `--version` the version.
 * @module
 */
import { parseArgs } from 'node:util';
import { loadConfig, type ServerConfig } from '../server/config.js';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isSwitchboardError, SwitchboardError } from '../core/errors.js';
import type { AuthHook } from '../core/hub.js';
import { RedisEngine } from '../engine/redis/redis-engine.js';
import { createSwitchboard, type TlsOptions } from '../server/switchboard.js';

async function readTls(files: { keyFile: string; certFile: string }): Promise<TlsOptions> {
  try {
    return { key: await readFile(files.keyFile), cert: await readFile(files.certFile) };
  } catch (error) {
    throw new SwitchboardError('SB_ERR_CONFIG', `cannot read TLS files: ${(error as Error).message}`);
  }
}

async function loadAuth(module: string): Promise<AuthHook> {
  let loaded: { default?: unknown };
  try {
    loaded = (await import(pathToFileURL(resolve(module)).href)) as { default?: unknown };
  } catch (error) {
    throw new SwitchboardError(
      'SB_ERR_CONFIG',
      `cannot load auth module ${module}: ${(error as Error).message}`,
    );
  }
  if (typeof loaded.default !== 'function')
    throw new SwitchboardError('SB_ERR_CONFIG', `auth module ${module} must export a function as default`);
  return loaded.default as AuthHook;
}

const USAGE = `usage: switchboard serve [--host HOST] [--port PORT] [--config FILE] [--production]
                         [--tls-key FILE --tls-cert FILE] [--auth MODULE]
                         [--engine memory|redis://HOST:PORT [--redis-prefix PREFIX] [--redis-durable]]

  --host        address to bind (default 127.0.0.1)
  --port        port to bind (default $PORT or 8080; 0 picks a free one)
  --config      JSON file: {"host", "port", "demo", "lpio": {"strict", "allowWeakIds"},
                "websocket": {...}, "settings": {...}, "production", "tls": {"keyFile", "certFile"},
                "trustProxy": [addresses], "allowedOrigins": [origins], "authModule", "engine",
                "redisPrefix", "redisDurable"}
  --production  refuse to start without TLS and an auth hook (always on with NODE_ENV=production)
  --tls-key, --tls-cert  PEM files: serve HTTPS and WSS
  --auth        ES module whose default export is the auth hook: (request) => boolean | {user}
  --engine      memory (default: one process) or a Redis URL: every node started with the same
                URL and prefix serves the same sessions, behind any load balancer
  --redis-prefix  prefix of every Redis key and channel (default sb:)
  --redis-durable  Redis persists every write before answering (appendfsync always): a Redis
                restart keeps the sessions (docs/redis.md); without it a restart reports them lost
  --print-config  print the effective configuration (secrets masked) and exit
  --version     print the version and exit
`;

/** The version in package.json (this file runs as dist/src/cli/main.js). */
async function version(): Promise<string> {
  const text = await readFile(new URL('../../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

/** Node's parser messages, in the words of this CLI (`unknown option --x`). */
function argumentError(error: unknown): string {
  const { code, message } = error as { code?: string; message: string };
  const option = /'(-{1,2}[^'\s]+)/.exec(message)?.[1] ?? '';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${option}`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return `option ${option} needs a value`;
  return message;
}

/** The configuration as `--print-config` shows it: a Redis URL's password is masked. */
function printable(config: ServerConfig): ServerConfig {
  if (config.engine.kind !== 'redis') return config;
  const url = new URL(config.engine.url);
  if (url.password !== '') url.password = '***';
  return { ...config, engine: { ...config.engine, url: url.toString() } };
}

/** Why `listen` failed, and what to do about it. */
function listenError(error: unknown, host: string, port: number): Error {
  const code = (error as { code?: string }).code;
  if (code === 'EADDRINUSE') {
    return new SwitchboardError(
      'SB_ERR_CONFIG',
      `port ${port} on ${host} is in use: stop what listens there, or choose another port with --port <n> (or PORT=<n>; 0 picks a free one)`,
    );
  }
  if (code === 'EACCES') {
    return new SwitchboardError(
      'SB_ERR_CONFIG',
      `port ${port} on ${host} needs privileges this process lacks: choose a port above 1023 with --port <n>`,
    );
  }
  if (code === 'EADDRNOTAVAIL') {
    return new SwitchboardError('SB_ERR_CONFIG', `${host} is not an address of this machine: check --host`);
  }
  return error instanceof Error ? error : new Error(String(error));
}

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
        production: { type: 'boolean' },
        'tls-key': { type: 'string' },
        'tls-cert': { type: 'string' },
        auth: { type: 'string' },
        engine: { type: 'string' },
        'redis-prefix': { type: 'string' },
        'redis-durable': { type: 'boolean' },
        'print-config': { type: 'boolean' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    process.stderr.write(`switchboard: ${argumentError(error)}\n\n${USAGE}`);
    return 2;
  }
  const [command = 'serve'] = parsed.positionals;
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (parsed.values.version) {
    process.stdout.write(`switchboard ${await version()}\n`);
    return 0;
  }
  if (command !== 'serve') {
    process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  const config = await loadConfig(parsed.values.config, parsed.values, process.env);
  if (parsed.values['print-config']) {
    process.stdout.write(`${JSON.stringify(printable(config), null, 2)}\n`);
    return 0;
  }
  const engine =
    config.engine.kind === 'redis'
      ? new RedisEngine({
          url: config.engine.url,
          prefix: config.engine.prefix,
          durable: config.engine.durable,
        })
      : undefined;
  const server = createSwitchboard({
    ...(engine && { engine }),
    settings: config.settings,
    demo: config.demo,
    lpio: config.lpio,
    websocket: config.websocket,
    production: config.production,
    trustProxy: config.trustProxy,
    allowedOrigins: config.allowedOrigins,
    ...(config.tls && { tls: await readTls(config.tls) }),
    ...(config.authModule !== undefined && { auth: await loadAuth(config.authModule) }),
  });
  server.on('warning', (error) => process.stderr.write(`warning ${error.code}: ${error.message}\n`));
  const address = await server.listen({ host: config.host, port: config.port }).catch((error: unknown) => {
    throw listenError(error, config.host, config.port);
  });
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const scheme = config.tls ? 'https' : 'http';
  const origin = `${scheme}://${host}:${address.port}`;
  const mode = server.production ? ', production' : '';
  const endpoints = [
    '/lpio (LPIO long polling)',
    '/ws (WebSocket)',
    '/healthz',
    '/switchboard.js (the SDK for browsers)',
  ];
  process.stdout.write(
    `switchboard listening on ${origin} (engine: ${config.engine.kind}${mode})\n` +
      (config.demo ? `  demo chat:  open ${origin}/ in two browser tabs\n` : '') +
      `  endpoints:  ${endpoints.join(', ')}\n`,
  );

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
