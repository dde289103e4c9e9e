/**
 * The `ws` library's WebSocket behind the WHATWG shape the SDK takes (`ClientOptions.WebSocket`),
 * counting what the SDK does with it: how many sockets it constructed (each kept with the frames
 * the SDK sent on it), and how many of their close events it has handled. The close count goes up only after the SDK's own `onclose` handler
 * returned, so whatever the SDK schedules when a socket closes (its reconnect timer) is scheduled
 * by then. Nothing is changed on the way: every event reaches the SDK as `ws` delivers it.
 */
import { WebSocket } from 'ws';
import type { WebSocketConstructor, WebSocketLike } from '../../src/client/index.js';

export class SocketRecorder {
  /** Sockets the SDK constructed. */
  constructed = 0;
  /** Close events the SDK's handler has returned from. */
  closesHandled = 0;
  /** Every socket constructed, in order, with the frames sent on it. */
  readonly sockets: Array<{ readonly inner: WebSocket; readonly sent: string[] }> = [];
  readonly #waiters = new Set<() => void>();

  /** The class to pass as `WebSocket`. */
  readonly WebSocket: WebSocketConstructor;

  constructor() {
    const sockets = this.sockets;
    const constructed = () => {
      this.constructed++;
      this.#notify();
    };
    const closeHandled = () => {
      this.closesHandled++;
      this.#notify();
    };
    this.WebSocket = class RecordingWebSocket implements WebSocketLike {
      onopen: ((event: unknown) => void) | null = null;
      onmessage: ((event: { data: unknown }) => void) | null = null;
      onclose: ((event: { code: number; reason: string }) => void) | null = null;
      onerror: ((event: unknown) => void) | null = null;
      readonly #ws: WebSocket;
      readonly #sent: string[] = [];

      constructor(url: string) {
        const ws = new WebSocket(url);
        this.#ws = ws;
        ws.onopen = (event) => this.onopen?.(event);
        ws.onmessage = (event) => this.onmessage?.({ data: event.data });
        ws.onerror = (event) => this.onerror?.(event);
        ws.onclose = (event) => {
          this.onclose?.({ code: event.code, reason: event.reason });
          closeHandled();
        };
        sockets.push({ inner: ws, sent: this.#sent });
        constructed();
      }

      get readyState(): number {
        return this.#ws.readyState;
      }

      send(data: string): void {
        this.#sent.push(data);
        this.#ws.send(data);
      }

      close(code?: number, reason?: string): void {
        this.#ws.close(code, reason);
      }
    };
  }

  /**
   * Resolves once `check` holds, re-checked after every recorded event. Uses no timer (a test may
   * have mocked them); rejects after `ms` of wall time, checked on the event loop's check phase.
   */
  until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
    if (check()) return Promise.resolve();
    const end = Date.now() + ms;
    return new Promise((resolve, reject) => {
      const waiter = () => {
        if (check()) {
          this.#waiters.delete(waiter);
          resolve();
        }
      };
      this.#waiters.add(waiter);
      const watchdog = () => {
        if (!this.#waiters.has(waiter)) return;
        if (check()) return waiter();
        if (Date.now() > end) {
          this.#waiters.delete(waiter);
          reject(new Error(`timed out waiting for ${what}`));
          return;
        }
        setImmediate(watchdog);
      };
      setImmediate(watchdog);
    });
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}
