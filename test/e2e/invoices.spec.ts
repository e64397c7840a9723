import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type request from 'supertest';
import type { MembershipRole } from '@benteng/database';
import { INVOICE_SORTS } from '@benteng/invoices';
import type { TestApi } from '../support/api.js';
import { addMembership, buildAuthApi, Caller, randomPassword, SecretLedger } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { createTenant, ROLES, type TestTenant } from '../support/factories.js';
import { createLoggedInTenant, type LoggedInTenant } from '../support/tenants.js';
import { type Page, problemOf, setPasswords } from '../support/public-api.js';

/**
 * Invoices on /v1 (libs/invoices, libs/authz/src/rules/invoices.rules.ts): server-computed totals,
 * strict input (no mass assignment), Idempotency-Key on create, unique numbers per tenant, cursor
 * pagination with a sort allowlist, ETag/If-Match, the role rules of every transition, the outbox
 * event each transition writes, and the response shape per role. Every test makes its own tenant.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const CUSTOMER = { name: 'PT Maju Jaya', email: 'finance@maju-jaya.test', taxId: '01.234.567.8-901.000' };

interface InvoiceLineBody {
  position: number;
  description: string;
  quantity: number;
  unitPriceMinor: string;
  amountMinor: string;
}
interface InvoiceBody {
  id: string;
  number: string;
  status: string;
  currency: string;
  customer: { name: string; email?: string | null; taxId?: string | null };
  totalMinor: string;
  dueDate: string | null;
  issuedAt: string | null;
  createdAt: string;
  updatedAt: string;
  version: number;
  createdByMe: boolean;
  lines: InvoiceLineBody[];
}
/** Every key path of a JSON value, e.g. 'customer.email' and 'lines[].amountMinor', sorted. */
function keyPaths(value: unknown): string[] {
  const paths = new Set<string>();
  const walk = (v: unknown, at: string) => {
    if (Array.isArray(v)) {
      for (const item of v) walk(item, `${at}[]`);
    } else if (v && typeof v === 'object') {
      for (const [key, child] of Object.entries(v)) {
        const path = at ? `${at}.${key}` : key;
        paths.add(path);
        walk(child, path);
      }
    }
  };
  walk(value, '');
  return [...paths].sort();
}

