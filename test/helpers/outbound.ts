import type { Outbound } from '../../src/core/types.js';

/** An application message as the hub would build it. */
export function message(data: unknown, options: Partial<Outbound> = {}): Outbound {
  const json = JSON.stringify(data);
  return {
    path: undefined,
    channel: undefined,
    sender: undefined,
    json,
    bytes: json.length,
    cost: json.length,
    urgent: false,
    reliable: true,
    createdAt: Date.now(),
    ...options,
  };
}

/** The payload a delivery carries, parsed back from its JSON. */
export function payload(message: Outbound): unknown {
  return JSON.parse(message.json) as unknown;
}
