import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { PROBLEM_JSON, type ApiResponse } from '../../support/public-api.js';

/**
 * Invalid input generated from the API's own OpenAPI documents (which are derived from the DTOs'
 * validation rules): valid-shaped values per schema, and the ways a hostile client bends them
 * (wrong types, overlong strings, unknown and prototype-polluting keys, deep nesting, huge arrays,
 * unicode edge cases). Shared by test/security/validation.spec.ts and openapi-fuzz.spec.ts.
 */

/** The subset of OpenAPI 3 schema objects the documents use. */
export interface Schema {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  nullable?: boolean;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  additionalProperties?: boolean | Schema;
}

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
}

export interface Operation {
  operationId?: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  security?: Record<string, string[]>[];
}

export interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

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
    // unknown fields, including prototype-polluting and unicode-mangled names
    fc.tuple(base, fc.constantFrom('tenantId', 'isAdmin', 'prototype', 'polluted', 'id\u200b', 'role\u202e', '__proto__x'), fc.jsonValue({ maxDepth: 2 })).map(([b, k, v]) => ({
      ...(b as object),
      [k]: v,
    })),
    // not an object at all
    fc.constantFrom<unknown>([], [{}], 'text', 0, true, null),
  ];
  for (const [name, prop] of props) {
    const resolved = resolve(doc, prop);
    options.push(withProp(name, fc.constantFrom(...wrongTypes(doc, resolved))));
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
 * Everything wrong with an answer: a 5xx; a 4xx/5xx that is not problem+json with the same
 * status; an error body that leaks internals. Empty when the answer is acceptable.
 */
export function answerViolations(res: ApiResponse): string[] {
  const violations: string[] = [];
  if (res.status >= 500) violations.push(`answered ${res.status}`);
  if (res.status >= 400) {
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