describe('invoices', () => {
  const owner = ownerPool();
  const ledger = new SecretLedger();
  let api: TestApi;
  let caller: Caller;

  beforeAll(async () => {
    api = ledger.watch(await buildAuthApi());
    caller = new Caller(api, ledger);
  });
  afterAll(() => api.close());

  const loggedInTenant = (label: string) => createLoggedInTenant(owner, caller, label);

  /** A second user with `role` in the tenant (createTenant makes one per role). */
  async function extraUser(tenant: TestTenant, role: MembershipRole): Promise<{ id: string; token: string }> {
    const id = randomUUID();
    const email = `extra-${role}.${tenant.slug}.${randomBytes(3).toString('hex')}@example.test`;
    await owner.query('INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3)', [id, email, `extra ${role}`]);
    await addMembership(owner, tenant.id, id, role);
    const password = randomPassword();
    ledger.add(password);
    await setPasswords(owner, [id], password);
    return { id, token: (await caller.loginOk(email, password)).accessToken };
  }

  const newNumber = (prefix = 'INV') => `${prefix}-${randomBytes(4).toString('hex')}`;
  /** 3 × 12 500 + 2 × 999 = 39 498 minor units. */
  const draftBody = (overrides: Record<string, unknown> = {}) => ({
    number: newNumber(),
    customer: { ...CUSTOMER },
    dueDate: '2027-01-31',
    lines: [
      { description: 'Konsultasi', quantity: 3, unitPriceMinor: 12_500 },
      { description: 'Transport', quantity: 2, unitPriceMinor: 999 },
    ],
    ...overrides,
  });

  const call = (method: 'get' | 'post' | 'patch' | 'delete', path: string, token: string, body?: object, headers?: Record<string, string>) =>
    caller.call(method, path, { token, ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) });

  async function createOk(token: string, body: object = draftBody()): Promise<InvoiceBody> {
    const res = await call('post', '/v1/invoices', token, body);
    if (res.status !== 201) throw new Error(`create: expected 201, got ${res.status} ${res.text}`);
    return res.body as InvoiceBody;
  }
  async function transitionOk(token: string, id: string, action: 'issue' | 'void' | 'pay'): Promise<InvoiceBody> {
    const res = await call('post', `/v1/invoices/${id}/${action}`, token);
    if (res.status !== 200) throw new Error(`${action}: expected 200, got ${res.status} ${res.text}`);
    return res.body as InvoiceBody;
  }

  /** The stored row, as the owner connection sees it: the ground truth for "nothing changed". */
  async function row(tenantId: string, id: string): Promise<Record<string, unknown> | undefined> {
    const { rows } = await owner.query(
      `SELECT i.*, (SELECT json_agg(l ORDER BY l.position) FROM invoice_lines l WHERE l.tenant_id = i.tenant_id AND l.invoice_id = i.id) AS lines
         FROM invoices i WHERE i.tenant_id = $1 AND i.id = $2`,
      [tenantId, id],
    );
    return rows[0];
  }
  async function invoiceCount(tenantId: string, number?: string): Promise<number> {
    const { rows } = await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM invoices WHERE tenant_id = $1 AND ($2::text IS NULL OR number = $2)', [tenantId, number ?? null]);
    return rows[0]!.n;
  }
  async function eventsOf(subjectId: string): Promise<{ tenant_id: string; type: string; subject_type: string; payload: Record<string, unknown> }[]> {
    const { rows } = await owner.query('SELECT tenant_id, type, subject_type, payload FROM domain_events WHERE subject_id = $1 ORDER BY occurred_at, id', [subjectId]);
    return rows;
  }

  const replayed = (res: request.Response) => res.headers['idempotent-replayed'] === 'true';

  describe('create', () => {
    it('answers 201 with Location and ETag: a draft whose totals the server computed, money as strings', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-create');
      const body = draftBody();
      const res = await call('post', '/v1/invoices', tokens.member, body);
      expect(res.status, `${res.text}`).toBe(201);
      const created = res.body as InvoiceBody;
      expect(created).toEqual({
        id: expect.stringMatching(UUID),
        number: body.number,
        status: 'draft',
        currency: 'IDR',
        customer: CUSTOMER,
        totalMinor: '39498',
        dueDate: '2027-01-31',
        issuedAt: null,
        createdAt: expect.stringMatching(ISO_INSTANT),
        updatedAt: expect.stringMatching(ISO_INSTANT),
        version: 1,
        createdByMe: true,
        lines: [
          { position: 1, description: 'Konsultasi', quantity: 3, unitPriceMinor: '12500', amountMinor: '37500' },
          { position: 2, description: 'Transport', quantity: 2, unitPriceMinor: '999', amountMinor: '1998' },
        ],
      });
      expect(res.headers.location).toBe(`/v1/invoices/${created.id}`);
      expect(res.headers.etag).toBe('"1"');

      const stored = await row(tenant.id, created.id);
      expect(stored).toMatchObject({ tenant_id: tenant.id, created_by_id: tenant.users.member.id, status: 'draft', total_minor: '39498', version: 1 });

      const fetched = await call('get', res.headers.location!, tokens.member);
      expect(fetched.status, `${fetched.text}`).toBe(200);
      expect(fetched.body).toEqual(created);
    });

    it('keeps totals past 2^53 exact (integer minor units, strings on the wire)', async () => {
      const { tokens } = await loggedInTenant('inv-big');
      // Twelve lines of up to 10^15 each: about 10^16, where a JSON number would already round.
      const lines = Array.from({ length: 12 }, (_, i) => ({ description: `Baris ${i}`, quantity: 1_000_000, unitPriceMinor: 1_000_000_000 - 7 * i }));
      const created = await createOk(tokens.owner, draftBody({ lines }));
      const expected = lines.reduce((sum, l) => sum + BigInt(l.unitPriceMinor) * BigInt(l.quantity), 0n);
      expect(expected > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
      expect(created.totalMinor).toBe(expected.toString());
      expect(created.lines.map((l) => l.amountMinor)).toEqual(lines.map((l) => (BigInt(l.unitPriceMinor) * 1_000_000n).toString()));
    });

    const massAssignments: [string, (ctx: { other: TestTenant; self: string }) => Record<string, unknown>, string][] = [
      ['totalMinor', () => ({ totalMinor: '1' }), '/totalMinor'],
      ['tenantId', ({ other }) => ({ tenantId: other.id }), '/tenantId'],
      ['status', () => ({ status: 'paid' }), '/status'],
      ['createdBy', ({ other }) => ({ createdBy: other.users.owner.id }), '/createdBy'],
      ['createdById', ({ other }) => ({ createdById: other.users.owner.id }), '/createdById'],
      ['id', () => ({ id: randomUUID() }), '/id'],
      ['version', () => ({ version: 42 }), '/version'],
      ['issuedAt', () => ({ issuedAt: '2026-01-01T00:00:00.000Z' }), '/issuedAt'],
    ];
    it.each(massAssignments)('rejects a client-sent %s with 400 and creates nothing', async (_, extra, pointer) => {
      const { tenant, tokens } = await loggedInTenant('inv-mass');
      const other = await createTenant(owner, 'inv-mass-other');
      const body = draftBody(extra({ other, self: tenant.users.owner.id }));
      const res = await call('post', '/v1/invoices', tokens.owner, body);
      expect(problemOf(res)).toMatchObject({ status: 400, problemJson: true });
      expect((res.body as { errors: { pointer: string }[] }).errors.map((e) => e.pointer)).toEqual([pointer]);
      // Refusals name the field, never echo the value.
      expect(res.text).not.toContain(other.id);
      expect(await invoiceCount(tenant.id)).toBe(0);
      expect(await invoiceCount(other.id)).toBe(0);
    });

    it('rejects client-sent line amounts and positions too', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-mass-lines');
      const res = await call('post', '/v1/invoices', tokens.owner, draftBody({ lines: [{ description: 'x', quantity: 1, unitPriceMinor: 10, amountMinor: 1_000_000, position: 9 }] }));
      expect(problemOf(res)).toMatchObject({ status: 400, problemJson: true });
      expect((res.body as { errors: { pointer: string }[] }).errors.map((e) => e.pointer).sort()).toEqual(['/lines/0/amountMinor', '/lines/0/position']);
      expect(await invoiceCount(tenant.id)).toBe(0);
    });

    it('rejects fractional and string money (no floats near money)', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-float');
      for (const unitPriceMinor of [10.5, '1000', -1]) {
        const res = await call('post', '/v1/invoices', tokens.owner, draftBody({ lines: [{ description: 'x', quantity: 1, unitPriceMinor }] }));
        expect(problemOf(res), `unitPriceMinor ${String(unitPriceMinor)}`).toMatchObject({ status: 400, problemJson: true });
      }
      expect(await invoiceCount(tenant.id)).toBe(0);
    });
  });

  describe('Idempotency-Key', () => {
    const key = () => `key-${randomBytes(8).toString('hex')}`;
    const withKey = (k: string) => ({ 'idempotency-key': k });

    it('replays the first response for the same key and body (Idempotent-Replayed: true), with one invoice', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-idem');
      const k = key();
      const body = draftBody();
      const first = await call('post', '/v1/invoices', tokens.owner, body, withKey(k));
      expect(first.status, `${first.text}`).toBe(201);
      expect(replayed(first)).toBe(false);
      // The same JSON with its keys in another order is the same request.
      const reordered = { lines: body.lines, dueDate: body.dueDate, customer: { taxId: CUSTOMER.taxId, email: CUSTOMER.email, name: CUSTOMER.name }, number: body.number };
      for (const again of [body, reordered]) {
        const retry = await call('post', '/v1/invoices', tokens.owner, again, withKey(k));
        expect(retry.status, `${retry.text}`).toBe(201);
        expect(replayed(retry)).toBe(true);
        expect(retry.body).toEqual(first.body);
      }
      expect(await invoiceCount(tenant.id)).toBe(1);
    });

    // A client whose first response was lost follows Location and keeps the ETag from the replay.
    it('replays the Location and ETag headers too', async () => {
      const { tokens } = await loggedInTenant('inv-idem-headers');
      const k = key();
      const body = draftBody();
      const first = await call('post', '/v1/invoices', tokens.owner, body, withKey(k));
      expect(first.status, `${first.text}`).toBe(201);
      const retry = await call('post', '/v1/invoices', tokens.owner, body, withKey(k));
      expect(replayed(retry)).toBe(true);
      expect({ location: retry.headers.location, etag: retry.headers.etag }).toEqual({ location: first.headers.location, etag: first.headers.etag });
    });

    it('refuses the same key with another body (422 idempotency.key_reused) and creates nothing more', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-idem-422');
      const k = key();
      const first = draftBody();
      expect((await call('post', '/v1/invoices', tokens.owner, first, withKey(k))).status).toBe(201);
      const second = draftBody();
      const res = await call('post', '/v1/invoices', tokens.owner, second, withKey(k));
      expect(problemOf(res)).toEqual({ status: 422, problemJson: true, code: 'idempotency.key_reused' });
      expect(replayed(res)).toBe(false);
      expect(await invoiceCount(tenant.id)).toBe(1);
      expect(await invoiceCount(tenant.id, second.number)).toBe(0);
    });

    it('concurrent requests with one key create exactly one invoice: one 201, the rest replays or 409 in-progress', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-idem-race');
      const k = key();
      const body = draftBody();
      const results = await Promise.all(Array.from({ length: 6 }, () => call('post', '/v1/invoices', tokens.owner, body, withKey(k))));
      const fresh = results.filter((r) => r.status === 201 && !replayed(r));
      expect(fresh, `${results.map((r) => `${r.status} ${r.text}`).join('\n')}`).toHaveLength(1);
      const id = (fresh[0]!.body as InvoiceBody).id;
      const outcome = (r: request.Response) => (r.status === 201 ? { status: 201, replayed: replayed(r), id: (r.body as InvoiceBody).id } : problemOf(r));
      // A replay of the one invoice, or the in-progress answer (not a number clash: the duplicate never reached the service).
      const allowed = [{ status: 201, replayed: true, id }, { status: 409, problemJson: true, code: 'idempotency.in_progress' }];
      for (const r of results.filter((x) => x !== fresh[0])) expect(allowed, `${r.status} ${r.text}`).toContainEqual(outcome(r));
      expect(await invoiceCount(tenant.id)).toBe(1);
      const { rows } = await owner.query('SELECT response_status FROM idempotency_keys WHERE tenant_id = $1 AND key = $2', [tenant.id, k]);
      expect(rows).toEqual([{ response_status: 201 }]);
    });

    it("keys belong to their principal: another user's same key runs as its own request", async () => {
      const { tenant, tokens } = await loggedInTenant('inv-idem-principal');
      const other = await loggedInTenant('inv-idem-principal-other');
      const k = key();
      const body = draftBody();
      const first = await call('post', '/v1/invoices', tokens.owner, body, withKey(k));
      expect(first.status, `${first.text}`).toBe(201);

      // Another user, another body: a new invoice, not a 422.
      const admin = await call('post', '/v1/invoices', tokens.admin, draftBody(), withKey(k));
      expect(admin.status, `${admin.text}`).toBe(201);
      expect(replayed(admin)).toBe(false);
      expect((admin.body as InvoiceBody).id).not.toBe((first.body as InvoiceBody).id);

      // Another user, the same body: not the owner's response replayed, but a request of its own (the number is taken).
      const member = await call('post', '/v1/invoices', tokens.member, body, withKey(k));
      expect(replayed(member)).toBe(false);
      expect(problemOf(member)).toEqual({ status: 409, problemJson: true, code: 'invoice.number_taken' });
      expect(member.text).not.toContain((first.body as InvoiceBody).id);

      // Another tenant, same key and body: its own invoice.
      const elsewhere = await call('post', '/v1/invoices', other.tokens.owner, body, withKey(k));
      expect(elsewhere.status, `${elsewhere.text}`).toBe(201);
      expect(replayed(elsewhere)).toBe(false);
      expect((elsewhere.body as InvoiceBody).id).not.toBe((first.body as InvoiceBody).id);

      expect(await invoiceCount(tenant.id)).toBe(2);
      expect(await invoiceCount(other.tenant.id)).toBe(1);
    });

    it('a failed request releases its key, so the corrected retry runs', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-idem-release');
      const taken = await createOk(tokens.owner);
      const k = key();
      const clash = await call('post', '/v1/invoices', tokens.owner, draftBody({ number: taken.number }), withKey(k));
      expect(problemOf(clash)).toEqual({ status: 409, problemJson: true, code: 'invoice.number_taken' });
      const invalid = await call('post', '/v1/invoices', tokens.owner, draftBody({ lines: [] }), withKey(k));
      expect(problemOf(invalid)).toMatchObject({ status: 400, problemJson: true });
      const corrected = await call('post', '/v1/invoices', tokens.owner, draftBody(), withKey(k));
      expect(corrected.status, `${corrected.text}`).toBe(201);
      expect(replayed(corrected)).toBe(false);
      expect(await invoiceCount(tenant.id)).toBe(2);
    });

    it('refuses a malformed key with 400 and creates nothing', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-idem-bad');
      for (const bad of ['x'.repeat(256), 'with space']) {
        const res = await call('post', '/v1/invoices', tokens.owner, draftBody(), withKey(bad));
        expect(problemOf(res), `${bad.slice(0, 20)}`).toMatchObject({ status: 400, problemJson: true });
      }
      expect(await invoiceCount(tenant.id)).toBe(0);
    });
  });

  describe('numbers', () => {
    it('are unique per tenant (409 invoice.number_taken), but another tenant may use the same one', async () => {
      const a = await loggedInTenant('inv-number-a');
      const b = await loggedInTenant('inv-number-b');
      const number = newNumber('SAME');
      await createOk(a.tokens.owner, draftBody({ number }));
      const dup = await call('post', '/v1/invoices', a.tokens.admin, draftBody({ number }));
      expect(problemOf(dup)).toEqual({ status: 409, problemJson: true, code: 'invoice.number_taken' });
      expect(await invoiceCount(a.tenant.id, number)).toBe(1);

      const elsewhere = await call('post', '/v1/invoices', b.tokens.owner, draftBody({ number }));
      expect(elsewhere.status, `${elsewhere.text}`).toBe(201);
      expect(await invoiceCount(b.tenant.id, number)).toBe(1);
      // Whose number it is stays unsaid: B's success says nothing about A, A's refusal nothing about B.
      expect(dup.text).not.toContain(b.tenant.id);
    });

    it('concurrent creates with one number: exactly one 201, the rest 409 invoice.number_taken', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-number-race');
      const number = newNumber('RACE');
      const results = await Promise.all(Array.from({ length: 5 }, () => call('post', '/v1/invoices', tokens.owner, draftBody({ number }))));
      expect(results.filter((r) => r.status === 201)).toHaveLength(1);
      for (const r of results.filter((x) => x.status !== 201)) expect(problemOf(r), `${r.text}`).toEqual({ status: 409, problemJson: true, code: 'invoice.number_taken' });
      expect(await invoiceCount(tenant.id, number)).toBe(1);
    });
  });

  describe('listing', () => {
    const TOTAL = 25;
    let list: LoggedInTenant;
    let all: InvoiceBody[];
    let issuedIds: string[];

    beforeAll(async () => {
      list = await loggedInTenant('inv-list');
      all = [];
      for (let i = 0; i < TOTAL; i++) {
        // Every third invoice has no due date, so the dueDate sorts meet NULLs.
        const dueDate = i % 3 === 0 ? null : `2027-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 27) + 1).padStart(2, '0')}`;
        all.push(await createOk(list.tokens.owner, draftBody({ number: `P-${String(i).padStart(2, '0')}`, dueDate })));
      }
      issuedIds = [];
      for (const invoice of all.filter((_, i) => i % 5 === 0)) issuedIds.push((await transitionOk(list.tokens.owner, invoice.id, 'issue')).id);
    });

    async function walk(query: string, token = list.tokens.viewer): Promise<{ pages: InvoiceBody[][]; cursors: (string | null)[] }> {
      const pages: InvoiceBody[][] = [];
      const cursors: (string | null)[] = [];
      let cursor: string | null = null;
      do {
        const res = await call('get', `/v1/invoices?${query}${cursor ? `&cursor=${cursor}` : ''}`, token);
        expect(res.status, `${res.text}`).toBe(200);
        const page = res.body as Page<InvoiceBody>;
        pages.push(page.items);
        cursors.push(page.nextCursor);
        cursor = page.nextCursor;
        if (pages.length > TOTAL + 1) throw new Error('the cursor walk does not end');
      } while (cursor);
      return { pages, cursors };
    }

    it('walks every page with nextCursor: each invoice exactly once, the last page has no cursor', async () => {
      const { pages, cursors } = await walk('limit=10');
      expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
      expect(cursors.at(-1)).toBeNull();
      const ids = pages.flat().map((i) => i.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual(all.map((i) => i.id).sort());
      // Default order: newest first.
      const created = pages.flat().map((i) => i.createdAt);
      expect(created).toEqual([...created].sort().reverse());
    });

    it.each([...INVOICE_SORTS])('walks every page sorted by %s: each invoice exactly once, in order', async (sort) => {
      const { pages } = await walk(`limit=7&sort=${sort}`);
      const items = pages.flat();
      const ids = items.map((i) => i.id);
      expect(ids.length, `${sort}: ${ids.length} items`).toBe(TOTAL);
      expect(new Set(ids).size).toBe(TOTAL);
      const field = sort.replace(/^-/, '') as 'createdAt' | 'number' | 'dueDate';
      const values = items.map((i) => i[field]).filter((v): v is string => v !== null);
      const ascending = [...values].sort();
      expect(values).toEqual(sort.startsWith('-') ? ascending.reverse() : ascending);
    });

    it('answers 20 items by default and at most 100 per page; 0, 101 and non-numbers are 400', async () => {
      const first = await call('get', '/v1/invoices', list.tokens.member);
      expect((first.body as Page<InvoiceBody>).items).toHaveLength(20);
      expect((first.body as Page<InvoiceBody>).nextCursor).toEqual(expect.any(String));
      const max = await call('get', '/v1/invoices?limit=100', list.tokens.member);
      expect(max.status, `${max.text}`).toBe(200);
      expect((max.body as Page<InvoiceBody>).items).toHaveLength(TOTAL);
      expect((max.body as Page<InvoiceBody>).nextCursor).toBeNull();
      for (const limit of ['101', '0', '-1', 'abc', '1e3']) {
        expect(problemOf(await call('get', `/v1/invoices?limit=${limit}`, list.tokens.member)), `limit=${limit}`).toMatchObject({ status: 400, problemJson: true });
      }
    });

    it('sorts only by allowlisted fields: anything else is 400', async () => {
      for (const sort of ['totalMinor', 'customerEmail', 'customer_email', 'tenantId', 'createdById', 'createdAt,id', '-id', 'number;drop']) {
        expect(problemOf(await call('get', `/v1/invoices?sort=${encodeURIComponent(sort)}`, list.tokens.owner)), `sort=${sort}`).toMatchObject({ status: 400, problemJson: true });
      }
    });

    it('filters by status; an unknown status is 400', async () => {
      const issued = await call('get', '/v1/invoices?status=issued&limit=100', list.tokens.viewer);
      expect((issued.body as Page<InvoiceBody>).items.map((i) => i.id).sort()).toEqual([...issuedIds].sort());
      expect((issued.body as Page<InvoiceBody>).items.every((i) => i.status === 'issued')).toBe(true);
      const drafts = await call('get', '/v1/invoices?status=draft&limit=100', list.tokens.viewer);
      expect((drafts.body as Page<InvoiceBody>).items).toHaveLength(TOTAL - issuedIds.length);
      const paid = await call('get', '/v1/invoices?status=paid', list.tokens.viewer);
      expect((paid.body as Page<InvoiceBody>).items).toEqual([]);
      expect(problemOf(await call('get', '/v1/invoices?status=archived', list.tokens.viewer))).toMatchObject({ status: 400, problemJson: true });
      expect(problemOf(await call('get', '/v1/invoices?tenantId=x', list.tokens.viewer))).toMatchObject({ status: 400, problemJson: true });
    });

    // BUG: the cursor is only the last item's id, and the repository hands it to Prisma's `cursor`,
    // which needs that row to still exist: when it was deleted (or left the filter) the next page is
    // empty with nextCursor null, so the client stops and silently misses every later invoice.
    it('an invoice deleted at a page boundary does not end the walk early', async () => {
      const { tokens } = await loggedInTenant('inv-list-delete');
      const prefix = `D${randomBytes(3).toString('hex')}`;
      for (let i = 0; i < 6; i++) await createOk(tokens.owner, draftBody({ number: `${prefix}-${i}` }));
      const first = (await call('get', '/v1/invoices?limit=3&sort=number', tokens.owner)).body as Page<InvoiceBody>;
      expect(first.items.map((i) => i.number)).toEqual([0, 1, 2].map((i) => `${prefix}-${i}`));
      expect((await call('delete', `/v1/invoices/${first.items[2]!.id}`, tokens.owner)).status).toBe(204);
      const second = await call('get', `/v1/invoices?limit=3&sort=number&cursor=${first.nextCursor}`, tokens.owner);
      expect(second.status, `${second.text}`).toBe(200);
      expect((second.body as Page<InvoiceBody>).items.map((i) => i.number)).toEqual([3, 4, 5].map((i) => `${prefix}-${i}`));
    });

    it("a cursor is no way into another tenant: a malformed one is 400, another tenant's invoice id starts nowhere", async () => {
      expect(problemOf(await call('get', '/v1/invoices?cursor=abc', list.tokens.owner))).toMatchObject({ status: 400, problemJson: true });
      const stranger = await loggedInTenant('inv-list-stranger');
      const foreignCursor = Buffer.from(all[5]!.id.replaceAll('-', ''), 'hex').toString('base64url');
      const res = await call('get', `/v1/invoices?cursor=${foreignCursor}&limit=100`, stranger.tokens.owner);
      expect(res.status, `${res.text}`).toBeLessThan(500);
      for (const invoice of all) expect(res.text).not.toContain(invoice.id);
    });
  });

  describe('ETag and If-Match', () => {
    it('GET answers ETag "<version>", and every write answers the new one', async () => {
      const { tokens } = await loggedInTenant('inv-etag');
      const created = await createOk(tokens.owner);
      const get = await call('get', `/v1/invoices/${created.id}`, tokens.viewer);
      expect(get.headers.etag).toBe(`"${(get.body as InvoiceBody).version}"`);
      expect(get.headers.etag).toBe('"1"');
      const patched = await call('patch', `/v1/invoices/${created.id}`, tokens.owner, { customer: { name: 'PT Baru' } }, { 'if-match': '"1"' });
      expect(patched.status, `${patched.text}`).toBe(200);
      expect(patched.headers.etag).toBe('"2"');
      expect((patched.body as InvoiceBody).version).toBe(2);
      const issued = await call('post', `/v1/invoices/${created.id}/issue`, tokens.owner, undefined, { 'if-match': '"2"' });
      expect(issued.status, `${issued.text}`).toBe(200);
      expect(issued.headers.etag).toBe('"3"');
      expect((await call('get', `/v1/invoices/${created.id}`, tokens.viewer)).headers.etag).toBe('"3"');
    });

    it('PATCH, transitions and DELETE with a stale or malformed If-Match: 412 invoice.version_mismatch, nothing changes', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-412');
      const created = await createOk(tokens.owner);
      expect((await call('patch', `/v1/invoices/${created.id}`, tokens.owner, { customer: { name: 'Versi dua' } })).status).toBe(200);
      const before = await row(tenant.id, created.id);
      const attempts: [string, () => Promise<request.Response>][] = [];
      for (const ifMatch of ['"1"', '"3"', 'W/"1"', 'not-an-etag', '"1", "2"']) {
        attempts.push([`PATCH If-Match ${ifMatch}`, () => call('patch', `/v1/invoices/${created.id}`, tokens.owner, { customer: { name: 'Basi' }, lines: [{ description: 'y', quantity: 9, unitPriceMinor: 9 }] }, { 'if-match': ifMatch })]);
      }
      for (const action of ['issue', 'void'] as const) attempts.push([`${action} If-Match "1"`, () => call('post', `/v1/invoices/${created.id}/${action}`, tokens.owner, undefined, { 'if-match': '"1"' })]);
      attempts.push(['DELETE If-Match "1"', () => call('delete', `/v1/invoices/${created.id}`, tokens.owner, undefined, { 'if-match': '"1"' })]);
      for (const [name, attempt] of attempts) {
        expect(problemOf(await attempt()), `${name}`).toEqual({ status: 412, problemJson: true, code: 'invoice.version_mismatch' });
      }
      expect(await row(tenant.id, created.id)).toEqual(before);
      expect(await eventsOf(created.id)).toEqual([]);
    });

    it('concurrent PATCHes with the same If-Match: exactly one 200, and the stored invoice is the winner', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-etag-race');
      const created = await createOk(tokens.owner);
      const names = Array.from({ length: 6 }, (_, i) => `Pemenang ${i}`);
      const results = await Promise.all(names.map((name) => call('patch', `/v1/invoices/${created.id}`, tokens.owner, { customer: { name } }, { 'if-match': '"1"' })));
      const winners = results.filter((r) => r.status === 200);
      expect(winners, `${results.map((r) => `${r.status} ${r.text}`).join('\n')}`).toHaveLength(1);
      for (const r of results.filter((x) => x.status !== 200)) {
        expect([412, 409], `${r.text}`).toContain(r.status);
        expect(problemOf(r).problemJson).toBe(true);
      }
      const stored = await row(tenant.id, created.id);
      expect(stored).toMatchObject({ version: 2, customer_name: (winners[0]!.body as InvoiceBody).customer.name });
    });
  });

  describe('roles', () => {
    it('a viewer reads (without customer email and tax id) and gets 403 on every write; nothing changes', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-viewer');
      const created = await createOk(tokens.owner);
      const issued = await transitionOk(tokens.owner, (await createOk(tokens.owner)).id, 'issue');
      const get = await call('get', `/v1/invoices/${created.id}`, tokens.viewer);
      expect(get.status, `${get.text}`).toBe(200);
      expect((get.body as InvoiceBody).customer).toEqual({ name: CUSTOMER.name });
      const listed = await call('get', '/v1/invoices', tokens.viewer);
      expect((listed.body as Page<InvoiceBody>).items.map((i) => i.customer)).toEqual([{ name: CUSTOMER.name }, { name: CUSTOMER.name }]);
      for (const res of [get, listed]) {
        expect(res.text).not.toContain(CUSTOMER.email);
        expect(res.text).not.toContain(CUSTOMER.taxId);
      }

      const before = { created: await row(tenant.id, created.id), issued: await row(tenant.id, issued.id) };
      const writes: [string, Promise<request.Response>][] = [
        ['create', call('post', '/v1/invoices', tokens.viewer, draftBody())],
        ['update', call('patch', `/v1/invoices/${created.id}`, tokens.viewer, { customer: { name: 'Viewer' } })],
        ['issue', call('post', `/v1/invoices/${created.id}/issue`, tokens.viewer)],
        ['void', call('post', `/v1/invoices/${issued.id}/void`, tokens.viewer)],
        ['pay', call('post', `/v1/invoices/${issued.id}/pay`, tokens.viewer)],
        ['delete', call('delete', `/v1/invoices/${created.id}`, tokens.viewer)],
      ];
      for (const [name, pending] of writes) expect(problemOf(await pending), `${name}`).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
      expect({ created: await row(tenant.id, created.id), issued: await row(tenant.id, issued.id) }).toEqual(before);
      expect(await invoiceCount(tenant.id)).toBe(2);
      expect(await eventsOf(created.id)).toEqual([]);
      expect((await eventsOf(issued.id)).map((e) => e.type)).toEqual(['invoice.issued']);
    });

    it('a member edits, issues and deletes own drafts', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-member-own');
      const draft = await createOk(tokens.member);
      const patched = await call('patch', `/v1/invoices/${draft.id}`, tokens.member, { lines: [{ description: 'Baru', quantity: 4, unitPriceMinor: 250 }] });
      expect(patched.status, `${patched.text}`).toBe(200);
      expect(patched.body).toMatchObject({ totalMinor: '1000', lines: [{ position: 1, description: 'Baru', quantity: 4, unitPriceMinor: '250', amountMinor: '1000' }] });
      expect((await transitionOk(tokens.member, draft.id, 'issue')).status).toBe('issued');
      const another = await createOk(tokens.member);
      expect((await call('delete', `/v1/invoices/${another.id}`, tokens.member)).status).toBe(204);
      expect(await row(tenant.id, another.id)).toBeUndefined();
    });

    it("a member reads another user's draft but may not edit, issue or delete it (403 invoice.forbidden), nor void or pay at all (403)", async () => {
      const { tenant, tokens } = await loggedInTenant('inv-member-other');
      const colleague = await extraUser(tenant, 'member');
      const drafts = [await createOk(tokens.owner), await createOk(colleague.token)];
      const ownIssued = await transitionOk(tokens.member, (await createOk(tokens.member)).id, 'issue');
      for (const draft of drafts) {
        const get = await call('get', `/v1/invoices/${draft.id}`, tokens.member);
        expect(get.status, `${get.text}`).toBe(200);
        expect((get.body as InvoiceBody).createdByMe).toBe(false);
        const before = await row(tenant.id, draft.id);
        expect(problemOf(await call('patch', `/v1/invoices/${draft.id}`, tokens.member, { customer: { name: 'Bukan milikku' } }))).toEqual({ status: 403, problemJson: true, code: 'invoice.forbidden' });
        expect(problemOf(await call('post', `/v1/invoices/${draft.id}/issue`, tokens.member))).toEqual({ status: 403, problemJson: true, code: 'invoice.forbidden' });
        expect(problemOf(await call('delete', `/v1/invoices/${draft.id}`, tokens.member))).toEqual({ status: 403, problemJson: true, code: 'invoice.forbidden' });
        expect(problemOf(await call('post', `/v1/invoices/${draft.id}/void`, tokens.member))).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
        expect(await row(tenant.id, draft.id)).toEqual(before);
        expect(await eventsOf(draft.id)).toEqual([]);
      }
      expect(problemOf(await call('post', `/v1/invoices/${ownIssued.id}/void`, tokens.member))).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
      expect(problemOf(await call('post', `/v1/invoices/${ownIssued.id}/pay`, tokens.member))).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
      expect((await row(tenant.id, ownIssued.id))?.status).toBe('issued');
    });

    it('owners and admins edit and issue any draft', async () => {
      const { tokens } = await loggedInTenant('inv-admin-any');
      const draft = await createOk(tokens.member);
      const patched = await call('patch', `/v1/invoices/${draft.id}`, tokens.admin, { dueDate: null });
      expect(patched.status, `${patched.text}`).toBe(200);
      expect((patched.body as InvoiceBody).dueDate).toBeNull();
      expect((await transitionOk(tokens.owner, draft.id, 'issue')).status).toBe('issued');
    });

    it('nobody edits or deletes an issued invoice (409 invoice.not_draft; viewers 403, other members 403)', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-not-draft');
      const issued = await transitionOk(tokens.member, (await createOk(tokens.member)).id, 'issue');
      const adminIssued = await transitionOk(tokens.admin, (await createOk(tokens.admin)).id, 'issue');
      const before = await row(tenant.id, issued.id);
      for (const role of ['owner', 'admin', 'member'] as const) {
        expect(problemOf(await call('patch', `/v1/invoices/${issued.id}`, tokens[role], { customer: { name: 'Terlambat' } })), `${role}`).toEqual({ status: 409, problemJson: true, code: 'invoice.not_draft' });
        expect(problemOf(await call('delete', `/v1/invoices/${issued.id}`, tokens[role])), `${role}`).toEqual({ status: 409, problemJson: true, code: 'invoice.not_draft' });
      }
      expect(problemOf(await call('patch', `/v1/invoices/${issued.id}`, tokens.viewer, { customer: { name: 'Terlambat' } }))).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
      // Not the member's own: the role is the problem, whatever the status.
      expect(problemOf(await call('patch', `/v1/invoices/${adminIssued.id}`, tokens.member, { customer: { name: 'Terlambat' } }))).toEqual({ status: 403, problemJson: true, code: 'invoice.forbidden' });
      expect(await row(tenant.id, issued.id)).toEqual(before);
    });

    it('only owners and admins void (drafts and issued invoices); a voided or paid invoice cannot be voided (409 invoice.wrong_status)', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-void');
      const draft = await createOk(tokens.member);
      expect(problemOf(await call('post', `/v1/invoices/${draft.id}/void`, tokens.member))).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
      expect((await row(tenant.id, draft.id))?.status).toBe('draft');
      expect((await transitionOk(tokens.admin, draft.id, 'void')).status).toBe('void');

      const issued = await transitionOk(tokens.owner, (await createOk(tokens.owner)).id, 'issue');
      expect((await transitionOk(tokens.owner, issued.id, 'void')).status).toBe('void');
      expect(problemOf(await call('post', `/v1/invoices/${issued.id}/void`, tokens.owner))).toEqual({ status: 409, problemJson: true, code: 'invoice.wrong_status' });
      expect(problemOf(await call('post', `/v1/invoices/${issued.id}/pay`, tokens.owner))).toEqual({ status: 409, problemJson: true, code: 'invoice.wrong_status' });

      const paid = await transitionOk(tokens.admin, (await transitionOk(tokens.admin, (await createOk(tokens.admin)).id, 'issue')).id, 'pay');
      expect(problemOf(await call('post', `/v1/invoices/${paid.id}/void`, tokens.admin))).toEqual({ status: 409, problemJson: true, code: 'invoice.wrong_status' });
      expect((await row(tenant.id, paid.id))?.status).toBe('paid');
    });

    it('only issued invoices are paid (409 invoice.wrong_status for a draft or a paid one)', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-pay');
      const draft = await createOk(tokens.owner);
      const before = await row(tenant.id, draft.id);
      expect(problemOf(await call('post', `/v1/invoices/${draft.id}/pay`, tokens.owner))).toEqual({ status: 409, problemJson: true, code: 'invoice.wrong_status' });
      expect(await row(tenant.id, draft.id)).toEqual(before);
      await transitionOk(tokens.owner, draft.id, 'issue');
      const paid = await transitionOk(tokens.admin, draft.id, 'pay');
      expect(paid).toMatchObject({ status: 'paid', version: 3 });
      expect(problemOf(await call('post', `/v1/invoices/${draft.id}/pay`, tokens.owner))).toEqual({ status: 409, problemJson: true, code: 'invoice.wrong_status' });
      expect(problemOf(await call('post', `/v1/invoices/${draft.id}/issue`, tokens.owner))).toEqual({ status: 409, problemJson: true, code: 'invoice.wrong_status' });
    });
  });

  describe('outbox', () => {
    const PAYLOAD_KEYS = ['currency', 'dueDate', 'id', 'issuedAt', 'number', 'status', 'totalMinor'];

    it('issue, pay and void each write exactly one domain event in the tenant, with business facts and no customer contact data', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-outbox');
      const created = await createOk(tokens.owner);
      const issued = await transitionOk(tokens.owner, created.id, 'issue');
      expect(await eventsOf(created.id)).toEqual([
        {
          tenant_id: tenant.id,
          type: 'invoice.issued',
          subject_type: 'invoice',
          payload: { id: created.id, number: created.number, status: 'issued', currency: 'IDR', totalMinor: '39498', issuedAt: issued.issuedAt, dueDate: '2027-01-31' },
        },
      ]);
      await transitionOk(tokens.admin, created.id, 'pay');
      const afterPay = await eventsOf(created.id);
      expect(afterPay.map((e) => [e.tenant_id, e.type, e.payload.status])).toEqual([
        [tenant.id, 'invoice.issued', 'issued'],
        [tenant.id, 'invoice.paid', 'paid'],
      ]);

      const voided = await createOk(tokens.owner);
      await transitionOk(tokens.admin, voided.id, 'void');
      const voidEvents = await eventsOf(voided.id);
      expect(voidEvents.map((e) => [e.tenant_id, e.type, e.payload.status])).toEqual([[tenant.id, 'invoice.voided', 'void']]);

      for (const event of [...afterPay, ...voidEvents]) {
        expect(Object.keys(event.payload).sort()).toEqual(PAYLOAD_KEYS);
        expect(typeof event.payload.totalMinor).toBe('string');
        const text = JSON.stringify(event.payload);
        for (const secret of [CUSTOMER.email, CUSTOMER.taxId, CUSTOMER.name, tenant.users.owner.id]) expect(text).not.toContain(secret);
      }
    });

    it('refused or failed transitions, edits and deletes write no event', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-outbox-none');
      const stranger = await loggedInTenant('inv-outbox-stranger');
      const draft = await createOk(tokens.member);
      const attempts: [string, Promise<request.Response>, number][] = [
        ['pay a draft', call('post', `/v1/invoices/${draft.id}/pay`, tokens.owner), 409],
        ['issue with a stale If-Match', call('post', `/v1/invoices/${draft.id}/issue`, tokens.owner, undefined, { 'if-match': '"7"' }), 412],
        ['member voids', call('post', `/v1/invoices/${draft.id}/void`, tokens.member), 403],
        ['viewer issues', call('post', `/v1/invoices/${draft.id}/issue`, tokens.viewer), 403],
        ['another tenant issues', call('post', `/v1/invoices/${draft.id}/issue`, stranger.tokens.owner), 404],
        ['another tenant voids', call('post', `/v1/invoices/${draft.id}/void`, stranger.tokens.owner), 404],
      ];
      for (const [name, pending, status] of attempts) expect((await pending).status, `${name}`).toBe(status);
      expect((await call('patch', `/v1/invoices/${draft.id}`, tokens.member, { customer: { name: 'Edit' } })).status).toBe(200);
      expect(await eventsOf(draft.id)).toEqual([]);

      const deleted = await createOk(tokens.owner);
      expect((await call('delete', `/v1/invoices/${deleted.id}`, tokens.owner)).status).toBe(204);
      expect(await eventsOf(deleted.id)).toEqual([]);
      const { rows } = await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM domain_events WHERE tenant_id = ANY ($1::uuid[])', [[tenant.id, stranger.tenant.id]]);
      expect(rows[0]!.n).toBe(0);
    });
  });

  describe('exposure', () => {
    const FULL = [
      'createdAt',
      'createdByMe',
      'currency',
      'customer',
      'customer.email',
      'customer.name',
      'customer.taxId',
      'dueDate',
      'id',
      'issuedAt',
      'lines',
      'lines[].amountMinor',
      'lines[].description',
      'lines[].position',
      'lines[].quantity',
      'lines[].unitPriceMinor',
      'number',
      'status',
      'totalMinor',
      'updatedAt',
      'version',
    ];
    const VIEWER = FULL.filter((k) => k !== 'customer.email' && k !== 'customer.taxId');

    it('shapes every response per role through an allowlist: no tenantId, no createdById, money as strings', async () => {
      const { tenant, tokens } = await loggedInTenant('inv-exposure');
      const created = await createOk(tokens.member);
      const shapes: Record<string, { get: string[]; list: string[] }> = {};
      for (const role of ROLES) {
        const get = await call('get', `/v1/invoices/${created.id}`, tokens[role]);
        const list = await call('get', '/v1/invoices', tokens[role]);
        expect(Object.keys(list.body as object).sort()).toEqual(['items', 'nextCursor']);
        shapes[role] = { get: keyPaths(get.body), list: [...new Set((list.body as Page<InvoiceBody>).items.flatMap((item) => keyPaths(item)))].sort() };
        for (const res of [get, list]) {
          expect(res.text).not.toContain(tenant.id);
          expect(res.text).not.toContain(tenant.users.member.id);
          expect(res.text).not.toMatch(/tenantId|createdById|tenant_id|created_by_id/);
        }
        const body = get.body as InvoiceBody;
        for (const money of [body.totalMinor, ...body.lines.flatMap((l) => [l.unitPriceMinor, l.amountMinor])]) expect(money).toMatch(/^\d+$/);
      }
      expect(shapes).toEqual({
        owner: { get: FULL, list: FULL },
        admin: { get: FULL, list: FULL },
        member: { get: FULL, list: FULL },
        viewer: { get: VIEWER, list: VIEWER },
      });
      // Writes answer the same shape as reads.
      expect(keyPaths(created)).toEqual(FULL);
      const issued = await transitionOk(tokens.member, created.id, 'issue');
      expect(keyPaths(issued)).toEqual(FULL);
    });

    // Last in the file, so it also covers every credential the tests above used.
    it('never writes a credential to the logs', async () => {
      const { tokens } = await loggedInTenant('inv-logs');
      await createOk(tokens.owner);
      expect(ledger.counts.secrets).toBeGreaterThan(0);
      expect(ledger.leaks()).toEqual([]);
    });
  });
});
