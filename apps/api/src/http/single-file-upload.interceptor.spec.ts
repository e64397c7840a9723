import 'reflect-metadata';
import multipart from '@fastify/multipart';
import { createHash } from 'node:crypto';
import { Body, Controller, Module, Post, type INestApplication } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { capturingLogger } from '../../../../test/support/capturing-logger.js';
import { afterEach, describe, expect, it } from 'vitest';
import { AppConfig } from '@benteng/config';
import { ProblemDetailsFilter } from './problem-details.filter.js';
import { multipartLimits, SingleFileUpload, UploadedForm, type Upload } from './single-file-upload.interceptor.js';

// Unit spec of the one-file upload reader (INPUT-VALIDATION for multipart forms) on a small
// Nest/Fastify application with @fastify/multipart and the limits configureApiApp registers.
// test/e2e/documents*.spec.ts prove the upload route itself.

const MAX = 1_000;

class Fields {
  @IsOptional()
  @IsString()
  @MaxLength(10)
  title?: string;
}

@Controller('v1/upload')
class UploadController {
  @Post()
  @SingleFileUpload(Fields)
  upload(@UploadedForm() form: Upload<Fields>) {
    return { name: form.file.fileName, type: form.file.declaredType, text: form.file.content.toString(), fields: form.fields, isDto: form.fields instanceof Fields };
  }

  @Post('body')
  @SingleFileUpload(Fields)
  body(@Body() body: unknown) {
    return body;
  }
}

@Controller('v1/no-upload')
class NoUploadController {
  @Post()
  read(@UploadedForm() form: unknown) {
    return form;
  }
}

@Module({ controllers: [UploadController, NoUploadController], providers: [{ provide: AppConfig, useValue: { DOCUMENTS_MAX_BYTES: MAX } }] })
class UploadModule {}

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function build(): Promise<NestFastifyApplication> {
  const module = await Test.createTestingModule({ imports: [UploadModule] }).compile();
  const created = module.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  app = created;
  await created.register(multipart, { limits: multipartLimits({ DOCUMENTS_MAX_BYTES: MAX } as AppConfig) });
  created.useGlobalFilters(new ProblemDetailsFilter(capturingLogger().logger));
  await created.init();
  return created;
}

