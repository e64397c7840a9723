/**
 * Request schemas state the bounds validation already enforces, so clients and linters (the OWASP
 * API4 rules, test/e2e/openapi-lint.spec.ts) can see them: a UUID (ParseUUIDPipe, @IsUUID) is 36
 * characters, a string held to an anchored pattern (@Matches) is no longer than the longest match,
 * an integer with @Min/@Max fits int32 or int64. Nothing here loosens or adds a rule; a request field
 * left unbounded by its DTO stays unbounded in the document, and the lint test names it.
 */
type Schema = Record<string, unknown>;

const UUID_LENGTH = 36;
const INT32 = 2 ** 31;

/**
 * The longest string an anchored pattern (`^…$`, no top-level alternation) can match, or undefined
 * when it is unanchored or unbounded (`*`, `+`, `{n,}`). Covers the syntax DTO patterns use:
 * literals, escapes, classes, groups (capturing, `(?:`), alternation and quantifiers.
 */
export function patternMaxLength(pattern: string): number | undefined {
  if (!pattern.startsWith('^') || !pattern.endsWith('$') || pattern.endsWith('\\$')) return undefined;
  let at = 1;
  const end = pattern.length - 1;
  let topLevelAlternation = false;

  const quantified = (length: number): number => {
    const char = pattern[at];
    let result = length;
    if (char === '?') at += 1;
    else if (char === '*' || char === '+') {
      at += 1;
      result = length === 0 ? 0 : Infinity;
    } else if (char === '{') {
      const match = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(at));
      if (!match) return length;
      at += match[0].length;
      const max = match[2] === undefined ? Number(match[1]) : match[3] === '' ? Infinity : Number(match[3]);
      result = length === 0 ? 0 : length * max;
    } else return length;
    if (pattern[at] === '?') at += 1; // lazy
    return result;
  };
  const atom = (): number => {
    const char = pattern[at]!;
    if (char === '(') {
      at += 1;
      let lookaround = false;
      if (pattern[at] === '?') {
        lookaround = pattern[at + 1] !== ':';
        at += 2;
      }
      const length = alternatives(false);
      at += 1; // ')'
      return lookaround ? 0 : length;
    }
    if (char === '[') {
      at += pattern[at + 1] === ']' ? 2 : 1;
      while (at < end && pattern[at] !== ']') at += pattern[at] === '\\' ? 2 : 1;
      at += 1;
      return 1;
    }
    if (char === '\\') {
      const next = pattern[at + 1]!;
      at += next === 'x' ? 4 : next === 'u' ? 6 : 2;
      return /[1-9]/.test(next) ? Infinity : /[bB]/.test(next) ? 0 : 1;
    }
    at += 1;
    return char === '^' || char === '$' ? 0 : 1;
  };
  const sequence = (): number => {
    let length = 0;
    while (at < end && pattern[at] !== '|' && pattern[at] !== ')') length += quantified(atom());
    return length;
  };
  const alternatives = (top: boolean): number => {
    let longest = sequence();
    while (pattern[at] === '|') {
      if (top) topLevelAlternation = true;
      at += 1;
      longest = Math.max(longest, sequence());
    }
    return longest;
  };

  const length = alternatives(true);
  if (at !== end || topLevelAlternation || !Number.isFinite(length)) return undefined;
  return length;
}

/** Adds the bounds a request schema's own rules imply to it and everything it contains (in place). */
export function boundRequestSchema(schema: unknown): void {
  if (Array.isArray(schema)) return schema.forEach(boundRequestSchema);
  if (!schema || typeof schema !== 'object') return;
  const node = schema as Schema;
  if (node['type'] === 'string' && node['maxLength'] === undefined && node['enum'] === undefined) {
    const fromPattern = typeof node['pattern'] === 'string' ? patternMaxLength(node['pattern']) : undefined;
    if (node['format'] === 'uuid') node['maxLength'] = UUID_LENGTH;
    else if (fromPattern !== undefined) node['maxLength'] = fromPattern;
  }
  if (node['type'] === 'integer' && node['format'] === undefined && typeof node['minimum'] === 'number' && typeof node['maximum'] === 'number') {
    node['format'] = node['minimum'] >= -INT32 && node['maximum'] < INT32 ? 'int32' : 'int64';
  }
  for (const value of Object.values(node)) boundRequestSchema(value);
}

/**
 * What class-validator-jsonschema writes that OpenAPI 3.0 readers reject or misread, rewritten to
 * say the same (in place): `nullable` or `type` beside a `$ref` (siblings of a $ref are ignored),
 * and @IsDateString's `oneOf: [date, date-time]` (overlapping alternatives) where an anchored
 * @Matches pattern already fixes which of the two it is.
 */
export function normalizeDtoSchema(schema: unknown): void {
  if (Array.isArray(schema)) return schema.forEach(normalizeDtoSchema);
  if (!schema || typeof schema !== 'object') return;
  const node = schema as Schema;
  if (typeof node['$ref'] === 'string' && Object.keys(node).length > 1) {
    const target = node['$ref'];
    const nullable = node['nullable'] === true;
    for (const key of Object.keys(node)) delete node[key];
    if (nullable) Object.assign(node, { type: 'object', nullable: true, allOf: [{ $ref: target }] });
    else node['$ref'] = target;
    return;
  }
  const alternatives = node['oneOf'] as Schema[] | undefined;
  if (typeof node['pattern'] === 'string' && alternatives?.every((a) => a['type'] === 'string' && (a['format'] === 'date' || a['format'] === 'date-time'))) {
    delete node['oneOf'];
    node['format'] = patternMaxLength(node['pattern']) === 10 ? 'date' : 'date-time';
  }
  for (const value of Object.values(node)) normalizeDtoSchema(value);
}
