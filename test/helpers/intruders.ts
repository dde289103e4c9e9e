/**
 * What an intruder tries against a session that belongs to a user (promises-owner*.test.ts):
 * every LPIO request and WebSocket hello that could resume it, each checked to be refused as
 * docs/security.md says (SB_ERR_FORBIDDEN, and nothing else told).
 */
import { strict as assert } from 'node:assert';
import { userHeaders, type FullReply } from './parties.js';
import { lpioPost } from './start-server.js';
import { RawWsClient } from './ws-client.js';

/** Opens an LPIO session as `user` (under `chosenId` when given). */
export async function openLpio(
  url: string,
  user: string,
  chosenId?: string,
): Promise<{ id: string; address: string }> {
  const headers = { ...userHeaders(user), ...(chosenId !== undefined && { 'lpio-client': chosenId }) };
  const { status, body } = await lpioPost(url, {}, headers);
  const { id = chosenId, address } = body.set ?? {};
  if (status !== 200 || id === undefined || address === undefined) throw new Error(JSON.stringify(body));
  return { id, address };
}

/** Asserts one LPIO request was refused as the docs say: 403 SB_ERR_FORBIDDEN, and it tells nothing. */
export function assertForbidden(reply: { status: number; body: FullReply }, what: string): void {
  assert.equal(reply.status, 403, what);
  assert.deepEqual(Object.keys(reply.body), ['error'], `${what}: nothing but the error`);
  assert.equal((reply.body.error as { code: string }).code, 'SB_ERR_FORBIDDEN', what);
}

/** Every LPIO path by which `intruder` (a user, or anonymous) could resume the session `id`. */
export async function lpioAttempts(url: string, id: string, intruder: string | undefined): Promise<void> {
  const as = userHeaders(intruder);
  const who = intruder ?? 'anonymous';
  const attempts: Array<[string, unknown, Record<string, string>]> = [
    ['a poll with LPIO-Client', { messages: [] }, { ...as, 'lpio-client': id }],
    ['a poll with the seed body client', { client: id, messages: [] }, as],
    [
      'a send',
      { messages: [{ type: 'data', id: 'x1', channel: '/room', data: `${who} as the owner` }] },
      { ...as, 'lpio-client': id },
    ],
    [
      'a message to the application',
      { messages: [{ type: 'data', id: 'x2', data: who }] },
      { ...as, 'lpio-client': id },
    ],
    ['acks', { messages: [{ type: 'ack', id: '1' }] }, { ...as, 'lpio-client': id }],
    ['describe', { messages: [], describe: true }, { ...as, 'lpio-client': id }],
  ];
  for (const [what, body, headers] of attempts) {
    assertForbidden(await lpioPost(url, body, headers), `${who}: ${what}`);
  }
}

/** Says hello resuming `session`; resolves with every frame and how the socket closed. */
export async function helloAs(
  url: string,
  user: string | undefined,
  session: string,
  last?: number,
): Promise<{ frames: RawWsClient['frames']; closed: { code: number; reason: string } }> {
  const client = await RawWsClient.open(url, userHeaders(user));
  client.send({ type: 'hello', session, ...(last !== undefined && { last }) });
  const closed = await client.waitClosed();
  return { frames: client.frames, closed };
}

export function assertRefusedHello(attempt: Awaited<ReturnType<typeof helloAs>>, what: string): void {
  assert.deepEqual(
    attempt.frames.map((f) => [f.type, f.code]),
    [['error', 'SB_ERR_FORBIDDEN']],
    `${what}: an error frame and no welcome`,
  );
  assert.deepEqual(attempt.closed, { code: 4501, reason: 'not_allowed' }, what);
}
