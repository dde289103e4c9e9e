// The parts of faye 1.4 the benchmark uses (the package ships no types).
declare module 'faye' {
  import type { Server } from 'node:http';

  export interface Subscription extends PromiseLike<void> {
    cancel(): void;
  }

  export class Client {
    constructor(url: string, options?: { timeout?: number; retry?: number });
    subscribe(channel: string, callback: (message: unknown) => void): Subscription;
    publish(channel: string, data: unknown): PromiseLike<void>;
    disable(feature: string): void;
    disconnect(): void;
  }

  export class NodeAdapter {
    constructor(options: { mount: string; timeout?: number });
    attach(server: Server): void;
    getClient(): Client;
    close(): void;
  }

  const faye: { Client: typeof Client; NodeAdapter: typeof NodeAdapter };
  export default faye;
}
