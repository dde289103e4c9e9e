/**
 * One raw HTTP exchange on a socket, for requests no HTTP client would send: the answers to the
 * request, read until the server closes, or until the answer to a marker request sent after the
 * first one (then every answer to the request is in).
 */
import type { Socket } from 'node:net';

export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Sent on the same socket after the first answer: its answer comes after every answer before it. */
const MARKER = Buffer.from('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 'latin1');
const isMarkerAnswer = (answer: RawAnswer) => answer.status === 200 && answer.body === '{"status":"ok"}';

/**
 * Writes `request` and reads the answers until the server closes, or until the answer to a marker
 * request sent after the first answer (on a connection the server keeps open): then every answer
 * to `request` is in. Only the answers to `request` are returned.
 */
export function exchange(
  socket: Socket,
  request: Buffer,
): Promise<{ answers: RawAnswer[]; closed: boolean; rest: string }> {
  return new Promise((resolve) => {
    let data = Buffer.alloc(0);
    const answers: RawAnswer[] = [];
    let marked = false;
    const finish = (closed: boolean) => {
      clearTimeout(deadline);
      socket.destroy();
      resolve({ answers, closed, rest: data.toString('latin1') });
    };
    const deadline = setTimeout(() => finish(false), 4_000);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      for (;;) {
        const end = data.indexOf('\r\n\r\n');
        if (end === -1) break;
        const [line = '', ...fields] = data.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const field of fields) {
          const colon = field.indexOf(':');
          headers[field.slice(0, colon).trim().toLowerCase()] = field.slice(colon + 1).trim();
        }
        const length = Number(headers['content-length']);
        if (!Number.isInteger(length) || data.length < end + 4 + length) break;
        const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(line)?.[1] ?? 0);
        const answer = { status, headers, body: data.subarray(end + 4, end + 4 + length).toString('utf8') };
        data = data.subarray(end + 4 + length);
        if (marked && isMarkerAnswer(answer)) {
          finish(false);
          return;
        }
        answers.push(answer);
      }
      if (answers.length > 0 && !marked) {
        marked = true;
        socket.write(MARKER);
      }
    });
    // Writing the marker to a socket the server is closing resets it: 'close' follows and ends this.
    socket.on('error', () => undefined);
    socket.once('close', () => finish(true));
    socket.write(request);
  });
}
