/**
 * The CLI's configuration: defaults, then a JSON file (`--config`), then flags and `$PORT`.
 * Unknown keys and wrong types fail at start with a message naming the key.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { SwitchboardError } from '../core/errors.js';
import { TrustedProxies, type TrustProxy } from '../core/peer.js';
import { resolveSettings, type HubSettings } from '../core/settings.js';
import { OriginPolicy } from './origin.js';
import type { WebSocketOptions } from '../protocols/websocket/index.js';

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly demo: boolean;
  readonly lpio: { readonly strict: boolean; readonly allowWeakIds?: boolean };
  readonly websocket: WebSocketOptions;
  readonly settings: HubSettings;
  readonly production: boolean;
  /** Certificate and key files (PEM), read at start. */
  readonly tls: { readonly keyFile: string; readonly certFile: string } | undefined;
  /** Proxies whose forwarded headers are believed (addresses, CIDR ranges, `loopback`, `private`). */
  readonly trustProxy: TrustProxy;
  /** Origins whose pages may use the protocols besides the server's own, or `["*"]`. */
  readonly allowedOrigins: readonly string[];
  /** An ES module whose default export is the auth hook (resolved against the working directory). */
  readonly authModule: string | undefined;
  /** `memory` (one process) or a Redis engine: a cluster of nodes sharing one Redis. */
  readonly engine:
    | { readonly kind: 'memory' }
    | { readonly kind: 'redis'; readonly url: string; readonly prefix: string; readonly durable: boolean };
}

const KEYS = new Set([
  'host',
  'port',
  'demo',
  'lpio',
  'websocket',
  'settings',
  'production',
  'tls',
  'trustProxy',
  'allowedOrigins',
  'authModule',
  'engine',
  'redisPrefix',
  'redisDurable',
]);
const WEBSOCKET_KEYS = [
  'idleTimeoutMs',
  'keepAliveMs',
  'highWaterBytes',
  'slowTimeoutMs',
  'maxPayload',
] as const;

export interface ConfigFlags {
  readonly host?: string | undefined;
  readonly port?: string | undefined;
  readonly production?: boolean | undefined;
  readonly 'tls-key'?: string | undefined;
  readonly 'tls-cert'?: string | undefined;
  readonly auth?: string | undefined;
  readonly engine?: string | undefined;
  readonly 'redis-prefix'?: string | undefined;
  readonly 'redis-durable'?: boolean | undefined;
}

function fail(message: string): never {
  throw new SwitchboardError('SB_ERR_CONFIG', message);
}

