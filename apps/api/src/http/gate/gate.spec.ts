import { HttpStatus, type ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { AuthError, AuthErrorCode } from '@benteng/auth';
import type { ActiveBlock, RateLimitResult, RateLimitSubject } from '@benteng/security';
import { SecurityError, SecurityErrorCode } from '@benteng/security';
import { processMetrics } from '../../metrics/metrics.js';
import { ROUTE_ACCESS, ROUTE_SENSITIVITY } from '../access.decorator.js';
import { AccessGuard } from '../access.guard.js';
import { RefusalException } from '../problem.js';
import { authOfRequest, type RequestAuth } from '../request-auth.js';
import { AddressBlockStage } from './address-block.stage.js';
import { AuthenticateStage, authenticateWith } from './authenticate.stage.js';
import { AuthorizeStage } from './authorize.stage.js';
import { BlockRefusal, refusedAsBlocked } from './block-refusal.js';
import { DeclaredAccess } from './declared-access.js';
import { GateAudit } from './gate-audit.js';
import { GATE_LOG_CONTEXT } from './gate-log.js';
import { PrincipalBlockStage } from './principal-block.stage.js';
import { RateLimitStage, sensitivityOf } from './rate-limit.stage.js';

// Unit specs of the request gate's stages (apps/api/src/http/gate), with fakes for their
// collaborators: the end-to-end specs prove the gate on a running app; these pin each stage's own
// decisions, what it logs and audits, and in which order AccessGuard calls them.

const TENANT = '0193b7a0-0000-7000-8000-00000000000a';
const USER = '0193b7a0-0000-7000-8000-0000000000a1';

type Line = { level: string; context?: string; fields: Record<string, unknown>; message: unknown };
function fakeLogger() {
  const lines: Line[] = [];
  let context: string | undefined;
  const at = (level: string) => (fields: Record<string, unknown>, message: unknown) => lines.push({ level, context, fields, message });
  return { lines, logger: { setContext: (name: string) => void (context = name), info: at('info'), warn: at('warn'), error: at('error') } };
}

const request = (over: Partial<Record<string, unknown>> = {}) =>
  ({ ip: '::ffff:192.0.2.7', id: 'req-1', method: 'POST', url: '/v1/invoices?x=1', routeOptions: { url: '/v1/invoices' }, ...over }) as unknown as FastifyRequest;

function fakeReply() {
  const headers: Record<string, string> = {};
  return { headers, reply: { header: (name: string, value: string) => void (headers[name] = value) } as unknown as FastifyReply };
}

function handler() {}
class SomeController {}
const context = (): ExecutionContext =>
  ({ getHandler: () => handler, getClass: () => SomeController, switchToHttp: () => ({ getRequest: () => request(), getResponse: () => fakeReply().reply }) }) as unknown as ExecutionContext;
const reflector = (values: Map<unknown, unknown>) =>
  ({
    getAllAndOverride: (key: unknown, targets: unknown[]) => {
      expect(targets).toEqual([handler, SomeController]);
      return values.get(key);
    },
  }) as unknown as Reflector;

const block = (over: Partial<ActiveBlock> = {}): ActiveBlock => ({ subject: 'ip', signal: 'auth_failure', retryAfterS: 42, source: 'detector', ...over }) as ActiveBlock;

function userAuth(can = true): RequestAuth & { asked: unknown[] } {
  const asked: unknown[] = [];
  return {
    asked,
    kind: 'user',
    user: { userId: USER, tenantId: TENANT, role: 'member', sessionId: 's' },
    scope: { tenantId: TENANT, principal: { kind: 'user', userId: USER, role: 'member' }, ability: { can: (...args: unknown[]) => (asked.push(args), can) } },
  } as unknown as RequestAuth & { asked: unknown[] };
}
const partnerAuth = () =>
  ({
    kind: 'partner',
    partner: { clientId: 'c1', tenantId: TENANT, scopes: ['invoices:read', 'tickets:read'], tier: 'standard' },
    scope: { tenantId: TENANT, principal: { kind: 'partner', clientId: 'c1', scopes: [], tier: 'standard' }, ability: { can: () => false } },
  }) as unknown as RequestAuth;

async function counted(metric: 'blockedRequests' | 'rateLimited', labels: Record<string, string>): Promise<number> {
  const { values } = await processMetrics[metric].get();
  return values.find((v) => Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l))?.value ?? 0;
}

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('BlockRefusal', () => {
  it('marks the request, logs under the gate context, counts it by surface and answers 429 with the block Retry-After', async () => {
    const { lines, logger } = fakeLogger();
    const sut = new BlockRefusal(logger as never);
    const req = request();
    expect(refusedAsBlocked(req)).toBe(false);
    const before = await counted('blockedRequests', { surface: 'public' });
    const error = thrownBy(() => sut.refuse(req, block({ retryAfterS: 42 }), 'user:x'));
    expect(error).toBeInstanceOf(SecurityError);
    expect((error as SecurityError).code).toBe(SecurityErrorCode.Blocked);
    expect((error as SecurityError).retryAfterS).toBe(42);
    expect(refusedAsBlocked(req)).toBe(true);
    expect(lines).toEqual([
      { level: 'info', context: GATE_LOG_CONTEXT, fields: { event: 'security.blocked_request', subject: 'ip', signal: 'auth_failure', source: 'detector', ip: '192.0.2.7', principal: 'user:x' }, message: 'request refused: blocked' },
    ]);
    expect(await counted('blockedRequests', { surface: 'public' })).toBe(before + 1);
  });

  it('logs under the context the gate always had', () => {
    expect(GATE_LOG_CONTEXT).toBe('AccessGuard');
  });
});

