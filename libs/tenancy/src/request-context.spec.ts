import { AsyncLocalStorage } from 'node:async_hooks';
import { ClsService } from 'nestjs-cls';
import { describe, expect, it } from 'vitest';
import { RequestContext } from './request-context.js';
import { Scope } from './scope.js';

const TENANT = '0193b7a0-0000-7000-8000-00000000000a';
const USER = '0193b7a0-0000-7000-8000-0000000000a1';

describe('RequestContext', () => {
  const assigned: Record<string, unknown>[] = [];
  const cls = new ClsService(new AsyncLocalStorage());
  const sut = new RequestContext(cls as never, { assign: (fields: Record<string, unknown>) => assigned.push(fields) } as never);

  it('outside a request knows no request id and no Scope', () => {
    expect(sut.requestId).toBeUndefined();
    expect(sut.scope).toBeUndefined();
  });

  it('inside a request gives its id, and after enterScope its Scope; every later log line names tenant and principal', () => {
    const scope = Scope.for(TENANT, { kind: 'user', userId: USER, role: 'member' });
    cls.run(() => {
      cls.set('requestId', 'req-1');
      expect(sut.requestId).toBe('req-1');
      expect(sut.scope).toBeUndefined();
      sut.enterScope(scope);
      expect(sut.scope).toBe(scope);
    });
    expect(assigned).toEqual([{ tenantId: TENANT, principalId: `user:${USER}` }]);
  });
});
