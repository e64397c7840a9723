import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '@benteng/config';
import { JobSigner, parseEnvelope } from './job-signer.js';
import { verdictOf } from '../../../test/support/job-verdicts.js';

// The corners of the envelope shape that job-signer.spec.ts does not reach: a kind that is neither
// tenant nor platform, values JSON can carry but of the wrong type (a list where a string belongs),
// keys an object only inherits (JSON.stringify drops them on the way to Redis), and a job without
// any data. Each is `malformed`, never a TypeError: a TypeError is an ordinary failure, which BullMQ
// retries, where a refusal fails the job for good.

const sut = new JobSigner(loadConfig({ ...process.env, JOB_SIGNING_KEYS: `s_1:${Buffer.alloc(32, 9).toString('base64url')}` }));

const platformEnvelope = (fields: Record<string, unknown> = {}) => ({ v: 1, kind: 'platform', name: 'platform.cleanup', requestId: randomUUID(), issuedAt: '2026-12-07T09:00:00.000Z', data: {}, ...fields });
const tenantEnvelope = (fields: Record<string, unknown> = {}) =>
  platformEnvelope({ kind: 'tenant', name: 'exports.run', tenantId: randomUUID(), actor: { kind: 'user', userId: randomUUID() }, data: { n: 1 }, ...fields });

/** The reason `run` is refused with, or 'accepted'; an error that is not a refusal fails the test. */
const verdict = (run: () => unknown): string => verdictOf(run);

describe('job envelope shape: kinds, types and own keys', () => {
  it('accepts only the two kinds: another kind with exactly the platform fields is malformed', () => {
    expect(verdict(() => parseEnvelope(platformEnvelope()))).toBe('accepted');
    for (const kind of ['operator', 'system', 'Platform', '', null]) expect(verdict(() => parseEnvelope(platformEnvelope({ kind })))).toBe('malformed');
  });

  it('refuses a partner actor whose scopes hold a list instead of a string, however short', () => {
    const partner = (scopes: unknown[]) => tenantEnvelope({ actor: { kind: 'partner', clientId: randomUUID(), scopes } });
    expect(verdict(() => parseEnvelope(partner(['invoices:read'])))).toBe('accepted');
    expect(verdict(() => parseEnvelope(partner([['invoices:read']])))).toBe('malformed');
    expect(verdict(() => parseEnvelope(partner(['invoices:read', []])))).toBe('malformed');
    expect(verdict(() => parseEnvelope(partner([{ length: 1 }])))).toBe('malformed');
  });

  it('refuses identifiers given as a one-element list (their text would be a UUID)', () => {
    const id = randomUUID();
    expect(verdict(() => parseEnvelope(tenantEnvelope({ tenantId: [id] })))).toBe('malformed');
    expect(verdict(() => parseEnvelope(tenantEnvelope({ actor: { kind: 'user', userId: [id] } })))).toBe('malformed');
    expect(verdict(() => parseEnvelope(tenantEnvelope({ actor: { kind: 'user', userId: id, sessionId: [id] } })))).toBe('malformed');
    expect(verdict(() => parseEnvelope(tenantEnvelope({ actor: { kind: 'partner', clientId: [id] } })))).toBe('malformed');
    expect(verdict(() => parseEnvelope(tenantEnvelope({ actor: { kind: 'partner', clientId: id, keyId: [id] } })))).toBe('malformed');
  });

  it('will not sign an envelope whose data is inherited rather than its own (JSON would drop it, and the worker would refuse the job later)', () => {
    const own = platformEnvelope({ data: { n: 1 } });
    expect(verdict(() => sut.sign(own as never))).toBe('accepted');
    const { data, ...rest } = own;
    const inherited = Object.assign(Object.create({ data }) as Record<string, unknown>, rest);
    expect(inherited.data).toEqual({ n: 1 });
    expect(verdict(() => sut.sign(inherited as never))).toBe('malformed');
    // The same holds for the signed job: a sig the object only inherits is no sig.
    const signed = sut.sign(own as never);
    const withInheritedSig = Object.assign(Object.create({ sig: signed.sig }) as Record<string, unknown>, { envelope: signed.envelope, kid: signed.kid });
    expect(verdict(() => sut.verify(withInheritedSig))).toBe('malformed');
    expect(verdict(() => sut.verify({ ...signed }))).toBe('accepted');
  });

  it('refuses a job without data (undefined) as malformed, on both verify paths', async () => {
    expect(verdict(() => sut.verify(undefined))).toBe('malformed');
    await expect(sut.verifyCurrent(undefined)).rejects.toThrow(expect.objectContaining({ name: 'JobRejection', reason: 'malformed' }));
    // and an envelope or actor that is undefined
    expect(verdict(() => parseEnvelope(undefined))).toBe('malformed');
    expect(verdict(() => parseEnvelope(tenantEnvelope({ actor: undefined })))).toBe('malformed');
  });
});
