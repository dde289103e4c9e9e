/**
 * Which transport a client with a list of them (`transports: ['websocket', 'lpio']`) starts with.
 * When the preferred one could not get through and the client fell back, the fallback is
 * remembered per server URL for `FALLBACK_MEMORY_MS` (in localStorage where there is one, so a
 * reload does not wait for the preferred one to fail again); after that the preferred one is tried
 * first again. While on a fallback the client also probes the preferred transport in the
 * background (`probeWebSocket`) and moves back to it once it gets through.
 * @module
 */
import type { TransportName } from './transport.js';
import type { WebSocketConstructor } from './connection.js';

/** How long a fallback is remembered: 10 minutes. */
export const FALLBACK_MEMORY_MS = 10 * 60_000;
/** The first background probe of the preferred transport, then twice as long each time, at most 10 min. */
export const PROBE_FIRST_MS = 30_000;
export const PROBE_MAX_MS = 10 * 60_000;

interface Remembered {
  readonly transport: TransportName;
  readonly until: number;
}

const inMemory = new Map<string, Remembered>();
const storageKey = (url: string) => `switchboard:fallback:${url}`;

interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

function storage(): KeyValueStorage | undefined {
  try {
    return (globalThis as { localStorage?: KeyValueStorage }).localStorage;
  } catch {
    return undefined; // access denied (sandboxed iframe, privacy settings)
  }
}

/** The fallback remembered for this URL, if it is one of `names` and has not expired. */
export function recallFallback(
  url: string,
  names: readonly TransportName[],
  now = Date.now(),
): TransportName | undefined {
  let remembered = inMemory.get(url);
  if (remembered === undefined) {
    try {
      const stored = storage()?.getItem(storageKey(url));
      if (stored) remembered = JSON.parse(stored) as Remembered;
    } catch {
      remembered = undefined; // unreadable (another version's format): as if nothing was stored
    }
  }
  if (remembered === undefined || typeof remembered.until !== 'number' || remembered.until <= now) {
    return undefined;
  }
  return names.find((name) => name === remembered.transport);
}

export function rememberFallback(url: string, transport: TransportName, now = Date.now()): void {
  const remembered = { transport, until: now + FALLBACK_MEMORY_MS };
  inMemory.set(url, remembered);
  try {
    storage()?.setItem(storageKey(url), JSON.stringify(remembered));
  } catch {
    // Quota or privacy mode: the in-memory copy still serves this page.
  }
}

export function forgetFallback(url: string): void {
  inMemory.delete(url);
  try {
    storage()?.removeItem(storageKey(url));
  } catch {
    // Nothing to do: it expires by itself.
  }
}

/**
 * Whether a WebSocket to `url` opens within `timeoutMs` (a proxy that blocks upgrades makes it
 * fail or hang). The socket is closed at once: the session is not touched.
 */
export function probeWebSocket(
  WebSocketClass: WebSocketConstructor,
  url: string,
  timeoutMs: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    let socket: ReturnType<typeof construct>;
    const construct = () => new WebSocketClass(url);
    try {
      socket = construct();
    } catch {
      resolve(false);
      return;
    }
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.onopen = socket.onclose = socket.onerror = null;
      try {
        socket.close(1000, 'probe');
      } catch {
        // Closing a socket that never opened can throw in some implementations.
      }
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.onopen = () => done(true);
    socket.onerror = () => done(false);
    socket.onclose = () => done(false);
  });
}
