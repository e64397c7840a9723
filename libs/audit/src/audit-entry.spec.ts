import { describe, expect, it } from 'vitest';
import { auditActor, MAX_AUDIT_TEXT, normalizeEntry as sut } from './audit-entry.js';
import type { AuditEntry } from './audit.types.js';

const entry = (fields: Partial<AuditEntry> = {}): AuditEntry => ({ type: 'auth.login', outcome: 'success', actor: 'anonymous', ...fields });

describe('audit entry normalisation', () => {
  it('stores absent optional fields as null and data as an object', () => {
    expect(sut(entry())).toEqual({ type: 'auth.login', outcome: 'success', actor: 'anonymous', subject: null, requestId: null, ip: null, data: {} });
  });

  it.each(['password', 'newPassword', 'refreshToken', 'clientSecret', 'apiKey', 'passwordHash', 'TOKEN'])('refuses the data key %s', (key) => {
    expect(() => sut(entry({ data: { [key]: 'x' } }))).toThrow(/never carry secrets/);
  });

  it('names the key but never the value in its error', () => {
    const error = (() => {
      try {
        sut(entry({ data: { token: 'eyJ-very-secret' } }));
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toContain('"token"');
    expect(error?.message).not.toContain('eyJ-very-secret');
  });

  it('caps strings at 200 code points without splitting a surrogate pair', () => {
    const normalized = sut(entry({ subject: 'x'.repeat(500), data: { agent: '😀'.repeat(300), short: 'ok' } }));
    expect(normalized.subject).toHaveLength(MAX_AUDIT_TEXT);
    expect(Array.from(normalized.data.agent as string)).toHaveLength(MAX_AUDIT_TEXT);
    expect((normalized.data.agent as string).isWellFormed()).toBe(true);
    expect(normalized.data.short).toBe('ok');
  });

  it('makes hostile text storable: no NUL, no lone surrogate', () => {
    const normalized = sut(entry({ ip: '1.2.3.4\u0000', data: { agent: 'a\uD800b' } }));
    expect(normalized.ip).toBe('1.2.3.4\uFFFD');
    expect(normalized.data.agent).toBe('a\uFFFDb');
  });

  it('refuses values that are not flat, finite JSON scalars, and unknown types or outcomes', () => {
    expect(() => sut(entry({ data: { nested: { a: 1 } as never } }))).toThrow(/must hold/);
    expect(() => sut(entry({ data: { n: Number.NaN } }))).toThrow(/must hold/);
    expect(() => sut(entry({ data: { u: undefined as never } }))).toThrow(/must hold/);
    expect(() => sut(entry({ type: 'auth.made_up' as never }))).toThrow(/unknown type/);
    expect(() => sut(entry({ outcome: 'maybe' as never }))).toThrow(/unknown outcome/);
    expect(() => sut(entry({ actor: '' }))).toThrow(/actor/);
  });

  it('spells actors one way', () => {
    expect(auditActor(undefined)).toBe('anonymous');
    expect(auditActor({ kind: 'system', name: 'auth' })).toBe('system:auth');
    expect(auditActor({ kind: 'user', userId: '0193b7a0-0000-7000-8000-0000000000a1', role: 'admin' })).toBe('user:0193b7a0-0000-7000-8000-0000000000a1');
  });
});
