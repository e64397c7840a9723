import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '@benteng/config';
import { JobSigner, parseEnvelope } from './job-signer.js';
import { tag } from '../../../test/security/support/controls.js';
import { verdictOf } from '../../../test/support/job-verdicts.js';

// The shape check of every envelope the worker verifies, class by class: whatever is not exactly a
// documented envelope is `malformed` before any key is looked up (test/integration/job-envelope.spec.ts
// covers signing, tampering and key rotation).

const tenantEnvelope = (fields: Record<string, unknown> = {}) => ({
  v: 1,
  kind: 'tenant',
  name: 'exports.run',
  tenantId: randomUUID(),
  actor: { kind: 'user', userId: randomUUID(), sessionId: randomUUID() },
  requestId: randomUUID(),
  issuedAt: '2026-12-07T09:00:00.000Z',
  data: { n: 1 },
  ...fields,
});
/** A copy of `value` without `key`. */
const without = (value: Record<string, unknown>, key: string) => Object.fromEntries(Object.entries(value).filter(([k]) => k !== key));
const platformEnvelope = (fields: Record<string, unknown> = {}) => ({ v: 1, kind: 'platform', name: 'platform.cleanup', requestId: 'req-1', issuedAt: '2026-12-07T09:00:00.000Z', data: {}, ...fields });

const verdict = (value: unknown): string => verdictOf(() => parseEnvelope(value));

describe(tag('JOB-ENVELOPE', 'envelope shape'), () => {
  it('accepts each documented envelope and actor, returning it unchanged', () => {
    const accepted = [
      tenantEnvelope(),
      tenantEnvelope({ actor: { kind: 'user', userId: randomUUID() } }),
      tenantEnvelope({ actor: { kind: 'partner', clientId: randomUUID() } }),
      tenantEnvelope({ actor: { kind: 'partner', clientId: randomUUID(), scopes: ['invoices:read', 's'.repeat(64)], keyId: randomUUID() } }),
      tenantEnvelope({ actor: { kind: 'partner', clientId: randomUUID(), scopes: [] } }),
      tenantEnvelope({ actor: { kind: 'system', name: 'cleanup' } }),
      tenantEnvelope({ actor: { kind: 'system', name: `a${'-'.repeat(31)}` } }),
      tenantEnvelope({ name: 'a' }),
      tenantEnvelope({ name: `a${'b'.repeat(99)}` }),
      tenantEnvelope({ name: 'web_hooks.deliver-now.v2' }),
      tenantEnvelope({ requestId: 'A'.repeat(100) }),
      tenantEnvelope({ requestId: 'req.1:x_y-z' }),
      tenantEnvelope({ tenantId: randomUUID().toUpperCase() }),
      platformEnvelope(),
    ];
    for (const envelope of accepted) expect(parseEnvelope(envelope)).toBe(envelope);
  });

  it.each([
    ['not an object', 'envelope'],
    ['null', null],
    ['an array', [tenantEnvelope()]],
    ['version 2', tenantEnvelope({ v: 2 })],
    ['version "1"', tenantEnvelope({ v: '1' })],
    ['no kind', tenantEnvelope({ kind: undefined })],
    ['a platform envelope with a tenant', platformEnvelope({ tenantId: randomUUID() })],
    ['a tenant envelope without actor', without(tenantEnvelope(), 'actor')],
    ['a tenant envelope without tenant', without(tenantEnvelope(), 'tenantId')],
    ['an envelope without data', without(platformEnvelope(), 'data')],
    ['a name that is not a string', tenantEnvelope({ name: 1 })],
    ['a name of 101 characters', tenantEnvelope({ name: `a${'b'.repeat(100)}` })],
    ['a name starting with a digit', tenantEnvelope({ name: '1exports' })],
    ['a name with upper case', tenantEnvelope({ name: 'Exports.run' })],
    ['a name with a trailing dot', tenantEnvelope({ name: 'exports.' })],
    ['a name with a suffix after a space', tenantEnvelope({ name: 'exports.run x' })],
    ['a name with a prefix', tenantEnvelope({ name: ' exports.run' })],
    ['a request id that is not a string', tenantEnvelope({ requestId: 1 })],
    ['an empty request id', tenantEnvelope({ requestId: '' })],
    ['a request id of 101 characters', tenantEnvelope({ requestId: 'A'.repeat(101) })],
    ['a request id with a space', tenantEnvelope({ requestId: 'req 1' })],
    ['a request id with a slash at the end', tenantEnvelope({ requestId: 'req1/' })],
    ['a request id with a slash at the start', tenantEnvelope({ requestId: '/req1' })],
    ['an issuedAt that is not a string', tenantEnvelope({ issuedAt: Date.now() })],
    ['data JSON cannot carry', tenantEnvelope({ data: { at: new Date() } })],
    ['a tenant id that is not a string', tenantEnvelope({ tenantId: 1 })],
    ['a tenant id with a prefix', tenantEnvelope({ tenantId: `x${randomUUID()}` })],
    ['a tenant id with a suffix', tenantEnvelope({ tenantId: `${randomUUID()}x` })],
    ['an actor that is not an object', tenantEnvelope({ actor: 'user' })],
    ['a user actor with a non-string id', tenantEnvelope({ actor: { kind: 'user', userId: 1 } })],
    ['a user actor whose id is no UUID', tenantEnvelope({ actor: { kind: 'user', userId: 'me' } })],
    ['a user actor with a non-string session', tenantEnvelope({ actor: { kind: 'user', userId: randomUUID(), sessionId: 1 } })],
    ['a user actor whose session is no UUID', tenantEnvelope({ actor: { kind: 'user', userId: randomUUID(), sessionId: 's' } })],
    ['a user actor with scopes', tenantEnvelope({ actor: { kind: 'user', userId: randomUUID(), scopes: [] } })],
    ['a partner actor without client', tenantEnvelope({ actor: { kind: 'partner' } })],
    ['a partner actor with a non-string client', tenantEnvelope({ actor: { kind: 'partner', clientId: 1 } })],
    ['a partner actor whose client is no UUID', tenantEnvelope({ actor: { kind: 'partner', clientId: 'c' } })],
    ['a partner actor with scopes that are not a list', tenantEnvelope({ actor: { kind: 'partner', clientId: randomUUID(), scopes: 'invoices:read' } })],
    ['a partner actor with a non-string scope', tenantEnvelope({ actor: { kind: 'partner', clientId: randomUUID(), scopes: [1] } })],
    ['a partner actor with a scope of 65 characters', tenantEnvelope({ actor: { kind: 'partner', clientId: randomUUID(), scopes: ['s'.repeat(65)] } })],
    ['a partner actor with a non-string key', tenantEnvelope({ actor: { kind: 'partner', clientId: randomUUID(), keyId: 1 } })],
    ['a partner actor whose key is no UUID', tenantEnvelope({ actor: { kind: 'partner', clientId: randomUUID(), keyId: 'k' } })],
    ['a partner actor with a role', tenantEnvelope({ actor: { kind: 'partner', clientId: randomUUID(), role: 'owner' } })],
    ['a system actor with a non-string name', tenantEnvelope({ actor: { kind: 'system', name: 1 } })],
    ['a system actor with an upper-case name', tenantEnvelope({ actor: { kind: 'system', name: 'Cleanup' } })],
    ['a system actor name of 33 characters', tenantEnvelope({ actor: { kind: 'system', name: `a${'-'.repeat(32)}` } })],
    ['a system actor name with a prefix', tenantEnvelope({ actor: { kind: 'system', name: '-cleanup' } })],
    ['a system actor name with a suffix', tenantEnvelope({ actor: { kind: 'system', name: 'cleanup1' } })],
    ['a system actor with a user id', tenantEnvelope({ actor: { kind: 'system', name: 'cleanup', userId: randomUUID() } })],
  ])('refuses %s as malformed', (_case, value) => {
    expect(verdict(value)).toBe('malformed');
  });
});

