import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '@benteng/audit';
import { definePlatformAbility, type OperatorPrincipal } from '@benteng/authz';
import { SecurityBlocksService, type PlacedBlock } from '@benteng/security';
import { Scope } from '@benteng/tenancy';
import type { BlockRow as PlatformBlockRow } from '../../libs/platform/src/platform-database.js';
import { SecurityBlocksRepository } from '../../libs/security/src/security-blocks.repository.js';
import { auditOf, capturingLogger, SettableClock } from '../support/auth-services.js';
import { ownerInTenant, ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';

/**
 * SecurityBlocksService and SecurityBlocksRepository in-process, on the real PostgreSQL as the
 * runtime role (test/e2e/security-blocks.spec.ts and test/e2e/internal-incidents.spec.ts reach them
 * only through the compiled API). Pinned: what `placed` logs, which blocks it records (a principal
 * with a tenant only), the row, the outbox event and the audit event it writes in one transaction,
 * and what `list` answers (filters, order, keyset, subjects by membership id, the CASL condition).
 */
describe('security blocks', () => {
  const owner = ownerPool();
  const { db } = tenantDatabase();
  const T0 = new Date('2026-06-01T10:00:00.000Z');

  function services(at: Date = T0) {
    const clock = new SettableClock(new Date(at.getTime()));
    const { logger, lines, contexts } = capturingLogger();
    const repository = new SecurityBlocksRepository(db, new AuditLog(db, clock));
    const service = new SecurityBlocksService(repository, clock, logger);
    return { clock, lines, contexts, repository, service };
  }

  const principalBlock = (principal: string, tenantId: string | undefined, overrides: Partial<PlacedBlock> = {}): PlacedBlock => ({
    subject: { kind: 'principal', principal, ...(tenantId ? { tenantId } : {}) },
    signal: 'not_found',
    observed: 41,
    threshold: 40,
    windowS: 60,
    blockS: 900,
    ip: '203.0.113.9',
    ...overrides,
  });

  /** A security_blocks row as the platform reads it, without the tenant (the spec reads one tenant's). */
  type BlockRow = Omit<PlatformBlockRow, 'tenant_id'>;
  const blocksOf = async (tenantId: string): Promise<BlockRow[]> =>
    (
      await ownerInTenant(owner, tenantId, (c) =>
        c.query<BlockRow>('SELECT id, principal, ip, signal, observed, threshold, window_s, blocked_at, expires_at, lifted_at, lifted_by FROM security_blocks WHERE tenant_id = $1 ORDER BY blocked_at, id', [tenantId]),
      )
    ).rows;
  const eventsOf = async (tenantId: string) =>
    (
      await ownerInTenant(owner, tenantId, (c) =>
        c.query<{ type: string; subject_type: string; subject_id: string; payload: unknown; occurred_at: Date; published_at: Date | null }>(
          'SELECT type, subject_type, subject_id, payload, occurred_at, published_at FROM domain_events WHERE tenant_id = $1 ORDER BY occurred_at, id',
          [tenantId],
        ),
      )
    ).rows;
  const membershipOf = async (tenantId: string, userId: string): Promise<string> =>
    (await ownerInTenant(owner, tenantId, (c) => c.query<{ id: string }>('SELECT id FROM memberships WHERE tenant_id = $1 AND user_id = $2', [tenantId, userId]))).rows[0]!.id;

  /** A block row arranged through the owner connection (list's fixtures), as `placed` would write it. */
  async function insertBlock(tenantId: string, seed: { principal: string; blockedAt: Date; expiresAt: Date; liftedAt?: Date; id?: string }): Promise<string> {
    const id = seed.id ?? randomUUID();
    await ownerInTenant(owner, tenantId, (c) =>
      c.query(
        `INSERT INTO security_blocks (tenant_id, id, principal, ip, signal, observed, threshold, window_s, blocked_at, expires_at, lifted_at, lifted_by)
         VALUES ($1, $2, $3, '198.51.100.4', 'burst', 7, 6, 5, $4, $5, $6, $7)`,
        [tenantId, id, seed.principal, seed.blockedAt, seed.expiresAt, seed.liftedAt ?? null, seed.liftedAt ? 'operator:someone' : null],
      ),
    );
    return id;
  }

  describe('placed', () => {
    it('sets its log context to its class name', () => {
      expect(services().contexts).toEqual(['SecurityBlocksService']);
    });

    it("records a member's block with its outbox event and audit event, naming the member by membership id", async () => {
      const tenant = await createTenant(owner, 'blocks-member');
      const { service, lines } = services();
      const userId = tenant.users.member.id;
      await service.placed(principalBlock(`user:${userId}`, tenant.id), 'req-1');

      // Logged at warn, with every field of the block and the request id.
      expect(lines).toEqual([
        {
          level: 'warn',
          fields: { event: 'security.principal_blocked', subject: `user:${userId}`, signal: 'not_found', observed: 41, threshold: 40, windowS: 60, blockS: 900, ip: '203.0.113.9', requestId: 'req-1' },
          message: 'abuse detector placed a block',
        },
      ]);
      // The row: blocked now, until now + blockS seconds, not lifted.
      const [row, ...others] = await blocksOf(tenant.id);
      expect(others).toEqual([]);
      expect(row).toEqual({
        id: expect.any(String),
        principal: `user:${userId}`,
        ip: '203.0.113.9',
        signal: 'not_found',
        observed: 41,
        threshold: 40,
        window_s: 60,
        blocked_at: T0,
        expires_at: new Date(T0.getTime() + 900_000),
        lifted_at: null,
        lifted_by: null,
      });
      // The outbox event names the member by membership id, never the global user id.
      expect(await eventsOf(tenant.id)).toEqual([
        {
          type: 'security.principal_blocked',
          subject_type: 'security_block',
          subject_id: row!.id,
          payload: {
            id: row!.id,
            subject: { kind: 'member', memberId: await membershipOf(tenant.id, userId) },
            signal: 'not_found',
            blockedAt: '2026-06-01T10:00:00.000Z',
            expiresAt: '2026-06-01T10:15:00.000Z',
          },
          occurred_at: T0,
          published_at: null,
        },
      ]);
      expect(JSON.stringify(await eventsOf(tenant.id))).not.toContain(userId);
      // The audit event: denied, by system:security, about the principal, with the request id.
      expect(await auditOf(owner, tenant.id)).toEqual([
        {
          type: 'security.principal_blocked',
          outcome: 'denied',
          actor: 'system:security',
          subject: `user:${userId}`,
          ip: '203.0.113.9',
          request_id: 'req-1',
          data: { signal: 'not_found', observed: 41, threshold: 40, windowS: 60, blockS: 900, blockId: row!.id },
        },
      ]);
    });

    it('names a user who is no member of the tenant with a null member id, and audits without a request id when none is given', async () => {
      const tenant = await createTenant(owner, 'blocks-stranger');
      const other = await createTenant(owner, 'blocks-other');
      const { service, lines } = services();
      // A member of another tenant: not a member here (the lookup is the tenant's own memberships).
      const stranger = other.users.owner.id;
      await service.placed(principalBlock(`user:${stranger}`, tenant.id, { signal: 'burst', observed: 7, threshold: 6, windowS: 5, blockS: 1, ip: '2001:db8::1' }));

      expect(lines).toEqual([
        {
          level: 'warn',
          fields: { event: 'security.principal_blocked', subject: `user:${stranger}`, signal: 'burst', observed: 7, threshold: 6, windowS: 5, blockS: 1, ip: '2001:db8::1', requestId: undefined },
          message: 'abuse detector placed a block',
        },
      ]);
      const [row] = await blocksOf(tenant.id);
      expect(row).toMatchObject({ principal: `user:${stranger}`, ip: '2001:db8::1', signal: 'burst', observed: 7, threshold: 6, window_s: 5, blocked_at: T0, expires_at: new Date(T0.getTime() + 1000) });
      const [event] = await eventsOf(tenant.id);
      expect(event!.payload).toEqual({ id: row!.id, subject: { kind: 'member', memberId: null }, signal: 'burst', blockedAt: '2026-06-01T10:00:00.000Z', expiresAt: '2026-06-01T10:00:01.000Z' });
      const [audit] = await auditOf(owner, tenant.id);
      expect(audit).toEqual({
        type: 'security.principal_blocked',
        outcome: 'denied',
        actor: 'system:security',
        subject: `user:${stranger}`,
        ip: '2001:db8::1',
        request_id: null,
        data: { signal: 'burst', observed: 7, threshold: 6, windowS: 5, blockS: 1, blockId: row!.id },
      });
      // Nothing reached the other tenant.
      expect(await blocksOf(other.id)).toEqual([]);
      expect(await eventsOf(other.id)).toEqual([]);
    });

    it('names a partner client by its client id, and takes the time from the clock', async () => {
      const tenant = await createTenant(owner, 'blocks-partner');
      const at = new Date('2026-07-02T03:04:05.678Z');
      const { service } = services(at);
      const clientId = randomUUID();
      await service.placed(principalBlock(`partner:${clientId}`, tenant.id, { signal: 'auth_failure', blockS: 60 }), 'req-p');

      const [row] = await blocksOf(tenant.id);
      expect(row).toMatchObject({ principal: `partner:${clientId}`, signal: 'auth_failure', blocked_at: at, expires_at: new Date(at.getTime() + 60_000) });
      const [event] = await eventsOf(tenant.id);
      expect(event).toMatchObject({ subject_id: row!.id, occurred_at: at });
      expect(event!.payload).toEqual({ id: row!.id, subject: { kind: 'partner_client', clientId }, signal: 'auth_failure', blockedAt: '2026-07-02T03:04:05.678Z', expiresAt: '2026-07-02T03:05:05.678Z' });
      expect(await auditOf(owner, tenant.id)).toMatchObject([{ subject: `partner:${clientId}`, request_id: 'req-p', data: { blockS: 60, blockId: row!.id } }]);
    });

    it("repository: looks the member up through the scope's CASL condition (a scope that may not read memberships learns no member id)", async () => {
      const tenant = await createTenant(owner, 'blocks-casl');
      const { repository } = services();
      const userId = tenant.users.member.id;
      // A partner client's scope is granted no read of memberships (libs/authz/src/rules/partner.rules.ts).
      const partnerScope = Scope.for(tenant.id, { kind: 'partner', clientId: randomUUID(), scopes: [], tier: 'free' });
      const seen: (string | null)[] = [];
      const row = await repository.create(
        partnerScope,
        { principal: `user:${userId}`, ip: null, signal: 'scraping', observed: 3, threshold: 2, windowS: 60, blockedAt: T0, expiresAt: new Date(T0.getTime() + 1000) },
        (created, memberId) => {
          seen.push(memberId);
          return { type: 'security.principal_blocked', subjectType: 'security_block', subjectId: created.id, payload: { memberId } };
        },
        (created) => ({ type: 'security.principal_blocked', outcome: 'denied', actor: 'system:security', data: { blockId: created.id } }),
      );
      expect(seen).toEqual([null]);
      expect(await blocksOf(tenant.id)).toEqual([expect.objectContaining({ id: row.id, principal: `user:${userId}`, ip: null, signal: 'scraping' })]);
      expect((await eventsOf(tenant.id)).map((e) => e.payload)).toEqual([{ memberId: null }]);
      // The security principal may read them: the same block names the member.
      const { repository: again } = services();
      await again.create(
        Scope.for(tenant.id, { kind: 'system', name: 'security' }),
        { principal: `user:${userId}`, ip: null, signal: 'scraping', observed: 3, threshold: 2, windowS: 60, blockedAt: T0, expiresAt: new Date(T0.getTime() + 1000) },
        (created, memberId) => ({ type: 'security.principal_blocked', subjectType: 'security_block', subjectId: created.id, payload: { memberId } }),
        (created) => ({ type: 'security.principal_blocked', outcome: 'denied', actor: 'system:security', data: { blockId: created.id } }),
      );
      expect((await eventsOf(tenant.id)).map((e) => e.payload)).toEqual([{ memberId: null }, { memberId: await membershipOf(tenant.id, userId) }]);
    });

    it('only logs a block on an address (no tenant), and a principal block without a tenant', async () => {
      const tenant = await createTenant(owner, 'blocks-none');
      const { service, lines } = services();
      const userId = tenant.users.admin.id;
      await service.placed({ subject: { kind: 'ip', ip: '2001:db8:1:2::/64' }, signal: 'not_found', observed: 121, threshold: 120, windowS: 60, blockS: 900, ip: '2001:db8:1:2::5' }, 'req-ip');
      await service.placed(principalBlock(`user:${userId}`, undefined), 'req-nt');

      expect(lines).toEqual([
        {
          level: 'warn',
          fields: { event: 'security.principal_blocked', subject: 'ip:2001:db8:1:2::/64', signal: 'not_found', observed: 121, threshold: 120, windowS: 60, blockS: 900, ip: '2001:db8:1:2::5', requestId: 'req-ip' },
          message: 'abuse detector placed a block',
        },
        {
          level: 'warn',
          fields: { event: 'security.principal_blocked', subject: `user:${userId}`, signal: 'not_found', observed: 41, threshold: 40, windowS: 60, blockS: 900, ip: '203.0.113.9', requestId: 'req-nt' },
          message: 'abuse detector placed a block',
        },
      ]);
      // No tenant holds a row, an event or an audit event of either.
      const { rows } = await owner.query<{ n: number }>("SELECT count(*)::int AS n FROM security_blocks WHERE principal IN ($1, 'ip:2001:db8:1:2::/64')", [`user:${userId}`]);
      expect(rows[0]!.n).toBe(0);
      expect(await eventsOf(tenant.id)).toEqual([]);
      expect(await auditOf(owner, tenant.id)).toEqual([]);
    });
  });

  describe('list', () => {
    /** A tenant with blocks of every kind at known times, relative to T0 (the service's now). */
    async function arranged(): Promise<{ tenant: TestTenant; ids: Record<string, string>; memberId: string; clientId: string; stranger: string }> {
      const tenant = await createTenant(owner, 'blocks-list');
      const clientId = randomUUID();
      const stranger = randomUUID();
      const t = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
      const ids = {
        // Active: expires after now.
        member: await insertBlock(tenant.id, { principal: `user:${tenant.users.member.id}`, blockedAt: t(-50), expiresAt: t(1) }),
        partner: await insertBlock(tenant.id, { principal: `partner:${clientId}`, blockedAt: t(-40), expiresAt: t(600) }),
        stranger: await insertBlock(tenant.id, { principal: `user:${stranger}`, blockedAt: t(-30), expiresAt: t(600) }),
        // Expires exactly now: no longer in force.
        expiring: await insertBlock(tenant.id, { principal: `user:${tenant.users.viewer.id}`, blockedAt: t(-20), expiresAt: t(0) }),
        // Lifted before it expired.
        lifted: await insertBlock(tenant.id, { principal: `user:${tenant.users.admin.id}`, blockedAt: t(-10), expiresAt: t(600), liftedAt: t(-5) }),
      };
      return { tenant, ids, memberId: await membershipOf(tenant.id, tenant.users.member.id), clientId, stranger };
    }

    it('answers every block of the tenant newest first, each with its subject', async () => {
      const { tenant, ids, memberId, clientId } = await arranged();
      const foreign = await createTenant(owner, 'blocks-foreign');
      await insertBlock(foreign.id, { principal: `user:${foreign.users.member.id}`, blockedAt: T0, expiresAt: new Date(T0.getTime() + 60_000) });
      const { service } = services();

      const views = await service.list(tenant.scope('admin'), { limit: 10 });
      expect(views.map((v) => v.id)).toEqual([ids.lifted, ids.expiring, ids.stranger, ids.partner, ids.member]);
      expect(views.map((v) => v.subject)).toEqual([
        { kind: 'member', memberId: await membershipOf(tenant.id, tenant.users.admin.id) },
        { kind: 'member', memberId: await membershipOf(tenant.id, tenant.users.viewer.id) },
        { kind: 'member', memberId: null },
        { kind: 'partner_client', clientId },
        { kind: 'member', memberId },
      ]);
      // The row itself is answered as stored, with the subject beside it.
      expect(views[4]).toEqual({
        tenantId: tenant.id,
        id: ids.member,
        principal: `user:${tenant.users.member.id}`,
        ip: '198.51.100.4',
        signal: 'burst',
        observed: 7,
        threshold: 6,
        windowS: 5,
        blockedAt: new Date(T0.getTime() - 50_000),
        expiresAt: new Date(T0.getTime() + 1000),
        liftedAt: null,
        liftedBy: null,
        subject: { kind: 'member', memberId },
      });
      expect(views[0]).toMatchObject({ liftedAt: new Date(T0.getTime() - 5000), liftedBy: 'operator:someone' });
    });

    it('answers only blocks in force at the clock\'s now when active (not lifted, expiring after now)', async () => {
      const { tenant, ids } = await arranged();
      const { service, clock } = services();
      expect((await service.list(tenant.scope('owner'), { limit: 10, active: true })).map((v) => v.id)).toEqual([ids.stranger, ids.partner, ids.member]);
      expect((await service.list(tenant.scope('owner'), { limit: 10, active: false })).map((v) => v.id)).toEqual([ids.lifted, ids.expiring, ids.stranger, ids.partner, ids.member]);
      // One second on, the member's block (expiring at now + 1 s) is no longer in force.
      clock.advance(1);
      expect((await service.list(tenant.scope('owner'), { limit: 10, active: true })).map((v) => v.id)).toEqual([ids.stranger, ids.partner]);
      // One second earlier, the block expiring at T0 was still in force.
      clock.advance(-2);
      expect((await service.list(tenant.scope('owner'), { limit: 10, active: true })).map((v) => v.id)).toEqual([ids.expiring, ids.stranger, ids.partner, ids.member]);
    });

    it('answers at most `limit` blocks, and the page after a keyset (ties on blockedAt broken by id, descending)', async () => {
      const { tenant, ids } = await arranged();
      const { service } = services();
      const scope = tenant.scope('admin');
      expect((await service.list(scope, { limit: 2 })).map((v) => v.id)).toEqual([ids.lifted, ids.expiring]);
      const after = { value: new Date(T0.getTime() - 20_000), id: ids.expiring! };
      expect((await service.list(scope, { limit: 2, after })).map((v) => v.id)).toEqual([ids.stranger, ids.partner]);
      expect((await service.list(scope, { limit: 10, after, active: true })).map((v) => v.id)).toEqual([ids.stranger, ids.partner, ids.member]);

      // Two blocks at the same instant: the larger id first, and the keyset on the first answers the second.
      const same = new Date(T0.getTime() - 100_000);
      const low = await insertBlock(tenant.id, { principal: `partner:${randomUUID()}`, blockedAt: same, expiresAt: T0, id: '00000000-0000-4000-8000-000000000001' });
      const high = await insertBlock(tenant.id, { principal: `partner:${randomUUID()}`, blockedAt: same, expiresAt: T0, id: 'ffffffff-ffff-4fff-bfff-ffffffffffff' });
      const tail = await service.list(scope, { limit: 10, after: { value: new Date(T0.getTime() - 50_000), id: ids.member! } });
      expect(tail.map((v) => v.id)).toEqual([high, low]);
      expect((await service.list(scope, { limit: 10, after: { value: same, id: high } })).map((v) => v.id)).toEqual([low]);
    });

    it('answers nothing to a role that may not read blocks, and nothing of another tenant', async () => {
      const { tenant } = await arranged();
      const { service } = services();
      expect(await service.list(tenant.scope('member'), { limit: 10 })).toEqual([]);
      expect(await service.list(tenant.scope('viewer'), { limit: 10 })).toEqual([]);
      const empty = await createTenant(owner, 'blocks-empty');
      expect(await service.list(empty.scope('owner'), { limit: 10 })).toEqual([]);
      // The system principal that records blocks reads them too.
      expect(await service.list(Scope.for(tenant.id, { kind: 'system', name: 'security' }), { limit: 10 })).toHaveLength(5);
    });

    it('repository: answers the rows and the membership ids of the blocked users, by user id', async () => {
      const { tenant, ids, memberId, stranger } = await arranged();
      const { repository } = services();
      const { rows, memberOf } = await repository.list(tenant.scope('admin'), { limit: 10, activeAt: T0 });
      expect(rows.map((r) => r.id)).toEqual([ids.stranger, ids.partner, ids.member]);
      // The stranger has no membership; the partner client is not looked up.
      expect([...memberOf.entries()]).toEqual([[tenant.users.member.id, memberId]]);
      expect(memberOf.has(stranger)).toBe(false);
      // A security operator's ability reads blocks but not memberships (libs/authz/src/rules/operator.rules.ts):
      // the blocks (RLS keeps them the tenant's), and no member ids.
      const principal: OperatorPrincipal = { kind: 'operator', operatorId: randomUUID(), roles: ['security'], service: 'ops-cli' };
      const operator = Scope.for(tenant.id, principal, { forTenant: () => definePlatformAbility(principal) });
      const seenByOperator = await repository.list(operator, { limit: 10, activeAt: T0 });
      expect(seenByOperator.rows.map((r) => r.id)).toEqual([ids.stranger, ids.partner, ids.member]);
      expect(seenByOperator.memberOf).toEqual(new Map());
      const none = await repository.list(tenant.scope('admin'), { limit: 10, activeAt: new Date(T0.getTime() + 3_600_000) });
      expect(none).toEqual({ rows: [], memberOf: new Map() });
    });
  });
});