describe('AddressBlockStage', () => {
  function stage(found: ActiveBlock | undefined) {
    const asked: unknown[][] = [];
    const refused: unknown[][] = [];
    const abuse = { blockedFor: async (...args: unknown[]) => (asked.push(args), found) };
    const refusal = {
      refuse: (...args: unknown[]) => {
        refused.push(args);
        throw new SecurityError(SecurityErrorCode.Blocked, 1);
      },
    };
    return { asked, refused, sut: new AddressBlockStage(abuse as never, refusal as never) };
  }

  it('asks for the client address only, refuses an explicit block at once, and hands back an automatic one', async () => {
    const explicit = stage(block({ source: 'explicit' }));
    await expect(explicit.sut.check(request())).rejects.toBeInstanceOf(SecurityError);
    expect(explicit.asked).toEqual([['192.0.2.7']]);
    expect(explicit.refused).toHaveLength(1);

    const automatic = block({ source: 'detector' });
    const detector = stage(automatic);
    await expect(detector.sut.check(request())).resolves.toBe(automatic);
    expect(detector.refused).toEqual([]);

    await expect(stage(undefined).sut.check(request())).resolves.toBeUndefined();
  });

  it('refuses anonymous traffic on a blocked address unless the route verifies a credential of its own', () => {
    const { sut, refused } = stage(undefined);
    const req = request();
    expect(() => sut.refuseAnonymous(req, block(), { auth: 'none' } as never)).toThrow(SecurityError);
    expect(refused).toEqual([[req, block()]]);
    expect(() => sut.refuseAnonymous(req, block(), { auth: 'none', credential: 'password' } as never)).not.toThrow();
    expect(() => sut.refuseAnonymous(req, undefined, { auth: 'none' } as never)).not.toThrow();
    expect(refused).toHaveLength(1);
  });

  it('turns a failed authentication on a blocked address into the block refusal, and rethrows anything else', () => {
    const { sut, refused } = stage(undefined);
    const authFailure = new AuthError(AuthErrorCode.Unauthenticated);
    expect(thrownBy(() => sut.refuseUnverified(request(), block(), authFailure))).toBeInstanceOf(SecurityError);
    expect(refused).toHaveLength(1);
    expect(thrownBy(() => sut.refuseUnverified(request(), undefined, authFailure))).toBe(authFailure);
    const other = new Error('database down');
    expect(thrownBy(() => sut.refuseUnverified(request(), block(), other))).toBe(other);
    expect(refused).toHaveLength(1);
  });
});

