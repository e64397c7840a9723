import { describe, expect, it } from 'vitest';
import { recordedBy } from './recorded-by.js';

const ID = '0193b7a0-0000-7000-8000-0000000000a1';
const COLUMNS = { user: 'createdById', client: 'createdByClientId' } as const;

// A tenant row names its maker in exactly one column; principals that act in no one's name make none.
describe('recordedBy', () => {
  it('records a user under the user column and a partner client under the client column', () => {
    expect(recordedBy({ kind: 'user', userId: ID, role: 'member' }, COLUMNS)).toEqual({ createdById: ID });
    expect(recordedBy({ kind: 'partner', clientId: ID, scopes: [], tier: 'free' }, COLUMNS)).toEqual({ createdByClientId: ID });
  });

  it('records no system or operator principal', () => {
    expect(recordedBy({ kind: 'system', name: 'jobs' }, COLUMNS)).toBeNull();
    expect(recordedBy({ kind: 'operator', operatorId: ID, roles: ['support'], service: 'ops-cli' }, COLUMNS)).toBeNull();
  });
});
