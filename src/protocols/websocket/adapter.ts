/**
 * WebSocket (seed 002) at `/ws`, on the `ws` library: JSON text frames carrying the core's
 * messages (docs/protocols/websocket.md). This file translates between frames and hub calls;
 * queues, ids, acks, dedupe and routing are the core's.
 *
 * Per connection:
 * 1. The upgrade request passes the auth hook first; a rejection is a plain HTTP 401/403 with a
 *    JSON body, written before any upgrade, and nothing is processed.
 * 2. The first frame is `hello`: a new session, or the one to resume with the last id received
 *    (everything after it that is unacked is sent again, under the same ids).
 * 3. Frames are processed in order, one at a time; a bad frame gets an `error` frame and changes
 *    nothing. A connection superseded by a newer one of its session is ignored from then on.
 * 4. One timer for all connections: keep-alives after `keepAliveMs` without a write, close with
 *    `timeout` after `idleTimeoutMs` without a frame, close with `slow` after `slowTimeoutMs`
 *    over the write high-water mark.
 * 5. Whatever we write (data, acks, errors) counts against the high-water mark: over it, we stop
 *    reading the client until the backlog has gone out, so a client that sends and never reads
 *    cannot make the node buffer answers for it without bound.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { closeReason, type CloseReason } from '../../core/close-reasons.js';
import { isSwitchboardError, SwitchboardError, toSwitchboardError } from '../../core/errors.js';
import { rejectUpgrade } from '../../core/http.js';
import type { Connection, Hub, Identity, Refusal } from '../../core/hub.js';
import type { ProtocolAdapter } from '../../core/protocol.js';
import type { Batch, MessageId, SessionInfo } from '../../core/types.js';
import {
  dataFrame,
  formatAcks,
  formatError,
  formatSeq,
  formatWelcome,
  parseFrame,
  type AnnouncedLimits,
  payloadOf,
  parseHello,
  PING_FRAME,
  WsFrameError,
} from './codec.js';

export interface WebSocketOptions {
  /** Close a connection that sent no frame (not even a keep-alive) for this long. Seed 002: 5 s. */
  readonly idleTimeoutMs?: number;
  /** Send a keep-alive after this long without writing; well inside the client's idle timeout. */
  readonly keepAliveMs?: number;
  /** Largest frame accepted; a larger one closes the connection with 1009. */
  readonly maxPayload?: number;
  /** Stop taking messages for a socket whose unsent bytes exceed this. */
  readonly highWaterBytes?: number;
  /** Close (`slow`) a socket that stays over the high-water mark this long. */
  readonly slowTimeoutMs?: number;
}

export const WEBSOCKET_DEFAULTS = Object.freeze({
  idleTimeoutMs: 5_000,
  keepAliveMs: 2_000,
  highWaterBytes: 1_048_576,
  slowTimeoutMs: 10_000,
});

/** Frames a connection may have waiting before we stop reading from it, and where we start again. */
const MAX_WAITING_FRAMES = 64;
const RESUME_AT_FRAMES = 16;

/** WebSocket close codes of RFC 6455 used here. */
const UNSUPPORTED_DATA = 1003;

class WsConnection implements Connection {
  readonly protocol = 'websocket';
  readonly oneShot = false;
  readonly resend = true;
  readonly immediate = true;
  session: SessionInfo | undefined;
  /** Set once the hub replaced or closed us: later frames are ignored. */
  ended = false;
  lastIn: number;
  lastOut: number;
  blockedSince: number | undefined;
  /** Frames are processed strictly in order. */
  queue: Promise<void> = Promise.resolve();
  /** Frames received and not yet processed. */
  waiting = 0;
  /** Reading is paused until our backlog drains (see `#backlogged`). */
  backlogged = false;
  /** The id the client will assign to the next data frame; a `seq` frame resets it. */
  #next: MessageId | undefined;
  readonly #drained = (): void => this.onDrained?.();
  onDrained: (() => void) | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly identity: Identity,
    readonly highWaterBytes: number,
    now: number,
  ) {
    this.lastIn = now;
    this.lastOut = now;
  }

  /** Sends a frame of our own (an error); over the mark it stops reading until the backlog drains. */
  sendControl(text: string): void {
    const ws = this.ws;
    if (ws.readyState !== ws.OPEN) return;
    ws.send(text);
    this.lastOut = Date.now();
    if (ws.bufferedAmount > this.highWaterBytes) this.#backlogged();
  }

  /**
   * Over the mark: a keep-alive behind the backlog tells us when the backlog has gone out, and
   * until then nothing more is read from this client (its frames would only add to the backlog).
   */
  #backlogged(): void {
    if (this.blockedSince !== undefined) return;
    this.blockedSince = this.lastOut;
    this.backlogged = true;
    this.ws.pause();
    this.ws.send(PING_FRAME, this.#drained);
  }

  write(batch: Batch): boolean {
    const ws = this.ws;
    if (ws.readyState !== ws.OPEN) return true; // closing: what was taken is resent on resume
    // ws has no public way to write a frame it did not build; its socket is where its own sender
    // writes, synchronously (no compression), so frames written here never interleave with its own.
    const socket = (ws as unknown as { _socket?: Socket })._socket;
    // Several frames go out in one write; a lone frame needs no corking.
    const cork = batch.deliveries.length + (batch.acks.length > 0 ? 1 : 0) > 1;
    if (cork) socket?.cork();
    if (batch.acks.length > 0) ws.send(formatAcks(batch.acks));
    for (const { id, message } of batch.deliveries) {
      if (id !== this.#next) ws.send(formatSeq(id));
      const frame = dataFrame(message);
      if (socket) socket.write(frame);
      else ws.send(payloadOf(frame), { binary: false });
      this.#next = id + 1;
    }
    if (cork) socket?.uncork();
    this.lastOut = Date.now();
    if (ws.bufferedAmount <= this.highWaterBytes) return true;
    this.#backlogged();
    return false;
  }

  close(reason: CloseReason): void {
    this.ended = true;
    this.ws.close(reason.code, reason.name);
  }
}

