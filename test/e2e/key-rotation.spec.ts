import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRingRepository, KeyRotationHandler, KeyRotationService } from '@benteng/auth';
import { internalServiceKeys, loadConfig } from '@benteng/config';
import { signServiceRequest } from '@benteng/security';
import { PrismaService, projectRoot } from '@benteng/database';
import { KeyAges, processMetrics } from '../../apps/api/src/metrics/metrics.js';
import { buildApi, buildInternalApi, type TestApi } from '../support/api.js';
import { FakeClock } from '../support/clock.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { PublicClient, setPasswords, testPassword } from '../support/public-api.js';
import { tag } from '../security/support/controls.js';

/**
 * Access-token signing keys rotated by the processes themselves (docs/operations.md, "Key
 * rotation"), while requests flow: two API instances share the key ring (KEY_RING_ROOT_KEYS), the
 * rotations are made by `npm run keys:rotate` (the compiled CLI), and every request with a valid
 * token keeps being served; only the emergency rotation refuses what the revoked key signed.
 */

const owner = ownerPool();
const root = projectRoot();
const ringEnv = {
  KEY_RING_ROOT_KEYS: `r1:${randomBytes(32).toString('base64')}`,
  KEY_PUBLISH_LEAD_S: '2',
  // The deployment's reload interval, which the rotation adds to a retired key's overlap; B uses it.
  KEY_RING_REFRESH_S: '30',
  // The traffic below is one user reading /v1/me as fast as it can: not what this test is about.
  RATE_LIMIT_POLICY: JSON.stringify({ user: { read: [1_000_000, 60] } }),
};

let a: TestApi;
let b: TestApi;
let tenant: TestTenant;
let password: string;

