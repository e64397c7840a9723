import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { OAUTH_ERROR_CODES } from '../../../apps/api/src/partner/oauth-error.filter.js';
import type { OpenApiDoc, Operation, Schema } from '../../support/openapi-document.js';
import { PROBLEM_JSON, type ApiResponse } from '../../support/public-api.js';

/** How a route answers errors: RFC 9457 problem+json, or RFC 6749 5.2 JSON (the token endpoint, oauthErrorRoutes). */
export type ErrorFormat = 'problem' | 'oauth';

/**
 * Invalid input generated from the API's own OpenAPI documents (which are derived from the DTOs'
 * validation rules): valid-shaped values per schema, and the ways a hostile client bends them
 * (wrong types, overlong strings, unknown and prototype-polluting keys, deep nesting, huge arrays,
 * unicode edge cases). Shared by test/security/validation.spec.ts and openapi-fuzz.spec.ts.
 */

export type { OpenApiDoc, Operation, Parameter, Schema } from '../../support/openapi-document.js';

export interface OperationEntry {
  method: string;
  /** As the document writes it: /v1/invoices/{id}. */
  path: string;
  /** As the router writes it: /v1/invoices/:id. */
  routePath: string;
  op: Operation;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

export function operationsOf(doc: OpenApiDoc): OperationEntry[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, op]) => ({ method: method.toUpperCase(), path, routePath: path.replace(/\{([^}]+)\}/g, ':$1'), op })),
  );
}

/** Follows `$ref` (and merges `allOf`) until a concrete schema is left. */
export function resolve(doc: OpenApiDoc, schema: Schema | undefined): Schema {
  if (!schema) return {};
  if (schema.$ref) {
    const name = schema.$ref.replace('#/components/schemas/', '');
    const target = doc.components?.schemas?.[name];
    if (!target) throw new Error(`the OpenAPI document references ${schema.$ref}, which it does not define`);
    const { $ref: _, ...rest } = schema;
    return { ...resolve(doc, target), ...rest };
  }
  if (schema.allOf) return schema.allOf.reduce<Schema>((merged, part) => ({ ...merged, ...resolve(doc, part) }), { ...schema, allOf: undefined });
  return schema;
}

/** The request body an operation declares: its media type and resolved schema. */
export function bodyOf(doc: OpenApiDoc, op: Operation): { contentType: string; schema: Schema } | undefined {
  const content = op.requestBody?.content;
  if (!content) return undefined;
  const contentType = Object.keys(content).includes('application/json') ? 'application/json' : Object.keys(content)[0]!;
  return { contentType, schema: resolve(doc, content[contentType]!.schema) };
}

const typeOf = (schema: Schema): string => schema.type ?? (schema.properties ? 'object' : schema.items ? 'array' : schema.enum ? typeof schema.enum[0] : 'string');

/** Values that pass the schema (as far as a schema can say: server rules beyond it may still refuse them). */
export function validArb(doc: OpenApiDoc, raw: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  const schema = resolve(doc, raw);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const type = typeOf(schema);
  switch (type) {
    case 'object': {
      const props = schema.properties ?? {};
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, prop] of Object.entries(props)) record[name] = depth > 4 ? fc.constant(undefined) : validArb(doc, prop, depth + 1);
      return fc.record(record, { requiredKeys: (schema.required ?? []).filter((k) => k in props) });
    }
    case 'array': {
      const min = schema.minItems ?? 0;
      const max = Math.min(schema.maxItems ?? 3, Math.max(min, 3));
      const item = validArb(doc, schema.items, depth + 1);
      return schema.uniqueItems ? fc.uniqueArray(item, { minLength: min, maxLength: max, selector: (v) => JSON.stringify(v) }) : fc.array(item, { minLength: min, maxLength: max });
    }
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    default:
      return validString(schema);
  }
}