describe('PrincipalBlockStage', () => {
  it('asks for the authenticated principal only, and refuses it when blocked, naming it', async () => {
    const asked: unknown[][] = [];
    const refused: unknown[][] = [];
    let found: ActiveBlock | undefined = block({ subject: 'principal' });
    const sut = new PrincipalBlockStage(
      { blockedFor: async (...args: unknown[]) => (asked.push(args), found) } as never,
      {
        refuse: (...args: unknown[]) => {
          refused.push(args);
          throw new SecurityError(SecurityErrorCode.Blocked, 1);
        },
      } as never,
    );
    const req = request();
    await expect(sut.check(req, userAuth())).rejects.toBeInstanceOf(SecurityError);
    expect(asked).toEqual([[undefined, `user:${USER}`, undefined]]);
    expect(refused).toEqual([[req, found, `user:${USER}`]]);
    found = undefined;
    await expect(sut.check(req, userAuth())).resolves.toBeUndefined();
    expect(refused).toHaveLength(1);
    // The gate's round trip read the key already: handed on for the detector to judge.
    const read = { value: null, pttlMs: -2 };
    await sut.check(req, userAuth(), read);
    expect(asked.at(-1)).toEqual([undefined, `user:${USER}`, read]);
  });
});

describe('DeclaredAccess (deny by default)', () => {
  it('returns the declared access of the handler or its class', () => {
    const access = { auth: 'none' };
    const { lines, logger } = fakeLogger();
    expect(new DeclaredAccess(reflector(new Map([[ROUTE_ACCESS, access]])), logger as never).of(context())).toBe(access);
    expect(lines).toEqual([]);
  });

  it('refuses a route that declares no access with 403 access.undeclared and an error line naming it', () => {
    const { lines, logger } = fakeLogger();
    const error = thrownBy(() => new DeclaredAccess(reflector(new Map()), logger as never).of(context()));
    expect(error).toBeInstanceOf(RefusalException);
    expect((error as RefusalException).getStatus()).toBe(HttpStatus.FORBIDDEN);
    expect((error as RefusalException).code).toBe('access.undeclared');
    expect(lines).toEqual([{ level: 'error', context: 'DeclaredAccess', fields: { controller: 'SomeController', handler: 'handler' }, message: 'route declares no access; refused' }]);
  });
});

describe('AuthorizeStage', () => {
  it('lets through what the ability can do, without an audit', async () => {
    const audited: unknown[][] = [];
    const sut = new AuthorizeStage({ denied: async (...args: unknown[]) => void audited.push(args) } as never);
    const auth = userAuth(true);
    await expect(sut.check(request(), auth, { auth: 'public-jwt', action: 'read', subject: 'Invoice' } as never)).resolves.toBeUndefined();
    expect(auth.asked).toEqual([['read', 'Invoice']]);
    expect(audited).toEqual([]);
  });

  it('refuses with 403 access.denied after auditing the denial', async () => {
    const audited: unknown[][] = [];
    const sut = new AuthorizeStage({ denied: async (...args: unknown[]) => void audited.push(args) } as never);
    const auth = userAuth(false);
    const req = request();
    const error = await sut.check(req, auth, { auth: 'public-jwt', action: 'delete', subject: 'Invoice' } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RefusalException);
    expect((error as RefusalException).getStatus()).toBe(HttpStatus.FORBIDDEN);
    expect((error as RefusalException).code).toBe('access.denied');
    expect(audited).toEqual([[req, auth, 'delete', 'Invoice']]);
  });
});

