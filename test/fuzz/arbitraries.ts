/**
 * What the fuzz tests throw at the parsers: valid LPIO bodies and WebSocket frames, the same
 * mutated (fields dropped, retyped, duplicated, renamed, replaced by random values), JSON texts
 * with edge-case numbers and nesting near the depth limit, and text-level damage (truncation,
 * inserted and deleted characters). Shared by the codec tests and the server test.
 */
import fc from 'fast-check';
import { ERROR_CODES } from '../../src/core/errors.js';

/** Every property's bounds: a fixed number of runs and a time budget, whichever comes first. */
export function budget<T = unknown>(numRuns: number, ms: number): fc.Parameters<T> {
  return { numRuns, interruptAfterTimeLimit: ms, markInterruptAsFailure: false };
}

/** Whether `code` is one of ours and not the one that means "we broke". */
export function isKnownClientCode(code: unknown): boolean {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) && code !== 'SB_ERR_INTERNAL';
}

// ------------------------------------------------------------------ edge cases

/** Number texts at and past a double's edges, and long digit runs. */
export const numberText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '0',
    '-0',
    '1e400',
    '-1e999',
    '1E+308',
    '1e308',
    '1e309',
    '1.7976931348623157e308',
    '1.7976931348623159e308',
    '-1.7976931348623159e308',
    '1e-400',
    '5e-324',
    '2147483647',
    '2147483648',
    '-1',
    '9007199254740993',
    '1.5',
    '0.1e1',
  ),
  fc.integer({ min: 1, max: 420 }).map((n) => '9'.repeat(n)),
  fc.integer({ min: 1, max: 420 }).map((n) => `-1${'0'.repeat(n)}`),
  fc.integer({ min: 1, max: 420 }).map((n) => `0.${'0'.repeat(n)}1`),
  fc
    .tuple(fc.integer({ min: -2000, max: 2000 }), fc.constantFrom('e', 'E', 'e+', 'E-'))
    .map(([exp, e]) => `1${e}${Math.abs(exp)}`),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
);

/**
 * Whether a JSON text (valid, as JSON.parse sees it) has a number literal that is not zero but
 * that a double rounds to 0 (`1e-400`, `0.000…1` past 324 places): refused, since it would
 * arrive as 0. Read with regular expressions (strings removed, then number tokens), independently
 * of the scanner under test, which walks the text by hand.
 */
export function underflows(text: string): boolean {
  const outsideStrings = text.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  for (const [token] of outsideStrings.matchAll(/-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/g)) {
    const mantissa = token.split(/[eE]/)[0] as string;
    if (Number(token) === 0 && /[1-9]/.test(mantissa)) return true;
  }
  return false;
}

/** The characters JSON's structure is made of: what a scanner must not mistake inside strings. */
const JSON_PUNCTUATION = ['"', '\\', '[', ']', '{', '}', ',', ':'] as const;

/** JSON string literals full of what a scanner could trip on: quotes, backslashes, brackets. */
export const trickyStringText: fc.Arbitrary<string> = fc.oneof(
  fc
    .string({
      unit: fc.constantFrom(...JSON_PUNCTUATION, 'a', ' ', '\u2028', 'é', '😀', '\n', '/'),
      maxLength: 20,
    })
    .map((s) => JSON.stringify(s)),
  fc.constantFrom('"\\\\"', '"\\""', '"\\\\\\""', '"\\u0022"', '"\\u005c"', '"\\/"', '"[{"', '"]}"', '""'),
);

/** Values a field should never have, or only just may. */
export const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, '', 0, -1, 1.5, true, false, [], {}, 2_147_483_647, 2_147_483_648, '1', '0', 'x'),
  fc.constantFrom('/', '/chat', '/meta/subscribe', '/meta/unsubscribe', '/meta/x', '/a/**', '/a/*', '//'),
  fc.integer({ min: 120, max: 140 }).map((n) => 'i'.repeat(n)),
  fc.double(),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.jsonValue({ maxDepth: 2 }),
);

// ------------------------------------------------------------------ mutations

export type MutationOp = 'drop' | 'replace' | 'retype' | 'duplicate' | 'rename' | 'wrap';

export interface Mutation {
  /** Which node (modulo the number of nodes, in walk order). */
  readonly at: number;
  readonly op: MutationOp;
  readonly value: unknown;
  readonly key: string;
}