function validString(schema: Schema): fc.Arbitrary<string> {
  if (schema.pattern) {
    const max = schema.maxLength;
    const matching = fc.stringMatching(new RegExp(schema.pattern), { size: 'xsmall' });
    return max === undefined ? matching : matching.filter((s) => s.length <= max && s.length >= (schema.minLength ?? 0));
  }
  switch (schema.format) {
    case 'uuid':
      return fc.uuid({ version: 4 });
    case 'email':
      return fc.emailAddress().filter((e) => e.length <= (schema.maxLength ?? 254));
    case 'date':
      return fc.date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
    case 'date-time':
      return fc.date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true }).map((d) => d.toISOString());
    case 'uri':
      return fc.webUrl();
    default: {
      const min = schema.minLength ?? 0;
      return fc.string({ minLength: min, maxLength: Math.max(min, Math.min(schema.maxLength ?? 40, 40)), unit: 'grapheme' });
    }
  }
}

/** One valid-shaped value, the same for the same seed. */
export function sampleValid(doc: OpenApiDoc, schema: Schema | undefined, seed = 7): unknown {
  return fc.sample(validArb(doc, schema), { seed, numRuns: 1 })[0];
}

/** Strings a text field should never choke on (they are data: accepted and stored, or refused as 400). */
export const UNICODE_EDGES: Record<string, string> = {
  'lone high surrogate': 'a\ud800b',
  'lone low surrogate': 'a\udc00b',
  'RTL override': 'invoice\u202egpj.exe',
  'zero-width characters': 'a\u200b\u200c\u200d\u2060\ufeffb',
  'combining marks': `Z${'\u0301\u0308\u0327'.repeat(60)}`,
  'non-BMP and noncharacters': '\u{1f4a9}\u{10ffff}\ufffe\uffff',
  'C0 and C1 controls': '\u0001\u0008\u001b[31m\u007f\u0085\u009b',
  'line and paragraph separators': 'a\u2028b\u2029c',
};

/** U+0000, which PostgreSQL cannot store: refused at the edge wherever it appears. */
export const NUL = 'a\u0000b';

/**
 * Overlong and invalid UTF-8 byte sequences ('/' as C0 AF, as E0 80 AF, as F0 80 80 AF; a lone
 * continuation byte; a truncated sequence; an encoded surrogate), to be placed inside a JSON
 * string of a raw body.
 */
export const INVALID_UTF8 = Buffer.from([0xc0, 0xaf, 0xe0, 0x80, 0xaf, 0xf0, 0x80, 0x80, 0xaf, 0x80, 0xe2, 0x82, 0xed, 0xa0, 0x80]);

/** A JSON text with `bytes` spliced raw into the string value of `field`. */
export function withRawBytes(body: Record<string, unknown>, field: string, bytes: Buffer): Buffer {
  const marker = `__RAW_${randomUUID()}__`;
  const text = JSON.stringify({ ...body, [field]: marker });
  const [before, after] = text.split(marker) as [string, string];
  return Buffer.concat([Buffer.from(before, 'utf8'), bytes, Buffer.from(after, 'utf8')]);
}

/** An object nested `depth` levels deep under `key`. */
export function deepNest(depth: number, key = 'a'): unknown {
  let value: unknown = { leaf: true };
  for (let i = 0; i < depth; i++) value = { [key]: value };
  return value;
}

