import type {} from '@fastify/multipart';
import { createHash } from 'node:crypto';
import {
  applyDecorators,
  CallHandler,
  createParamDecorator,
  ExecutionContext,
  HttpStatus,
  Injectable,
  NestInterceptor,
  SetMetadata,
  UseInterceptors,
  type Type,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { Observable } from 'rxjs';
import { AppConfig } from '@benteng/config';
import { ProblemException } from './problem.js';
import { createValidationPipe } from './validation.js';

/** The DTO class of an upload's text fields (read by the OpenAPI document too). */
export const UPLOAD_FIELDS = 'benteng:upload-fields';
const UPLOAD = Symbol('benteng.upload');
/** The form field that carries the file. */
export const FILE_FIELD = 'file';
/** Room for the multipart envelope and the few short fields around the file. */
const ENVELOPE_BYTES = 16 * 1024;

export interface UploadedFile {
  /** As the client sent it: untrusted, to be sanitized by the feature. */
  fileName: string;
  /** The client's Content-Type for the part: untrusted, never used to decide the type. */
  declaredType: string;
  content: Buffer;
}

export interface Upload<Fields> {
  file: UploadedFile;
  fields: Fields;
}

type WithUpload = FastifyRequest & { [UPLOAD]?: Upload<unknown> };

/**
 * The limits @fastify/multipart enforces while it streams a form (registered in configureApiApp):
 * one file of at most DOCUMENTS_MAX_BYTES, a handful of short fields.
 */
export function multipartLimits(config: AppConfig) {
  return { fileSize: config.DOCUMENTS_MAX_BYTES, files: 1, fields: 4, fieldSize: 256, fieldNameSize: 64, parts: 6, headerPairs: 16 };
}

const problem = (status: HttpStatus, code: string, detail: string) => new ProblemException(status, { detail, code });
const tooLarge = () => problem(HttpStatus.PAYLOAD_TOO_LARGE, 'upload.too_large', 'The file is larger than uploads may be.');
const malformed = () => problem(HttpStatus.BAD_REQUEST, 'upload.malformed', 'The multipart form could not be read.');
const badFields = () => problem(HttpStatus.BAD_REQUEST, 'upload.fields', 'Form fields must be short text, each given once.');

/** What the parser raised, as a problem with a fixed sentence (never the parser's message). */
function parserProblem(error: unknown): ProblemException {
  switch ((error as { code?: unknown } | null)?.code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return tooLarge();
    case 'FST_FILES_LIMIT':
      return problem(HttpStatus.BAD_REQUEST, 'upload.one_file', 'Send exactly one file.');
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
    case 'FST_PROTO_VIOLATION':
    case 'FST_INVALID_JSON_FIELD_ERROR':
      return badFields();
    default:
      // Busboy's errors (no boundary, truncated body, malformed part headers) carry no code.
      return malformed();
  }
}

/** Reads the whole form: exactly one file in FILE_FIELD, plus short text fields. */
async function readForm(request: FastifyRequest): Promise<{ file: UploadedFile; fields: Record<string, string> }> {
  let file: UploadedFile | undefined;
  let refusal: ProblemException | undefined;
  const fields: Record<string, string> = {};
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        // Read it even when it is refused, so the parser can go on to the end of the body.
        const content = await part.toBuffer();
        if (part.fieldname === FILE_FIELD) file = { fileName: part.filename, declaredType: part.mimetype, content };
        else refusal ??= problem(HttpStatus.BAD_REQUEST, 'upload.file_field', 'Send the file in the "file" form field.');
      } else if (typeof part.value !== 'string' || part.valueTruncated || part.fieldnameTruncated || Object.hasOwn(fields, part.fieldname)) {
        refusal ??= badFields();
      } else {
        fields[part.fieldname] = part.value;
      }
    }
  } catch (error) {
    throw parserProblem(error);
  }
  if (refusal) throw refusal;
  if (!file) throw problem(HttpStatus.BAD_REQUEST, 'upload.file_required', 'Send one file in the "file" form field.');
  return { file, fields };
}

/**
 * Reads a multipart/form-data upload of one file, after AccessGuard has authorized the caller (so
 * an anonymous or unauthorized client never gets a body read), and before the handler:
 * - anything but multipart is 415; a declared Content-Length beyond the limit is 413 before a
 *   byte is read, and a file that grows past it while streaming is 413 too, with nothing kept;
 * - the text fields are validated like a JSON body, against the route's fields DTO;
 * - `request.body` becomes the fields plus the file's name, declared type, size and SHA-256, so
 *   that an Idempotency-Key covers the file: the same key with other bytes is refused (422).
 *   This is why the route lists @Idempotent() above @SingleFileUpload(): Nest runs the
 *   interceptors of the lowest decorator first.
 */
@Injectable()
export class SingleFileUploadInterceptor implements NestInterceptor {
  private readonly fieldsPipe = createValidationPipe();

  constructor(
    private readonly reflector: Reflector,
    private readonly config: AppConfig,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const request = context.switchToHttp().getRequest<WithUpload>();
    if (!request.isMultipart()) {
      throw problem(HttpStatus.UNSUPPORTED_MEDIA_TYPE, 'upload.multipart_required', 'Send the file as multipart/form-data.');
    }
    const declaredLength = Number(request.headers['content-length'] ?? 0);
    if (declaredLength > this.config.DOCUMENTS_MAX_BYTES + ENVELOPE_BYTES) throw tooLarge();

    const { file, fields } = await readForm(request);
    const metatype = this.reflector.get<Type | undefined>(UPLOAD_FIELDS, context.getHandler());
    const validated: unknown = await this.fieldsPipe.transform(fields, { type: 'body', ...(metatype ? { metatype } : {}) });
    const sha256 = createHash('sha256').update(file.content).digest('hex');
    request.body = { ...fields, [FILE_FIELD]: { name: file.fileName, type: file.declaredType, size: file.content.length, sha256 } };
    request[UPLOAD] = { file, fields: validated };
    return next.handle();
  }
}

/** Marks a route as taking one file by multipart/form-data, with text fields validated by `fields`. */
export const SingleFileUpload = (fields: Type) => applyDecorators(SetMetadata(UPLOAD_FIELDS, fields), UseInterceptors(SingleFileUploadInterceptor));

/** The file and validated fields read by SingleFileUploadInterceptor. */
export const UploadedForm = createParamDecorator((_: unknown, context: ExecutionContext): Upload<unknown> => {
  const upload = context.switchToHttp().getRequest<WithUpload>()[UPLOAD];
  // Only reachable on a route without @SingleFileUpload(): a programming error.
  if (!upload) throw new Error('no upload on this route');
  return upload;
});
