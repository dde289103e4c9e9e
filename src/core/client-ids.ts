/**
 * Ids clients choose for themselves (LPIO's static ids, seed 000): the session id is the only
 * secret protecting a session, so an anonymous client's chosen id must be as hard to guess as one
 * the server would assign (128 random bits). It must look like what a random generator makes: a
 * UUID, 16+ random bytes in hex or base64url. Names, e-mail addresses, URLs, numbers and patterns
 * are refused.
 * @module
 */

/** Shortest chosen id accepted: 22 base64url characters are 132 bits, 32 hex digits 128. */
export const MIN_CLIENT_ID_LENGTH = 22;
/** The alphabets of random tokens: base64url (which covers hex) and the dashes of a UUID. */
const TOKEN = /^[A-Za-z0-9_-]+$/;
/** Bits the id's own character statistics must suggest (a UUID v4 scores about 130). */
const MIN_ESTIMATED_BITS = 64;

/**
 * Whether a client-chosen id looks random enough to serve as a secret: at least 22 characters of
 * the base64url alphabet (no `.`, `@`, `/` or spaces: nothing a person's name, mail or URL has),
 * at least 8 distinct ones, no run of more than 7 equal or 8 ascending characters (`abcdefghij`),
 * and an entropy estimate (length × Shannon entropy of its characters) of at least 64 bits. A
 * heuristic: it cannot prove randomness, it refuses what people type. The run limits are loose
 * enough that a random hex id trips them less than once in a million.
 */
export function isStrongClientId(id: string): boolean {
  if (id.length < MIN_CLIENT_ID_LENGTH || !TOKEN.test(id)) return false;
  const counts = new Map<number, number>();
  let run = 1;
  let ascending = 1;
  for (let i = 0; i < id.length; i++) {
    const code = id.charCodeAt(i);
    counts.set(code, (counts.get(code) ?? 0) + 1);
    if (i === 0) continue;
    const previous = id.charCodeAt(i - 1);
    run = code === previous ? run + 1 : 1;
    ascending = code === previous + 1 ? ascending + 1 : 1;
    if (run > 7 || ascending > 8) return false;
  }
  if (counts.size < 8) return false;
  let entropy = 0;
  for (const n of counts.values()) {
    const p = n / id.length;
    entropy -= p * Math.log2(p);
  }
  return entropy * id.length >= MIN_ESTIMATED_BITS;
}
