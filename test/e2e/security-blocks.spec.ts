import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '@benteng/common';
import type { TestApi } from '../support/api.js';
import { buildAuthApi, Caller, SecretLedger } from '../support/auth-client.js';
import { FakeClock } from '../support/clock.js';
import { ownerPool } from '../support/db.js';
import { createLoggedInTenant, type LoggedInTenant } from '../support/tenants.js';
import { type Page, problemOf } from '../support/public-api.js';
import { tag } from '../security/support/controls.js';

/**
 * GET /v1/security/blocks: the abuse detector's blocks on the caller's tenant's principals, for
 * owners and admins (libs/authz/src/rules/security.rules.ts). Rows are arranged through the owner
 * connection, as SecurityBlocksService.placed would write them; the app runs on a FakeClock, so "active"
 * and "expired" are decided at a known instant.
 */
const BLOCK_KEYS = ['blockedAt', 'expiresAt', 'id', 'ip', 'liftedAt', 'observed', 'signal', 'status', 'subject', 'threshold', 'windowS'];

interface BlockBody {
  id: string;
  subject: { kind: 'member'; memberId: string | null } | { kind: 'partner_client'; clientId: string };
  ip: string | null;
  signal: string;
  observed: number;
  threshold: number;
  windowS: number;
  blockedAt: string;
  expiresAt: string;
  liftedAt: string | null;
  status: 'active' | 'expired' | 'lifted';
}
describe(tag('ABUSE-DETECTION', 'security blocks'), () => {
  const owner = ownerPool();
  const ledger = new SecretLedger();
  const clock = new FakeClock();
  let api: TestApi;
  let caller: Caller;

  beforeAll(async () => {
    api = ledger.watch(await buildAuthApi({ overrides: [{ token: Clock, value: clock }] }));
    caller = new Caller(api, ledger);
  });
  afterAll(() => api.close());

  const loggedInTenant = (label: string) => createLoggedInTenant(owner, caller, label);

  /** Seconds from the app's now. */
  const at = (seconds: number) => new Date(clock.now().getTime() + seconds * 1000);

  interface BlockSeed {
    principal: string;
    blockedAt: Date;
    expiresAt: Date;
    liftedAt?: Date;
    signal?: string;
    ip?: string | null;
  }
  async function insertBlock(tenantId: string, seed: BlockSeed): Promise<string> {
    const id = randomUUID();
    await owner.query(
      `INSERT INTO security_blocks (tenant_id, id, principal, ip, signal, observed, threshold, window_s, blocked_at, expires_at, lifted_at, lifted_by)
       VALUES ($1, $2, $3, $4, $5, 41, 40, 60, $6, $7, $8, $9)`,
      [tenantId, id, seed.principal, seed.ip === undefined ? '203.0.113.9' : seed.ip, seed.signal ?? 'not_found', seed.blockedAt, seed.expiresAt, seed.liftedAt ?? null, seed.liftedAt ? 'operator:someone' : null],
    );
    return id;
  }

  const list = (token: string, query = '') => caller.call('get', `/v1/security/blocks${query ? `?${query}` : ''}`, { token });

  describe('listing', () => {
    let a: LoggedInTenant;
    let b: LoggedInTenant;
    let active: string;
    let expired: string;
    let lifted: string;
    let foreign: string;
    let partnerClientId: string;

    beforeAll(async () => {
      a = await loggedInTenant('blocks-a');
      b = await loggedInTenant('blocks-b');
      const member = `user:${a.tenant.users.member.id}`;
      partnerClientId = randomUUID();
      const partner = `partner:${partnerClientId}`;
      expired = await insertBlock(a.tenant.id, { principal: member, blockedAt: at(-7200), expiresAt: at(-3600), signal: 'burst' });
      lifted = await insertBlock(a.tenant.id, { principal: partner, blockedAt: at(-600), expiresAt: at(3000), liftedAt: at(-60), signal: 'scraping', ip: null });
      active = await insertBlock(a.tenant.id, { principal: member, blockedAt: at(-60), expiresAt: at(300), signal: 'auth_failure' });
      foreign = await insertBlock(b.tenant.id, { principal: `user:${b.tenant.users.member.id}`, blockedAt: at(-30), expiresAt: at(900) });
    });

    it("answers the tenant's blocks, newest first, field by field with their status", async () => {
      const res = await list(a.tokens.owner);
      expect(res.status, `${res.text}`).toBe(200);
      const page = res.body as Page<BlockBody>;
      expect(page.nextCursor).toBeNull();
      expect(page.items.map((i) => i.id)).toEqual([active, lifted, expired]);
      for (const item of page.items) expect(Object.keys(item).sort()).toEqual(BLOCK_KEYS);
      // A blocked user appears as their membership in this tenant, never by global user id.
      const { rows } = await owner.query<{ id: string }>('SELECT id FROM memberships WHERE tenant_id = $1 AND user_id = $2', [a.tenant.id, a.tenant.users.member.id]);
      const memberId = rows[0]!.id;
      expect(page.items[0]).toEqual({
        id: active,
        subject: { kind: 'member', memberId },
        ip: '203.0.113.9',
        signal: 'auth_failure',
        observed: 41,
        threshold: 40,
        windowS: 60,
        blockedAt: at(-60).toISOString(),
        expiresAt: at(300).toISOString(),
        liftedAt: null,
        status: 'active',
      });
      expect(page.items[1]).toMatchObject({ id: lifted, status: 'lifted', liftedAt: at(-60).toISOString(), ip: null });
      expect(page.items[2]).toMatchObject({ id: expired, status: 'expired', liftedAt: null });
      expect(page.items[1]!.subject).toEqual({ kind: 'partner_client', clientId: partnerClientId });
      // Who lifted a block stays with the operators; no tenant id, no global user id, no other tenant's block.
      expect(res.text).not.toContain(a.tenant.users.member.id);
      expect(res.text).not.toContain('operator:someone');
      expect(res.text).not.toContain(a.tenant.id);
      expect(res.text).not.toContain(foreign);
    });

    it('?active=true answers only blocks still in force; ?active=false is the whole list', async () => {
      const only = await list(a.tokens.admin, 'active=true');
      expect(only.status, `${only.text}`).toBe(200);
      expect((only.body as Page<BlockBody>).items.map((i) => i.id)).toEqual([active]);
      const all = await list(a.tokens.admin, 'active=false');
      expect((all.body as Page<BlockBody>).items.map((i) => i.id)).toEqual([active, lifted, expired]);
    });

    it('walks page by page with the cursor', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await list(a.tokens.owner, `limit=1${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status, `${res.text}`).toBe(200);
        const page = res.body as Page<BlockBody>;
        seen.push(...page.items.map((i) => i.id));
        cursor = page.nextCursor;
        if (++pages > 5) throw new Error('the cursor walk does not end');
      } while (cursor);
      expect(seen).toEqual([active, lifted, expired]);
    });

    it("each tenant sees only its own: B's owner sees B's block and none of A's", async () => {
      const res = await list(b.tokens.owner);
      expect((res.body as Page<BlockBody>).items.map((i) => i.id)).toEqual([foreign]);
      for (const id of [active, lifted, expired]) expect(res.text).not.toContain(id);
    });

    it('an expiry passing on the clock turns an active block into an expired one', async () => {
      // Less than the access tokens' lifetime (600 s), which the same clock decides.
      clock.advance(301);
      try {
        const res = await list(a.tokens.owner);
        expect((res.body as Page<BlockBody>).items.find((i) => i.id === active)).toMatchObject({ status: 'expired' });
        expect(((await list(a.tokens.owner, 'active=true')).body as Page<BlockBody>).items).toEqual([]);
      } finally {
        clock.advance(-301);
      }
    });

    it('members and viewers get 403 problem+json, audited as authz.denied', async () => {
      for (const role of ['member', 'viewer'] as const) {
        const res = await list(a.tokens[role]);
        expect(problemOf(res), `${role}`).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
        expect(res.text).not.toContain(active);
        const { rows } = await owner.query('SELECT actor, outcome FROM audit_events WHERE tenant_id = $1 AND type = $2 AND request_id = $3', [a.tenant.id, 'authz.denied', String(res.headers['x-request-id'])]);
        expect(rows, `${role}`).toEqual([{ actor: `user:${a.tenant.users[role].id}`, outcome: 'denied' }]);
      }
    });

    it('refuses unknown query parameters, bad filters and forged cursors with 400', async () => {
      for (const query of ['active=yes', 'principal=user', 'limit=0', 'limit=101', 'cursor=bm9wZQ']) {
        const res = await list(a.tokens.owner, query);
        expect(problemOf(res), `${query}`).toMatchObject({ status: 400, problemJson: true });
      }
    });

    it('without a token: 401', async () => {
      const res = await caller.call('get', '/v1/security/blocks');
      expect(problemOf(res)).toMatchObject({ status: 401, problemJson: true });
    });
  });

  it('no password or token this file used reached a log line', () => {
    expect(ledger.counts.secrets).toBeGreaterThan(0);
    expect(ledger.leaks()).toEqual([]);
  });
});