describe('RateLimitStage', () => {
  it('sensitivity: as declared, else read for GET and HEAD and write for every other method', () => {
    expect(sensitivityOf(reflector(new Map([[ROUTE_SENSITIVITY, 'search']])), context(), 'GET')).toBe('search');
    const none = reflector(new Map());
    expect(sensitivityOf(none, context(), 'GET')).toBe('read');
    expect(sensitivityOf(none, context(), 'HEAD')).toBe('read');
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) expect(sensitivityOf(none, context(), method)).toBe('write');
  });

  function stage(result: RateLimitResult) {
    const consumed: [RateLimitSubject, string][] = [];
    const audited: unknown[][] = [];
    const sut = new RateLimitStage(
      reflector(new Map()),
      { consume: async (subject: RateLimitSubject, sensitivity: string) => (consumed.push([subject, sensitivity]), result) } as never,
      { rateLimited: async (...args: unknown[]) => void audited.push(args) } as never,
    );
    return { sut, consumed, audited };
  }
  const allowed: RateLimitResult = { allowed: true, policy: 'user-write', headers: { 'RateLimit-Policy': '"user-write";q=10;w=60', RateLimit: '"user-write";r=9;t=60' } } as RateLimitResult;

  it('an anonymous call is limited per address; an allowed one gets the headers and no audit', async () => {
    const { sut, consumed, audited } = stage(allowed);
    const { headers, reply } = fakeReply();
    await sut.anonymous(context(), request({ method: 'GET' }), reply);
    expect(consumed).toEqual([[{ principalClass: 'anonymous', owner: 'ip:192.0.2.7' }, 'read']]);
    expect(headers).toEqual(allowed.headers);
    expect(audited).toEqual([]);
  });

  it('a user is limited as a user within its tenant, a partner by its tier', async () => {
    const { sut, consumed } = stage(allowed);
    await sut.caller(context(), request(), fakeReply().reply, userAuth());
    await sut.caller(context(), request(), fakeReply().reply, partnerAuth());
    expect(consumed).toEqual([
      [{ principalClass: 'user', owner: `user:${USER}`, tenantId: TENANT }, 'write'],
      [{ principalClass: 'partner:standard', owner: 'partner:c1', tenantId: TENANT }, 'write'],
    ]);
  });

  it('a refusal is audited, counted and answered 429 with its Retry-After (at least 1 s when none is given)', async () => {
    const refused = { ...allowed, allowed: false, retryAfterS: 17, exceeded: 'tenant', headers: { ...allowed.headers, 'Retry-After': '17' } } as RateLimitResult;
    const { sut, audited } = stage(refused);
    const { headers, reply } = fakeReply();
    const req = request();
    const before = await counted('rateLimited', { surface: 'public', principal_class: 'user' });
    const error = await sut.caller(context(), req, reply, userAuth()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecurityError);
    expect((error as SecurityError).code).toBe(SecurityErrorCode.RateLimited);
    expect((error as SecurityError).retryAfterS).toBe(17);
    expect(headers['Retry-After']).toBe('17');
    expect(audited).toEqual([[req, { principalClass: 'user', owner: `user:${USER}`, tenantId: TENANT }, refused, 17]]);
    expect(await counted('rateLimited', { surface: 'public', principal_class: 'user' })).toBe(before + 1);

    const bare = stage({ ...refused, retryAfterS: undefined } as RateLimitResult);
    const error2 = await bare.sut.anonymous(context(), req, reply).catch((e: unknown) => e);
    expect((error2 as SecurityError).retryAfterS).toBe(1);
    expect(bare.audited[0]?.[3]).toBe(1);
  });
});