beforeAll(async () => {
  // A reloads the ring every second; B every 30 s, so within this test it learns a key promoted
  // by the CLI from the first token that carries its kid (the unknown-kid reload).
  a = await buildApi({ env: { ...ringEnv, KEY_RING_REFRESH_S: '1' } });
  b = await buildApi({ env: ringEnv });
  tenant = await createTenant(owner, 'key-rotation');
  password = testPassword();
  await setPasswords(owner, [tenant.users.member.id], password);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

/** `npm run keys:rotate -- access-token [--emergency]`, as compiled (npm run builds first, then runs this file). */
const KEYS_ROTATE_SCRIPT = 'node apps/dev/run.mjs apps/worker/src/keys-rotate.cli.js';
function keysRotate(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'dist', 'apps', 'worker', 'src', 'keys-rotate.cli.js'), 'access-token', ...args], {
      env: { ...process.env, ...ringEnv, NODE_ENV: 'test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const kidOf = (token: string): string => decodeProtectedHeader(token).kid!;
const jwksKids = async (api: TestApi): Promise<string[]> => ((await new PublicClient(api).call('GET', '/.well-known/jwks.json')).body as { keys: { kid: string }[] }).keys.map((k) => k.kid);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Reads /v1/me on both instances with every token handed to it, until stopped; records every
 * answer that is not 200 with the token's kid.
 */
function traffic(tokens: () => string[]): { stop: () => Promise<{ requests: number; refused: string[] }> } {
  let running = true;
  let requests = 0;
  const refused: string[] = [];
  const loop = (async () => {
    const clients = [new PublicClient(a), new PublicClient(b)];
    while (running) {
      await Promise.all(
        tokens().flatMap((token) =>
          clients.map(async (client, i) => {
            const res = await client.call('GET', '/v1/me', { token });
            requests++;
            if (res.status !== 200) refused.push(`${i === 0 ? 'A' : 'B'} ${res.status} kid=${kidOf(token)}`);
          }),
        ),
      );
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { requests, refused };
    },
  };
}

describe('access-token key rotation while traffic flows', () => {
  it(tag('SECRETS-LIFECYCLE', 'keys:rotate publishes the next key first, promotes it after the lead, retires the old one with overlap: no request is refused'), async () => {
    const envKid = kidOf((await new PublicClient(a).login(tenant.users.member.email, password)).accessToken);
    const tokens: string[] = [(await new PublicClient(a).login(tenant.users.member.email, password)).accessToken];
    const flow = traffic(() => tokens);

    // 1. An empty ring: a next key is published (JWKS), tokens are still signed with AUTH_SIGNING_KEYS.
    const first = await keysRotate();
    expect({ status: first.status, stderr: first.stderr }).toMatchObject({ status: 0 });
    const published = JSON.parse(first.stdout) as { next: string; waiting?: string; active?: string };
    expect(published.waiting).toBeDefined();
    expect(published.active).toBeUndefined();
    await sleep(1200);
    expect(await jwksKids(a)).toContain(published.next);
    expect(kidOf((await new PublicClient(a).login(tenant.users.member.email, password)).accessToken)).toBe(envKid);

    // 2. Too early for a promotion (published < KEY_PUBLISH_LEAD_S ago) — unless the lead has passed.
    await sleep(1000);
    const second = await keysRotate();
    expect({ status: second.status, stderr: second.stderr }).toMatchObject({ status: 0 });
    const promoted = JSON.parse(second.stdout) as { active: string; next: string };
    expect(promoted.active).toBe(published.next);
    // A signs with the new key (after its next reload); B, which reloads hourly, verifies it by kid.
    await sleep(1200);
    const signedByNew = (await new PublicClient(a).login(tenant.users.member.email, password)).accessToken;
    expect(kidOf(signedByNew)).toBe(published.next);
    tokens.push(signedByNew);

    // 3. Rotate again: the second ring key signs, the first retires and keeps verifying its tokens.
    await sleep(2100);
    const third = await keysRotate();
    expect({ status: third.status, stderr: third.stderr }).toMatchObject({ status: 0 });
    const rotated = JSON.parse(third.stdout) as { active: string; demoted: { kid: string; state: string; verifyUntil: string } };
    expect(rotated.active).toBe(promoted.next);
    expect(rotated.demoted).toMatchObject({ kid: published.next, state: 'retired' });
    await sleep(1200);
    const signedByNewest = (await new PublicClient(b).login(tenant.users.member.email, password)).accessToken;
    // B learns the promotion when it reloads; until then it signs with the retired key, which verifies everywhere.
    tokens.push(signedByNewest);
    await sleep(500);

    const { requests, refused } = await flow.stop();
    expect({ refused }).toEqual({ refused: [] });
    expect(requests).toBeGreaterThan(50);
    // The retired key still verifies (its tokens live at most ACCESS_TOKEN_TTL_S) and is still published.
    expect(await jwksKids(a)).toEqual(expect.arrayContaining([published.next, promoted.next, rotated.active]));
  }, 120_000);

  it(tag('SECRETS-LIFECYCLE', 'keys:rotate --emergency revokes the active key: its tokens are refused on every instance, new tokens work'), async () => {
    const client = new PublicClient(a);
    await sleep(1200);
    const exposed = (await client.login(tenant.users.member.email, password)).accessToken;
    const exposedKid = kidOf(exposed);
    expect((await new PublicClient(b).call('GET', '/v1/me', { token: exposed })).status).toBe(200);
    const emergency = await keysRotate('--emergency');
    expect({ status: emergency.status, stderr: emergency.stderr }).toMatchObject({ status: 0 });
    const outcome = JSON.parse(emergency.stdout) as { demoted: { kid: string; state: string }; active: string };
    expect(outcome.demoted).toMatchObject({ kid: exposedKid, state: 'revoked' });
    // Within KEY_RING_REFRESH_S every instance has reloaded: the exposed key verifies nothing. A and
    // C reload every second; B (30 s) is bounded by its interval, which docs/operations.md states.
    const c = await buildApi({ env: { ...ringEnv, KEY_RING_REFRESH_S: '1' } });
    try {
      expect((await new PublicClient(c).call('GET', '/v1/me', { token: exposed })).status).toBe(401);
    } finally {
      await c.close();
    }
    await sleep(1500);
    expect((await new PublicClient(a).call('GET', '/v1/me', { token: exposed })).status).toBe(401);
    expect(await jwksKids(a)).not.toContain(exposedKid);
    const fresh = (await client.login(tenant.users.member.email, password)).accessToken;
    expect(kidOf(fresh)).toBe(outcome.active);
    expect((await new PublicClient(b).call('GET', '/v1/me', { token: fresh })).status).toBe(200);

    // The platform audit log says what the emergency touched, and the internal incident view lists it.
    const { rows } = await owner.query<{ actor: string; subject: string; data: Record<string, unknown> }>(
      `SELECT actor, subject, data FROM platform_audit_events WHERE type = 'platform.key_revoked' AND data->>'revokedKid' = $1`,
      [exposedKid],
    );
    expect(rows).toEqual([
      {
        actor: 'operator-cli:keys-rotate',
        subject: `access-token:${exposedKid}`,
        data: expect.objectContaining({ family: 'access-token', revokedKid: exposedKid, activeKid: outcome.active, signingSince: expect.any(String), revokedAt: expect.any(String), unexpiredIssuedAfter: expect.any(String), sessionsEnded: 0 }),
      },
    ]);
    const event = rows[0]!.data as { signingSince: string; revokedAt: string; unexpiredIssuedAfter: string };
    expect(new Date(event.signingSince).getTime()).toBeLessThanOrEqual(new Date(event.unexpiredIssuedAfter).getTime());
    const operatorId = randomUUID();
    await owner.query(`INSERT INTO operators (id, email, display_name, roles) VALUES ($1, $2, 'Key rotation test operator', '{security}')`, [operatorId, `op-${operatorId}@benteng.example`]);
    const internal = await buildInternalApi({ env: ringEnv });
    try {
      const dev = internalServiceKeys(loadConfig()).keys.get('derived')!;
      const path = `/internal/v1/incidents?principal=${encodeURIComponent(`user:${tenant.users.member.id}`)}`;
      let call = request(internal.app.getHttpServer()).get(path);
      for (const [name, value] of Object.entries(signServiceRequest({ method: 'GET', url: path, keyId: dev.kid, secret: dev.secret, operatorId }))) call = call.set(name, value);
      const view = await call;
      expect(view.status).toBe(200);
      expect((view.body as { keys: { type: string; subject: string; data: Record<string, unknown> }[] }).keys).toEqual(
        expect.arrayContaining([expect.objectContaining({ type: 'platform.key_revoked', subject: `access-token:${exposedKid}`, data: expect.objectContaining({ revokedKid: exposedKid, signingSince: event.signingSince }) })]),
      );
    } finally {
      await internal.close();
    }
  }, 60_000);

  it(tag('SECRETS-LIFECYCLE', 'the key age is exported beside the policy, and the scheduled platform job rotates a key that reached it'), async () => {
    const internal = await buildInternalApi({ env: ringEnv });
    try {
      await internal.app.get(KeyAges).refresh();
      const age = await processMetrics.keyAge.get();
      const max = await processMetrics.keyMaxAge.get();
      // Every ring family has its policy beside it (job-envelope: test/e2e/job-envelope-ring.spec.ts).
      expect(max.values).toEqual(expect.arrayContaining([{ labels: { family: 'access-token' }, value: 2_592_000 }, { labels: { family: 'job-envelope' }, value: 2_592_000 }]));
      const tokenAge = age.values.filter((v) => v.labels.family === 'access-token');
      expect(tokenAge).toHaveLength(1);
      expect(tokenAge[0]!.value).toBeGreaterThanOrEqual(0);
      expect(tokenAge[0]!.value).toBeLessThan(120);
      const text = await processMetrics.registry.metrics();
      expect(text).toMatch(/^benteng_key_max_age_seconds\{family="access-token"\} 2592000$/m);
    } finally {
      await internal.close();
    }
    // The worker's job (KeyRotationHandler), with a policy of 10 minutes and a clock 11 minutes on.
    const config = loadConfig({ ...process.env, ...ringEnv, ACCESS_TOKEN_KEY_MAX_AGE_S: '600' });
    const prisma = new PrismaService(config);
    try {
      const logger = { setContext: () => undefined, info: () => undefined, warn: () => undefined };
      const ring = new KeyRingRepository(prisma);
      // This file's ring: the rows under its root key (other files may keep rings of their own).
      const entries = async () => (await ring.entries('access-token')).filter((r) => r.rootKid === 'r1');
      const before = (await entries()).find((r) => r.state === 'active')!;
      const sut = new KeyRotationHandler(new KeyRotationService(ring, config, new FakeClock(new Date(Date.now() + 660_000)), logger as never), config, logger as never);
      await sut.handle({}, { requestId: 'key-rotation-spec' } as never);
      const after = await entries();
      expect(after.find((r) => r.kid === before.kid)?.state).toBe('retired');
      expect(after.filter((r) => r.state === 'active').map((r) => r.kid)).not.toContain(before.kid);
      expect(after.filter((r) => r.state === 'next')).toHaveLength(1);
    } finally {
      await prisma.onModuleDestroy();
    }
  });

  it('refuses without a key ring, naming the variable (the npm script runs this compiled CLI)', async () => {
    const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['keys:rotate']).toBe(KEYS_ROTATE_SCRIPT);
    const result = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(root, 'dist', 'apps', 'worker', 'src', 'keys-rotate.cli.js'), 'access-token'], { env: { ...process.env, KEY_RING_ROOT_KEYS: '' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => resolve({ status, stderr }));
    });
    expect(result).toEqual({ status: 1, stderr: expect.stringContaining('KEY_RING_ROOT_KEYS is not set') });
    expect(a.app.get(KeyRotationService)).toBeDefined();
  });
});
