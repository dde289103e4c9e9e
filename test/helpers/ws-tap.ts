/**
 * A loopback TCP proxy in front of a server's `/ws` that forwards every byte untouched and reads
 * the WebSocket frames going through it, in both directions, into one log in the order the proxy
 * saw them. Since the client can only answer what already passed the proxy, that order is causal:
 * an ack recorded after N data frames was sent by a client that had received at most those N.
 *
 * It can also cut every open connection (a network drop) and refuse new ones (accepted, then
 * destroyed before a byte is forwarded: an outage). Always close it in `after`/`t.after`.
 */
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';

export interface TappedFrame {
  /** Which TCP connection through the proxy carried it (1, 2, … in order of arrival). */
  readonly conn: number;
  /** `up`: client → server; `down`: server → client. */
  readonly dir: 'up' | 'down';
  /** The text of a text frame (fragments joined); control and binary frames are not logged. */
  readonly text: string;
}

export interface WsTap {
  /** e.g. http://127.0.0.1:45678: give the SDK `${origin}/ws`. */
  readonly origin: string;
  /** Every text frame, in the order the proxy read it. */
  readonly frames: TappedFrame[];
  /** TCP connections accepted so far (refused ones included). */
  readonly accepted: number;
  /** Destroys every open connection through the proxy. */
  cut(): void;
  /** While true, new connections are destroyed as they are accepted. */
  refuse: boolean;
  close(): Promise<void>;
}

const HEADER_END = Buffer.from('\r\n\r\n');
const TEXT = 0x1;
const CONTINUATION = 0x0;

/** Reads an HTTP head, then WebSocket frames, from one direction of one connection. */
class FrameReader {
  #buffer: Buffer = Buffer.alloc(0);
  #inHead = true;
  #fragments: Buffer[] | undefined;

  constructor(readonly onText: (text: string) => void) {}

  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    if (this.#inHead) {
      const end = this.#buffer.indexOf(HEADER_END);
      if (end === -1) return;
      this.#buffer = this.#buffer.subarray(end + HEADER_END.length);
      this.#inHead = false;
    }
    for (;;) {
      const frame = this.#nextFrame();
      if (frame === undefined) return;
      const { fin, opcode, payload } = frame;
      if (opcode === TEXT) this.#fragments = [payload];
      else if (opcode === CONTINUATION && this.#fragments) this.#fragments.push(payload);
      else continue; // ping, pong, close, binary
      if (!fin) continue;
      const text = Buffer.concat(this.#fragments).toString('utf8');
      this.#fragments = undefined;
      this.onText(text);
    }
  }

  #nextFrame(): { fin: boolean; opcode: number; payload: Buffer } | undefined {
    const b = this.#buffer;
    if (b.length < 2) return undefined;
    const fin = (b[0] as number) >= 0x80;
    const opcode = (b[0] as number) & 0x0f;
    const masked = (b[1] as number) >= 0x80;
    let length = (b[1] as number) & 0x7f;
    let at = 2;
    if (length === 126) {
      if (b.length < 4) return undefined;
      length = b.readUInt16BE(2);
      at = 4;
    } else if (length === 127) {
      if (b.length < 10) return undefined;
      length = Number(b.readBigUInt64BE(2));
      at = 10;
    }
    const maskAt = at;
    if (masked) at += 4;
    if (b.length < at + length) return undefined;
    const payload = Buffer.from(b.subarray(at, at + length));
    if (masked)
      for (let i = 0; i < payload.length; i++)
        payload[i] = (payload[i] as number) ^ (b[maskAt + (i % 4)] as number);
    this.#buffer = b.subarray(at + length);
    return { fin, opcode, payload };
  }
}

export async function startWsTap(targetPort: number): Promise<WsTap> {
  const sockets = new Set<Socket>();
  const frames: TappedFrame[] = [];
  let accepted = 0;
  const tap = {
    refuse: false,
  };
  const server: Server = createServer((inbound) => {
    const conn = ++accepted;
    inbound.on('error', () => undefined);
    if (tap.refuse) {
      inbound.destroy();
      return;
    }
    const outbound = new Socket();
    outbound.on('error', () => undefined);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.once('close', () => {
        sockets.delete(s);
        inbound.destroy();
        outbound.destroy();
      });
    }
    const up = new FrameReader((text) => frames.push({ conn, dir: 'up', text }));
    const down = new FrameReader((text) => frames.push({ conn, dir: 'down', text }));
    inbound.on('data', (chunk: Buffer) => {
      up.push(chunk);
      outbound.write(chunk);
    });
    outbound.on('data', (chunk: Buffer) => {
      down.push(chunk);
      inbound.write(chunk);
    });
    outbound.connect(targetPort, '127.0.0.1');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(tap, {
    origin: `http://127.0.0.1:${port}`,
    frames,
    get accepted() {
      return accepted;
    },
    cut() {
      for (const s of sockets) s.destroy();
    },
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      return closed;
    },
  });
}
