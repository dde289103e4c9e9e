/**
 * What every protocol adapter offers the server: a name and the HTTP entry points it serves.
 * WebSocket-style adapters add `handleUpgrade`.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export interface ProtocolAdapter {
  readonly name: string;
  /** Handles one HTTP request; never throws (faults become replies). */
  handleRequest?(req: IncomingMessage, res: ServerResponse): void;
  /** Handles an HTTP upgrade; never throws (faults become an HTTP reply before any upgrade). */
  handleUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Stops the adapter's own timers and connections that have no session yet (the hub ends the rest). */
  close?(): void;
}
