/**
 * LPIO over HTTP: one POST carries the client's messages and acks, and its held response carries
 * the server's. This file only translates between HTTP and hub calls; queues, ids, acks, dedupe,
 * routing and timers are the core's.
 *
 * Per request (seed 000's server list, in order):
 * 1. POST only (405), `application/json` (415), body within the limit (413), valid JSON (400).
 * 2. The auth hook sees the request and its body before anything is processed; rejection is 403.
 * 3. Validation (spec strings, state 2); a rejected request changes nothing.
 * 4. No client id: a new session, answered at once with its id.
 * 5. Otherwise acks and messages are processed, and the request is held until there is
 *    something to send (acks included), superseded (state 0), or the hold timeout (state 0).
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { closeReason, type CloseReason } from '../../core/close-reasons.js';
import { isSwitchboardError, SwitchboardError } from '../../core/errors.js';
import { readJson, requireContentType, sendError, sendJson } from '../../core/http.js';
import type { Connection, Hub, Refusal } from '../../core/hub.js';
import type { ProtocolAdapter } from '../../core/protocol.js';
import type { Batch, SessionInfo } from '../../core/types.js';
import {
  formatBatch,
  formatState,
  LPIO_ERRORS,
  LpioError,
  parseRequest,
  STATE,
  toInbound,
  type AnnouncedLimits,
  type MessageError,
  type ResponseExtras,
} from './codec.js';

export interface LpioOptions {
  /**
   * Answer an id-less request in the exact v0.2.2 form (`{state:0, messages:[], set:{id}}`)
   * instead of the default form that clients of both spec versions understand.
   */
  readonly strict?: boolean;
  /**
   * Let anonymous clients open sessions under guessable ids of their own (`LPIO-Client: alice`):
   * seed 000 allows static ids, but whoever knows such an id reads that session's messages.
   * Default: as `strict` (the spec's conformance suites use short static ids); otherwise false.
   * With an auth hook that names users, a chosen id is bound to its user either way.
   */
  readonly allowWeakIds?: boolean;
}

/** One held long-poll response, as the hub sees it. */
class LpioResponse implements Connection {
  readonly protocol = 'lpio';
  readonly oneShot = true;
  readonly resend = true;
  readonly eager: boolean;
  /** Dropped once answered: the hub's tables may keep this object a while after it is done. */
  #res: ServerResponse | undefined;
  readonly #extras: ResponseExtras;

  constructor(res: ServerResponse, extras: ResponseExtras) {
    this.#res = res;
    this.#extras = extras;
    this.eager =
      extras.set !== undefined ||
      extras.close !== undefined ||
      extras.session !== undefined ||
      (extras.errors !== undefined && extras.errors.length > 0);
  }

  get closed(): boolean {
    const res = this.#res;
    return res === undefined || res.destroyed || res.writableEnded;
  }

  write(batch: Batch): boolean {
    this.#send(formatBatch(batch, this.#extras));
    return false;
  }

  close(reason: CloseReason): void {
    if (reason.name === 'shutdown') {
      this.#send(formatState(STATE.SERVER_DESTROYED));
      return;
    }
    // Superseded or held too long: state 0, poll again. A session that ended says why.
    this.#send(formatState(STATE.RECONNECT, reason.sessionEnded ? { close: reason } : {}));
  }

  /**
   * Answers once, then lets go of the response: the hub's Maps keep detached connections
   * reachable from their obsolete hash tables until a full GC, and the response would drag its
   * request, headers and socket state into the old generation with it.
   */
  #send(body: string): void {
    const res = this.#res;
    if (res === undefined) return;
    this.#res = undefined;
    sendJson(res, 200, body);
  }
}

