import 'reflect-metadata';
import { Body, Controller, Post, Query, SetMetadata, type CallHandler, type ExecutionContext } from '@nestjs/common';
import { of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { ValidationProblem } from './problem.js';
import { UPLOAD_FIELDS } from './single-file-upload.interceptor.js';
import { UnexpectedBodyInterceptor } from './unexpected-body.interceptor.js';

// Unit spec of the refusal of bodies and queries a route does not take (INPUT-VALIDATION), with
// the router's real parameter metadata of the controller below and a stand-in request.

class Filter {
  status?: string;
}

@Controller('x')
class ProbeController {
  @Post('none')
  none() {}

  @Post('body')
  body(@Body() _body: unknown) {}

  @Post('query')
  query(@Query() _query: Filter) {}

  @Post('one-key')
  oneKey(@Query('key') _key: string) {}

  @Post('upload')
  @SetMetadata(UPLOAD_FIELDS, Filter)
  upload() {}
}

const sut = new UnexpectedBodyInterceptor();
const handled = { handle: () => of('handled') } as CallHandler;

function context(handler: keyof ProbeController, request: { body?: unknown; query?: unknown }, type = 'http'): ExecutionContext {
  return {
    getType: () => type,
    getClass: () => ProbeController,
    getHandler: () => ProbeController.prototype[handler],
    switchToHttp: () => ({ getRequest: () => request }),
  } as unknown as ExecutionContext;
}

function refusal(run: () => unknown): ValidationProblem {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ValidationProblem);
  return caught as ValidationProblem;
}

describe('UnexpectedBodyInterceptor', () => {
  it('lets through a route that takes no body or query when none is sent ({} and null count as none)', () => {
    for (const body of [undefined, null, {}]) expect(sut.intercept(context('none', { body, query: {} }), handled)).toBeDefined();
    expect(sut.intercept(context('none', { body: undefined, query: undefined }), handled)).toBeDefined();
  });

  it('refuses every field of a body the route does not take, with escaped pointers', () => {
    const problem = refusal(() => sut.intercept(context('none', { body: { status: 'paid', 'a/b~': 1 }, query: {} }), handled));
    expect(problem.errors).toEqual([
      { pointer: '/status', rules: ['whitelistValidation'] },
      { pointer: '/a~1b~0', rules: ['whitelistValidation'] },
    ]);
  });

  it('refuses a non-object or array body as a whole (an empty array counts as none, like {})', () => {
    expect(sut.intercept(context('none', { body: [], query: {} }), handled)).toBeDefined();
    for (const body of ['text', 0, false, ['a']]) {
      expect(refusal(() => sut.intercept(context('none', { body, query: {} }), handled)).errors).toEqual([{ pointer: '', rules: ['whitelistValidation'] }]);
    }
  });

  it('lets a body through to a route that takes one, and any body to an upload route', () => {
    expect(sut.intercept(context('body', { body: { a: 1 }, query: {} }), handled)).toBeDefined();
    expect(sut.intercept(context('upload', { body: { a: 1 }, query: {} }), handled)).toBeDefined();
  });

  it('refuses query keys unless the route takes the whole query as a DTO', () => {
    const problem = refusal(() => sut.intercept(context('none', { query: { cursor: 'x', '': '1' } }), handled));
    expect(problem.errors).toEqual([
      { pointer: '/cursor', rules: ['whitelistValidation'] },
      { pointer: '', rules: ['whitelistValidation'] },
    ]);
    expect(refusal(() => sut.intercept(context('oneKey', { query: { key: 'x' } }), handled)).errors).toEqual([{ pointer: '/key', rules: ['whitelistValidation'] }]);
    expect(refusal(() => sut.intercept(context('upload', { query: { a: '1' } }), handled)).errors).toHaveLength(1);
    expect(refusal(() => sut.intercept(context('body', { query: { a: '1' } }), handled)).errors).toHaveLength(1);
    expect(sut.intercept(context('query', { query: { status: 'x', other: 'y' } }), handled)).toBeDefined();
  });

  it('does not look at anything but HTTP', () => {
    expect(sut.intercept(context('none', { body: { a: 1 }, query: { b: 1 } }, 'rpc'), handled)).toBeDefined();
  });
});