/** The same nesting as JSON text built without recursion (JSON.stringify would overflow first at extreme depths). */
export function deepNestText(depth: number, key = 'a'): string {
  return `${`{"${key}":`.repeat(depth)}{}${'}'.repeat(depth)}`;
}

/** Values of every JSON type but the schema's own (a nullable field takes null, so null is left out there). */
export function wrongTypes(doc: OpenApiDoc, raw: Schema): unknown[] {
  const schema = resolve(doc, raw);
  const type = typeOf(schema);
  const all: Record<string, unknown> = { string: 'not-the-right-type', integer: 42, number: 4.2, boolean: true, object: { x: 1 }, array: ['x'] };
  const wrong = Object.entries(all)
    .filter(([t]) => t !== type && !(type === 'number' && t === 'integer'))
    .map(([, v]) => v);
  if (type === 'integer') wrong.push(1.5, '7', 1e300);
  return schema.nullable ? wrong : [...wrong, null];
}

/**
 * Values a nested object, or an array of nested objects, must refuse whatever the schema's other
 * rules say (issue 14: `customer: []` was a 500, `filters: []` was silently dropped): for an object,
 * an empty and a one-element array, text, a number, a boolean and null; for an array of objects, an
 * object with index keys in its place and elements that are arrays, text, numbers or null. Empty
 * for any other schema.
 */
export function structuralWrongs(doc: OpenApiDoc, raw: Schema): unknown[] {
  const schema = resolve(doc, raw);
  const type = typeOf(schema);
  if (type === 'object') return [[], [sampleValid(doc, schema)], 'x', 1, true, null];
  if (type === 'array' && typeOf(resolve(doc, schema.items)) === 'object') {
    const item = sampleValid(doc, schema.items);
    return [{ 0: item }, [[]], [[item]], ['x'], [1], [null], [item, []]];
  }
  return [];
}

/** A cursor made of any JSON text. */
const cursorOfText = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');
const cursorOf = (value: unknown): string => cursorOfText(JSON.stringify(value));

/**
 * Cursors no list ever issued (issue 14: a null value or a date outside PostgreSQL's range was a
 * 500 on every paged route), each to be refused with 400 `pagination.invalid_cursor` by every paged
 * route with its default sort: null values, dates outside the range or not in the API's form,
 * wrong types, missing and extra keys, not an object, huge, not base64url, and the value of another
 * sort field.
 */
export function craftedCursors(): { name: string; cursor: string }[] {
  const id = randomUUID();
  const at = '2026-01-02T03:04:05.678Z';
  const valid = cursorOf({ v: at, id });
  const flipped = valid.slice(0, -1) + (valid.at(-1) === 'A' ? 'B' : 'A');
  return [
    { name: 'a null value', cursor: cursorOf({ v: null, id }) },
    { name: 'a null id', cursor: cursorOf({ v: at, id: null }) },
    { name: 'a date before year 1 (outside PostgreSQL)', cursor: cursorOf({ v: '-010000-01-01T00:00:00.000Z', id }) },
    { name: 'year 0', cursor: cursorOf({ v: '0000-01-01T00:00:00.000Z', id }) },
    { name: 'the largest JavaScript date', cursor: cursorOf({ v: '+275760-09-13T00:00:00.000Z', id }) },
    { name: 'February 30', cursor: cursorOf({ v: '2026-02-30T00:00:00.000Z', id }) },
    { name: 'a leap second', cursor: cursorOf({ v: '2026-12-31T23:59:60.000Z', id }) },
    { name: 'a date without time', cursor: cursorOf({ v: '2026-01-02', id }) },
    { name: 'a date in another offset', cursor: cursorOf({ v: '2026-01-02T03:04:05.678+07:00', id }) },
    { name: 'text where a date belongs (another sort field)', cursor: cursorOf({ v: 'INV-0001', id }) },
    { name: 'U+0000 in the value', cursor: cursorOf({ v: 'a\u0000b', id }) },
    { name: 'a number value', cursor: cursorOf({ v: 1_700_000_000_000, id }) },
    { name: 'a boolean value', cursor: cursorOf({ v: true, id }) },
    { name: 'an object value', cursor: cursorOf({ v: { $gt: at }, id }) },
    { name: 'an array value', cursor: cursorOf({ v: [at], id }) },
    { name: 'an id that is not a uuid', cursor: cursorOf({ v: at, id: "x' OR '1'='1" }) },
    { name: 'a number id', cursor: cursorOf({ v: at, id: 42 }) },
    { name: 'an extra key', cursor: cursorOf({ v: at, id, tenantId: randomUUID() }) },
    { name: 'a __proto__ key', cursor: cursorOfText(`{"v":"${at}","id":"${id}","__proto__":{"polluted":true}}`) },
    { name: 'no value', cursor: cursorOf({ id }) },
    { name: 'no id', cursor: cursorOf({ v: at }) },
    { name: 'an empty object', cursor: cursorOf({}) },
    { name: 'an array', cursor: cursorOf([at, id]) },
    { name: 'JSON null', cursor: cursorOf(null) },
    { name: 'a JSON string', cursor: cursorOf('x') },
    { name: 'a JSON number', cursor: cursorOf(1) },
    { name: 'not JSON', cursor: cursorOfText('{"v":') },
    { name: 'invalid UTF-8', cursor: Buffer.concat([Buffer.from(`{"v":"${at}","id":"${id}","x":"`), INVALID_UTF8, Buffer.from('"}')]).toString('base64url') },
    { name: 'a lone surrogate', cursor: cursorOfText(`{"v":"\\ud800","id":"${id}"}`) },
    { name: 'huge (257 characters)', cursor: 'A'.repeat(257) },
    { name: 'huge (5,000 characters)', cursor: cursorOf({ v: at, id, pad: 'x'.repeat(3_700) }) },
    { name: 'empty', cursor: '' },
    { name: 'not base64url', cursor: 'not a cursor!' },
    { name: 'standard base64 with padding', cursor: Buffer.from(JSON.stringify({ v: at, id })).toString('base64') },
    { name: 'non-canonical base64url (padding bits set)', cursor: flipped },
  ];
}

/** A cursor for the fuzzer: a crafted one, one of any JSON value, or any text. */
export const cursorArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...craftedCursors().map((c) => c.cursor)) },
  { weight: 2, arbitrary: fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map((d) => cursorOf({ v: d.toISOString(), id: randomUUID() })) },
  { weight: 1, arbitrary: fc.record({ v: fc.jsonValue({ maxDepth: 2 }), id: fc.oneof(fc.uuid(), fc.jsonValue({ maxDepth: 1 })) }, { requiredKeys: [] }).map(cursorOf) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }).map(cursorOfText) },
);

