import { describe, expect, it } from 'vitest';
import { censorSecrets, REDACT_PATHS, SECRET_FIELDS } from './redaction.js';

// censorSecrets replaces REDACT_PATHS' wildcard paths (`field`, `*.field` … `*.*.*.*.field`) with one
// pass: the same keys at the same five levels, the logged object itself never changed.

/** `{ a: { a: … { [field]: value } } }` with the field at `level` (0 = a key of the object itself). */
const nested = (level: number, field: string, value: unknown): Record<string, unknown> => (level === 0 ? { [field]: value } : { a: nested(level - 1, field, value) });

describe('censorSecrets', () => {
  it('censors every secret field at levels 0 to 4, the levels REDACT_PATHS covers, and leaves level 5 to the next check', () => {
    for (const field of SECRET_FIELDS) {
      for (let level = 0; level < 5; level++) {
        expect(REDACT_PATHS).toContain([...Array.from({ length: level }, () => '*'), field].join('.'));
        const sut = censorSecrets(nested(level, field, 'hunter2'));
        expect(JSON.stringify(sut)).not.toContain('hunter2');
        expect(JSON.stringify(sut)).toContain('[REDACTED]');
      }
      expect(JSON.stringify(censorSecrets(nested(5, field, 'hunter2')))).toContain('hunter2');
    }
  });

  it('walks arrays and what toJSON gives, never changes the logged object, and returns an untouched value as it was', () => {
    const logged = { login: { email: 'a@example.com', password: 'hunter2' }, items: [{ token: 't0k' }, 3], at: { toJSON: () => ({ secret: 's3c' }) } };
    const before = JSON.stringify(logged);
    const sut = censorSecrets(logged) as typeof logged;
    expect(JSON.stringify(sut)).toBe(JSON.stringify({ login: { email: 'a@example.com', password: '[REDACTED]' }, items: [{ token: '[REDACTED]' }, 3], at: { secret: '[REDACTED]' } }));
    expect(JSON.stringify(logged)).toBe(before);
    const clean = { user: { id: 'u1', roles: ['admin'] }, n: 1, when: new Date(0) };
    expect(censorSecrets(clean)).toBe(clean);
    const bytes = Buffer.from('password');
    expect(censorSecrets({ bytes })).toEqual({ bytes });
  });

  it('leaves an absent (undefined) secret absent, and is case-sensitive like the paths it replaces', () => {
    expect(censorSecrets({ password: undefined, Password: 'x' })).toEqual({ password: undefined, Password: 'x' });
  });
});
