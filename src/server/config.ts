/**
 * The CLI's configuration: defaults, then a JSON file (`--config`), then flags and `$PORT`.
 * Unknown keys and wrong types fail at start with a message naming the key.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { SwitchboardError } from '../core/errors.js';
import { resolveSettings, type HubSettings } from '../core/settings.js';

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly demo: boolean;
  readonly lpio: { readonly strict: boolean };
  readonly settings: HubSettings;
}

const KEYS = new Set(['host', 'port', 'demo', 'lpio', 'settings']);

export async function loadConfig(
  file: string | undefined,
  flags: { host?: string; port?: string },
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
    (lpio.strict !== undefined && typeof lpio.strict !== 'boolean')
  ) {
    throw new SwitchboardError('SB_ERR_CONFIG', 'lpio must be an object like {"strict": false}');
  }
  const settings = resolveSettings(raw.settings ?? {});
  return { host, port, demo, lpio: { strict: lpio.strict === true }, settings };
}