const FIELD_NAMES = [
  'id',
  'type',
  'data',
  'channel',
  'recipient',
  'urgent',
  'reliable',
  'messages',
  'client',
  'seq',
  'describe',
  'session',
  'last',
  'upTo',
  '__proto__',
  'constructor',
  'toString',
] as const;

export const fieldName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...FIELD_NAMES),
  fc.string({ maxLength: 6 }),
);

export function mutation(value: fc.Arbitrary<unknown> = oddValue): fc.Arbitrary<Mutation> {
  return fc.record({
    at: fc.nat(),
    op: fc.constantFrom<MutationOp>('drop', 'replace', 'retype', 'duplicate', 'rename', 'wrap'),
    value,
    key: fieldName,
  });
}

type Container = Record<string, unknown> | unknown[];
type Path = ReadonlyArray<string | number>;

const isContainer = (value: unknown): value is Container =>
  typeof value === 'object' && value !== null && (Array.isArray(value) || isPlain(value));

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Sets an own property, as JSON.parse does (assigning `__proto__` would set the prototype instead). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A copy of the plain arrays and objects in `value` (anything else is shared, never changed). */
function clone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clone);
  if (isContainer(value)) {
    const copy: Record<string, unknown> = {};
    const source = value as Record<string, unknown>;
    for (const key of Object.keys(source)) setOwn(copy, key, clone(source[key]));
    return copy;
  }
  return value;
}

function paths(value: unknown, path: Path = [], out: Path[] = []): Path[] {
  out.push(path);
  if (Array.isArray(value)) value.forEach((item, i) => paths(item, [...path, i], out));
  else if (isContainer(value)) {
    const object = value as Record<string, unknown>;
    for (const key of Object.keys(object)) paths(object[key], [...path, key], out);
  }
  return out;
}

function get(root: unknown, path: Path): unknown {
  let node = root;
  for (const step of path) node = (node as Record<string | number, unknown>)[step];
  return node;
}

function retype(node: unknown): unknown {
  switch (typeof node) {
    case 'string':
      return node === '' ? 0 : Number.isNaN(Number(node)) ? [node] : Number(node);
    case 'number':
      return String(node);
    case 'boolean':
      return node ? 1 : 'false';
    default:
      if (node === null) return 0;
      if (Array.isArray(node)) return { ...node };
      if (isContainer(node)) return Object.values(node);
      // Anything else (undefined, a BigInt, a Map from fc.anything): the name of its type.
      return typeof node;
  }
}

/** Applies one mutation to a copy of `root`. */
export function mutate(root: unknown, m: Mutation): unknown {
  const copy = clone(root);
  const all = paths(copy);
  const path = all[m.at % all.length] as Path;
  const node = get(copy, path);
  if (path.length === 0) {
    switch (m.op) {
      case 'drop':
        return {};
      case 'replace':
        return m.value;
      case 'retype':
        return retype(node);
      case 'duplicate':
        return [node, clone(node)];
      case 'rename':
      case 'wrap': {
        const wrapper: Record<string, unknown> = {};
        setOwn(wrapper, m.key, node);
        return m.op === 'wrap' && m.at % 2 === 0 ? [node] : wrapper;
      }
    }
  }
  const parent = get(copy, path.slice(0, -1)) as Container;
  const key = path[path.length - 1] as string | number;
  const set = (value: unknown) => {
    if (Array.isArray(parent)) parent[key as number] = value;
    else setOwn(parent, key as string, value);
  };
  switch (m.op) {
    case 'drop':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      break;
    case 'replace':
      set(m.value);
      break;
    case 'retype':
      set(retype(node));
      break;
    case 'duplicate':
      if (Array.isArray(parent)) parent.splice(key as number, 0, clone(node));
      else setOwn(parent, m.key, clone(node));
      break;
    case 'rename':
      if (Array.isArray(parent)) {
        parent.splice(key as number, 1);
        parent.push(node);
      } else {
        delete parent[key as string];
        setOwn(parent, m.key, node);
      }
      break;
    case 'wrap': {
      const wrapper: Record<string, unknown> = {};
      setOwn(wrapper, m.key, node);
      set(m.at % 2 === 0 ? [node] : wrapper);
      break;
    }
  }
  return copy;
}

