import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { PlatformAuditLog } from '@benteng/audit';
import { loadConfig } from '@benteng/config';
import { projectRoot } from '@benteng/database';
import { DataReencryptionHandler, mintWebhookSecret, signatureHeaders, WebhookSecretBox, WebhookSecretReencryption } from '@benteng/webhooks';
import { processMetrics, StaleSealedValues } from '../../apps/api/src/metrics/metrics.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { ownerInTenant, ownerPool, tenantDatabase } from '../support/db.js';
import { tag } from '../security/support/controls.js';

/**
 * The re-encryption job of the data-encryption keys (docs/operations.md, "Key rotation";
 * libs/webhooks/src/webhook-secret-reencryption.ts): webhook secrets sealed under an old
 * DATA_ENCRYPTION_KEYS key move to the active one, in batches, resumably, concurrently safe and
 * audited, so the old key can be removed; a value the old key does not open stops it from
 * completing and is left as it was.
 */

const owner = ownerPool();
const { db, prisma } = tenantDatabase();
// Kids of this file only: other files of the run seal under their own keys, which this ring does not hold.
const k1 = `r1${randomBytes(4).toString('hex')}`;
const k2 = `r2${randomBytes(4).toString('hex')}`;
const key1 = `${k1}:${randomBytes(32).toString('base64')}`;
const key2 = `${k2}:${randomBytes(32).toString('base64')}`;
const boxOf = (value: string) => new WebhookSecretBox(loadConfig({ ...process.env, DATA_ENCRYPTION_KEYS: value }));
const oldBox = boxOf(key1);
const ringBox = boxOf(`${key2},${key1}`);
const newOnly = boxOf(key2);
const platformAudit = new PlatformAuditLog(prisma);
const backlog = new StaleSealedValues(prisma, loadConfig({ ...process.env, DATA_ENCRYPTION_KEYS: `${key2},${key1}` }), processMetrics);
const staleUnder = async (kid: string) => {
  await backlog.refresh();
  return (await processMetrics.staleSealedValues.get()).values.find((v) => v.labels.kid === kid)?.value;
};
const reencryption = (box = ringBox) => new WebhookSecretReencryption(prisma, db, box, platformAudit);

let tenant: TestTenant;
interface Stored {
  id: string;
  secret: string;
  previous: string | null;
}
const endpoints: Stored[] = [];

async function insertEndpoint(secretCiphertext: string, previousCiphertext: string | null, id = randomUUID()): Promise<string> {
  await ownerInTenant(owner, tenant.id, (c) =>
    c.query(
      `INSERT INTO webhook_endpoints (tenant_id, id, url, events, secret_ciphertext, previous_secret_ciphertext, previous_secret_expires_at, created_by_id)
       VALUES ($1, $2, 'https://hooks.example.test/r', '{invoice.issued}', $3, $4, $5, $6)`,
      [tenant.id, id, secretCiphertext, previousCiphertext, previousCiphertext ? new Date(Date.now() + 3_600_000) : null, tenant.users.owner.id],
    ),
  );
  return id;
}

async function rowsOf(ids: string[]): Promise<Map<string, { secret: string; previous: string | null; version: number }>> {
  const { rows } = await ownerInTenant(owner, tenant.id, (c) =>
    c.query<{ id: string; secret_ciphertext: string; previous_secret_ciphertext: string | null; version: number }>(
      'SELECT id, secret_ciphertext, previous_secret_ciphertext, version FROM webhook_endpoints WHERE id = ANY($1::uuid[])',
      [ids],
    ),
  );
  return new Map(rows.map((r) => [r.id, { secret: r.secret_ciphertext, previous: r.previous_secret_ciphertext, version: r.version }]));
}

const kidOf = (stored: string) => WebhookSecretBox.kidOf(stored);

beforeAll(async () => {
  tenant = await createTenant(owner, 'reencrypt');
  // Seven endpoints sealed under k1, two of them with a previous secret (still signing beside the new one).
  for (let i = 0; i < 7; i++) {
    const id = randomUUID();
    const secret = mintWebhookSecret();
    const previous = i % 3 === 0 ? mintWebhookSecret() : null;
    await insertEndpoint(oldBox.seal(secret, tenant.id, id), previous ? oldBox.seal(previous, tenant.id, id) : null, id);
    endpoints.push({ id, secret, previous });
  }
});

afterAll(async () => {
  await ownerInTenant(owner, tenant.id, (c) => c.query('DELETE FROM webhook_endpoints WHERE tenant_id = $1', [tenant.id]));
});