describe(tag('JOB-ENVELOPE', 'signed job shape'), () => {
  const sut = new JobSigner(loadConfig({ ...process.env, JOB_SIGNING_KEYS: `k_1:${Buffer.alloc(32, 7).toString('base64url')}` }));
  const signed = () => sut.sign(platformEnvelope() as never);

  it('signs with the active kid and a 43-character base64url HMAC, and verifies it', () => {
    const job = signed();
    expect(job.kid).toBe('k_1');
    expect(job.sig).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sut.verify(job)).toEqual(platformEnvelope());
  });

  it.each([
    ['a kid with a prefix', (j: ReturnType<typeof signed>) => ({ ...j, kid: `!${j.kid}` })],
    ['a kid with a suffix', (j: ReturnType<typeof signed>) => ({ ...j, kid: `${j.kid}!` })],
    ['an empty kid', (j: ReturnType<typeof signed>) => ({ ...j, kid: '' })],
    ['a kid of 33 characters', (j: ReturnType<typeof signed>) => ({ ...j, kid: 'k'.repeat(33) })],
    ['a non-string sig', (j: ReturnType<typeof signed>) => ({ ...j, sig: 1 })],
    ['a sig with a prefix', (j: ReturnType<typeof signed>) => ({ ...j, sig: `=${j.sig}` })],
    ['a sig with a suffix', (j: ReturnType<typeof signed>) => ({ ...j, sig: `${j.sig}=` })],
    ['no kid', (j: ReturnType<typeof signed>) => without({ ...j }, 'kid')],
    ['an array', (j: ReturnType<typeof signed>) => [j]],
  ])('refuses %s as malformed', (_case, change) => {
    expect(() => sut.verify(change(signed()))).toThrow(expect.objectContaining({ reason: 'malformed' }));
  });

  it('warns when its key is ephemeral (no JOB_SIGNING_KEYS, no pepper), and only then', () => {
    const warnings: unknown[] = [];
    const logger = { warn: (...line: unknown[]) => warnings.push(line) };
    new JobSigner(loadConfig({ ...process.env, JOB_SIGNING_KEYS: undefined, AUTH_TOKEN_PEPPER: undefined }), logger as never);
    expect(warnings).toEqual([[{ variable: 'JOB_SIGNING_KEYS' }, "job signing key is ephemeral: other processes cannot verify this process's jobs"]]);
    new JobSigner(loadConfig({ ...process.env, JOB_SIGNING_KEYS: `k_1:${Buffer.alloc(32, 7).toString('base64url')}` }), logger as never);
    expect(warnings).toHaveLength(1);
  });
});