/** `base`, then up to `max` mutations applied in turn. */
export function mutated(
  base: fc.Arbitrary<unknown>,
  max = 4,
  value: fc.Arbitrary<unknown> = oddValue,
): fc.Arbitrary<unknown> {
  return fc
    .tuple(base, fc.array(mutation(value), { maxLength: max }))
    .map(([start, ms]) => ms.reduce<unknown>((v, m) => mutate(v, m), start));
}

// ------------------------------------------------------------------ text damage

export type TextOp =
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly text: string }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'repeat'; readonly at: number; readonly length: number }
  | { readonly kind: 'number'; readonly text: string };

export const textOp: fc.Arbitrary<TextOp> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.constantFrom(...JSON_PUNCTUATION, '-', 'e', '0', ' ', '\u0000', '\uFFFD', '\uD800'),
      fc.string({ unit: 'binary', maxLength: 4 }),
      numberText,
    ),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant('number' as const), text: numberText }),
);

/** Applies one text operation. `number` replaces the first number in the text (if any) by another. */
export function damage(text: string, op: TextOp): string {
  const at = (n: number) => (text.length === 0 ? 0 : n % (text.length + 1));
  switch (op.kind) {
    case 'truncate':
      return text.slice(0, at(op.at));
    case 'insert':
      return text.slice(0, at(op.at)) + op.text + text.slice(at(op.at));
    case 'delete':
      return text.slice(0, at(op.at)) + text.slice(at(op.at) + op.length);
    case 'repeat': {
      const start = at(op.at);
      return text.slice(0, start + op.length) + text.slice(start);
    }
    case 'number':
      return text.replace(/-?\d+(\.\d+)?([eE][+-]?\d+)?/, op.text);
  }
}

export function damaged(base: fc.Arbitrary<string>, max = 3): fc.Arbitrary<string> {
  return fc
    .tuple(base, fc.array(textOp, { minLength: 1, maxLength: max }))
    .map(([text, ops]) => ops.reduce(damage, text));
}

/** `inner` wrapped in `depth` arrays or objects (`{"a":…}`), near the depth limit and far past it. */
export const nesting: fc.Arbitrary<{
  readonly depth: number;
  readonly open: string;
  readonly close: string;
}> = fc
  .tuple(
    fc.oneof(fc.integer({ min: 120, max: 136 }), fc.integer({ min: 0, max: 5_000 })),
    fc.constantFrom('array', 'object', 'mixed'),
  )
  .map(([depth, kind]) => {
    let open = '';
    let close = '';
    for (let i = 0; i < depth; i++) {
      const array = kind === 'array' || (kind === 'mixed' && i % 2 === 0);
      open += array ? '[' : '{"a":';
      close = (array ? ']' : '}') + close;
    }
    return { depth, open, close };
  });

// ------------------------------------------------------------------ LPIO

const serverIdText = fc.integer({ min: 0, max: 2 ** 32 }).map(String);

export const messageId: fc.Arbitrary<string> = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }),
  serverIdText,
  fc.constantFrom('client', '01', '2147483647', '2147483648', '9999999999', '-1', '1e3'),
  fc.integer({ min: 126, max: 130 }).map((n) => 'm'.repeat(n)),
);

export const channel: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '/chat/room',
    '/chat/*',
    '/chat/**',
    '/meta/subscribe',
    '/meta/unsubscribe',
    '/meta/x',
    '/',
    '',
  ),
  fc.string({ maxLength: 20 }),
  fc.string({ maxLength: 20 }).map((s) => `/${s}`),
);

const patterns = fc.oneof(
  fc.constantFrom('/chat/*', '/chat/**', '/a/b', '//', '/meta/x', '*', ''),
  fc.array(fc.constantFrom('/chat/*', '/x/**', '/bad path', '/y'), { maxLength: 4 }),
);

const flags = { urgent: fc.boolean(), reliable: fc.boolean() };

export const lpioDataMessage = fc.record(
  {
    type: fc.constant('data'),
    id: messageId,
    channel,
    data: fc.jsonValue({ maxDepth: 3 }),
    ...flags,
  },
  { requiredKeys: ['type', 'id', 'data'] },
);

