/** Field names whose values never reach a log line, at any of the first five levels of a logged object. */
export const SECRET_FIELDS = [
  'password',
  'currentPassword',
  'newPassword',
  'passwordHash',
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'apiKey',
  'secret',
  'clientSecret',
  'signingKey',
  'privateKey',
  'authorization',
  'cookie',
] as const;

export const REDACT_PATHS: string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["proxy-authorization"]',
  'req.headers["x-benteng-signature"]',
  'res.headers["set-cookie"]',
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`, `*.*.*.${field}`, `*.*.*.*.${field}`]),
];

const SECRET_KEYS: ReadonlySet<string> = new Set(SECRET_FIELDS);
/** Levels of a logged object whose keys are checked: 0 (its own keys) to 4, as REDACT_PATHS. */
const CENSORED_LEVELS = 5;
const CENSOR = '[REDACTED]';

/**
 * `value` with every SECRET_FIELDS key at `level` to level 4 replaced by `[REDACTED]`: what
 * REDACT_PATHS' 75 wildcard paths do, in one pass over the object instead of one per path (pino's
 * redaction walked each wildcard path over every value of every line: ≈ 70 µs per request line,
 * docs/benchmarks.md, "security tax"). The object logged is never changed: a branch that holds a
 * secret is copied (copy on write), anything else is returned as it was. Values are walked as
 * JSON.stringify will write them (`toJSON` first, e.g. a Date); binary views are left alone (they
 * hold no keys).
 */
export function censorSecrets(value: unknown, level = 0): unknown {
  if (value === null || typeof value !== 'object' || level >= CENSORED_LEVELS || ArrayBuffer.isView(value)) return value;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    const json: unknown = toJSON.call(value);
    const censored = censorSecrets(json, level);
    return censored === json ? value : censored;
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      const censored = censorSecrets(item, level + 1);
      if (censored !== item) (copy ??= [...value])[index] = censored;
    }
    return copy ?? value;
  }
  let copy: Record<string, unknown> | undefined;
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    const item = object[key];
    const censored = SECRET_KEYS.has(key) && item !== undefined ? CENSOR : censorSecrets(item, level + 1);
    if (censored !== item) (copy ??= { ...object })[key] = censored;
  }
  return copy ?? value;
}