export function createLpioAdapter(hub: Hub, options: LpioOptions = {}): ProtocolAdapter {
  const strict = options.strict === true;
  const allowWeakId = options.allowWeakIds ?? strict;
  const limits: AnnouncedLimits = {
    messages: hub.settings.maxMessagesPerRequest,
    bytes: hub.settings.maxBodyBytes,
    messageBytes: hub.settings.maxMessageBytes,
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      throw new SwitchboardError(
        'SB_ERR_METHOD_NOT_ALLOWED',
        `LPIO accepts POST only, got ${req.method ?? 'none'}`,
      );
    }
    requireContentType(req, 'application/json');
    const body = await readJson(req, hub.settings.maxBodyBytes, hub.deadlines);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new SwitchboardError('SB_ERR_BAD_REQUEST', 'the request body must be a JSON object');
    }
    const header = req.headers['lpio-client'];
    const claimed =
      typeof header === 'string' && header !== '' ? header : (body as { client?: unknown }).client;
    const identity = await hub.authenticate({
      protocol: 'lpio',
      method: 'POST',
      url: req.url ?? '',
      headers: req.headers,
      remoteAddress: hub.clientAddress(req),
      body,
      sessionId: typeof claimed === 'string' ? claimed : undefined,
    });
    if (hub.closing) {
      sendJson(res, 200, formatState(STATE.SERVER_DESTROYED));
      return;
    }

    const request = parseRequest(body, header, hub.settings.maxMessagesPerRequest);

    if (request.clientId === undefined) {
      // Seed 000: "If request body doesn't contain client id, server should respond immediately"
      // with one. The request's messages are not processed: the client resends them with its id,
      // so a lost answer here cannot turn into a second session that saw them too.
      const session = await hub.openSession('lpio', identity);
      const reply = strict
        ? formatState(STATE.RECONNECT, { set: { id: session.id } })
        : formatBatch(
            { acks: [], deliveries: [] },
            { option: session.id, set: { id: session.id, address: session.address }, limits },
          );
      sendJson(res, 200, reply);
      return;
    }

    let session: SessionInfo;
    const extras: {
      set?: ResponseExtras['set'];
      close?: CloseReason;
      session?: { address: string };
      limits?: AnnouncedLimits;
      errors?: MessageError[];
    } = {};
    // Claimed as it arrives (in the client's order when it sends `seq`): a poll the client
    // abandoned for this one cannot take its acks.
    const owner = hub.newOwner();
    const lookup = await hub.lookupSession(request.clientId, {
      owner,
      user: identity.user,
      ...request.order,
    });
    if (lookup.status === 'open') {
      hub.assertOwner(lookup.session, identity);
      session = lookup.session;
      // A client resuming with a static id in a new process asks for its public address.
      if ((body as { describe?: unknown }).describe === true) {
        extras.session = { address: session.address };
        extras.limits = limits;
      }
    } else {
      // A static id (seed 000 allows them) or an id whose session ended: open it, answer at once
      // with the session's address, and say why the previous one ended.
      try {
        session = await hub.openSession('lpio', identity, { id: request.clientId, allowWeakId });
      } catch (error) {
        if (isSwitchboardError(error) && error.code === 'SB_ERR_WEAK_CLIENT_ID') {
          throw new LpioError(LPIO_ERRORS.client, error.code, error.message);
        }
        throw error;
      }
      extras.set = { address: session.address };
      extras.limits = limits;
      if (lookup.status === 'closed') extras.close = closeReason(lookup.reason);
    }

    let refused: Refusal[];
    if (lookup.status === 'closed') {
      // The request named a session that ended. Its messages may be repeats of ones the old
      // session processed (their answer lost), which the new one would not recognise: none is
      // processed, each is refused, and the client sends again only those that cannot have
      // reached the old session. Its acks named the old session's messages.
      refused = request.messages.map(({ id }) => ({ id, error: sessionEnded(lookup.reason) }));
      await hub.touch(session);
    } else {
      const prepared = await hub.prepare(session, request.messages.map(toInbound));
      await hub.touch(session);
      refused = [...prepared.refused, ...(await hub.receive(session, prepared.messages, request.acks))];
    }
    if (refused.length > 0) extras.errors = refused.map(messageError);

    // Older than the client's last request (`seq`): it did not claim, and must not replace the
    // newer request held for the session. Its messages are processed; their acks go to that one.
    if (lookup.status === 'open' && lookup.stale === true) {
      sendJson(res, 200, formatState(STATE.RECONNECT, extras.errors ? { errors: extras.errors } : {}));
      return;
    }

    // The client may have given up while we worked; its acks wait in the session for the next poll.
    const connection = new LpioResponse(res, extras);
    if (connection.closed) return;
    res.on('close', () => hub.disconnect(session.id, connection));
    // A session opened by this request was not claimed by the lookup: the first take claims it.
    hub.connect(session.id, connection, lookup.status === 'open' ? owner : undefined);
  }

  return {
    name: 'lpio',
    handleRequest(req, res) {
      handle(req, res).catch((error: unknown) => {
        hub.countRejected();
        if (error instanceof LpioError) {
          sendJson(
            res,
            200,
            formatState(STATE.ERROR, {
              error: error.message,
              code: error.code,
              ...(error.detail !== undefined && { detail: error.detail }),
            }),
          );
          return;
        }
        sendError(res, error, req.method !== 'POST' ? { allow: 'POST' } : {});
      });
    },
  };
}

function sessionEnded(reason: string): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_SESSION_CLOSED',
    `the session this request named has ended (${reason}): the message was not processed`,
  );
}

function messageError({ id, error }: Refusal): MessageError {
  return { id, code: error.code, message: error.message };
}
