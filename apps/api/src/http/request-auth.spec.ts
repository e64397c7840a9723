import type { ExecutionContext } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { attachAuth, authOfRequest, CurrentPartner, CurrentScope, CurrentUser, scopeOf, type RequestAuth } from './request-auth.js';

// The parameter decorators and scopeOf read what AccessGuard attached to the request: the verified
// caller, never anything the request itself says. On a route without one they throw (a programming
// error: the route's declaration does not authenticate).

const user = { kind: 'user', user: { userId: 'u1', tenantId: 't1', role: 'member', sessionId: 's1' }, scope: { tenantId: 't1' } } as unknown as RequestAuth;
const partner = { kind: 'partner', partner: { clientId: 'c1', tenantId: 't1', scopes: [], tier: 'standard' }, scope: { tenantId: 't1' } } as unknown as RequestAuth;

/** The factory Nest calls for a parameter decorator, as it registers it on a handler. */
function factoryOf(decorator: () => ParameterDecorator): (data: unknown, context: ExecutionContext) => unknown {
  class Handlers {
    handle(_value: unknown): void {}
  }
  decorator()(Handlers.prototype, 'handle', 0);
  const args = Reflect.getMetadata(ROUTE_ARGS_METADATA, Handlers, 'handle') as Record<string, { factory: (data: unknown, context: ExecutionContext) => unknown }>;
  return Object.values(args)[0]!.factory;
}

function contextOf(auth?: RequestAuth): { context: ExecutionContext; request: FastifyRequest } {
  const request = {} as FastifyRequest;
  if (auth) attachAuth(request, auth);
  return { request, context: { switchToHttp: () => ({ getRequest: () => request }) } as unknown as ExecutionContext };
}

describe('request-auth', () => {
  it('hands each decorator the part of the attached caller it names', () => {
    expect(factoryOf(CurrentScope)(undefined, contextOf(user).context)).toBe(user.scope);
    expect(factoryOf(CurrentUser)(undefined, contextOf(user).context)).toBe((user as { user: unknown }).user);
    expect(factoryOf(CurrentPartner)(undefined, contextOf(partner).context)).toBe((partner as { partner: unknown }).partner);
    const { request } = contextOf(partner);
    expect(authOfRequest(request)).toBe(partner);
    expect(scopeOf(request)).toBe(partner.scope);
  });

  it('throws, naming the mistake, on a route without an authenticated caller or with the other kind of caller', () => {
    const none = contextOf().context;
    for (const decorator of [CurrentScope, CurrentUser, CurrentPartner]) expect(() => factoryOf(decorator)(undefined, none)).toThrow(new Error('no authenticated principal on this route'));
    expect(() => scopeOf(contextOf().request)).toThrow(new Error('no authenticated principal on this route'));
    expect(authOfRequest(contextOf().request)).toBeUndefined();
    expect(() => factoryOf(CurrentUser)(undefined, contextOf(partner).context)).toThrow(new Error('CurrentUser on a route that does not authenticate users'));
    expect(() => factoryOf(CurrentPartner)(undefined, contextOf(user).context)).toThrow(new Error('CurrentPartner on a route that does not authenticate partners'));
  });
});