describe('GateAudit', () => {
  function gateAudit(setAnswer: unknown = 'OK') {
    const sets: unknown[][] = [];
    const recordedFor: unknown[][] = [];
    const recorded: unknown[][] = [];
    const { lines, logger } = fakeLogger();
    const redis = { set: async (...args: unknown[]) => (sets.push(args), setAnswer instanceof Error ? Promise.reject(setAnswer) : setAnswer) };
    const audit = { recordFor: async (...args: unknown[]) => void recordedFor.push(args), record: async (...args: unknown[]) => void recorded.push(args) };
    return { sets, recordedFor, recorded, lines, sut: new GateAudit(audit as never, redis as never, logger as never) };
  }
  const result = { allowed: false, policy: 'user-write', exceeded: 'tenant', headers: {} } as unknown as RateLimitResult;
  const subject: RateLimitSubject = { principalClass: 'user', owner: `user:${USER}`, tenantId: TENANT };

  it('reports a rate-limit refusal once per owner, policy and window: a warning and an audit row in the tenant', async () => {
    const { sets, recordedFor, lines, sut } = gateAudit('OK');
    await sut.rateLimited(request(), subject, result, 17);
    expect(sets).toEqual([[`benteng:rl:reported:user-write:tenant:user:${USER}`, '1', 'EX', 17, 'NX']]);
    expect(lines).toEqual([
      { level: 'warn', context: GATE_LOG_CONTEXT, fields: { event: 'security.rate_limited', policy: 'user-write', exceeded: 'tenant', owner: `user:${USER}`, tenantId: TENANT, ip: '192.0.2.7' }, message: 'rate limit exceeded' },
    ]);
    expect(recordedFor).toEqual([
      [TENANT, { type: 'security.rate_limited', outcome: 'denied', actor: `user:${USER}`, ip: '192.0.2.7', requestId: 'req-1', data: { policy: 'user-write', exceeded: 'tenant', retryAfterS: 17 } }],
    ]);
  });

  it('the marker lives at least 1 s and names the principal budget when no budget is named', async () => {
    const { sets, recordedFor, sut } = gateAudit('OK');
    await sut.rateLimited(request(), subject, { ...result, exceeded: undefined } as RateLimitResult, 0);
    expect(sets[0]).toEqual([`benteng:rl:reported:user-write:principal:user:${USER}`, '1', 'EX', 1, 'NX']);
    expect((recordedFor[0] as [string, { data: unknown }])[1].data).toEqual({ policy: 'user-write', exceeded: 'principal', retryAfterS: 0 });
  });

  it('reports nothing again within the window, nor when Redis fails; an anonymous caller is logged but has no tenant to audit in', async () => {
    for (const answer of [null, new Error('redis down')]) {
      const again = gateAudit(answer);
      await again.sut.rateLimited(request(), subject, result, 17);
      expect(again.lines).toEqual([]);
      expect(again.recordedFor).toEqual([]);
    }
    const anonymous = gateAudit('OK');
    await anonymous.sut.rateLimited(request(), { principalClass: 'anonymous', owner: 'ip:192.0.2.7' }, result, 17);
    expect(anonymous.lines).toHaveLength(1);
    expect(anonymous.recordedFor).toEqual([]);
  });

  it('audits a function-level denial in the caller scope, with the route and the role or the partner scopes', async () => {
    const { recorded, sut } = gateAudit();
    const user = userAuth(false);
    await sut.denied(request(), user, 'delete', 'Invoice');
    const partner = partnerAuth();
    await sut.denied(request({ method: 'GET', routeOptions: {} }), partner, 'read', 'Ticket');
    await sut.denied(request({ method: 'GET', routeOptions: {} }), user, 'read', 'Ticket');
    expect(recorded).toEqual([
      [user.scope, { type: 'authz.denied', outcome: 'denied', actor: `user:${USER}`, subject: 'delete:Invoice', ip: '192.0.2.7', requestId: 'req-1', data: { surface: 'public', route: 'POST /v1/invoices', role: 'member' } }],
      [partner.scope, { type: 'authz.denied', outcome: 'denied', actor: 'partner:c1', subject: 'read:Ticket', ip: '192.0.2.7', requestId: 'req-1', data: { surface: 'partner', route: 'GET ', scope: 'invoices:read tickets:read' } }],
      [user.scope, { type: 'authz.denied', outcome: 'denied', actor: `user:${USER}`, subject: 'read:Ticket', ip: '192.0.2.7', requestId: 'req-1', data: { surface: 'public', route: 'GET ', role: 'member' } }],
    ]);
  });
});