const lpioSubscribe = fc.record(
  {
    type: fc.constant('data'),
    id: messageId,
    channel: fc.constantFrom('/meta/subscribe', '/meta/unsubscribe'),
    data: patterns,
  },
  { requiredKeys: ['type', 'id', 'channel', 'data'] },
);

const lpioSeedMessage = fc.record(
  { type: fc.constant('data'), id: messageId, recipient: channel, data: fc.jsonValue({ maxDepth: 2 }) },
  { requiredKeys: ['type', 'id', 'data'] },
);

const lpioAck = fc.record({ type: fc.constant('ack'), id: fc.oneof(serverIdText, messageId) });

const lpioOption = fc.record(
  { type: fc.constant('option'), id: messageId, data: fc.jsonValue({ maxDepth: 1 }), ...flags },
  { requiredKeys: ['type', 'id'] },
);

export const clientId: fc.Arbitrary<string> = fc.oneof(
  fc.uuid(),
  fc.string({
    unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength: 130,
  }),
  fc.constantFrom('alice', 'static-1', ''),
);

const seq = fc.oneof(
  fc.tuple(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), fc.nat()).map(([i, n]) => `${i}.${n}`),
  fc.string({ maxLength: 10 }),
  fc.nat(),
);

/** A request body as a well-behaved LPIO client (of either spec version) could send it. */
export const lpioBody = fc.record(
  {
    messages: fc.array(fc.oneof(lpioDataMessage, lpioSubscribe, lpioSeedMessage, lpioAck, lpioOption), {
      maxLength: 6,
    }),
    client: clientId,
    seq,
    describe: fc.boolean(),
  },
  { requiredKeys: ['messages'] },
);

// ------------------------------------------------------------------ WebSocket frames

export const wsHello = fc.record(
  {
    type: fc.constant('hello'),
    session: fc.oneof(clientId, fc.string({ unit: 'binary', maxLength: 8 })),
    last: fc.oneof(fc.nat(), fc.integer({ min: -5, max: 2 ** 32 })),
  },
  { requiredKeys: ['type'] },
);

export const wsData = fc.record(
  { type: fc.constant('data'), id: messageId, channel, data: fc.jsonValue({ maxDepth: 3 }), ...flags },
  { requiredKeys: ['type', 'id', 'data'] },
);

const wsSubscribe = fc.record({
  type: fc.constant('data'),
  id: messageId,
  channel: fc.constantFrom('/meta/subscribe', '/meta/unsubscribe'),
  data: patterns,
});

export const wsAck = fc.record({
  type: fc.constant('ack'),
  upTo: fc.oneof(fc.nat(), fc.integer({ min: -5, max: 2 ** 32 }), fc.double()),
});

export const wsPing = fc.constant({ type: 'ping' });

const wsMessage = fc.oneof(wsData, wsSubscribe, wsAck, wsPing);

/** A frame after the hello: one message or an array of them. */
export const wsFrame = fc.oneof(wsMessage, fc.array(wsMessage, { maxLength: 6 }));

/** Frames as text: random strings, random JSON, mutated and damaged valid frames, deep and huge. */
export function frames(valid: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  const json = mutated(valid, 4).map((v) => JSON.stringify(v) ?? 'undefined');
  return fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.json(),
    fc.jsonValue({ stringUnit: 'binary' }).map((v) => JSON.stringify(v)),
    json,
    json,
    damaged(json),
    // A valid frame with its data (or the whole frame) nested deep.
    fc.tuple(json, nesting).map(([text, n]) => text.replace(/"data":/, `"data":${n.open}1${n.close},"x":`)),
    nesting.map((n) => `${n.open}{"type":"ping"}${n.close}`),
    // Around the default of 1,000 messages a frame.
    fc
      .tuple(fc.integer({ min: 995, max: 1_005 }), fc.constantFrom('0', '{}', '{"type":"ping"}'))
      .map(([n, item]) => `[${Array.from({ length: n }, () => item).join(',')}]`),
    // A number where a number goes, at and past a double's edges.
    fc
      .tuple(numberText, fc.constantFrom('upTo', 'last', 'data', 'id'))
      .map(
        ([n, field]) =>
          `{"type":"${field === 'last' ? 'hello' : field === 'upTo' ? 'ack' : 'data'}","id":"i","${field}":${n}}`,
      ),
  );
}
