import type { BenchSystem } from '../lib/system.js';
import { fayeLongPolling, fayeWs } from './faye.js';
import { lpRaw } from './lp-raw.js';
import { sockjsPolling, sockjsWs } from './sockjs.js';
import { socketioPollingBare, socketioWsBare } from './socketio-bare.js';
import { socketioPolling, socketioWs } from './socketio.js';
import { switchboardLpio, switchboardLpioSdk, switchboardWs, switchboardWsSdk } from './switchboard.js';
import { wsRaw } from './ws-raw.js';

/** Every system the harness knows, by name. */
export const SYSTEMS: ReadonlyMap<string, BenchSystem> = new Map(
  [
    switchboardLpio,
    switchboardLpioSdk,
    switchboardWs,
    switchboardWsSdk,
    wsRaw,
    socketioWs,
    socketioWsBare,
    socketioPolling,
    socketioPollingBare,
    fayeWs,
    fayeLongPolling,
    sockjsWs,
    sockjsPolling,
    lpRaw,
  ].map((system) => [system.name, system]),
);

export function systemNamed(name: string): BenchSystem {
  const system = SYSTEMS.get(name);
  if (!system) throw new Error(`unknown system "${name}"; known: ${[...SYSTEMS.keys()].join(', ')}`);
  return system;
}