describe('AccessGuard: the stages in order', () => {
  const READS = { revocation: ['1', null, null, null], principalBlock: { value: null, pttlMs: -2 }, limit: { allowed: true, policy: 'user-read', headers: {} } };

  function guard(access: unknown, options: { addressBlock?: ActiveBlock; authFails?: unknown; revoked?: unknown; reads?: unknown } = {}) {
    const calls: string[] = [];
    const auth = userAuth();
    const req = request();
    const reads = 'reads' in options ? options.reads : READS;
    const of = (name: string, value: unknown) => (reads === undefined ? undefined : (value as Record<string, unknown>)[name]);
    const ctx = { ...context(), switchToHttp: () => ({ getRequest: () => req, getResponse: () => 'reply' }) } as unknown as ExecutionContext;
    const sut = new AccessGuard(
      { of: () => (calls.push('declared'), access) } as never,
      {
        check: async () => (calls.push('address'), options.addressBlock),
        refuseAnonymous: (r: unknown, b: unknown, a: unknown) => (expect([r, b, a]).toEqual([req, options.addressBlock, access]), calls.push('refuseAnonymous')),
        refuseUnverified: (r: unknown, b: unknown, e: unknown) => {
          expect([r, b]).toEqual([req, options.addressBlock]);
          calls.push('refuseUnverified');
          throw e;
        },
      } as never,
      {
        refuseInternal: () => {
          calls.push('refuseInternal');
          throw new AuthError(AuthErrorCode.Unauthenticated);
        },
        verify: async (a: unknown, r: unknown, reply: unknown) => {
          expect([a, r, reply]).toEqual([access, req, 'reply']);
          calls.push('authenticate');
          if (options.authFails) throw options.authFails;
          return auth;
        },
        admit: async (r: unknown, a: unknown, read: unknown) => {
          expect([r, a, read]).toEqual([req, auth, of('revocation', reads)]);
          calls.push('revocation');
          if (options.revoked) throw options.revoked;
        },
      } as never,
      { check: async (r: unknown, a: unknown, read: unknown) => (expect([r, a, read]).toEqual([req, auth, of('principalBlock', reads)]), calls.push('principal')) } as never,
      {
        anonymous: async (c: unknown, r: unknown, reply: unknown) => (expect([c, r, reply]).toEqual([ctx, req, 'reply']), calls.push('limit:anonymous')),
        caller: async (c: unknown, r: unknown, reply: unknown, a: unknown, decided: unknown) => (expect([c, r, reply, a, decided]).toEqual([ctx, req, 'reply', auth, of('limit', reads)]), calls.push('limit:caller')),
      } as never,
      { check: async (c: unknown, r: unknown, reply: unknown, a: unknown) => (expect([c, r, reply, a]).toEqual([ctx, req, 'reply', auth]), calls.push('signature')) } as never,
      { check: async (r: unknown, a: unknown, acc: unknown) => (expect([r, a, acc]).toEqual([req, auth, access]), calls.push('authorize')) } as never,
      { read: async (c: unknown, r: unknown, a: unknown) => (expect([c, r, a]).toEqual([ctx, req, auth]), calls.push('round trip'), reads) } as never,
    );
    return { calls, run: () => sut.canActivate(ctx) };
  }

  it('an authenticated route: declared, address, authenticate, the round trip, revocation, principal block, limit, signature, authorize', async () => {
    const { calls, run } = guard({ auth: 'public-jwt', action: 'read', subject: 'Invoice' });
    await expect(run()).resolves.toBe(true);
    expect(calls).toEqual(['declared', 'address', 'authenticate', 'round trip', 'revocation', 'principal', 'limit:caller', 'signature', 'authorize']);
  });

  it('without a round trip (not possible), every stage reads for itself, in the same order', async () => {
    const { calls, run } = guard({ auth: 'public-jwt', action: 'read', subject: 'Invoice' }, { reads: undefined });
    await expect(run()).resolves.toBe(true);
    expect(calls).toEqual(['declared', 'address', 'authenticate', 'round trip', 'revocation', 'principal', 'limit:caller', 'signature', 'authorize']);
  });

  it('a revoked token goes through the address block, and nothing after it runs', async () => {
    const failure = new AuthError(AuthErrorCode.Unauthenticated);
    const { calls, run } = guard({ auth: 'public-jwt', action: 'read', subject: 'Invoice' }, { addressBlock: block(), revoked: failure });
    await expect(run()).rejects.toBe(failure);
    expect(calls).toEqual(['declared', 'address', 'authenticate', 'round trip', 'revocation', 'refuseUnverified']);
  });

  it('a route without authentication: declared, address, the anonymous refusal check, the anonymous limit', async () => {
    const { calls, run } = guard({ auth: 'none' });
    await expect(run()).resolves.toBe(true);
    expect(calls).toEqual(['declared', 'address', 'refuseAnonymous', 'limit:anonymous']);
  });

  it.each(['internal-operator', 'internal-service'])('an internal route (%s) on the public listener is refused before any credential is read', async (auth) => {
    const { calls, run } = guard({ auth });
    await expect(run()).rejects.toBeInstanceOf(AuthError);
    expect(calls).toEqual(['declared', 'address', 'refuseInternal']);
  });

  it('a failed authentication goes through the address block, and nothing after it runs', async () => {
    const failure = new AuthError(AuthErrorCode.Unauthenticated);
    const { calls, run } = guard({ auth: 'partner', action: 'read', subject: 'Invoice' }, { addressBlock: block(), authFails: failure });
    await expect(run()).rejects.toBe(failure);
    expect(calls).toEqual(['declared', 'address', 'authenticate', 'refuseUnverified']);
  });
});

