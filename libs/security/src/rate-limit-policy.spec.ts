import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@benteng/config';
import { DEFAULT_RATE_LIMIT_POLICY, PRINCIPAL_CLASSES, SENSITIVITIES, rateLimitPolicy } from './rate-limit-policy.js';

const sut = (RATE_LIMIT_POLICY?: string) => rateLimitPolicy(loadConfig({ NODE_ENV: 'test', ...(RATE_LIMIT_POLICY === undefined ? {} : { RATE_LIMIT_POLICY }) }));

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('rateLimitPolicy', () => {
  it('is the default table when RATE_LIMIT_POLICY is unset', () => {
    expect(sut()).toBe(DEFAULT_RATE_LIMIT_POLICY);
  });

  it('has a limit for every class and sensitivity, all per minute', () => {
    for (const principalClass of PRINCIPAL_CLASSES) {
      for (const sensitivity of SENSITIVITIES) {
        const limit = DEFAULT_RATE_LIMIT_POLICY.classes[principalClass][sensitivity];
        expect(limit.windowS, `${principalClass} ${sensitivity}`).toBe(60);
        expect(limit.points, `${principalClass} ${sensitivity}`).toBeGreaterThan(0);
      }
    }
    expect(DEFAULT_RATE_LIMIT_POLICY.classes.user.read).toEqual({ points: 1200, windowS: 60 });
    expect(DEFAULT_RATE_LIMIT_POLICY.classes['partner:free'].export).toEqual({ points: 5, windowS: 60 });
    expect(DEFAULT_RATE_LIMIT_POLICY.tenant).toEqual({ points: 20_000, windowS: 60 });
  });

  it('merges partial overrides over the defaults', () => {
    const policy = sut(JSON.stringify({ 'partner:free': { search: [10, 30] }, tenant: [50_000, 120] }));
    expect(policy.classes['partner:free'].search).toEqual({ points: 10, windowS: 30 });
    expect(policy.classes['partner:free'].read).toEqual(DEFAULT_RATE_LIMIT_POLICY.classes['partner:free'].read);
    expect(policy.classes.user).toEqual(DEFAULT_RATE_LIMIT_POLICY.classes.user);
    expect(policy.tenant).toEqual({ points: 50_000, windowS: 120 });
  });

  it('leaves the defaults untouched and returns a frozen table', () => {
    const policy = sut(JSON.stringify({ user: { read: [5, 5] } }));
    expect(DEFAULT_RATE_LIMIT_POLICY.classes.user.read).toEqual({ points: 1200, windowS: 60 });
    expect(Object.isFrozen(policy.classes.user)).toBe(true);
    expect(Object.isFrozen(policy.classes.user.read)).toBe(true);
    expect(Object.isFrozen(DEFAULT_RATE_LIMIT_POLICY.classes)).toBe(true);
  });

  it('accepts the bounds', () => {
    const policy = sut(JSON.stringify({ user: { read: [1, 1], write: [10_000_000, 86_400] } }));
    expect(policy.classes.user.read).toEqual({ points: 1, windowS: 1 });
    expect(policy.classes.user.write).toEqual({ points: 10_000_000, windowS: 86_400 });
  });

  it('names an unknown principal class and sensitivity', () => {
    const error = configError(() => sut(JSON.stringify({ robot: { read: [1, 60] }, user: { delete: [1, 60] } })));
    expect(error.problems).toEqual([
      { variable: 'RATE_LIMIT_POLICY', rule: expect.stringContaining('unknown principal class "robot"') },
      { variable: 'RATE_LIMIT_POLICY', rule: expect.stringContaining('"user" has an unknown sensitivity "delete"') },
    ]);
  });

  it('refuses __proto__ as a class instead of touching prototypes', () => {
    const error = configError(() => sut('{"__proto__": {"read": [1, 60]}}'));
    expect(error.problems[0]?.rule).toContain('unknown principal class "__proto__"');
  });

  it.each([
    ['not JSON', '{user: 1}', 'must be valid JSON'],
    ['a JSON array', '[1, 2]', 'must be a JSON object'],
    ['JSON null', 'null', 'must be a JSON object'],
    ['a number', '123456', 'must be a JSON object'],
    ['a class that is not an object', '{"user": [123456, 60]}', '"user" must be an object of sensitivities'],
    ['a limit that is not a pair', '{"user": {"read": {"points": 123456}}}', '"user.read" must be [points, windowSeconds]'],
    ['a limit of three numbers', '{"user": {"read": [123456, 60, 7]}}', '"user.read" must be [points, windowSeconds]'],
    ['zero points', '{"user": {"read": [0, 60]}}', '"user.read" points must be an integer between 1 and 10000000'],
    ['negative points', '{"user": {"read": [-123456, 60]}}', '"user.read" points must be'],
    ['fractional points', '{"user": {"read": [1.5, 60]}}', '"user.read" points must be'],
    ['points as a string', '{"user": {"read": ["123456", 60]}}', '"user.read" points must be'],
    ['too many points', '{"user": {"read": [10000001, 60]}}', '"user.read" points must be'],
    ['a zero window', '{"user": {"read": [123456, 0]}}', '"user.read" window must be an integer between 1 and 86400 seconds'],
    ['a window over a day', '{"user": {"read": [123456, 86401]}}', '"user.read" window must be'],
    ['a fractional window', '{"user": {"read": [123456, 0.5]}}', '"user.read" window must be'],
    ['a bad tenant cap', '{"tenant": [123456]}', '"tenant" must be [points, windowSeconds]'],
    ['a tenant cap of zero', '{"tenant": [0, 60]}', '"tenant" points must be'],
  ])('refuses %s without echoing the value', (_case, value, rule) => {
    const error = configError(() => sut(value));
    expect(error.problems[0]).toEqual({ variable: 'RATE_LIMIT_POLICY', rule: expect.stringContaining(rule) });
    for (const number of value.match(/\d{3,}/g) ?? []) expect(error.message).not.toContain(number);
    expect(error.message).not.toContain(value);
  });

  it('reports every problem at once', () => {
    const error = configError(() => sut(JSON.stringify({ user: { read: [0, 0] }, tenant: 'many' })));
    expect(error.problems.map((p) => p.rule)).toEqual([
      expect.stringContaining('"user.read" points'),
      expect.stringContaining('"user.read" window'),
      expect.stringContaining('"tenant" must be [points, windowSeconds]'),
    ]);
  });

  it('lists the known classes and sensitivities in full when naming an unknown one', () => {
    const error = configError(() => sut(JSON.stringify({ robot: { read: [1, 60] }, user: { delete: [1, 60] } })));
    expect(error.problems.map((p) => p.rule)).toEqual([
      'has an unknown principal class "robot" (known: anonymous, user, partner:free, partner:standard, partner:premium, operator, tenant)',
      '"user" has an unknown sensitivity "delete" (known: auth, write, read, search, export)',
    ]);
  });

  it('quotes a key of up to 40 characters whole, and cuts a longer one at 40 with an ellipsis', () => {
    const forty = 'k'.repeat(40);
    expect(configError(() => sut(JSON.stringify({ [forty]: {} }))).problems[0]?.rule).toContain(`unknown principal class "${forty}" (`);
    const long = `${'k'.repeat(40)}SECRET-TAIL`;
    const rule = configError(() => sut(JSON.stringify({ [long]: {} }))).problems[0]?.rule;
    expect(rule).toContain(`unknown principal class "${'k'.repeat(40)}…" (`);
    expect(rule).not.toContain('SECRET-TAIL');
  });
});
