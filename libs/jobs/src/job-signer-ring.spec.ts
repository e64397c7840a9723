import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { kidDate, keyRingRootKeys, loadConfig } from '@benteng/config';
import { sealKeyMaterial, type KeyRingRepository, type KeyRingRow, type KeyState } from '@benteng/database';
import { jobEnvelopeKeyOverlapS } from './job-queue.js';
import { JobSigner } from './job-signer.js';
import { tag } from '../../../test/security/support/controls.js';
import { settledVerdictOf } from '../../../test/support/job-verdicts.js';

// JobSigner with the key ring's job-envelope family (docs/operations.md, "Key rotation"), against a
// ring held in memory: who signs, what verifies, what a revocation refuses (the compiled processes:
// test/e2e/job-envelope-ring.spec.ts).

const config = loadConfig({ NODE_ENV: 'test', KEY_RING_ROOT_KEYS: `rt:${randomBytes(32).toString('base64')}`, JOB_SIGNING_KEYS: `env1:${randomBytes(32).toString('base64url')}`, KEY_RING_REFRESH_S: '3600' });
const root = keyRingRootKeys(config)!;

/** A ring in memory, in the repository's shape; `reads` counts the loads. */
class MemoryRing {
  rows: KeyRingRow[] = [];
  reads = 0;
  add(kid: string, state: KeyState): void {
    const sealed = sealKeyMaterial(root, 'job-envelope', kid, Buffer.from(randomBytes(32).toString('base64url'), 'utf8'));
    this.rows.push({ kid, state, rootKid: sealed.rootKid, material: sealed.material, createdAt: new Date(), activatedAt: null, retiredAt: null, verifyUntil: null, revokedAt: null });
  }
  set(kid: string, state: KeyState, verifyUntil: Date | null = null): void {
    const row = this.rows.find((r) => r.kid === kid)!;
    row.state = state;
    row.verifyUntil = verifyUntil;
  }
  async entries(): Promise<KeyRingRow[]> {
    this.reads++;
    return this.rows.map((r) => ({ ...r }));
  }
}

const envelope = () => ({ v: 1 as const, kind: 'platform' as const, name: 'platform.cleanup', requestId: randomUUID(), issuedAt: new Date().toISOString(), data: {} });
const reason = (signer: JobSigner, signed: unknown): Promise<string> => settledVerdictOf(() => signer.verifyCurrent(signed), 'verified');
async function signerOn(ring: MemoryRing): Promise<JobSigner> {
  const signer = new JobSigner(config, undefined, ring as unknown as KeyRingRepository);
  await signer.onModuleInit();
  signer.onModuleDestroy();
  return signer;
}

describe('JobSigner with the key ring', () => {
  it(tag('SECRETS-LIFECYCLE', 'JOB_SIGNING_KEYS signs until the ring has an active key, then the ring signs and the environment key still verifies'), async () => {
    const ring = new MemoryRing();
    ring.add('n1', 'next');
    const signer = await signerOn(ring);
    const byEnv = signer.sign(envelope());
    expect(byEnv.kid).toBe('env1');
    ring.set('n1', 'active');
    await signer.reload();
    const byRing = signer.sign(envelope());
    expect(byRing.kid).toBe('n1');
    expect([await reason(signer, byEnv), await reason(signer, byRing)]).toEqual(['verified', 'verified']);
  });

  it(tag('SECRETS-LIFECYCLE', 'a key promoted by another process is loaded on its first job (unknown kid), a retired key verifies until verify_until'), async () => {
    const ring = new MemoryRing();
    ring.add('a1', 'active');
    const signer = await signerOn(ring);
    // Another process (the CLI) adds and promotes a key this one has not loaded yet.
    ring.add('a2', 'active');
    ring.set('a1', 'retired', new Date(Date.now() + 60_000));
    const other = await signerOn(ring);
    const fromOther = other.sign(envelope());
    expect(fromOther.kid).toBe('a2');
    const reads = ring.reads;
    expect(await reason(signer, fromOther)).toBe('verified');
    expect(ring.reads).toBe(reads + 1);
    const fromOld = (await signerOn(Object.assign(new MemoryRing(), { rows: ring.rows.map((r) => (r.kid === 'a1' ? { ...r, state: 'active' as const } : { ...r, state: 'next' as const })) }))).sign(envelope());
    expect(await reason(other, fromOld)).toBe('verified');
    ring.set('a1', 'retired', new Date(Date.now() - 1));
    await other.reload();
    expect(await reason(other, fromOld)).toBe('unknown_key');
  });

  it(tag('SECRETS-LIFECYCLE', 'an unknown kid seen while an older reload is still reading the ring waits for that reload, then reads the ring again'), async () => {
    const ring = new MemoryRing();
    ring.add('b1', 'active');
    const signer = await signerOn(ring);
    // A reload starts and is held while it reads: what it read does not hold the key promoted below.
    const entries = ring.entries.bind(ring);
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    ring.entries = async () => {
      const rows = await entries();
      await held;
      return rows;
    };
    const stale = signer.reload();
    ring.entries = entries;
    ring.add('b2', 'active');
    ring.set('b1', 'retired', new Date(Date.now() + 60_000));
    const fromOther = (await signerOn(ring)).sign(envelope());
    expect(fromOther.kid).toBe('b2');
    // The held read outlasts the one-a-second wait, so it is still running when the kid is judged.
    setTimeout(release, 1_300);
    expect(await reason(signer, fromOther)).toBe('verified');
    await stale;
  });

  it(tag('SECRETS-LIFECYCLE', 'a revoked kid verifies nothing, even when JOB_SIGNING_KEYS holds it too; the signer moves to the next key'), async () => {
    const ring = new MemoryRing();
    ring.add('x1', 'active');
    ring.add('x2', 'next');
    const signer = await signerOn(ring);
    const exposed = signer.sign(envelope());
    const changes: string[] = [];
    signer.onActiveKeyChange((kid) => changes.push(kid));
    ring.set('x1', 'revoked');
    ring.set('x2', 'active');
    await signer.reload();
    expect(await reason(signer, exposed)).toBe('revoked_key');
    expect(signer.sign(envelope()).kid).toBe('x2');
    expect(changes).toEqual(['x2']);
    // The same kid configured in the environment as well: still refused.
    const envRing = new MemoryRing();
    envRing.add('env1', 'revoked');
    const withEnvKid = await signerOn(envRing);
    const envSigned = new JobSigner(config).sign(envelope());
    expect(await reason(withEnvKid, envSigned)).toBe('revoked_key');
  });

  it('the retired key bound and the kid dates of the key-age metric', () => {
    expect(jobEnvelopeKeyOverlapS({ KEY_RING_REFRESH_S: 60, WEBHOOK_RETRY_SCHEDULE_S: '0,5,300,36000' })).toBe(60 + 36_000 + 127 + 604_800 + 60);
    expect(kidDate('k20261107-a1b2c3')).toEqual(new Date('2026-11-07T00:00:00Z'));
    expect(kidDate('r20261207-0a1b2c3d')).toEqual(new Date('2026-12-07T00:00:00Z'));
    for (const kid of ['k1', 'derived', 'k20261332-abcdef', 'x20261107-abc']) expect(kidDate(kid)).toBeUndefined();
  });
});
