import type { CallHandler, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { lastValueFrom, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { RevealOnceInterceptor, revealOnce } from './reveal-once.js';

// Unit spec of RevealOnceInterceptor: a credential handed over with revealOnce reaches this
// response only, marked no-store, and never the body the handler returned (which idempotency stores).

function run(request: object, body: unknown) {
  const headers: Record<string, string> = {};
  const reply = { header: (name: string, value: string) => void (headers[name] = value) };
  const context = { switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }) } as unknown as ExecutionContext;
  const next = { handle: () => of(body) } as CallHandler;
  return { headers, answer: lastValueFrom(new RevealOnceInterceptor().intercept(context, next)) };
}

describe('RevealOnceInterceptor', () => {
  it('fills in the revealed fields once, on a copy, with Cache-Control: no-store', async () => {
    const request = {} as FastifyRequest;
    const stored = { id: 'k1', secret: null };
    revealOnce(request, { secret: 's3cr3t' });
    const first = run(request, stored);
    expect(await first.answer).toEqual({ id: 'k1', secret: 's3cr3t' });
    expect(first.headers).toEqual({ 'cache-control': 'no-store' });
    expect(stored.secret).toBeNull();
    const again = run(request, stored);
    expect(await again.answer).toBe(stored);
    expect(again.headers).toEqual({});
  });

  it('passes a response through untouched when nothing was revealed, or when there is no object to fill', async () => {
    const plain = run({}, { id: 'x' });
    expect(await plain.answer).toEqual({ id: 'x' });
    expect(plain.headers).toEqual({});
    for (const body of [undefined, null, 'text', 0]) {
      const request = {} as FastifyRequest;
      revealOnce(request, { secret: 's' });
      const sut = run(request, body);
      expect(await sut.answer).toBe(body);
      expect(sut.headers).toEqual({});
    }
  });

  it('reveals to its own request only', async () => {
    const mine = {} as FastifyRequest;
    revealOnce(mine, { secret: 'mine' });
    const other = run({}, { secret: null });
    expect(await other.answer).toEqual({ secret: null });
    expect(await run(mine, { secret: null }).answer).toEqual({ secret: 'mine' });
  });
});