export function createWebSocketAdapter(hub: Hub, options: WebSocketOptions = {}): ProtocolAdapter {
  const timers = { ...WEBSOCKET_DEFAULTS, ...options };
  const maxPayload = options.maxPayload ?? hub.settings.maxBodyBytes;
  const limits: AnnouncedLimits = {
    messages: hub.settings.maxMessagesPerRequest,
    bytes: maxPayload,
    messageBytes: hub.settings.maxMessageBytes,
  };
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload,
    perMessageDeflate: false,
    clientTracking: false,
  });
  const connections = new Set<WsConnection>();

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const conn of connections) {
        if (conn.ended) continue;
        // A client whose frames still wait their turn, or whom we stopped reading because it does
        // not read our backlog, is not idle: the slow timeout below is the one that applies.
        if (conn.waiting === 0 && !conn.backlogged && now - conn.lastIn > timers.idleTimeoutMs)
          end(conn, closeReason('timeout'));
        else if (conn.blockedSince !== undefined && now - conn.blockedSince > timers.slowTimeoutMs)
          end(conn, closeReason('slow'));
        else if (now - conn.lastOut >= timers.keepAliveMs && conn.blockedSince === undefined) {
          conn.ws.send(PING_FRAME);
          conn.lastOut = now;
        }
      }
    },
    Math.max(100, Math.min(timers.keepAliveMs, timers.idleTimeoutMs) / 4),
  );
  sweep.unref();

  /** Ends a connection on our own initiative (the hub did not ask). */
  function end(conn: WsConnection, reason: CloseReason): void {
    if (conn.session) hub.closeConnection(conn.session.id, conn, reason);
    else conn.close(reason);
  }

  function sendError(conn: WsConnection, error: unknown): void {
    if (error instanceof WsFrameError) {
      conn.sendControl(formatError(error));
      return;
    }
    const failure = toSwitchboardError(error);
    if (failure.status >= 500) hub.warn(failure);
    conn.sendControl(formatError({ code: failure.code, message: failure.message }));
  }

  /** One error frame per message the core refused; the rest of the frame was processed. */
  function sendRefusals(conn: WsConnection, refused: readonly Refusal[]): void {
    for (const { id, error } of refused) {
      conn.sendControl(formatError({ code: error.code, message: error.message, id, ids: [id] }));
    }
  }

  async function hello(conn: WsConnection, text: string): Promise<void> {
    const { session: claimed, last } = parseHello(text);
    let session: SessionInfo | undefined;
    let previous: CloseReason | undefined;
    if (claimed !== undefined) {
      const lookup = await hub.lookupSession(claimed);
      if (lookup.status === 'open') {
        hub.assertOwner(lookup.session, conn.identity);
        session = lookup.session;
      } else if (lookup.status === 'closed') {
        previous = closeReason(lookup.reason);
      }
    }
    const resumed = session !== undefined;
    // An unknown or ended session is replaced by a new one with a new id: clients never pick ids.
    session ??= await hub.openSession('websocket', conn.identity);
    if (resumed && last !== undefined) await hub.ackUpTo(session, last);
    if (conn.ended || conn.ws.readyState !== conn.ws.OPEN) return;
    conn.session = session;
    conn.ws.send(formatWelcome(session, resumed, timers, previous, limits));
    const id = session.id;
    conn.onDrained = () => {
      conn.blockedSince = undefined;
      conn.backlogged = false;
      if (conn.waiting < MAX_WAITING_FRAMES) conn.ws.resume();
      hub.writable(id, conn);
    };
    hub.connect(id, conn);
  }

  async function frame(conn: WsConnection, session: SessionInfo, text: string): Promise<void> {
    const { messages, ackUpTo } = parseFrame(text, hub.settings.maxMessagesPerRequest);
    if (messages.length === 0) {
      // A bare ack (the common frame of a receiving client): nothing to prepare or route.
      if (ackUpTo !== undefined && !conn.ended) await hub.ackUpTo(session, ackUpTo);
      return;
    }
    let prepared;
    try {
      prepared = await hub.prepare(session, messages);
    } catch (error) {
      // The whole frame is refused (too many messages, or a hook or the engine failed): name its
      // messages so the client can fail exactly those.
      const failure = toSwitchboardError(error);
      if (failure.status >= 500) throw failure;
      throw new WsFrameError(
        failure.code,
        failure.message,
        undefined,
        messages.map((m) => m.id),
      );
    }
    if (conn.ended) return;
    if (ackUpTo !== undefined) await hub.ackUpTo(session, ackUpTo);
    const refused = [...prepared.refused];
    if (prepared.messages.length > 0) refused.push(...(await hub.receive(session, prepared.messages, [])));
    if (refused.length > 0 && !conn.ended) sendRefusals(conn, refused);
  }

  function onMessage(conn: WsConnection, data: RawData, isBinary: boolean): void {
    conn.lastIn = Date.now();
    if (isBinary) {
      end(conn, { ...closeReason('error'), code: UNSUPPORTED_DATA });
      return;
    }
    // The default binaryType ('nodebuffer'): text frames arrive as one Buffer, fragments joined.
    const text = (data as Buffer).toString('utf8');
    // Frames wait their turn in a chain; a client that sends faster than they are processed is
    // not read from until the chain is short again: it holds at most what one read brought.
    if (++conn.waiting >= MAX_WAITING_FRAMES && !conn.ws.isPaused) conn.ws.pause();
    conn.queue = conn.queue
      .then(() => {
        if (conn.ended) return undefined;
        if (conn.session) {
          hub.noteIo(conn.session.id);
          return frame(conn, conn.session, text);
        }
        return hello(conn, text);
      })
      .catch((error: unknown) => {
        if (conn.ended) return;
        sendError(conn, error);
        // Without a session there is nothing to talk about: a bad or refused hello ends it.
        if (!conn.session)
          conn.close(
            closeReason(isSwitchboardError(error) && error.status === 403 ? 'not_allowed' : 'error'),
          );
      })
      .finally(() => {
        // The idle clock restarts when the last waiting frame is done, not when it arrived.
        if (--conn.waiting === 0) conn.lastIn = Date.now();
        // Read again only after this turn's flush has gone out: otherwise several reads can be
        // processed before any ack is written, and the pending acks outgrow their bound.
        if (conn.waiting === RESUME_AT_FRAMES) {
          setImmediate(() => {
            if (conn.waiting <= RESUME_AT_FRAMES && !conn.backlogged) conn.ws.resume();
          });
        }
      });
  }

  function attach(ws: WebSocket, identity: Identity): void {
    const conn = new WsConnection(ws, identity, timers.highWaterBytes, Date.now());
    connections.add(conn);
    ws.on('message', (data, isBinary) => onMessage(conn, data, isBinary));
    ws.on('error', () => undefined); // 'close' follows; a client's bad frame is not our error
    ws.on('close', () => {
      connections.delete(conn);
      conn.ended = true;
      if (conn.session) hub.disconnect(conn.session.id, conn);
    });
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const identity = await hub.authenticate({
      protocol: 'websocket',
      method: req.method ?? 'GET',
      url: req.url ?? '',
      headers: req.headers,
      remoteAddress: hub.clientAddress(req),
      body: undefined,
      sessionId: undefined,
    });
    if (hub.closing) throw new SwitchboardError('SB_ERR_SHUTTING_DOWN', 'the server is shutting down');
    // Gone, or answered already (the deadline passed while the auth hook ran).
    if (socket.destroyed || socket.writableEnded) return;
    await new Promise<void>((resolve) => {
      wss.handleUpgrade(req, socket, head, (ws) => {
        attach(ws, identity);
        resolve();
      });
      // ws answered the upgrade itself (400 for a bad handshake) and closed the socket.
      socket.once('close', () => resolve());
    });
  }

  return {
    name: 'websocket',
    handleUpgrade(req, socket, head) {
      socket.on('error', () => undefined);
      // An upgrade held up (a slow auth hook, a stuck store) ends like a stalled body: 408, closed.
      let done = false;
      const cancel = hub.deadlines.start(() => {
        if (done) return;
        done = true;
        hub.countRejected();
        rejectUpgrade(
          socket,
          new SwitchboardError('SB_ERR_REQUEST_TIMEOUT', 'the upgrade did not complete in time'),
        );
        // A client that does not read the answer does not get to keep the socket either.
        setTimeout(() => socket.destroy(), 1_000).unref();
      });
      upgrade(req, socket, head).then(
        () => {
          done = true;
          cancel();
        },
        (error: unknown) => {
          cancel();
          if (done) return;
          done = true;
          hub.countRejected();
          rejectUpgrade(socket, toSwitchboardError(error));
        },
      );
    },
    close() {
      clearInterval(sweep);
      for (const conn of connections) if (!conn.session) conn.close(closeReason('shutdown'));
    },
  };
}
