/**
 * JSON from clients, parsed strictly and cheaply. `JSON.parse` alone accepts two things that hurt
 * later: numbers too large for a double (`1e400` parses as Infinity, which serializes back as
 * `null`: the message would change silently) and nesting deep enough that serializing it again
 * overflows the stack (a 500 instead of a 400). One pass over the text finds both before parsing.
 * @module
 */
import { SwitchboardError } from './errors.js';

/** Deepest nesting of arrays and objects a client document may have (Ruby's JSON default is 100). */
export const MAX_JSON_DEPTH = 128;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/** Whether `code` can continue a JSON number (digits, `.`, `e`, `E`, `+`, `-`). */
function inNumber(code: number): boolean {
  return (
    (code >= ZERO && code <= NINE) ||
    code === 0x2e ||
    code === 0x65 ||
    code === 0x45 ||
    code === 0x2b ||
    code === MINUS
  );
}

/**
 * Finds what `JSON.parse` would accept but Switchboard refuses: nesting deeper than `maxDepth`,
 * or a number a double cannot hold (`1e400` would become Infinity, then `null`; `1e-400` would
 * become 0). Returns the reason, or undefined. Strings are skipped with indexOf and ordinary
 * numbers are not converted, so scanning costs less than parsing.
 */
export function jsonProblem(text: string, maxDepth = MAX_JSON_DEPTH): string | undefined {
  let depth = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      // Jump to the closing quote: one not preceded by an odd number of backslashes.
      let end = i;
      for (;;) {
        end = text.indexOf('"', end + 1);
        if (end === -1) return undefined; // unterminated: JSON.parse reports it
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
      }
      i = end;
    } else if (code === OPEN_ARRAY || code === OPEN_OBJECT) {
      if (++depth > maxDepth) return `it is nested deeper than ${maxDepth} levels`;
    } else if (code === CLOSE_ARRAY || code === CLOSE_OBJECT) {
      depth--;
    } else if (code === MINUS || (code >= ZERO && code <= NINE)) {
      const start = i;
      let expAt = -1;
      let exponent = 0;
      while (i + 1 < length && inNumber(text.charCodeAt(i + 1))) {
        i++;
        const c = text.charCodeAt(i);
        if (c === 0x65 || c === 0x45) expAt = i;
        else if (expAt !== -1 && c >= ZERO && c <= NINE && exponent < 1e6)
          exponent = exponent * 10 + (c - ZERO);
      }
      const mantissa = (expAt === -1 ? i + 1 : expAt) - start;
      // The common numbers need no conversion: a mantissa of at most 40 characters with an
      // exponent within ±250 (or none, with at most 300 characters) is finite and not rounded
      // to zero. Anything else is converted and checked.
      if (mantissa <= 40 ? exponent <= 250 : expAt === -1 && mantissa <= 300) continue;
      const token = text.slice(start, i + 1);
      const value = Number(token);
      if (!Number.isFinite(value)) return `the number ${token.slice(0, 24)} is out of range`;
      // Too small for a double: it would arrive as 0 (or -0) although it is not.
      const digits = expAt === -1 ? token : token.slice(0, expAt - start);
      if (value === 0 && /[1-9]/.test(digits))
        return `the number ${token.slice(0, 24)} is too small (it would be 0)`;
    }
  }
  return undefined;
}

/** Parses client JSON: SB_ERR_BAD_JSON (400) for invalid JSON, too-deep nesting or out-of-range numbers. */
export function parseJson(text: string, what = 'the request body'): unknown {
  const problem = jsonProblem(text);
  if (problem !== undefined) throw new SwitchboardError('SB_ERR_BAD_JSON', `${what} is refused: ${problem}`);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // V8's message quotes only a short context of the input.
    throw new SwitchboardError('SB_ERR_BAD_JSON', `${what} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Bytes of `text` in UTF-8: what a limit in bytes counts (a string's length counts UTF-16 units). */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
