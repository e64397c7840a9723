import { describe, expect, it } from 'vitest';
import { ownerPool } from '../support/db.js';
import { createTenant } from '../support/factories.js';

describe('test harness', () => {
  const owner = ownerPool();
  it('creates an isolated tenant', async () => {
    const tenant = await createTenant(owner);
    const { rows } = await owner.query('SELECT count(*)::int AS n FROM memberships WHERE tenant_id = $1', [tenant.id]);
    expect(rows[0].n).toBe(4);
  });
});
