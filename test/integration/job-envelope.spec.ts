import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '@benteng/common';
import { loadConfig } from '@benteng/config';
import { JobRejection, JobSigner, type SignedEnvelope, type TenantJobEnvelope } from '@benteng/jobs';
import { tag } from '../security/support/controls.js';
import { verdictOf } from '../support/job-verdicts.js';

const secret = () => randomBytes(24).toString('base64url');
const signerWith = (keys?: string) => new JobSigner(loadConfig({ ...process.env, ...(keys ? { JOB_SIGNING_KEYS: keys } : {}) }));

const envelope = (fields: Partial<TenantJobEnvelope> = {}): TenantJobEnvelope => ({
  v: 1,
  kind: 'tenant',
  name: 'exports.run',
  tenantId: randomUUID(),
  actor: { kind: 'user', userId: randomUUID(), sessionId: randomUUID() },
  requestId: randomUUID(),
  issuedAt: new Date().toISOString(),
  data: { exportId: randomUUID(), format: 'csv', filters: { status: ['issued', 'paid'] } },
  ...fields,
});

/** The reason a verify() refuses with (or 'accepted'). */
const verdict = (sut: JobSigner, signed: unknown): string => verdictOf(() => sut.verify(signed));

/** A deep copy as Redis gives it back (BullMQ stores job data as JSON). */
const viaRedis = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

