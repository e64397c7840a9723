import { randomUUID } from 'node:crypto';
import { Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { LoggerModule } from 'nestjs-pino';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AuditLog,
  AuditModule,
  AuditVerifier,
  auditEventHash,
  GENESIS_HASH,
  type AuditEntry,
  type AuditLogSink,
  type ChainedEvent,
} from '@benteng/audit';
import { Clock, ClockModule } from '@benteng/common';
import { TenantDatabase } from '@benteng/database';
import { appPool, ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';

/**
 * Invariant 10: security events land in an append-only, hash-chained table per tenant, and in the
 * logs. Writes and reads run as the runtime role; only the tampering cases use the owner, because
 * rewriting history needs rights the application does not have.
 */
describe('audit log', () => {
  const owner = ownerPool();
  const app = appPool();
  const { db } = tenantDatabase();
  const audit = new AuditLog(db);
  const verifier = new AuditVerifier(db);

  const event = (n: number, fields: Partial<AuditEntry> = {}): AuditEntry => ({
    type: 'auth.login',
    outcome: 'success',
    actor: 'anonymous',
    requestId: `req-${n}`,
    ip: '203.0.113.7',
    data: { attempt: n, method: 'password', mfa: false, note: null },
    ...fields,
  });

  async function tenantWithEvents(label: string, count: number): Promise<TestTenant> {
    const tenant = await createTenant(owner, label);
    for (let n = 1; n <= count; n++) await audit.recordFor(tenant.id, event(n));
    return tenant;
  }

  async function rows(tenantId: string): Promise<{ seq: string; prev_hash: string; hash: string; data: Record<string, unknown> }[]> {
    const result = await owner.query('SELECT seq::text, prev_hash, hash, data FROM audit_events WHERE tenant_id = $1 ORDER BY audit_events.seq', [tenantId]);
    return result.rows;
  }

  /** Rewrites history as the owner, with the append-only trigger off for this transaction only. */
  async function tamper(sql: string, params: unknown[]): Promise<void> {
    const client = await owner.connect();
    try {
      await client.query('BEGIN');
      // Replica mode skips ordinary triggers for this transaction; other sessions keep them.
      await client.query('SET LOCAL session_replication_role = replica');
      await client.query(sql, params);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }

  describe('appending', () => {
    let tenant: TestTenant;

    beforeAll(async () => {
      tenant = await tenantWithEvents('audit-append', 5);
    });

    it('chains events from the genesis hash with contiguous seq', async () => {
      const stored = await rows(tenant.id);
      expect(stored.map((r) => r.seq)).toEqual(['1', '2', '3', '4', '5']);
      expect(stored[0]!.prev_hash).toBe(GENESIS_HASH);
      for (let i = 1; i < stored.length; i++) expect(stored[i]!.prev_hash).toBe(stored[i - 1]!.hash);
      expect(await verifier.verify(tenant.id)).toEqual({ ok: true, count: 5, head: { seq: 5, hash: stored[4]!.hash } });
    });

    it('stores the entry as given, with absent fields as null', async () => {
      await audit.record(tenant.scope('admin'), {
        type: 'member.role_changed',
        outcome: 'success',
        actor: `user:${tenant.users.admin.id}`,
        subject: `membership:${tenant.users.member.id}`,
        data: { from: 'member', to: 'admin' },
      });
      const { rows: [row] } = await owner.query(
        `SELECT type, outcome, actor, subject, request_id, ip, data, occurred_at, id FROM audit_events WHERE tenant_id = $1 AND seq = 6`,
        [tenant.id],
      );
      expect(row).toMatchObject({
        type: 'member.role_changed',
        outcome: 'success',
        actor: `user:${tenant.users.admin.id}`,
        subject: `membership:${tenant.users.member.id}`,
        request_id: null,
        ip: null,
        data: { from: 'member', to: 'admin' },
      });
      // UUIDv7: its time prefix is the event time.
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(parseInt(row.id.replaceAll('-', '').slice(0, 12), 16)).toBe(row.occurred_at.getTime());
      expect((await verifier.verify(tenant.id)).ok).toBe(true);
    });

    it('commits the audit row with the caller transaction, or not at all', async () => {
      const before = (await rows(tenant.id)).length;
      const failed = db.run(tenant.scope('owner'), async (tx) => {
        await audit.recordIn(tx, tenant.id, event(99, { type: 'member.removed' }));
        throw new Error('the change failed');
      });
      await expect(failed).rejects.toThrow('the change failed');
      expect(await rows(tenant.id)).toHaveLength(before);

      await db.run(tenant.scope('owner'), (tx) => audit.recordIn(tx, tenant.id, event(100, { type: 'member.removed' })));
      expect(await rows(tenant.id)).toHaveLength(before + 1);
      expect((await verifier.verify(tenant.id)).ok).toBe(true);
    });

    it('refuses a transaction bound to another tenant, or one that is not READ COMMITTED', async () => {
      const other = await createTenant(owner, 'audit-other');
      await expect(db.run(other.scope('owner'), (tx) => audit.recordIn(tx, tenant.id, event(1)))).rejects.toThrow(/not bound to this tenant/);
      await expect(
        db.run(tenant.scope('owner'), (tx) => audit.recordIn(tx, tenant.id, event(1)), { isolationLevel: 'RepeatableRead' }),
      ).rejects.toThrow(/READ COMMITTED/);
    });
  });

  it('serialises concurrent appends: 20 in parallel give seq 1..20 and an intact chain', async () => {
    const tenant = await createTenant(owner, 'audit-concurrent');
    await Promise.all(Array.from({ length: 20 }, (_, i) => audit.recordFor(tenant.id, event(i + 1))));
    const stored = await rows(tenant.id);
    expect(stored.map((r) => Number(r.seq))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(new Set(stored.map((r) => r.data.attempt)).size).toBe(20);
    expect(await verifier.verify(tenant.id)).toMatchObject({ ok: true, count: 20, head: { seq: 20 } });
  });

  it('keeps one chain per tenant, each visible to its own tenant only', async () => {
    const a = await tenantWithEvents('audit-a', 3);
    const b = await tenantWithEvents('audit-b', 2);
    expect(await verifier.verify(a.id)).toMatchObject({ ok: true, count: 3 });
    expect(await verifier.verify(b.id)).toMatchObject({ ok: true, count: 2 });
    expect((await rows(b.id))[0]!.prev_hash).toBe(GENESIS_HASH);

    const seen = await db.run(a.scope('owner'), async (tx) => ({
      all: await tx.auditEvent.findMany({ select: { tenantId: true } }),
      asked: await tx.auditEvent.findMany({ where: { tenantId: b.id } }),
    }));
    expect(seen.all).toHaveLength(3);
    expect(seen.all.every((r) => r.tenantId === a.id)).toBe(true);
    expect(seen.asked).toEqual([]);
  });

  describe('append-only', () => {
    let tenant: TestTenant;

    beforeAll(async () => {
      tenant = await tenantWithEvents('audit-immutable', 2);
    });

    it('the runtime role may not update or delete audit rows', async () => {
      await expect(
        db.run(tenant.scope('owner'), (tx) => tx.auditEvent.updateMany({ where: { seq: 1 }, data: { outcome: 'failure' } })),
      ).rejects.toThrow(/permission denied/i);
      await expect(db.run(tenant.scope('owner'), (tx) => tx.auditEvent.deleteMany({}))).rejects.toThrow(/permission denied/i);
      await expect(app.query('DELETE FROM audit_events')).rejects.toThrow(/permission denied/i);
      await expect(app.query('TRUNCATE audit_events')).rejects.toThrow(/permission denied/i);
    });

    it('even the owner hits the trigger', async () => {
      await expect(owner.query("UPDATE audit_events SET outcome = 'failure' WHERE tenant_id = $1", [tenant.id])).rejects.toThrow(/append-only/);
      await expect(owner.query('DELETE FROM audit_events WHERE tenant_id = $1', [tenant.id])).rejects.toThrow(/append-only/);
      expect(await verifier.verify(tenant.id)).toMatchObject({ ok: true, count: 2 });
    });
  });

  describe('tampering is detected', () => {
    it('an edited row no longer matches its hash', async () => {
      const tenant = await tenantWithEvents('audit-edit', 5);
      await tamper(`UPDATE audit_events SET data = data || '{"attempt": 42}' WHERE tenant_id = $1 AND seq = 3`, [tenant.id]);
      expect(await verifier.verify(tenant.id)).toEqual({ ok: false, count: 2, seq: 3, problem: 'hash_mismatch' });
    });

    it('a deleted middle row leaves a gap', async () => {
      const tenant = await tenantWithEvents('audit-delete', 5);
      await tamper('DELETE FROM audit_events WHERE tenant_id = $1 AND seq = 3', [tenant.id]);
      expect(await verifier.verify(tenant.id)).toEqual({ ok: false, count: 2, seq: 3, problem: 'gap' });
    });

    it('a deleted first row is a bad start', async () => {
      const tenant = await tenantWithEvents('audit-delete-first', 3);
      await tamper('DELETE FROM audit_events WHERE tenant_id = $1 AND seq = 1', [tenant.id]);
      expect(await verifier.verify(tenant.id)).toEqual({ ok: false, count: 0, seq: 1, problem: 'bad_start' });
    });

    it('a deleted and renumbered row breaks the link to the next one', async () => {
      const tenant = await tenantWithEvents('audit-renumber', 5);
      await tamper('DELETE FROM audit_events WHERE tenant_id = $1 AND seq = 3', [tenant.id]);
      // One row at a time, upwards, so the (tenant_id, seq) unique index never sees two equal seqs.
      for (const seq of [4, 5]) await tamper('UPDATE audit_events SET seq = seq - 1 WHERE tenant_id = $1 AND seq = $2', [tenant.id, seq]);
      // Row 4 (now 3) still names the deleted row's hash as its predecessor.
      expect(await verifier.verify(tenant.id)).toEqual({ ok: false, count: 2, seq: 3, problem: 'broken_link' });
    });

    it('a rewritten row with a recomputed hash breaks the link to the next one', async () => {
      const tenant = await tenantWithEvents('audit-rehash', 5);
      const { rows: [row] } = await owner.query('SELECT * FROM audit_events WHERE tenant_id = $1 AND seq = 3', [tenant.id]);
      const forged = {
        tenantId: row.tenant_id,
        seq: BigInt(row.seq),
        id: row.id,
        occurredAt: row.occurred_at,
        type: row.type,
        outcome: 'failure',
        actor: row.actor,
        subject: row.subject,
        requestId: row.request_id,
        ip: row.ip,
        data: row.data,
        prevHash: row.prev_hash,
        hashVersion: row.hash_version,
        personalCommitment: row.personal_commitment,
      };
      await tamper("UPDATE audit_events SET outcome = 'failure', hash = $2 WHERE tenant_id = $1 AND seq = 3", [tenant.id, auditEventHash(forged)]);
      expect(await verifier.verify(tenant.id)).toEqual({ ok: false, count: 3, seq: 4, problem: 'broken_link' });
    });
  });

  // Data subject erasure (docs/privacy.md): version 2 rows hash a salted commitment to ip and data,
  // so erasing them (ip, data and salt cleared, erased_at set) leaves the chain verifying.
  describe('erasable detail (version 2 rows)', () => {
    const erase = (tenant: TestTenant, actor: string) =>
      db.run(tenant.scope('owner'), (tx) => audit.eraseDetailIn(tx, { actors: [actor], subjects: [], dataValues: [] }, new Date()));

    it("erasing a person's detail leaves verify green while their ip and data are gone", async () => {
      const tenant = await createTenant(owner, 'audit-erase');
      const person = `user:${randomUUID()}`;
      for (let n = 1; n <= 6; n++) await audit.recordFor(tenant.id, event(n, n % 2 === 0 ? { actor: person, ip: '198.51.100.23', data: { email: 'orang@example.test' } } : {}));
      expect(await verifier.verify(tenant.id)).toEqual({ ok: true, count: 6, head: expect.anything() });

      expect(await erase(tenant, person)).toEqual({ erased: 3, legacy: 0 });
      const { rows: after } = await owner.query('SELECT actor, ip, data, personal_salt, erased_at IS NOT NULL AS erased FROM audit_events WHERE tenant_id = $1 ORDER BY seq', [tenant.id]);
      expect(after.filter((r) => r.actor === person)).toEqual(Array(3).fill({ actor: person, ip: null, data: {}, personal_salt: null, erased: true }));
      expect(after.filter((r) => r.actor !== person).every((r) => r.ip === '203.0.113.7' && r.personal_salt !== null && !r.erased)).toBe(true);
      expect(JSON.stringify(after)).not.toContain('198.51.100.23');
      expect(JSON.stringify(after)).not.toContain('orang@example.test');
      expect(await verifier.verify(tenant.id)).toEqual({ ok: true, count: 6, head: expect.anything() });
    });

    it('the trigger accepts only a whole erasure: changing detail, or erasing part of it, is refused', async () => {
      const tenant = await tenantWithEvents('audit-erase-trigger', 2);
      await expect(owner.query("UPDATE audit_events SET ip = '192.0.2.1' WHERE tenant_id = $1 AND seq = 1", [tenant.id])).rejects.toThrow(/append-only/);
      await expect(owner.query('UPDATE audit_events SET ip = NULL, erased_at = now() WHERE tenant_id = $1 AND seq = 1', [tenant.id])).rejects.toThrow(/append-only/);
      await expect(app.query("SET app.tenant_id = '" + tenant.id + "'; UPDATE audit_events SET data = '{\"x\": 1}' WHERE seq = 1")).rejects.toThrow(/append-only/);
      expect(await verifier.verify(tenant.id)).toMatchObject({ ok: true, count: 2 });
    });

    it('tampering with the detail is still detected: an edited ip, and detail put back after erasure', async () => {
      const tenant = await tenantWithEvents('audit-erase-tamper', 4);
      await tamper("UPDATE audit_events SET ip = '192.0.2.99' WHERE tenant_id = $1 AND seq = 2", [tenant.id]);
      expect(await verifier.verify(tenant.id)).toEqual({ ok: false, count: 1, seq: 2, problem: 'hash_mismatch' });

      const other = await tenantWithEvents('audit-erase-restore', 3);
      expect(await erase(other, 'anonymous')).toEqual({ erased: 3, legacy: 0 });
      await tamper("UPDATE audit_events SET ip = '192.0.2.99' WHERE tenant_id = $1 AND seq = 3", [other.id]);
      expect(await verifier.verify(other.id)).toEqual({ ok: false, count: 2, seq: 3, problem: 'hash_mismatch' });
    });

    it('a version 1 row (written before erasable detail) is counted, not changed', async () => {
      const tenant = await createTenant(owner, 'audit-erase-legacy');
      const row: ChainedEvent = { tenantId: tenant.id, seq: 1n, id: randomUUID(), occurredAt: new Date(Date.UTC(2026, 10, 1)), type: 'auth.login', outcome: 'success', actor: 'anonymous', subject: null, requestId: null, ip: '203.0.113.9', data: {}, prevHash: GENESIS_HASH };
      await owner.query(
        `INSERT INTO audit_events (tenant_id, id, seq, occurred_at, type, outcome, actor, ip, data, prev_hash, hash) VALUES ($1, $2, 1, $3, 'auth.login', 'success', 'anonymous', '203.0.113.9', '{}', $4, $5)`,
        [tenant.id, row.id, row.occurredAt, GENESIS_HASH, auditEventHash(row)],
      );
      await audit.recordFor(tenant.id, event(2));
      expect(await erase(tenant, 'anonymous')).toEqual({ erased: 1, legacy: 1 });
      const { rows: [legacy] } = await owner.query('SELECT ip, hash_version FROM audit_events WHERE tenant_id = $1 AND seq = 1', [tenant.id]);
      expect(legacy).toEqual({ ip: '203.0.113.9', hash_version: 1 });
      expect(await verifier.verify(tenant.id)).toMatchObject({ ok: true, count: 2 });
    });
  });

  it('verifies a chain longer than one page, and finds a problem past the first page', async () => {
    const tenant = await createTenant(owner, 'audit-long');
    // Built here and inserted in one statement: appending 2,345 events one by one would be slow.
    const chain: (ChainedEvent & { hash: string })[] = [];
    let prevHash = GENESIS_HASH;
    for (let seq = 1; seq <= 2345; seq++) {
      const row: ChainedEvent = {
        tenantId: tenant.id,
        seq: BigInt(seq),
        id: randomUUID(),
        occurredAt: new Date(Date.UTC(2026, 11, 1, 0, 0, seq)),
        type: 'auth.refresh',
        outcome: 'success',
        actor: 'system:auth',
        subject: null,
        requestId: null,
        ip: null,
        data: { n: seq },
        prevHash,
      };
      prevHash = auditEventHash(row);
      chain.push({ ...row, hash: prevHash });
    }
    await owner.query(
      `INSERT INTO audit_events (tenant_id, id, seq, occurred_at, type, outcome, actor, data, prev_hash, hash)
       SELECT $1, r.id, r.seq, r.at, 'auth.refresh', 'success', 'system:auth', r.data, r.prev, r.hash
         FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, seq bigint, at timestamptz, data jsonb, prev text, hash text)`,
      [tenant.id, JSON.stringify(chain.map((r) => ({ id: r.id, seq: Number(r.seq), at: r.occurredAt, data: r.data, prev: r.prevHash, hash: r.hash })))],
    );
    expect(await verifier.verify(tenant.id)).toEqual({ ok: true, count: 2345, head: { seq: 2345, hash: prevHash } });

    await tamper(`UPDATE audit_events SET data = '{"n": 0}' WHERE tenant_id = $1 AND seq = 1500`, [tenant.id]);
    expect(await verifier.verify(tenant.id)).toEqual({ ok: false, count: 1499, seq: 1500, problem: 'hash_mismatch' });
  });

  describe('what an entry may carry', () => {
    let tenant: TestTenant;

    beforeAll(async () => {
      tenant = await createTenant(owner, 'audit-data');
    });

    it('refuses secret-looking data keys before writing anything', async () => {
      await expect(audit.recordFor(tenant.id, event(1, { data: { refreshToken: 'rt_abc' } }))).rejects.toThrow(/never carry secrets/);
      await expect(
        db.run(tenant.scope('owner'), (tx) => audit.recordIn(tx, tenant.id, event(1, { data: { password: 'hunter2' } }))),
      ).rejects.toThrow(/never carry secrets/);
      expect(await rows(tenant.id)).toEqual([]);
    });

    it('caps string values at 200 characters, and the capped row verifies', async () => {
      await audit.recordFor(tenant.id, event(1, { subject: `session:${'s'.repeat(300)}`, data: { userAgent: 'A'.repeat(5000), accents: 'é😀'.repeat(150) } }));
      const [row] = await rows(tenant.id);
      expect(row!.data.userAgent).toBe('A'.repeat(200));
      expect(Array.from(row!.data.accents as string)).toHaveLength(200);
      expect(await verifier.verify(tenant.id)).toMatchObject({ ok: true, count: 1 });
    });

    it('stores hostile text (NUL, lone surrogates) instead of failing the write, and it verifies', async () => {
      await audit.recordFor(tenant.id, event(2, { requestId: 'req\u0000x', data: { email: 'a\uD800@example.test', order: 'zz', a: 1 } }));
      expect(await verifier.verify(tenant.id)).toMatchObject({ ok: true, count: 2 });
    });
  });

  it('logs every event: info for success, warn for failure and denial, and never the data it refused', async () => {
    const lines: { level: string; object: Record<string, unknown>; message: string }[] = [];
    const sink: AuditLogSink = {
      info: (object, message) => lines.push({ level: 'info', object: object as Record<string, unknown>, message }),
      warn: (object, message) => lines.push({ level: 'warn', object: object as Record<string, unknown>, message }),
      error: (object, message) => lines.push({ level: 'error', object: object as Record<string, unknown>, message }),
    };
    const logged = new AuditLog(db, undefined, sink);
    const tenant = await createTenant(owner, 'audit-logs');
    await logged.recordFor(tenant.id, event(1));
    await logged.recordFor(tenant.id, event(2, { outcome: 'failure', data: { reason: 'bad_credentials' } }));
    await logged.recordFor(tenant.id, event(3, { type: 'authz.denied', outcome: 'denied', actor: `user:${tenant.users.viewer.id}` }));
    await expect(logged.recordFor(tenant.id, event(4, { data: { apiKey: 'bk_live_secret' } }))).rejects.toThrow(/never carry secrets/);

    expect(lines.map((l) => [l.level, l.message])).toEqual([
      ['info', 'audit auth.login success'],
      ['warn', 'audit auth.login failure'],
      ['warn', 'audit authz.denied denied'],
    ]);
    expect(lines[1]!.object).toEqual({
      audit: {
        tenantId: tenant.id,
        eventId: expect.any(String),
        seq: 2,
        type: 'auth.login',
        outcome: 'failure',
        actor: 'anonymous',
        subject: null,
        requestId: 'req-2',
        ip: '203.0.113.7',
        data: { reason: 'bad_credentials' },
      },
    });
    expect(JSON.stringify(lines)).not.toContain('bk_live_secret');
  });

  it('wires into Nest: AuditModule with the app Clock and pino, one log line per event', async () => {
    const at = new Date('2026-12-01T08:30:00.123Z');
    const lines: Record<string, unknown>[] = [];
    @Global()
    @Module({ providers: [{ provide: TenantDatabase, useValue: db }], exports: [TenantDatabase] })
    class TestDatabaseModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [
        LoggerModule.forRoot({ pinoHttp: [{ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }] }),
        ClockModule,
        TestDatabaseModule,
        AuditModule,
      ],
    })
      .overrideProvider(Clock)
      .useValue({ now: () => at })
      .compile();
    try {
      const tenant = await createTenant(owner, 'audit-nest');
      await moduleRef.get(AuditLog).recordFor(tenant.id, event(1, { type: 'auth.rate_limited', outcome: 'denied' }));
      expect(await moduleRef.get(AuditVerifier).verify(tenant.id)).toMatchObject({ ok: true, count: 1 });

      const { rows: [row] } = await owner.query('SELECT occurred_at, id FROM audit_events WHERE tenant_id = $1', [tenant.id]);
      expect(row.occurred_at.toISOString()).toBe(at.toISOString());
      expect(parseInt(row.id.replaceAll('-', '').slice(0, 12), 16)).toBe(at.getTime());
      expect(lines).toEqual([
        expect.objectContaining({
          level: 40,
          context: 'AuditLog',
          msg: 'audit auth.rate_limited denied',
          audit: expect.objectContaining({ tenantId: tenant.id, eventId: row.id, seq: 1, data: event(1).data }),
        }),
      ]);
    } finally {
      await moduleRef.close();
    }
  });
});