export async function loadConfig(
  file: string | undefined,
  flags: ConfigFlags,
  env: NodeJS.ProcessEnv,
): Promise<ServerConfig> {
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new SwitchboardError(
        'SB_ERR_CONFIG',
        `cannot read config file ${file}: ${(error as Error).message}`,
      );
    }
    try {
      raw = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new SwitchboardError(
        'SB_ERR_CONFIG',
        `config file ${file} is not valid JSON: ${(error as Error).message}`,
      );
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new SwitchboardError('SB_ERR_CONFIG', `config file ${file} must hold a JSON object`);
    }
    for (const key of Object.keys(raw)) {
      if (!KEYS.has(key))
        throw new SwitchboardError('SB_ERR_CONFIG', `unknown config key "${key}" in ${file}`);
    }
  }
  const host = flags.host ?? (raw.host as string | undefined) ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '')
    throw new SwitchboardError('SB_ERR_CONFIG', 'host must be a non-empty string');
  const portText: unknown = flags.port ?? env.PORT ?? raw.port ?? 8080;
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SwitchboardError(
      'SB_ERR_CONFIG',
      `port must be an integer from 0 to 65535, got ${JSON.stringify(portText)}`,
    );
  }
  const demo = raw.demo ?? true;
  if (typeof demo !== 'boolean') throw new SwitchboardError('SB_ERR_CONFIG', 'demo must be true or false');
  const lpio = (raw.lpio ?? {}) as Record<string, unknown>;
  if (
    typeof lpio !== 'object' ||
    lpio === null ||
    Object.keys(lpio).some((key) => key !== 'strict' && key !== 'allowWeakIds') ||
    (lpio.strict !== undefined && typeof lpio.strict !== 'boolean') ||
    (lpio.allowWeakIds !== undefined && typeof lpio.allowWeakIds !== 'boolean')
  ) {
    throw new SwitchboardError(
      'SB_ERR_CONFIG',
      'lpio must be an object like {"strict": false, "allowWeakIds": false}',
    );
  }
  const settings = resolveSettings(raw.settings ?? {});

  const websocketRaw = raw.websocket ?? {};
  if (typeof websocketRaw !== 'object' || websocketRaw === null || Array.isArray(websocketRaw))
    fail('websocket must be an object like {"idleTimeoutMs": 5000}');
  const websocket: Record<string, number> = {};
  for (const [key, value] of Object.entries(websocketRaw)) {
    if (!(WEBSOCKET_KEYS as readonly string[]).includes(key))
      fail(`unknown websocket key "${key}" (known: ${WEBSOCKET_KEYS.join(', ')})`);
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
      fail(`websocket.${key} must be a number > 0, got ${JSON.stringify(value)}`);
    websocket[key] = value;
  }

  const production = flags.production === true || raw.production === true;
  if (raw.production !== undefined && typeof raw.production !== 'boolean')
    fail('production must be true or false');
  const trustProxy = (raw.trustProxy ?? false) as TrustProxy;
  new TrustedProxies(trustProxy); // validates: names the bad entry, refuses `true`
  const allowedOrigins = (raw.allowedOrigins ?? []) as readonly string[];
  new OriginPolicy(allowedOrigins); // validates
  const tlsRaw = (raw.tls ?? {}) as Record<string, unknown>;
  if (typeof tlsRaw !== 'object' || tlsRaw === null)
    fail('tls must be an object like {"keyFile", "certFile"}');
  const keyFile = flags['tls-key'] ?? tlsRaw.keyFile;
  const certFile = flags['tls-cert'] ?? tlsRaw.certFile;
  if ((keyFile === undefined) !== (certFile === undefined))
    fail('tls needs both a key file and a certificate file');
  if (keyFile !== undefined && (typeof keyFile !== 'string' || typeof certFile !== 'string'))
    fail('tls.keyFile and tls.certFile must be file paths');
  const authModule = flags.auth ?? raw.authModule;
  if (authModule !== undefined && (typeof authModule !== 'string' || authModule === ''))
    fail('authModule must be a module path');
  const engineRaw = flags.engine ?? raw.engine ?? 'memory';
  const prefix = flags['redis-prefix'] ?? raw.redisPrefix ?? 'sb:';
  if (typeof prefix !== 'string' || prefix === '') fail('redisPrefix must be a non-empty string');
  const durable = flags['redis-durable'] ?? raw.redisDurable ?? false;
  if (typeof durable !== 'boolean') fail('redisDurable must be true or false');
  let engine: ServerConfig['engine'];
  if (engineRaw === 'memory') engine = { kind: 'memory' };
  else if (typeof engineRaw === 'string' && /^rediss?:\/\//.test(engineRaw))
    engine = { kind: 'redis', url: engineRaw, prefix, durable };
  else fail(`engine must be "memory" or a redis:// or rediss:// URL, got ${JSON.stringify(engineRaw)}`);
  return {
    host,
    port,
    demo,
    lpio: {
      strict: lpio.strict === true,
      ...(typeof lpio.allowWeakIds === 'boolean' && { allowWeakIds: lpio.allowWeakIds }),
    },
    websocket,
    settings,
    production,
    tls: typeof keyFile === 'string' && typeof certFile === 'string' ? { keyFile, certFile } : undefined,
    trustProxy,
    allowedOrigins,
    authModule,
    engine,
  };
}
