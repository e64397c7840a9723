import { randomBytes, randomUUID } from 'node:crypto';
import { PinoLogger } from 'nestjs-pino';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PlatformAuditLog } from '@benteng/audit';
import { loadConfig } from '@benteng/config';
import { PlatformPurgeHandler } from '@benteng/jobs';
import { KEPT, RETENTION_RULES, retentionCutoff, type RetainedTable } from '../../prisma/retention.js';
import { FakeClock } from '../support/clock.js';
import { ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';

/**
 * Retention (prisma/retention.ts, docs/privacy.md "Retention"): the platform purge applies every
 * rule through the one platform function `platform_retention_purge`, as the worker's runtime role.
 *
 * The fake clock stands in 1901, and every row this file seeds is dated relative to it, so the
 * purge's cutoffs reach only these rows: rows the other files of the run write (dated now) are
 * decades younger than any cutoff, which is what makes the counts in the audit event exact. A purge
 * at real time would remove the young rows seeded here as well: none runs in the integration
 * project; a whole-suite run's workers (test/e2e) purge when they start and every
 * PLATFORM_CLEANUP_INTERVAL_S after, so only a worker starting in the few seconds between seeding
 * and purging here could interfere (the test would then fail, never pass wrongly).
 */
const START = new Date('1901-06-01T12:00:00.000Z');
const SECOND = 1000;

type Ids = Partial<Record<RetainedTable, string[]>>;

/** Where each table's rows are found by id (for the tables keyed by tenant and id, or by id alone). */
const ID_COLUMN: Record<RetainedTable, string> = Object.fromEntries(Object.keys(RETENTION_RULES).map((t) => [t, 'id'])) as Record<RetainedTable, string>;

describe('retention', () => {
  const owner = ownerPool();
  const { prisma } = tenantDatabase();
  const config = loadConfig();

  function handler(clock: FakeClock): PlatformPurgeHandler {
    return new PlatformPurgeHandler(prisma, clock, config, new PlatformAuditLog(prisma), new PinoLogger({ pinoHttp: { level: 'silent' } }));
  }

  /** The cutoff of a table's rule at START, and a time `seconds` after it (negative: before). */

  /**
   * For every rule, rows just past the limit (1 s before the cutoff: they go) and just within it
   * (1 s after: they stay), plus rows the rule must not take whatever their age (pending
   * deliveries, unpublished events, exports whose download still works).
   */
  async function seed(tenant: TestTenant, operatorId: string, base: Date): Promise<{ go: Ids; stay: Ids }> {
    // The cutoff of a table's rule at `base`, and a time `seconds` after it (negative: before).
    const around = (table: RetainedTable, seconds: number) => new Date(retentionCutoff(RETENTION_RULES[table], base, config).getTime() + seconds * SECOND);
    const START = base;
    const go: Ids = {};
    const stay: Ids = {};
    const add = (bucket: Ids, table: RetainedTable, id: string) => (bucket[table] ??= []).push(id);
    const t = tenant.id;
    const user = tenant.users.member.id;
    const q = (sql: string, values: unknown[]) => owner.query(sql, values);
    const far = new Date(START.getTime() + 3600 * SECOND);

    for (const [bucket, s] of [[go, -1], [stay, 1]] as const) {
      const id = randomUUID();
      await q(
        `INSERT INTO idempotency_keys (tenant_id, id, principal, key, route, request_hash, response_status, response_body, created_at)
         VALUES ($1, $2, $3, $4, 'POST /v1/invoices', 'h', 201, '{}', $5)`,
        [t, id, `user:${user}`, `key-${id}`, around('idempotency_keys', s)],
      );
      add(bucket, 'idempotency_keys', id);
      const tomb = randomUUID();
      await q('INSERT INTO session_revocations (tenant_id, id, revoked_at) VALUES ($1, $2, $3)', [t, tomb, around('session_revocations', s)]);
      add(bucket, 'session_revocations', tomb);
    }

    // Sessions: one expired past the limit, one revoked past it (its expiry later), one that ended
    // just within it, one still live; refresh tokens: one expired past the limit on the live
    // session, the tokens of the purged sessions, and young ones.
    const session = async (expiresAt: Date, revokedAt: Date | null) => {
      const id = randomUUID();
      await q('INSERT INTO sessions (tenant_id, id, user_id, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)', [t, id, user, new Date(expiresAt.getTime() - 86_400 * SECOND), expiresAt, revokedAt]);
      return id;
    };
    const token = async (sessionId: string, expiresAt: Date) => {
      const id = randomUUID();
      await q('INSERT INTO refresh_tokens (tenant_id, id, session_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)', [t, id, sessionId, randomBytes(16).toString('hex'), expiresAt]);
      return id;
    };
    const expired = await session(around('sessions', -1), null);
    const revoked = await session(far, around('sessions', -1));
    const endedJustWithin = await session(around('sessions', 1), null);
    const live = await session(far, null);
    add(go, 'sessions', expired);
    add(go, 'sessions', revoked);
    add(stay, 'sessions', endedJustWithin);
    add(stay, 'sessions', live);
    add(go, 'refresh_tokens', await token(expired, around('refresh_tokens', -1)));
    add(go, 'refresh_tokens', await token(revoked, far));
    add(go, 'refresh_tokens', await token(live, around('refresh_tokens', -1)));
    add(stay, 'refresh_tokens', await token(live, around('refresh_tokens', 1)));
    add(stay, 'refresh_tokens', await token(endedJustWithin, around('refresh_tokens', 1)));

    // Exports: a ready one past its expiry (its file goes, the record stays within its period), an
    // expired one past the record's limit with a leftover piece (both go), a ready one still
    // downloadable (everything stays), a failed one just within the limit (stays, with its piece gone).
    const exp = async (status: string, expiresAt: Date | null, chunks: number) => {
      const id = randomUUID();
      await q(
        `INSERT INTO exports (tenant_id, id, type, format, status, requested_by_id, created_at, completed_at, expires_at)
         VALUES ($1, $2, 'invoices', 'csv', $3::export_status, $4, $5, $5, $6)`,
        [t, id, status, user, expiresAt ?? around('exports', 1), expiresAt],
      );
      const pieces: string[] = [];
      for (let seq = 0; seq < chunks; seq++) {
        const chunk = randomUUID();
        await q('INSERT INTO export_chunks (tenant_id, id, export_id, seq, bytes) VALUES ($1, $2, $3, $4, $5)', [t, chunk, id, seq, Buffer.from(`row ${seq}\n`)]);
        pieces.push(chunk);
      }
      return { id, pieces };
    };
    const pastExpiry = await exp('ready', new Date(START.getTime() - SECOND), 2);
    const old = await exp('expired', around('exports', -1), 1);
    const downloadable = await exp('ready', new Date(START.getTime() + SECOND), 2);
    const failed = await exp('failed', null, 1);
    for (const piece of [...pastExpiry.pieces, ...old.pieces, ...failed.pieces]) add(go, 'export_chunks', piece);
    for (const piece of downloadable.pieces) add(stay, 'export_chunks', piece);
    add(go, 'exports', old.id);
    for (const e of [pastExpiry, downloadable, failed]) add(stay, 'exports', e.id);

    // Webhooks: a delivery finished past the limit (it and its attempts go), a pending one as old
    // (stays; its old attempt goes), one finished just within (stays, with its attempt).
    const endpoint = randomUUID();
    await q(`INSERT INTO webhook_endpoints (tenant_id, id, url, events, secret_ciphertext, created_by_id) VALUES ($1, $2, 'https://hooks.example.test/x', '{invoice.issued}', 'c', $3)`, [t, endpoint, user]);
    const delivery = async (status: string, updatedAt: Date, attempts: Date[]) => {
      const id = randomUUID();
      await q(
        `INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, message_id, event_type, payload, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'invoice.issued', '{}', $5, $6, $6)`,
        [t, id, endpoint, `msg_${id}`, status, updatedAt],
      );
      const ids: string[] = [];
      for (const [i, at] of attempts.entries()) {
        const attempt = randomUUID();
        await q('INSERT INTO webhook_attempts (tenant_id, id, delivery_id, attempt, latency_ms, attempted_at) VALUES ($1, $2, $3, $4, 5, $5)', [t, attempt, id, i + 1, at]);
        ids.push(attempt);
      }
      return { id, attempts: ids };
    };
    const done = await delivery('succeeded', around('webhook_deliveries', -1), [around('webhook_attempts', -2), around('webhook_attempts', -1)]);
    const pending = await delivery('pending', around('webhook_deliveries', -86_400), [around('webhook_attempts', -86_400)]);
    const recent = await delivery('failed', around('webhook_deliveries', 1), [around('webhook_attempts', 1)]);
    add(go, 'webhook_deliveries', done.id);
    add(stay, 'webhook_deliveries', pending.id);
    add(stay, 'webhook_deliveries', recent.id);
    for (const a of [...done.attempts, ...pending.attempts]) add(go, 'webhook_attempts', a);
    for (const a of recent.attempts) add(stay, 'webhook_attempts', a);

    const event = async (publishedAt: Date | null) => {
      const id = randomUUID();
      await q(
        `INSERT INTO domain_events (tenant_id, id, type, subject_type, subject_id, payload, occurred_at, published_at)
         VALUES ($1, $2, 'invoice.issued', 'invoice', $3, '{}', $4, $5)`,
        [t, id, randomUUID(), around('domain_events', -86_400), publishedAt],
      );
      return id;
    };
    add(go, 'domain_events', await event(around('domain_events', -1)));
    add(stay, 'domain_events', await event(around('domain_events', 1)));
    add(stay, 'domain_events', await event(null));

    const invitation = async (expiresAt: Date, outcome: { acceptedAt?: Date; revokedAt?: Date }) => {
      const id = randomUUID();
      await q(
        `INSERT INTO invitations (tenant_id, id, email, role, token_hash, invited_by_id, created_at, expires_at, accepted_at, accepted_user_id, revoked_at)
         VALUES ($1, $2, $3, 'member', $4, $5, $6, $6, $7, $8, $9)`,
        [t, id, `invitee-${id}@example.test`, randomBytes(16).toString('hex'), tenant.users.owner.id, expiresAt, outcome.acceptedAt ?? null, outcome.acceptedAt ? user : null, outcome.revokedAt ?? null],
      );
      return id;
    };
    add(go, 'invitations', await invitation(far, { acceptedAt: around('invitations', -1) }));
    add(go, 'invitations', await invitation(around('invitations', -1), {}));
    add(stay, 'invitations', await invitation(far, { revokedAt: around('invitations', 1) }));
    add(stay, 'invitations', await invitation(far, {}));

    const block = async (expiresAt: Date, liftedAt: Date | null) => {
      const id = randomUUID();
      await q(
        `INSERT INTO security_blocks (tenant_id, id, principal, ip, signal, observed, threshold, window_s, blocked_at, expires_at, lifted_at)
         VALUES ($1, $2, $3, '203.0.113.9', 'not_found', 21, 20, 60, $4, $5, $6)`,
        [t, id, `user:${user}`, new Date(expiresAt.getTime() - 900 * SECOND), expiresAt, liftedAt],
      );
      return id;
    };
    add(go, 'security_blocks', await block(around('security_blocks', -1), null));
    add(go, 'security_blocks', await block(far, around('security_blocks', -1)));
    add(stay, 'security_blocks', await block(around('security_blocks', 1), null));

    for (const [bucket, s] of [[go, -1], [stay, 1]] as const) {
      const id = randomUUID();
      await q(
        `INSERT INTO access_records (tenant_id, id, occurred_at, principal, credential, action, method, route, record_type, record_id, status)
         VALUES ($1, $2, $3, $4, NULL, 'read', 'GET', '/v1/invoices/:id', 'invoice', $5, 200)`,
        [t, id, around('access_records', s), `user:${user}`, randomUUID()],
      );
      add(bucket, 'access_records', id);
    }

    // A platform table: scrape credentials of an operator (not a tenant's).
    const credential = async (expiresAt: Date | null, revokedAt: Date | null) => {
      const id = randomUUID();
      const prefix = Array.from(randomBytes(12), (b) => 'abcdefghijklmnopqrstuvwxyz234567'[b % 32]).join('');
      await q(
        `INSERT INTO metrics_scrape_credentials (id, name, prefix, secret_hash, created_by, created_at, expires_at, revoked_at) VALUES ($1, 'retention', $2, $3, $4, $5, $6, $7)`,
        [id, prefix, randomBytes(32).toString('hex'), operatorId, around('metrics_scrape_credentials', -86_400), expiresAt, revokedAt],
      );
      return id;
    };
    add(go, 'metrics_scrape_credentials', await credential(null, around('metrics_scrape_credentials', -1)));
    add(stay, 'metrics_scrape_credentials', await credential(around('metrics_scrape_credentials', 1), null));
    return { go, stay };
  }

  async function present(table: RetainedTable, ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const { rows } = await owner.query<{ id: string }>(`SELECT ${ID_COLUMN[table]}::text AS id FROM ${table} WHERE ${ID_COLUMN[table]} = ANY($1::uuid[])`, [ids]);
    return rows.map((r) => r.id).sort();
  }

  /** Every row of a tenant, table by table, for "nothing else changed". */
  async function snapshot(pool: pg.Pool, tenantId: string): Promise<Record<string, string[]>> {
    const result: Record<string, string[]> = {};
    for (const table of Object.keys(RETENTION_RULES) as RetainedTable[]) {
      if (table === 'metrics_scrape_credentials') continue;
      const { rows } = await pool.query<{ id: string }>(`SELECT id::text AS id FROM ${table} WHERE tenant_id = $1 ORDER BY id`, [tenantId]);
      result[table] = rows.map((r) => r.id);
    }
    return result;
  }

  it('removes rows just past each limit, keeps those just within, deletes export files, audits exact counts per table, and leaves other tenants alone', async () => {
    const a = await createTenant(owner, 'retention-a');
    const b = await createTenant(owner, 'retention-b');
    const operatorId = randomUUID();
    await owner.query(`INSERT INTO operators (id, email, display_name, roles) VALUES ($1, $2, 'Retention test', '{platform-admin}')`, [operatorId, `op-${operatorId}@benteng.example`]);
    const { go, stay } = await seed(a, operatorId, START);
    // Tenant B has the same kinds of rows, all a year younger: none of them may change.
    await seed(b, operatorId, new Date(START.getTime() + 365 * 86_400 * SECOND));
    const beforeB = await snapshot(owner, b.id);

    const removed = await handler(new FakeClock(START)).purge('req-retention-test');

    const expected = Object.fromEntries(Object.keys(RETENTION_RULES).map((t) => [t, go[t as RetainedTable]?.length ?? 0]));
    for (const table of Object.keys(RETENTION_RULES) as RetainedTable[]) {
      expect(await present(table, go[table] ?? []), `${table}: rows past the limit`).toEqual([]);
      expect(await present(table, stay[table] ?? []), `${table}: rows within the limit`).toEqual([...(stay[table] ?? [])].sort());
    }
    expect(await snapshot(owner, b.id)).toEqual(beforeB);
    expect(removed).toEqual(expected);
    expect(expected).toMatchObject({ idempotency_keys: 1, session_revocations: 1, refresh_tokens: 3, sessions: 2, export_chunks: 4, exports: 1, webhook_attempts: 3, webhook_deliveries: 1, domain_events: 1, invitations: 2, security_blocks: 2, access_records: 1, metrics_scrape_credentials: 1 });

    const { rows } = await owner.query<{ actor: string; outcome: string; request_id: string; data: Record<string, unknown> }>(
      `SELECT actor, outcome, request_id, data FROM platform_audit_events WHERE type = 'platform.retention_purged' AND data->>'at' = $1`,
      [START.toISOString()],
    );
    const total = Object.values(expected).reduce((sum, n) => sum + n, 0);
    expect(rows).toEqual([{ actor: 'system:retention', outcome: 'success', request_id: 'req-retention-test', data: { at: START.toISOString(), total, ...expected } }]);
  });

  it('covers every table: each is in RETENTION_RULES or KEPT, never both, and every rule has its SQL branch', async () => {
    const { rows } = await owner.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`);
    const tables = rows.map((r) => r.table_name);
    const ruled = Object.keys(RETENTION_RULES);
    const kept = Object.keys(KEPT);
    expect(ruled.filter((t) => kept.includes(t)), 'in both RETENTION_RULES and KEPT').toEqual([]);
    expect(tables.filter((t) => !ruled.includes(t) && !kept.includes(t)), 'tables without a retention rule or a reason to be kept (prisma/retention.ts)').toEqual([]);
    expect([...ruled, ...kept].filter((t) => !tables.includes(t)), 'rules for tables that do not exist').toEqual([]);
    // A cutoff before any row: every branch runs and removes nothing; an unknown table is refused.
    for (const table of ruled) {
      const { rows: [row] } = await owner.query<{ removed: string }>('SELECT platform_retention_purge($1, $2) AS removed', [table, new Date('1000-01-01T00:00:00Z')]);
      expect(Number(row!.removed), `${table}`).toBe(0);
    }
    await expect(owner.query('SELECT platform_retention_purge($1, $2)', ['tenants', new Date()])).rejects.toThrow(/no retention rule for table tenants/);
  });

  // Sessions, refresh tokens and idempotency keys the runtime role deletes in its own tenant, under RLS.
  it('is the only purge path: the runtime role may not delete those rows across tenants itself', async () => {
    const { rows } = await owner.query<{ table: string; can: boolean }>(
      `SELECT t AS table, has_table_privilege('benteng_app', t, 'DELETE') AS can FROM unnest($1::text[]) t`,
      [['session_revocations', 'webhook_attempts', 'webhook_deliveries', 'invitations', 'security_blocks', 'access_records', 'domain_events', 'metrics_scrape_credentials']],
    );
    expect(rows.filter((r) => r.can).map((r) => r.table)).toEqual([]);
  });
});
