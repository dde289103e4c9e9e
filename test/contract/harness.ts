/**
 * What the engine contract suites share: an engine started with small bounds, its events and
 * counters recorded, sessions opened under ids unique to the run, messages as the hub builds them.
 */
import { after } from 'node:test';
import type { CloseReasonName } from '../../src/core/close-reasons.js';
import { resolveSettings, type HubSettings } from '../../src/core/settings.js';
import type { SessionInfo } from '../../src/core/types.js';
import type { Engine, EngineCounterName, Received } from '../../src/engine/engine.js';
import { message, payload } from '../helpers/outbound.js';

export interface Harness {
  engine: Engine;
  /** Every wake-up, in order; `urgentWakes` holds those that asked to skip the batching window. */
  wakes: string[];
  urgentWakes: string[];
  pressured: string[];
  closed: Array<[string, CloseReasonName]>;
  counts: Map<EngineCounterName, number>;
}

export interface ContractEngines {
  start: (settings?: Partial<HubSettings>, now?: () => number) => Promise<Harness>;
  open: (engine: Engine) => Promise<string>;
  /** An engine made by the factory and never started. */
  unstarted: () => Promise<Engine>;
}

let sequence = 0;
/** Unique per test, so a shared engine (Redis) never sees one test's ids in another. */
export function unique(name: string): string {
  sequence++;
  return `${name}-${process.pid}-${sequence}`;
}

export { message, payload };

export const take = { resend: false, maxMessages: 100, maxBytes: 100_000 };

/** Client messages for the application only (no route for the engine). */
export function received(...ids: string[]): Received[] {
  return ids.map((id) => ({ id, route: { kind: 'server' } }));
}

/**
 * Starts engines from `factory`, each closed at the end even when a test fails before its own
 * close: an open Redis client would keep the process alive.
 */
export function contractEngines(factory: () => Engine | Promise<Engine>): ContractEngines {
  const started: Engine[] = [];
  after(() => Promise.all(started.map((engine) => engine.close())));
  return {
    async start(settings = {}, now = Date.now) {
      const engine = await factory();
      started.push(engine);
      const harness: Harness = {
        engine,
        wakes: [],
        urgentWakes: [],
        pressured: [],
        closed: [],
        counts: new Map(),
      };
      await engine.start({
        limits: resolveSettings({
          maxQueueMessages: 4,
          maxQueueBytes: 10_000,
          maxMessageBytes: 1_000,
          ...settings,
        }),
        now,
        counters: {
          count: (counter, n = 1) => harness.counts.set(counter, (harness.counts.get(counter) ?? 0) + n),
        },
        events: {
          wake: (id, urgent) => {
            harness.wakes.push(id);
            if (urgent) harness.urgentWakes.push(id);
          },
          pressure: (id) => harness.pressured.push(id),
          sessionClosed: (session: SessionInfo, reason) => harness.closed.push([session.id, reason]),
        },
      });
      return harness;
    },
    async unstarted() {
      return factory();
    },
    async open(engine) {
      const id = unique('s');
      await engine.openSession({ id, address: unique('a'), protocol: 'lpio', user: undefined });
      return id;
    },
  };
}