describe('data-encryption key rotation: the re-encryption job', () => {
  it(tag('SECRETS-LIFECYCLE', 'moves every secret sealed under the old key to the new one, interrupted and resumed, and the old key can then go'), async () => {
    const ids = endpoints.map((e) => e.id);
    const ciphertexts = endpoints.reduce((n, e) => n + (e.previous ? 2 : 1), 0);
    expect((await reencryption().sealedCounts())[k1]).toBe(ciphertexts);
    // The metric of what is still under an older key (benteng_data_encryption_stale_values{kid}).
    expect(await staleUnder(k1)).toBe(ciphertexts);
    expect(await staleUnder(k2)).toBeUndefined();

    // Interrupted after its first page of 3 (a worker shutting down): some rows moved, the rest still under k1.
    const abort = new AbortController();
    const first = await reencryption().run({ actor: 'test:reencrypt', batchSize: 3, signal: abort.signal, onBatch: () => abort.abort() });
    expect(first).toMatchObject({ activeKid: k2, examined: 3, interrupted: true, complete: false, unreadable: 0 });
    const halfway = await rowsOf(ids);
    expect([...halfway.values()].filter((r) => kidOf(r.secret) === k2)).toHaveLength(3);
    expect(first.remainingByKid[k1]).toBe(ciphertexts - first.resealed);
    expect(await staleUnder(k1)).toBe(ciphertexts - first.resealed);

    // Resumed, by two runs at once (two workers, or the worker and the CLI): each value is moved exactly once.
    const [a, b] = await Promise.all([reencryption().run({ actor: 'test:reencrypt', batchSize: 2 }), reencryption().run({ actor: 'test:reencrypt', batchSize: 2 })]);
    expect(first.resealed + a.resealed + b.resealed).toBe(ciphertexts);
    expect(a.complete || b.complete).toBe(true);

    // Every value is now under k2, opens with k2 alone (k1 removed from the ring), and is the same secret.
    const after = await rowsOf(ids);
    for (const e of endpoints) {
      const row = after.get(e.id)!;
      expect(kidOf(row.secret)).toBe(k2);
      expect(newOnly.open(row.secret, tenant.id, e.id)).toBe(e.secret);
      // The previous secret (where there is one) moved too.
      expect({ kid: row.previous && kidOf(row.previous), secret: row.previous && newOnly.open(row.previous, tenant.id, e.id) }).toEqual({ kid: e.previous && k2, secret: e.previous });
      // Nothing a client sees changed: the version (ETag) stays.
      expect(row.version).toBe(1);
    }
    expect(() => oldBox.open(after.get(ids[0]!)!.secret, tenant.id, ids[0]!)).toThrow(/no longer configured/);

    // A delivery signed with the re-opened secrets verifies at the receiver with the secret it was given.
    const e = endpoints.find((x) => x.previous)!;
    const row = after.get(e.id)!;
    const body = JSON.stringify({ type: 'invoice.issued', data: { id: randomUUID() } });
    const headers = signatureHeaders(`msg_${randomUUID()}`, new Date(), body, [newOnly.open(row.secret, tenant.id, e.id), newOnly.open(row.previous!, tenant.id, e.id)]);
    expect(() => new Webhook(e.secret).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(e.previous!).verify(body, headers)).not.toThrow();

    // Nothing left under k1: the count that says the old key may be removed, and a second run has nothing to do.
    expect((await reencryption().sealedCounts())[k1]).toBeUndefined();
    expect(await staleUnder(k1)).toBeUndefined();
    expect(await processMetrics.registry.metrics()).not.toContain(`benteng_data_encryption_stale_values{kid="${k1}"}`);
    const again = await reencryption().run({ actor: 'test:reencrypt' });
    expect(again).toMatchObject({ examined: 0, resealed: 0, complete: true, remainingByKid: {} });

    // Audited: one platform event per run, with its counts.
    const { rows } = await owner.query<{ outcome: string; data: Record<string, unknown> }>(
      `SELECT outcome, data FROM platform_audit_events WHERE type = 'platform.data_reencrypted' AND data->>'activeKid' = $1 ORDER BY occurred_at, id`,
      [k2],
    );
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatchObject({ outcome: 'failure', data: { family: 'data-encryption', examined: 3, interrupted: true } });
    expect(rows.at(-1)).toMatchObject({ outcome: 'success', data: { examined: 0, resealed: 0, remaining: 0, unreadable: 0 } });
    expect(rows.reduce((n, r) => n + Number(r.data['resealed']), 0)).toBe(ciphertexts);
  });

  it(tag('SECRETS-LIFECYCLE', 'refuses to complete while a value under the old key does not open: reported, left as it was, the key kept'), async () => {
    const m1 = `m1${randomBytes(4).toString('hex')}`;
    const m2 = `m2${randomBytes(4).toString('hex')}`;
    const mKey1 = `${m1}:${randomBytes(32).toString('base64')}`;
    const mKey2 = `${m2}:${randomBytes(32).toString('base64')}`;
    const before = boxOf(mKey1);
    const ring = boxOf(`${mKey2},${mKey1}`);
    // A good row, and a ciphertext moved from another endpoint's row (it authenticates for that endpoint only).
    const good = randomUUID();
    const goodSecret = mintWebhookSecret();
    await insertEndpoint(before.seal(goodSecret, tenant.id, good), null, good);
    const moved = before.seal(mintWebhookSecret(), tenant.id, randomUUID());
    const bad = await insertEndpoint(moved, null);

    const report = await reencryption(ring).run({ actor: 'test:reencrypt' });
    expect(report).toMatchObject({ activeKid: m2, complete: false, interrupted: false, unreadable: 1, unreadableRows: [{ tenantId: tenant.id, id: bad }], remainingByKid: { [m1]: 1 } });
    const rows = await rowsOf([good, bad]);
    expect(ring.open(rows.get(good)!.secret, tenant.id, good)).toBe(goodSecret);
    expect(kidOf(rows.get(good)!.secret)).toBe(m2);
    expect(rows.get(bad)!.secret).toBe(moved);
    const { rows: audit } = await owner.query<{ outcome: string; data: Record<string, unknown> }>(
      `SELECT outcome, data FROM platform_audit_events WHERE type = 'platform.data_reencrypted' AND data->>'activeKid' = $1`,
      [m2],
    );
    expect(audit).toEqual([expect.objectContaining({ outcome: 'failure', data: expect.objectContaining({ unreadable: 1, unreadableRows: `${tenant.id}/${bad}`, remaining: 1, remainingKids: m1 }) })]);

    // The compiled CLI says the same with its exit status: 1 while the row is there, 0 once it is dealt with.
    const cli = join(projectRoot(), 'dist', 'apps', 'worker', 'src', 'keys-rotate.cli.js');
    const run = () => spawnSync(process.execPath, [cli, 'data-encryption', '--reencrypt'], { env: { ...process.env, NODE_ENV: 'test', DATA_ENCRYPTION_KEYS: `${mKey2},${mKey1}` }, encoding: 'utf8', timeout: 60_000 });
    const refused = run();
    expect({ status: refused.status, stderr: refused.stderr }).toMatchObject({ status: 1, stderr: expect.stringContaining('not complete') });
    expect(JSON.parse(refused.stdout)).toMatchObject({ unreadable: 1, unreadableRows: [{ id: bad }] });
    expect((await rowsOf([bad])).get(bad)!.secret).toBe(moved);
    await ownerInTenant(owner, tenant.id, (c) => c.query('DELETE FROM webhook_endpoints WHERE id = $1', [bad]));
    const done = run();
    expect({ status: done.status, stderr: done.stderr }).toMatchObject({ status: 0, stderr: expect.stringContaining('may be removed') });
    expect(JSON.parse(done.stdout)).toMatchObject({ activeKid: m2, complete: true, remainingByKid: {} });
  });

  it(tag('SECRETS-LIFECYCLE', 'the platform job moves what is under an older key, fails while a value does not open, and does nothing when nothing is old'), async () => {
    const h1 = `h1${randomBytes(4).toString('hex')}`;
    const h2 = `h2${randomBytes(4).toString('hex')}`;
    const hKey1 = `${h1}:${randomBytes(32).toString('base64')}`;
    const ring = boxOf(`${h2}:${randomBytes(32).toString('base64')},${hKey1}`);
    const logged: unknown[] = [];
    const logger = { setContext: () => undefined, info: (fields: unknown) => logged.push(fields) };
    const handler = (box: WebhookSecretBox) => new DataReencryptionHandler(reencryption(box), box, logger as never);
    const run = { jobId: 'test', attempt: 1, requestId: randomUUID() };
    const good = randomUUID();
    const secret = mintWebhookSecret();
    await insertEndpoint(boxOf(hKey1).seal(secret, tenant.id, good), null, good);
    const bad = await insertEndpoint(boxOf(hKey1).seal(mintWebhookSecret(), tenant.id, randomUUID()), null);

    await expect(handler(ring).handle({}, run)).rejects.toThrow(/1 stored secret\(s\) no configured key opens/);
    expect(kidOf((await rowsOf([good])).get(good)!.secret)).toBe(h2);
    await ownerInTenant(owner, tenant.id, (c) => c.query('DELETE FROM webhook_endpoints WHERE id = $1', [bad]));
    await expect(handler(ring).handle({}, run)).resolves.toBeUndefined();
    expect(ring.open((await rowsOf([good])).get(good)!.secret, tenant.id, good)).toBe(secret);
    expect(logged).toHaveLength(1);

    // A ring with one key (nothing older to move from): no run, no audit event.
    const single = boxOf(`${h2}x:${randomBytes(32).toString('base64')}`);
    await handler(single).handle({}, { ...run, requestId: randomUUID() });
    const { rows } = await owner.query(`SELECT 1 FROM platform_audit_events WHERE type = 'platform.data_reencrypted' AND data->>'activeKid' = $1`, [`${h2}x`]);
    expect(rows).toEqual([]);
    expect(logged).toHaveLength(1);
  });
});