describe(tag('JOB-ENVELOPE', 'job envelope signing'), () => {
  const sut = signerWith();

  it('round-trips: what is signed verifies after a trip through JSON, unchanged', () => {
    const original = envelope();
    const signed = sut.sign(original);
    expect(signed.sig).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sut.verify(viaRedis(signed))).toEqual(original);
  });

  it('signs the canonical form: key order does not matter, content does', () => {
    const original = envelope();
    const signed = sut.sign(original);
    const reordered = viaRedis(signed);
    reordered.envelope = JSON.parse(canonicalize(reordered.envelope as never)) as SignedEnvelope['envelope'];
    const reversed = Object.fromEntries(Object.entries(reordered.envelope).reverse()) as unknown as SignedEnvelope['envelope'];
    expect(verdict(sut, { ...reordered, envelope: reversed })).toBe('accepted');
  });

  it.each([
    ['tenantId', (e: TenantJobEnvelope) => ({ ...e, tenantId: randomUUID() })],
    ['data', (e: TenantJobEnvelope) => ({ ...e, data: { ...(e.data as object), exportId: randomUUID() } })],
    ['nested data', (e: TenantJobEnvelope) => ({ ...e, data: { ...(e.data as object), filters: { status: ['draft'] } } })],
    ['actor (another user)', (e: TenantJobEnvelope) => ({ ...e, actor: { kind: 'user' as const, userId: randomUUID() } })],
    ['actor (session dropped)', (e: TenantJobEnvelope) => ({ ...e, actor: { kind: 'user' as const, userId: (e.actor as { userId: string }).userId } })],
    ['actor (made a system principal)', (e: TenantJobEnvelope) => ({ ...e, actor: { kind: 'system' as const, name: 'cleanup' as const } })],
    ['requestId', (e: TenantJobEnvelope) => ({ ...e, requestId: randomUUID() })],
    ['issuedAt', (e: TenantJobEnvelope) => ({ ...e, issuedAt: new Date(0).toISOString() })],
    ['name', (e: TenantJobEnvelope) => ({ ...e, name: 'webhooks.deliver' })],
  ])('refuses an envelope whose %s was changed after signing', (_field, tamper) => {
    const signed = viaRedis(sut.sign(envelope()));
    expect(verdict(sut, { ...signed, envelope: tamper(signed.envelope as TenantJobEnvelope) })).toBe('bad_signature');
  });

  it('refuses a signature made with another key under the same kid (wrong key)', () => {
    const kid = 'k1';
    const ours = signerWith(`${kid}:${secret()}`);
    const theirs = signerWith(`${kid}:${secret()}`);
    expect(verdict(ours, theirs.sign(envelope()))).toBe('bad_signature');
    // and a signature from the derived development key is not one of ours either
    expect(verdict(ours, { ...sut.sign(envelope()), kid })).toBe('bad_signature');
  });

  it('refuses an unknown kid', () => {
    const signed = sut.sign(envelope());
    expect(verdict(sut, { ...signed, kid: 'nobody' })).toBe('unknown_key');
  });

  it.each([
    ['not an object', 'a string'],
    ['null', null],
    ['an envelope without signature', { envelope: envelope() }],
    ['an extra top-level key', { ...signerWith().sign(envelope()), extra: 1 }],
    ['a non-string kid', { envelope: envelope(), kid: 1, sig: 'x'.repeat(43) }],
    ['a sig of the wrong length', { envelope: envelope(), kid: 'derived', sig: 'abc' }],
  ])('refuses %s as malformed', (_case, value) => {
    expect(verdict(sut, value)).toBe('malformed');
  });

  it.each([
    ['version 2', { v: 2 }],
    ['an unknown kind', { kind: 'operator' }],
    ['a tenant id that is not a UUID', { tenantId: 'acme' }],
    ['an actor without id', { actor: { kind: 'user' } }],
    ['an actor of an unknown kind', { actor: { kind: 'root', userId: randomUUID() } }],
    ['an actor carrying a role', { actor: { kind: 'user', userId: randomUUID(), role: 'owner' } }],
    ['a job name with spaces', { name: 'exports run' }],
    ['an unparsable issuedAt', { issuedAt: 'yesterday' }],
    ['a request id with a newline', { requestId: 'abc\ndef' }],
    ['an extra envelope key', { role: 'owner' }],
  ])('refuses an envelope with %s as malformed, even when "signed"', (_case, change) => {
    // Signed by hand over the bad envelope, so only its shape can refuse it.
    const bad = { ...envelope(), ...change };
    const { sig } = sut.sign(envelope());
    expect(verdict(sut, { envelope: bad, kid: 'derived', sig })).toBe('malformed');
  });

  it('will not sign data JSON cannot carry (a producer bug fails at enqueue)', () => {
    expect(() => sut.sign(envelope({ data: { when: new Date() } }))).toThrow(JobRejection);
    expect(() => sut.sign(envelope({ data: { missing: undefined } }))).toThrow(JobRejection);
    expect(() => sut.sign(envelope({ data: { n: Number.NaN } }))).toThrow(JobRejection);
  });

  it('signs platform envelopes too, and keeps the two kinds apart', () => {
    const platform = { v: 1 as const, kind: 'platform' as const, name: 'platform.cleanup', requestId: randomUUID(), issuedAt: new Date().toISOString(), data: {} };
    const signed = viaRedis(sut.sign(platform));
    expect(sut.verify(signed)).toEqual(platform);
    // Turning a platform envelope into a tenant one changes what was signed.
    const promoted = { ...signed, envelope: { ...signed.envelope, kind: 'tenant', tenantId: randomUUID(), actor: { kind: 'system', name: 'cleanup' } } };
    expect(verdict(sut, promoted)).toBe('bad_signature');
  });

  describe('key rotation', () => {
    const old = { kid: 'k2026a', secret: secret() };
    const next = { kid: 'k2026b', secret: secret() };
    const before = signerWith(`${old.kid}:${old.secret}`);
    const during = signerWith(`${next.kid}:${next.secret},${old.kid}:${old.secret}`);
    const after = signerWith(`${next.kid}:${next.secret}`);

    it('signs with the first key and still verifies jobs signed with an older key in the keyring', () => {
      const queuedBefore = before.sign(envelope());
      const queuedDuring = during.sign(envelope());
      expect(queuedBefore.kid).toBe(old.kid);
      expect(queuedDuring.kid).toBe(next.kid);
      expect(verdict(during, queuedBefore)).toBe('accepted');
      expect(verdict(during, queuedDuring)).toBe('accepted');
      expect(verdict(after, queuedDuring)).toBe('accepted');
    });

    it('refuses a job signed with a key that has since been removed', () => {
      expect(verdict(after, before.sign(envelope()))).toBe('unknown_key');
    });
  });
});
