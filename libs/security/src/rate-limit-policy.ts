import { ConfigError, type AppConfig } from '@benteng/config';

/**
 * Who is calling, as far as rate limits care. Partners are split by plan so a free client cannot
 * spend a premium client's budget; operators have their own row because their tools are few and
 * known, not because they are trusted more.
 */
export const PRINCIPAL_CLASSES = ['anonymous', 'user', 'partner:free', 'partner:standard', 'partner:premium', 'operator'] as const;
export type PrincipalClass = (typeof PRINCIPAL_CLASSES)[number];

/**
 * How costly or dangerous a route is. `auth` guards credential checks (guessing), `search` and
 * `export` are expensive and leak the most per call, so they get the smallest budgets.
 */
export const SENSITIVITIES = ['auth', 'write', 'read', 'search', 'export'] as const;
export type Sensitivity = (typeof SENSITIVITIES)[number];

export interface Limit {
  readonly points: number;
  readonly windowS: number;
}

export interface RateLimitPolicy {
  readonly classes: Readonly<Record<PrincipalClass, Readonly<Record<Sensitivity, Limit>>>>;
  /** Aggregate over every principal of one tenant and every sensitivity. */
  readonly tenant: Limit;
}

/** Largest accepted `points`: beyond it a limit is no limit, and a typo of a few zeros is likelier. */
const MAX_POINTS = 10_000_000;
/** Longest accepted window: a day, like every other block in Benteng. */
const MAX_WINDOW_S = 86_400;
const VARIABLE = 'RATE_LIMIT_POLICY';

const perMinute = (auth: number, write: number, read: number, search: number, export_: number): Record<Sensitivity, Limit> => ({
  auth: { points: auth, windowS: 60 },
  write: { points: write, windowS: 60 },
  read: { points: read, windowS: 60 },
  search: { points: search, windowS: 60 },
  export: { points: export_, windowS: 60 },
});

export const DEFAULT_RATE_LIMIT_POLICY: RateLimitPolicy = deepFreeze({
  classes: {
    anonymous: perMinute(30, 60, 300, 60, 10),
    user: perMinute(60, 600, 1200, 120, 20),
    'partner:free': perMinute(30, 60, 300, 30, 5),
    'partner:standard': perMinute(60, 300, 1200, 120, 20),
    'partner:premium': perMinute(120, 1500, 6000, 600, 100),
    operator: perMinute(60, 300, 1200, 300, 50),
  },
  tenant: { points: 20_000, windowS: 60 },
});

/**
 * The effective policy: DEFAULT_RATE_LIMIT_POLICY with the overrides of RATE_LIMIT_POLICY, e.g.
 * `{"partner:free": {"search": [10, 60]}, "tenant": [50000, 60]}`. Anything the format does not
 * describe is refused at start, naming the offending key (keys are not secrets) but never a value:
 * a bad limit must stop the process, not silently fall back to a default nobody chose.
 */
export function rateLimitPolicy(config: AppConfig): RateLimitPolicy {
  if (config.RATE_LIMIT_POLICY === undefined) return DEFAULT_RATE_LIMIT_POLICY;

  let parsed: unknown;
  try {
    parsed = JSON.parse(config.RATE_LIMIT_POLICY);
  } catch {
    // The SyntaxError's message quotes the input, so it is not passed on.
    throw policyError(['must be valid JSON']);
  }
  if (!isPlainObject(parsed)) throw policyError(['must be a JSON object']);

  const problems: string[] = [];
  const classes = Object.fromEntries(
    PRINCIPAL_CLASSES.map((name) => [name, { ...DEFAULT_RATE_LIMIT_POLICY.classes[name] }]),
  ) as Record<PrincipalClass, Record<Sensitivity, Limit>>;
  let tenant = DEFAULT_RATE_LIMIT_POLICY.tenant;

  for (const [key, value] of Object.entries(parsed)) {
    if (key === 'tenant') {
      const limit = parseLimit('tenant', value, problems);
      if (limit) tenant = limit;
      continue;
    }
    if (!isOneOf(PRINCIPAL_CLASSES, key)) {
      problems.push(`has an unknown principal class ${quoteKey(key)} (known: ${PRINCIPAL_CLASSES.join(', ')}, tenant)`);
      continue;
    }
    if (!isPlainObject(value)) {
      problems.push(`${quoteKey(key)} must be an object of sensitivities`);
      continue;
    }
    for (const [sensitivity, cell] of Object.entries(value)) {
      if (!isOneOf(SENSITIVITIES, sensitivity)) {
        problems.push(`${quoteKey(key)} has an unknown sensitivity ${quoteKey(sensitivity)} (known: ${SENSITIVITIES.join(', ')})`);
        continue;
      }
      const limit = parseLimit(`${key}.${sensitivity}`, cell, problems);
      if (limit) classes[key][sensitivity] = limit;
    }
  }

  if (problems.length > 0) throw policyError(problems);
  return deepFreeze({ classes, tenant });
}

/** One `[points, windowS]` pair; problems are pushed, never thrown, so all of them are reported at once. */
function parseLimit(path: string, value: unknown, problems: string[]): Limit | undefined {
  if (!Array.isArray(value) || value.length !== 2) {
    problems.push(`${quoteKey(path)} must be [points, windowSeconds]`);
    return undefined;
  }
  const [points, windowS] = value as unknown[];
  let valid = true;
  if (!isIntegerIn(points, 1, MAX_POINTS)) {
    problems.push(`${quoteKey(path)} points must be an integer between 1 and ${MAX_POINTS}`);
    valid = false;
  }
  if (!isIntegerIn(windowS, 1, MAX_WINDOW_S)) {
    problems.push(`${quoteKey(path)} window must be an integer between 1 and ${MAX_WINDOW_S} seconds`);
    valid = false;
  }
  return valid ? { points: points as number, windowS: windowS as number } : undefined;
}

function policyError(rules: string[]): ConfigError {
  return new ConfigError(rules.map((rule) => ({ variable: VARIABLE, rule })));
}

/** A key as it appears in an error: quoted, and cut short so a pasted blob does not fill the log. */
function quoteKey(key: string): string {
  return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isOneOf<T extends string>(values: readonly T[], key: string): key is T {
  return (values as readonly string[]).includes(key);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