const BOUNDARY = 'spec-boundary';
type Part = { name: string; value: string; file?: { filename: string; type: string } };
function form(parts: Part[]): string {
  return (
    parts
      .map(({ name, value, file }) =>
        file
          ? `--${BOUNDARY}\r\ncontent-disposition: form-data; name="${name}"; filename="${file.filename}"\r\ncontent-type: ${file.type}\r\n\r\n${value}\r\n`
          : `--${BOUNDARY}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
      )
      .join('') + `--${BOUNDARY}--\r\n`
  );
}
const send = (sut: NestFastifyApplication, payload: string, url = '/v1/upload', headers: Record<string, string> = {}) =>
  sut.inject({ method: 'POST', url, payload, headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, ...headers } });
const file = (value = 'hello', name = 'file'): Part => ({ name, value, file: { filename: 'a.txt', type: 'text/plain' } });

describe('multipartLimits', () => {
  it('one file of at most DOCUMENTS_MAX_BYTES and a few short fields', () => {
    expect(multipartLimits({ DOCUMENTS_MAX_BYTES: 5 } as AppConfig)).toEqual({ fileSize: 5, files: 1, fields: 4, fieldSize: 256, fieldNameSize: 64, parts: 6, headerPairs: 16 });
  });
});

describe('SingleFileUploadInterceptor', () => {
  it('reads one file and validated fields, and puts the file\'s digest into the body idempotency hashes', async () => {
    const sut = await build();
    const res = await send(sut, form([{ name: 'title', value: 'T' }, file()]));
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ name: 'a.txt', type: 'text/plain', text: 'hello', fields: { title: 'T' }, isDto: true });
  });

  const FIELDS = 'Form fields must be short text, each given once.';
  it.each([
    ['no file', [{ name: 'title', value: 'T' }], 400, 'upload.file_required', 'Send one file in the "file" form field.'],
    ['the file in another field', [file('x', 'other')], 400, 'upload.file_field', 'Send the file in the "file" form field.'],
    ['two files', [file('a'), file('b')], 400, 'upload.one_file', 'Send exactly one file.'],
    ['a repeated field', [{ name: 'title', value: 'a' }, { name: 'title', value: 'b' }, file()], 400, 'upload.fields', FIELDS],
    ['a field that breaks its rule', [{ name: 'title', value: 'far too long a title' }, file()], 400, 'validation', undefined],
    ['an unknown field', [{ name: 'other', value: 'x' }, file()], 400, 'validation', undefined],
    ['a long field', [{ name: 'title', value: 'x'.repeat(300) }, file()], 400, 'upload.fields', FIELDS],
    ['too many fields', [1, 2, 3, 4, 5].map((i) => ({ name: `f${i}`, value: 'x' })).concat([file()]), 400, 'upload.fields', FIELDS],
    ['a field named __proto__', [{ name: '__proto__', value: 'x' }, file()], 400, 'upload.fields', FIELDS],
    ['a file over the limit', [file('x'.repeat(MAX + 1))], 413, 'upload.too_large', 'The file is larger than uploads may be.'],
  ] as const)('refuses %s', async (_, parts, status, code, detail) => {
    const sut = await build();
    const res = await send(sut, form([...parts] as Part[]));
    // The validation refusals' detail is the validation pipe's (validation.spec.ts); the others are pinned here.
    expect([res.statusCode, res.json().code, detail === undefined ? undefined : res.json().detail]).toEqual([status, code, detail]);
  });

  it('a field sent as JSON that does not parse is a refused field, not a parser message', async () => {
    const sut = await build();
    const payload = `--${BOUNDARY}\r\ncontent-disposition: form-data; name="title"\r\ncontent-type: application/json\r\n\r\n{not json\r\n` + form([file()]).slice(0);
    const res = await send(sut, payload);
    expect([res.statusCode, res.json().code, res.json().detail]).toEqual([400, 'upload.fields', FIELDS]);
  });

  it('request.body is the fields plus the file\'s name, type, size and SHA-256 (what an Idempotency-Key covers)', async () => {
    const sut = await build();
    const res = await send(sut, form([{ name: 'title', value: 'T' }, file('hello')]), '/v1/upload/body');
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ title: 'T', file: { name: 'a.txt', type: 'text/plain', size: 5, sha256: createHash('sha256').update('hello').digest('hex') } });
  });

  it('a declared Content-Length of exactly DOCUMENTS_MAX_BYTES plus the 16 KiB envelope is read; one byte more is 413 before reading', async () => {
    const sut = await build();
    const body = form([file('hello')]);
    // A multipart preamble (text before the first boundary) is ignored by the parser: it pads the body.
    const at = (total: number) => ' '.repeat(total - Buffer.byteLength(body)) + '\r\n' + body;
    const exact = at(MAX + 16 * 1024 - 2);
    expect(Buffer.byteLength(exact)).toBe(MAX + 16 * 1024);
    const ok = await send(sut, exact);
    expect([ok.statusCode, ok.json().text]).toEqual([201, 'hello']);
    const over = await send(sut, at(MAX + 16 * 1024 + 1 - 2));
    expect([over.statusCode, over.json().code, over.json().detail]).toEqual([413, 'upload.too_large', 'The file is larger than uploads may be.']);
  });

  it('refuses what is not multipart (415), a declared length beyond the limit (413), and a broken form (400)', async () => {
    const sut = await build();
    const json = await sut.inject({ method: 'POST', url: '/v1/upload', payload: { a: 1 } });
    expect([json.statusCode, json.json().code, json.json().detail]).toEqual([415, 'upload.multipart_required', 'Send the file as multipart/form-data.']);
    const big = await send(sut, form([file()]), '/v1/upload', { 'content-length': String(MAX + 16 * 1024 + 1) }).catch((e: unknown) => e);
    expect(big).toMatchObject({ statusCode: 413 });
    const broken = await send(sut, `--${BOUNDARY}\r\ncontent-disposition: form-data; name="file"; filename="a"\r\n\r\nunterminated`);
    expect([broken.statusCode, broken.json().code, broken.json().detail]).toEqual([400, 'upload.malformed', 'The multipart form could not be read.']);
  });

  it('a route without @SingleFileUpload has no upload to read: a programming error (500)', async () => {
    const sut = await build();
    const res = await send(sut, form([file()]), '/v1/no-upload');
    expect(res.statusCode).toBe(500);
  });
});