/** A passport strategy that answers as told (success, fail, error), like the real ones do. */
const strategy = (answer: { success?: unknown; fail?: true; error?: unknown; pass?: true }) => ({
  authenticate(this: { success: (u: unknown) => void; fail: () => void; error: (e: unknown) => void; pass: () => void }) {
    if (answer.error !== undefined) this.error(answer.error);
    else if (answer.pass) this.pass();
    else if (answer.fail) this.fail();
    else this.success(answer.success);
  },
});

describe('authenticateWith', () => {
  it('resolves with what the strategy authenticated, undefined on a failure, and rejects with its error as an Error', async () => {
    const user = { userId: USER };
    await expect(authenticateWith(strategy({ success: user }), request(), fakeReply().reply)).resolves.toBe(user);
    await expect(authenticateWith(strategy({ fail: true }), request(), fakeReply().reply)).resolves.toBeUndefined();
    await expect(authenticateWith(strategy({ success: false }), request(), fakeReply().reply)).resolves.toBeUndefined();
    // A strategy that passes (neither success nor failure) hands on to the next handler: nobody authenticated.
    await expect(authenticateWith(strategy({ pass: true }), request(), fakeReply().reply)).resolves.toBeUndefined();
    const error = new Error('key store down');
    await expect(authenticateWith(strategy({ error }), request(), fakeReply().reply)).rejects.toBe(error);
    const wrapped = await authenticateWith(strategy({ error: 'boom' }), request(), fakeReply().reply).catch((e: unknown) => e);
    expect(wrapped).toBeInstanceOf(Error);
    expect((wrapped as Error).message).toBe('boom');
  });
});

