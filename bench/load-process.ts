/**
 * A load generator process (the harness pins it to the core the server does not use). It holds the
 * receiving clients and the publisher, counts deliveries and records publish-to-receive latency.
 * Receivers read only the fixed-width timestamp of each payload: nothing is parsed beyond what the
 * system's own client library does.
 */
import { Histogram } from './lib/histogram.js';
import { serve, type IpcRequest } from './lib/ipc.js';
import { makePayload, nowMicros, sentAt, seqOf } from './lib/payload.js';
import type { ClientHandle, ServerMode } from './lib/system.js';
import { systemNamed } from './systems/index.js';

const receivers: ClientHandle[] = [];
let publisher: ClientHandle | undefined;
const latency = new Histogram();
let deliveries = 0;
let deliveriesTotal = 0;
let published = 0;
let publishedTotal = 0;
let markedAt = nowMicros();
let markedCpu = 0;
let stopPublishing: (() => void) | undefined;
let waitingForCredit: (() => void) | undefined;
/** With `track`: deliveries whose sequence number was not the receiver's next one (gap, duplicate). */
let outOfOrder = 0;

function onDelivery(payload: string): void {
  deliveries++;
  deliveriesTotal++;
  latency.record(nowMicros() - sentAt(payload));
  if (waitingForCredit) {
    const resume = waitingForCredit;
    waitingForCredit = undefined;
    setImmediate(resume);
  }
}

function cpuMicros(): number {
  const cpu = process.cpuUsage();
  return cpu.user + cpu.system;
}

/** The client, or an error after `ms`; a client that connects later is closed then. */
function bounded(connecting: Promise<ClientHandle>, ms: number): Promise<ClientHandle> {
  return new Promise((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new Error(`not connected and subscribed after ${ms} ms`));
    }, ms);
    connecting.then(
      (client) => {
        clearTimeout(timer);
        if (late) client.close();
        else resolve(client);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

async function connectMany(req: IpcRequest): Promise<object> {
  const system = systemNamed(String(req.system));
  const count = Number(req.count);
  const concurrency = Number(req.concurrency ?? 50);
  const mode = req.mode as ServerMode;
  const timeoutMs = Number(req.timeoutMs ?? 0);
  // `track` checks each receiver gets every publish once, in order: one slice and compare per delivery.
  const receiverOf = (): ((payload: string) => void) => {
    if (req.track !== true) return onDelivery;
    let next = 0;
    return (payload) => {
      const seq = seqOf(payload);
      if (seq !== next) outOfOrder++;
      next = seq + 1;
      onDelivery(payload);
    };
  };
  const started = nowMicros();
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < count) {
      next++;
      try {
        const connecting = system.connect(String(req.url), receiverOf(), mode);
        receivers.push(timeoutMs > 0 ? await bounded(connecting, timeoutMs) : await connecting);
      } catch (error) {
        failed++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { connected: receivers.length, failed, firstError, elapsedMs: (nowMicros() - started) / 1000 };
}

/**
 * Publishes at `rate` messages/s, or with rate 0 as fast as deliveries come back: at most `window`
 * publishes may be undelivered to the average receiver, so the server sets the pace, not a queue.
 */
function startPublishing(req: IpcRequest): object {
  const client = publisher;
  if (!client) throw new Error('no publisher connected');
  const rate = Number(req.rate);
  const size = Number(req.payloadSize);
  const perPublish = Number(req.receiversPerPublish);
  const window = Number(req.window ?? 32);
  const publish = () => {
    client.send(makePayload(publishedTotal, size));
    published++;
    publishedTotal++;
  };
  if (rate > 0) {
    const started = nowMicros();
    const timer = setInterval(() => {
      const due = Math.floor(((nowMicros() - started) / 1e6) * rate) - publishedTotal;
      for (let i = 0; i < due; i++) publish();
    }, 5);
    stopPublishing = () => clearInterval(timer);
  } else {
    let stopped = false;
    const pump = () => {
      if (stopped) return;
      let burst = 0;
      while (publishedTotal * perPublish - deliveriesTotal < window * perPublish && burst < window) {
        publish();
        burst++;
      }
      if (burst === window) setImmediate(pump);
      else waitingForCredit = pump;
    };
    pump();
    stopPublishing = () => {
      stopped = true;
      waitingForCredit = undefined;
    };
  }
  return {};
}

async function echo(req: IpcRequest): Promise<object> {
  const system = systemNamed(String(req.system));
  const size = Number(req.payloadSize);
  const warmupMs = Number(req.warmupMs);
  const durationMs = Number(req.durationMs);
  let seq = 0;
  let client: ClientHandle | undefined = undefined;
  let roundTrips = 0;
  let measuring = false;
  const histogram = new Histogram();
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const started = nowMicros();
  let measureStart = 0;
  let cpuStart = 0;
  client = await system.connect(
    String(req.url),
    (payload) => {
      const now = nowMicros();
      if (!measuring && now - started >= warmupMs * 1000) {
        measuring = true;
        measureStart = now;
        cpuStart = cpuMicros();
        process.send?.({ event: 'measuring' });
      }
      if (measuring) {
        histogram.record(now - sentAt(payload));
        roundTrips++;
        if (now - measureStart >= durationMs * 1000) {
          finish();
          return;
        }
      }
      client?.send(makePayload(seq++, size));
    },
    'echo',
  );
  client.send(makePayload(seq++, size));
  await done;
  const elapsedMs = (nowMicros() - measureStart) / 1000;
  const loadCpuMicros = cpuMicros() - cpuStart;
  client.close();
  return { roundTrips, elapsedMs, loadCpuMicros, histogram: histogram.toJSON() };
}

serve({
  connect: connectMany,
  publisher: async (req) => {
    const system = systemNamed(String(req.system));
    publisher = await system.connect(String(req.url), () => undefined, 'broadcast');
    return {};
  },
  start: startPublishing,
  mark: () => {
    deliveries = 0;
    published = 0;
    latency.reset();
    markedAt = nowMicros();
    markedCpu = cpuMicros();
    return {};
  },
  report: () => ({
    deliveries,
    published,
    elapsedMs: (nowMicros() - markedAt) / 1000,
    loadCpuMicros: cpuMicros() - markedCpu,
    histogram: latency.toJSON(),
  }),
  stop: () => {
    stopPublishing?.();
    return {};
  },
  /**
   * After `stop`: waits (at most `timeoutMs`) until every receiver has every publish, then says what
   * is still missing. Receivers are connected before the first publish, so each should get all.
   */
  drain: async (req) => {
    const perPublish = Number(req.receiversPerPublish);
    const deadline = nowMicros() + Number(req.timeoutMs) * 1000;
    while (deliveriesTotal < publishedTotal * perPublish && nowMicros() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return {
      published: publishedTotal,
      expected: publishedTotal * perPublish,
      delivered: deliveriesTotal,
      missing: publishedTotal * perPublish - deliveriesTotal,
      outOfOrder,
    };
  },
  echo,
  close: () => {
    stopPublishing?.();
    for (const client of receivers) client.close();
    publisher?.close();
    setTimeout(() => process.exit(0), 300).unref();
    return {};
  },
});

process.send?.({ ready: true });