/** A string one character longer than the schema allows (or absurdly long where it sets no limit). */
export const overlong = (schema: Schema): string => 'x'.repeat((schema.maxLength ?? 100_000) + 1);

/**
 * Mutations of a valid body, as fast-check arbitraries: each yields a body that the schema does
 * not allow, so the API must refuse it with 400.
 */
export function invalidBodyArb(doc: OpenApiDoc, raw: Schema): fc.Arbitrary<unknown> {
  const schema = resolve(doc, raw);
  const base = validArb(doc, schema);
  if (typeOf(schema) !== 'object') return fc.oneof(...wrongTypes(doc, schema).map((v) => fc.constant(v)));
  const props = Object.entries(schema.properties ?? {});
  const withProp = (name: string, value: fc.Arbitrary<unknown>) => fc.tuple(base, value).map(([b, v]) => ({ ...(b as object), [name]: v }));
  const options: fc.Arbitrary<unknown>[] = [
    // unknown fields, including prototype-polluting and unicode-mangled names (where the body
    // ignores unknown fields, additionalProperties: true, only the prototype key stays invalid)
    fc.tuple(base, schema.additionalProperties === true ? fc.constant('prototype') : fc.constantFrom('tenantId', 'isAdmin', 'prototype', 'polluted', 'id\u200b', 'role\u202e', '__proto__x'), fc.jsonValue({ maxDepth: 2 })).map(([b, k, v]) => ({
      ...(b as object),
      [k]: v,
    })),
    // not an object at all
    fc.constantFrom<unknown>([], [{}], 'text', 0, true, null),
  ];
  for (const [name, prop] of props) {
    const resolved = resolve(doc, prop);
    options.push(withProp(name, fc.constantFrom(...wrongTypes(doc, resolved))));
    const structural = structuralWrongs(doc, resolved);
    if (structural.length > 0) options.push(withProp(name, fc.constantFrom(...structural)));
    if (typeOf(resolved) === 'string' && !resolved.enum) options.push(withProp(name, fc.constant(overlong(resolved))));
    if (resolved.enum) options.push(withProp(name, fc.constantFrom(`${String(resolved.enum[0])}\u200b`, String(resolved.enum[0]).toUpperCase() + 'X', '')));
    if (typeOf(resolved) === 'array') options.push(withProp(name, fc.constant(Array.from({ length: (resolved.maxItems ?? 10_000) + 1 }, () => sampleValid(doc, resolved.items)))));
    if (typeOf(resolved) === 'object') options.push(withProp(name, fc.constant(deepNest(40))));
  }
  return fc.oneof(...options);
}