describe('AuthenticateStage', () => {
  const user = { userId: USER, tenantId: TENANT.toUpperCase(), role: 'admin', sessionId: 'sess-1' };
  const partner = { clientId: 'c1', tenantId: TENANT, scopes: ['invoices:read'], tier: 'standard' };
  function stage(jwtAnswer: Parameters<typeof strategy>[0], partnerAnswer: Parameters<typeof strategy>[0], revoked = false) {
    const entered: unknown[] = [];
    const revocationAsked: unknown[][] = [];
    const abilityFor: unknown[][] = [];
    const { lines, logger } = fakeLogger();
    const abilities = { forTenant: (...args: unknown[]) => (abilityFor.push(args), { can: () => true }) };
    const jwt = Object.assign(strategy(jwtAnswer), {
      revocationGuards: (u: unknown) => (expect(u).toBe(user), [{ key: 'rev', stopWhen: 'present' }]),
      refuseRevoked: async (...args: unknown[]) => {
        revocationAsked.push(args);
        if (revoked) throw new AuthError(AuthErrorCode.Unauthenticated);
      },
    });
    const sut = new AuthenticateStage(jwt as never, strategy(partnerAnswer) as never, abilities as never, { enterScope: (scope: unknown) => entered.push(scope) } as never, logger as never);
    return { sut, entered, abilityFor, lines, revocationAsked };
  }

  it('a user token is checked for revocation before it is attached (from the round trip read when given); a revoked one is attached nowhere', async () => {
    const { sut, entered, revocationAsked } = stage({ success: user }, { fail: true });
    const req = request();
    const auth = await sut.verify({ auth: 'public-jwt' } as never, req, fakeReply().reply);
    expect(sut.revocationGuards(auth)).toEqual([{ key: 'rev', stopWhen: 'present' }]);
    expect(authOfRequest(req)).toBeUndefined();
    await sut.admit(req, auth, ['1', null, null, null]);
    expect(revocationAsked).toEqual([[user, ['1', null, null, null]]]);
    expect(authOfRequest(req)).toBe(auth);
    expect(entered).toEqual([auth.scope]);

    const revoked = stage({ success: user }, { fail: true }, true);
    const other = request();
    const otherAuth = await revoked.sut.verify({ auth: 'public-jwt' } as never, other, fakeReply().reply);
    await expect(revoked.sut.admit(other, otherAuth)).rejects.toBeInstanceOf(AuthError);
    expect(revoked.revocationAsked).toEqual([[user, undefined]]);
    expect(authOfRequest(other)).toBeUndefined();
    expect(revoked.entered).toEqual([]);
  });

  it('a partner client has no revocation markers to read (its credential was checked by its strategy)', async () => {
    const { sut, revocationAsked } = stage({ fail: true }, { success: partner });
    const auth = await sut.caller({ auth: 'partner' } as never, request(), fakeReply().reply);
    expect(sut.revocationGuards(auth)).toEqual([]);
    expect(revocationAsked).toEqual([]);
  });

  it('a public route: the access token user, scoped to its tenant, attached to the request and entered for the logs', async () => {
    const { sut, entered, abilityFor } = stage({ success: user }, { fail: true });
    const req = request();
    const auth = await sut.caller({ auth: 'public-jwt' } as never, req, fakeReply().reply);
    expect(auth.kind).toBe('user');
    expect(auth.kind === 'user' && auth.user).toBe(user);
    expect(auth.scope.tenantId).toBe(TENANT);
    expect(auth.scope.principal).toEqual({ kind: 'user', userId: USER, role: 'admin', sessionId: 'sess-1' });
    expect(abilityFor).toEqual([[TENANT, { kind: 'user', userId: USER, role: 'admin', sessionId: 'sess-1' }]]);
    expect(authOfRequest(req)).toBe(auth);
    expect(entered).toEqual([auth.scope]);
  });

  it('a partner route: the partner client, with its scopes, tier and key id when it came with an API key', async () => {
    for (const [answer, principal] of [
      [partner, { kind: 'partner', clientId: 'c1', scopes: ['invoices:read'], tier: 'standard' }],
      [{ ...partner, keyId: 'k1' }, { kind: 'partner', clientId: 'c1', scopes: ['invoices:read'], tier: 'standard', keyId: 'k1' }],
    ] as const) {
      const { sut } = stage({ fail: true }, { success: answer });
      const auth = await sut.caller({ auth: 'partner' } as never, request(), fakeReply().reply);
      expect(auth.kind).toBe('partner');
      expect(auth.kind === 'partner' && auth.partner).toBe(answer);
      expect(auth.scope.principal).toEqual(principal);
    }
  });

  it('each surface knows only its own credential: no user is 401 auth.unauthenticated, no partner the partner code, nothing attached', async () => {
    const { sut, entered } = stage({ fail: true }, { success: partner });
    const req = request();
    const noUser = await sut.caller({ auth: 'public-jwt' } as never, req, fakeReply().reply).catch((e: unknown) => e);
    expect(noUser).toBeInstanceOf(AuthError);
    expect((noUser as AuthError).code).toBe(AuthErrorCode.Unauthenticated);
    const other = stage({ success: user }, { fail: true });
    const noPartner = await other.sut.caller({ auth: 'partner' } as never, req, fakeReply().reply).catch((e: unknown) => e);
    expect(noPartner).toBeInstanceOf(AuthError);
    expect((noPartner as AuthError).code).toBe(AuthErrorCode.PartnerUnauthenticated);
    expect(authOfRequest(req)).toBeUndefined();
    expect(entered).toEqual([]);
  });

  it('an unknown route kind fails closed', async () => {
    const { sut } = stage({ success: user }, { success: partner });
    await expect(sut.caller({ auth: 'something-else' } as never, request(), fakeReply().reply)).rejects.toThrow('Unhandled case');
  });

  it('refuses an internal route mounted on the public listener with 401 and an error line naming it', () => {
    const { sut, lines } = stage({ success: user }, { success: partner });
    const error = thrownBy(() => sut.refuseInternal(context()));
    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).code).toBe(AuthErrorCode.Unauthenticated);
    expect(lines).toEqual([{ level: 'error', context: GATE_LOG_CONTEXT, fields: { controller: 'SomeController', handler: 'handler' }, message: 'internal route on the public listener; refused' }]);
  });
});
