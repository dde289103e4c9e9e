// The parts of faye 1.4 the benchmark uses (the package ships no types). Not named `faye.d.ts`:
// tsc drops a `.d.ts` from `include` when a `.ts` of the same name sits next to it.
declare module 'faye' {
  import type { Server } from 'node:http';

  interface Client {
    /** Resolves once the server has acknowledged the subscription. */
    subscribe(channel: string, callback: (message: unknown) => void): PromiseLike<void>;
    publish(channel: string, data: unknown): PromiseLike<void>;
    disable(feature: string): void;
    disconnect(): void;
  }

  interface NodeAdapter {
    attach(server: Server): void;
    close(): void;
  }

  // faye is CommonJS: its module.exports is the default export under Node's ESM loader.
  const faye: {
    Client: new (endpoint: string) => Client;
    NodeAdapter: new (options: { mount: string; timeout?: number }) => NodeAdapter;
  };
  export default faye;
}
