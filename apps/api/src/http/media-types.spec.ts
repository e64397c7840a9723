import 'reflect-metadata';
import { Body, Controller, Get, Module, Post, SetMetadata, type INestApplication } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { Accepts, declaredMediaTypes, FORM_MEDIA, JSON_MEDIA, mediaTypeOf, mediaTypesByRoute, MULTIPART_MEDIA, refuseUndeclaredMediaTypes, unsupportedMediaType } from './media-types.js';
import { ProblemException } from './problem.js';
import { UPLOAD_FIELDS } from './single-file-upload.interceptor.js';

// Unit spec of the request media types (INPUT-VALIDATION): what each route declares, and the 415
// before parsing, on a small Nest/Fastify application. test/security/media-types*.spec.ts proves it
// on the running API.

class Fields {}

@Controller('v1/m')
class MediaController {
  @Post('json')
  json(@Body() body: unknown) {
    return { body };
  }

  @Post('form')
  @Accepts(FORM_MEDIA, JSON_MEDIA)
  form(@Body() body: unknown) {
    return { body };
  }

  @Post('upload')
  @SetMetadata(UPLOAD_FIELDS, Fields)
  upload() {
    return { ok: true };
  }

  @Post('none')
  none() {
    return { ok: true };
  }

  @Get('read')
  read() {
    return { ok: true };
  }
}

@Module({ imports: [DiscoveryModule], controllers: [MediaController] })
class MediaModule {}

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function build(withHook = true): Promise<NestFastifyApplication> {
  const module = await Test.createTestingModule({ imports: [MediaModule] }).compile();
  const created = module.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  app = created;
  if (withHook) refuseUndeclaredMediaTypes(created.getHttpAdapter().getInstance(), created);
  await created.init();
  return created;
}

describe('declaredMediaTypes and mediaTypesByRoute', () => {
  it('@Accepts, multipart for an upload, JSON for a @Body(), none otherwise; JSON admitted where none is declared', async () => {
    expect(declaredMediaTypes(MediaController, 'form')).toEqual([FORM_MEDIA, JSON_MEDIA]);
    expect(declaredMediaTypes(MediaController, 'upload')).toEqual([MULTIPART_MEDIA]);
    expect(declaredMediaTypes(MediaController, 'json')).toEqual([JSON_MEDIA]);
    expect(declaredMediaTypes(MediaController, 'none')).toEqual([]);
    const sut = await build(false);
    expect(Object.fromEntries(mediaTypesByRoute(sut))).toEqual({
      'POST /v1/m/json': [JSON_MEDIA],
      'POST /v1/m/form': [FORM_MEDIA, JSON_MEDIA],
      'POST /v1/m/upload': [MULTIPART_MEDIA],
      'POST /v1/m/none': [JSON_MEDIA],
      'GET /v1/m/read': [JSON_MEDIA],
    });
    expect([JSON_MEDIA, FORM_MEDIA, MULTIPART_MEDIA]).toEqual(['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data']);
  });
});

describe('mediaTypeOf', () => {
  it('the type, lower-cased, without parameters; undefined when absent or empty', () => {
    expect(mediaTypeOf('Application/JSON; charset=utf-8')).toBe('application/json');
    expect(mediaTypeOf(' text/plain ')).toBe('text/plain');
    expect(mediaTypeOf(undefined)).toBeUndefined();
    expect(mediaTypeOf('')).toBeUndefined();
    expect(mediaTypeOf(' ; charset=utf-8')).toBeUndefined();
  });
});

describe('unsupportedMediaType', () => {
  it('415 with a fixed code and the admitted types', () => {
    const error = unsupportedMediaType([FORM_MEDIA, JSON_MEDIA]);
    expect(error).toBeInstanceOf(ProblemException);
    expect(error.getStatus()).toBe(415);
    expect(error.extensions).toEqual({ detail: 'This route accepts a body of type application/x-www-form-urlencoded or application/json only.', code: 'request.unsupported_media_type' });
  });
});

describe('refuseUndeclaredMediaTypes', () => {
  const post = (sut: NestFastifyApplication, url: string, type: string | undefined, payload = '{"a":1}') =>
    sut.inject({ method: 'POST', url, payload, headers: type === undefined ? {} : { 'content-type': type } });

  it('refuses a body of a type the route does not declare, a missing type included, with 415', async () => {
    const sut = await build();
    for (const [url, type] of [
      ['/v1/m/json', 'text/plain'],
      ['/v1/m/json', FORM_MEDIA],
      ['/v1/m/json', undefined],
      ['/v1/m/none', 'text/plain'],
      ['/v1/m/upload', JSON_MEDIA],
    ] as const) {
      const res = await post(sut, url, type);
      expect(res.statusCode, `${url} ${type}`).toBe(415);
    }
  });

  it('lets declared types through, and requests without a body', async () => {
    const sut = await build();
    expect((await post(sut, '/v1/m/json', 'application/json; charset=utf-8')).json()).toEqual({ body: { a: 1 } });
    expect((await post(sut, '/v1/m/form', FORM_MEDIA, 'a=1')).json()).toEqual({ body: { a: '1' } });
    expect((await post(sut, '/v1/m/none', JSON_MEDIA)).statusCode).toBe(201);
    expect((await sut.inject({ method: 'POST', url: '/v1/m/json', headers: { 'content-type': 'text/plain' } })).statusCode).not.toBe(415);
    expect((await sut.inject({ method: 'POST', url: '/v1/m/none', headers: { 'content-type': 'text/plain', 'content-length': '0' } })).statusCode).toBe(201);
    expect((await sut.inject({ method: 'GET', url: '/v1/m/read' })).statusCode).toBe(200);
    // Unknown routes are the router's 404, not a 415.
    expect((await post(sut, '/v1/m/missing', 'text/plain')).statusCode).toBe(404);
  });

  it('counts a chunked body as a body', async () => {
    const sut = await build();
    const res = await sut.inject({ method: 'POST', url: '/v1/m/json', payload: 'x', headers: { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' } });
    expect(res.statusCode).toBe(415);
  });
});
