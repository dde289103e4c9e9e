/**
 * Who is on the other end of a request: the client's network address, and whether its connection
 * is encrypted. Forwarded headers (`X-Forwarded-For`, `X-Forwarded-Proto`) are believed only when
 * they come from a proxy the configuration names (`trustProxy`), since any client can send them.
 * Addresses are compared as their "limit key": IPv4 as is (IPv4-mapped IPv6 unwrapped), IPv6 by
 * its /64 prefix, because one host commonly holds a whole /64.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { SwitchboardError, quote } from './errors.js';

/**
 * The proxies whose forwarded headers are believed: addresses and CIDR ranges (`10.0.0.0/8`,
 * `::1`), or the names `loopback` (127.0.0.0/8, ::1) and `private` (10/8, 172.16/12,
 * 192.168/16, fc00::/7). `false` or `[]`: none.
 */
export type TrustProxy = false | readonly string[];

const NAMED: Record<string, ReadonlyArray<[string, number, 'ipv4' | 'ipv6']>> = {
  loopback: [
    ['127.0.0.0', 8, 'ipv4'],
    ['::1', 128, 'ipv6'],
  ],
  private: [
    ['10.0.0.0', 8, 'ipv4'],
    ['172.16.0.0', 12, 'ipv4'],
    ['192.168.0.0', 16, 'ipv4'],
    ['fc00::', 7, 'ipv6'],
  ],
};

export class TrustedProxies {
  readonly #list = new BlockList();
  readonly #any: boolean;

  /** Throws SB_ERR_CONFIG naming the entry that is neither an address, a CIDR range nor a known name. */
  constructor(spec: TrustProxy | undefined) {
    if (spec === undefined || spec === false) {
      this.#any = false;
      return;
    }
    if (!Array.isArray(spec)) {
      throw new SwitchboardError(
        'SB_ERR_CONFIG',
        `trustProxy must list the proxies' addresses (e.g. ["127.0.0.1", "10.0.0.0/8"] or ["loopback"]), got ${quote(spec)}: trusting every client would let any of them forge its address and TLS`,
      );
    }
    for (const entry of spec as unknown[]) this.#add(entry);
    this.#any = spec.length > 0;
  }

  #add(entry: unknown): void {
    if (typeof entry !== 'string') {
      throw new SwitchboardError('SB_ERR_CONFIG', `trustProxy entries must be strings, got ${quote(entry)}`);
    }
    const named = NAMED[entry];
    if (named) {
      for (const [net, prefix, type] of named) this.#list.addSubnet(net, prefix, type);
      return;
    }
    const [address = '', bits, extra] = entry.split('/');
    const type = isIP(address);
    const prefix = bits === undefined ? (type === 6 ? 128 : 32) : Number(bits);
    if (
      type === 0 ||
      extra !== undefined ||
      !Number.isInteger(prefix) ||
      prefix < 0 ||
      prefix > (type === 6 ? 128 : 32)
    ) {
      throw new SwitchboardError(
        'SB_ERR_CONFIG',
        `trustProxy entry ${quote(entry)} is not an IP address, a CIDR range or one of ${Object.keys(NAMED).join(', ')}`,
      );
    }
    this.#list.addSubnet(address, prefix, type === 6 ? 'ipv6' : 'ipv4');
  }

  /** Whether any proxy is trusted at all. */
  get enabled(): boolean {
    return this.#any;
  }

  trusts(address: string | undefined): boolean {
    if (!this.#any || address === undefined) return false;
    const plain = unmapped(address);
    const type = isIP(plain);
    return type !== 0 && this.#list.check(plain, type === 6 ? 'ipv6' : 'ipv4');
  }

  /**
   * The client's address: the socket's peer, or, when that peer is a trusted proxy, the nearest
   * address in `X-Forwarded-For` that is not itself a trusted proxy (read right to left, the
   * order proxies append in).
   */
  clientAddress(req: IncomingMessage): string {
    let address = unmapped(req.socket.remoteAddress ?? '');
    if (!this.trusts(address)) return address;
    const hops = forwardedList(req.headers['x-forwarded-for']);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = unmapped(hops[i] as string);
      if (isIP(hop) === 0) break; // a malformed entry: stop at the last address we can vouch for
      // (an empty entry too: a client's trailing comma cannot make us skip a hop)
      address = hop;
      if (!this.trusts(hop)) break;
    }
    return address;
  }

  /**
   * Whether the client's connection is encrypted: TLS on our socket, or a trusted proxy says so
   * in `X-Forwarded-Proto` (its last value: the one the nearest proxy, ours, set).
   */
  encrypted(req: IncomingMessage): boolean {
    if ((req.socket as { encrypted?: boolean }).encrypted === true) return true;
    if (!this.trusts(req.socket.remoteAddress)) return false;
    const protos = forwardedList(req.headers['x-forwarded-proto']);
    const proto = protos[protos.length - 1]?.toLowerCase();
    return proto === 'https' || proto === 'wss';
  }
}

/** The hops a proxy chain is believed for at most: the nearest ones (the last in the header). */
const MAX_HOPS = 16;

/**
 * The last entries of a forwarded header, nearest proxy last. Only the end of the list can be
 * vouched for (each proxy appends), so a client that prepends entries cannot push the real ones
 * out of reach.
 */
function forwardedList(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const text = Array.isArray(header) ? header.join(',') : header;
  const hops = text.split(',');
  return hops.slice(-MAX_HOPS).map((part) => withoutPort(part.trim()));
}

/** `1.2.3.4:5678` → `1.2.3.4`; `[::1]:80` → `::1`; anything else as given. */
function withoutPort(hop: string): string {
  if (hop.startsWith('[')) {
    const end = hop.indexOf(']');
    return end === -1 ? hop : hop.slice(1, end);
  }
  const colon = hop.indexOf(':');
  return colon !== -1 && colon === hop.lastIndexOf(':') ? hop.slice(0, colon) : hop;
}

/** `::ffff:10.1.2.3` (IPv4 on a dual-stack socket) → `10.1.2.3`. */
export function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * The key per-address limits count under: an IPv4 address as is, an IPv6 address by its first
 * 64 bits (a host, or a home network, gets a whole /64), anything else as given.
 */
export function limitKey(address: string): string {
  const plain = unmapped(address);
  if (isIP(plain) !== 6) return plain;
  return `${expandIpv6(plain).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, as hex without leading zeros. */
function expandIpv6(address: string): string[] {
  const noZone = address.split('%')[0] as string;
  const [head = '', tail] = noZone.split('::');
  const parse = (part: string): string[] => {
    if (part === '') return [];
    const groups = part.split(':');
    const last = groups[groups.length - 1] as string;
    if (last.includes('.')) {
      // An embedded IPv4 address takes the last two groups.
      const [a = 0, b = 0, c = 0, d = 0] = last.split('.').map(Number);
      groups.splice(-1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
    }
    return groups.map((g) => parseInt(g, 16).toString(16));
  };
  const front = parse(head);
  const back = tail === undefined ? [] : parse(tail);
  const zeros = new Array<string>(Math.max(0, 8 - front.length - back.length)).fill('0');
  return [...front, ...zeros, ...back];
}
