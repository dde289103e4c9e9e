/**
 * Bench payloads: `s<seq, 10 digits>t<send time µs, 15 digits> xxxx…`, padded to the requested size.
 * The send time comes from the monotonic clock that every process on this machine shares
 * (`process.hrtime`), so publish-to-receive latency can be taken across processes.
 */
const HEADER = 1 + 10 + 1 + 15 + 1;

export function nowMicros(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + Math.floor(ns / 1e3);
}

export function makePayload(seq: number, size: number): string {
  const head = `s${String(seq).padStart(10, '0')}t${String(nowMicros()).padStart(15, '0')} `;
  return size > HEADER ? head + 'x'.repeat(size - HEADER) : head;
}

/** Reads only the fixed-width send time: no split, no JSON. */
export function sentAt(payload: string): number {
  return Number(payload.slice(12, 27));
}

export function seqOf(payload: string): number {
  return Number(payload.slice(1, 11));
}