/** What an error body must never contain: stack frames, SQL, ORM names, file paths. */
export const LEAKS: { name: string; pattern: RegExp }[] = [
  { name: 'a stack frame', pattern: /\bat .*\(?[^\s()]+:\d+:\d+\)?/ },
  { name: 'a file path', pattern: /(?:\/(?:work|home|usr|app|src|dist|opt)\/[\w./-]+|[A-Za-z]:\\\\[\w\\.-]+|\.(?:ts|js|mjs):\d+)/ },
  { name: 'node_modules', pattern: /node_modules/i },
  { name: 'Prisma', pattern: /prisma/i },
  { name: 'SQL', pattern: /\b(?:SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|syntax error at or near|violates (?:foreign key|unique|check|not-null) constraint|relation "\w+")/i },
  { name: 'an internal error name', pattern: /\b(?:TypeError|ReferenceError|RangeError|SyntaxError|ValidationError|QueryFailedError|ECONNREFUSED)\b/ },
];

/**
 * Everything wrong with an answer: a 5xx; a 4xx/5xx that is not problem+json with the same (or,
 * for format 'oauth', RFC 6749 JSON with a known `error`) status; an error body that leaks internals. Empty when the answer is acceptable.
 */
export function answerViolations(res: ApiResponse, format: ErrorFormat = 'problem'): string[] {
  const violations: string[] = [];
  if (res.status >= 500) violations.push(`answered ${res.status}`);
  if (res.status >= 400 && format === 'oauth') {
    // The token endpoint (routes marked @OAuthErrors): RFC 6749 5.2 JSON with a known `error` code.
    const contentType = String(res.headers['content-type'] ?? '');
    if (!/^application\/json\s*(;|$)/i.test(contentType)) violations.push(`error with content-type ${contentType || '(none)'}, not application/json (RFC 6749 5.2)`);
    const error = (res.body as { error?: unknown } | undefined)?.error;
    if (typeof error !== 'string' || !(OAUTH_ERROR_CODES as readonly string[]).includes(error)) violations.push(`OAuth error ${String(error)} is not an RFC 6749 code`);
    for (const leak of LEAKS) if (leak.pattern.test(res.text)) violations.push(`error body contains ${leak.name}`);
  } else if (res.status >= 400) {
    const contentType = String(res.headers['content-type'] ?? '');
    if (!PROBLEM_JSON.test(contentType)) violations.push(`error with content-type ${contentType || '(none)'}, not application/problem+json`);
    const status = (res.body as { status?: unknown } | undefined)?.status;
    if (status !== res.status) violations.push(`problem status ${String(status)} differs from HTTP ${res.status}`);
    for (const leak of LEAKS) if (leak.pattern.test(res.text)) violations.push(`error body contains ${leak.name}`);
  }
  return violations;
}

/** The seed of a fuzz run: FUZZ_SEED when set (to replay a failure), else a constant. */
export function fuzzSeed(fallback = 20_230_611): number {
  const raw = process.env.FUZZ_SEED;
  if (raw === undefined || raw === '') return fallback;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error('FUZZ_SEED must be an integer');
  return seed;
}
