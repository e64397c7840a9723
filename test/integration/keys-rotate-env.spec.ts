import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { internalServiceKeys, loadConfig } from '@benteng/config';
import { projectRoot } from '@benteng/database';
import { JobSigner, type TenantJobEnvelope } from '@benteng/jobs';
import { WebhookSecretBox } from '@benteng/webhooks';
import { tag } from '../security/support/controls.js';

/**
 * `npm run keys:rotate -- job-envelope --env | data-encryption | internal-signature --service <name>`
 * (docs/operations.md, "Key rotation"): for the families that live in environment variables, the
 * compiled CLI prints the next value (a new key first, the current ones after it); deployed, it
 * signs or encrypts with the new key and still verifies or decrypts what the old one made.
 */

const root = projectRoot();
const cli = join(root, 'dist', 'apps', 'worker', 'src', 'keys-rotate.cli.js');

function keysRotate(env: Record<string, string>, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { env: { ...process.env, NODE_ENV: 'test', ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const envelope = (): TenantJobEnvelope => ({
  v: 1,
  kind: 'tenant',
  name: 'exports.run',
  tenantId: randomUUID(),
  actor: { kind: 'user', userId: randomUUID(), sessionId: randomUUID() },
  requestId: randomUUID(),
  issuedAt: new Date().toISOString(),
  data: { exportId: randomUUID() },
});

describe('keys:rotate for the environment key families', () => {
  it(tag('JOB-ENVELOPE', 'job-envelope: the new key signs, jobs queued under the old key still verify'), () => {
    const current = `k1:${randomBytes(32).toString('base64url')}`;
    const sut = keysRotate({ JOB_SIGNING_KEYS: current }, 'job-envelope', '--env');
    expect({ status: sut.status, stderr: sut.stderr }).toMatchObject({ status: 0, stderr: expect.stringContaining('JOB_SIGNING_KEYS') });
    const next = sut.stdout.trim();
    expect(next.endsWith(`,${current}`)).toBe(true);
    const before = new JobSigner(loadConfig({ ...process.env, JOB_SIGNING_KEYS: current }));
    const after = new JobSigner(loadConfig({ ...process.env, JOB_SIGNING_KEYS: next }));
    const queued = before.sign(envelope());
    expect(after.verify(queued)).toEqual(queued.envelope);
    const fresh = after.sign(envelope());
    expect(fresh.kid).toBe(next.split(':')[0]);
    expect(fresh.kid).not.toBe('k1');
  });

  it(tag('WEBHOOK-SIGNING', 'data-encryption: the new key encrypts, secrets stored under the old key still decrypt'), () => {
    const current = `d1:${randomBytes(32).toString('base64')}`;
    const sut = keysRotate({ DATA_ENCRYPTION_KEYS: current }, 'data-encryption');
    expect(sut.status).toBe(0);
    expect(sut.stderr).toContain('data-encryption --reencrypt');
    const next = sut.stdout.trim();
    const before = new WebhookSecretBox(loadConfig({ ...process.env, DATA_ENCRYPTION_KEYS: current }));
    const after = new WebhookSecretBox(loadConfig({ ...process.env, DATA_ENCRYPTION_KEYS: next }));
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const [tenantId, endpointId] = [randomUUID(), randomUUID()];
    expect(after.open(before.seal(secret, tenantId, endpointId), tenantId, endpointId)).toBe(secret);
    expect(() => before.open(after.seal(secret, tenantId, endpointId), tenantId, endpointId)).toThrow(/no longer configured/);
  });

  it(tag('AUTHN-SERVICE-SIGNATURE', 'internal-signature: a second key for the service, the current ones kept'), () => {
    const current = `ops-cli:k1:${randomBytes(32).toString('base64url')}`;
    const sut = keysRotate({ INTERNAL_SERVICE_KEYS: current }, 'internal-signature', '--service', 'ops-cli');
    expect(sut.status).toBe(0);
    const keys = internalServiceKeys(loadConfig({ ...process.env, INTERNAL_SERVICE_KEYS: sut.stdout.trim() })).keys;
    expect([...keys.values()].map((k) => k.service)).toEqual(['ops-cli', 'ops-cli']);
    expect(keys.has('k1')).toBe(true);
    // Usage errors: no service, an emergency (env keys cannot be revoked by the process), --env on a
    // family that has only its environment part, an unknown family.
    for (const args of [['internal-signature'], ['job-envelope', '--env', '--emergency'], ['data-encryption', '--env'], ['payments']]) expect({ args, status: keysRotate({ INTERNAL_SERVICE_KEYS: current }, ...args).status }).toEqual({ args, status: 2 });
  }, 90_000);
});
