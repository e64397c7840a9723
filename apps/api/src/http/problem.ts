import { HttpException, HttpStatus } from '@nestjs/common';

/** RFC 9457 problem details, as Benteng sends them. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  /** Stable machine-readable code of a domain error. */
  code?: string;
  requestId?: string;
  /** Validation failures: where (JSON pointer) and which rules, never the offending value. */
  errors?: { pointer: string; rules: string[] }[];
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/**
 * An HttpException that carries extra problem members (e.g. which health checks are down).
 * Extensions must be fixed vocabulary: never input values, ids of other tenants or error messages.
 */
export class ProblemException extends HttpException {
  constructor(
    status: HttpStatus,
    readonly extensions: Record<string, unknown>,
  ) {
    super(statusTitle(status), status);
  }
}

export class ValidationProblem extends HttpException {
  constructor(readonly errors: { pointer: string; rules: string[] }[]) {
    super('Validation failed', HttpStatus.BAD_REQUEST);
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

export function statusTitle(status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}

/**
 * The code of a refusal that has no feature-specific one (unknown route, framework and parser
 * refusals, unexpected errors): every problem carries a `code` and its `urn:benteng:problem:<code>`
 * type, so a client can branch on `code` alone and never has to parse a title.
 */
const STATUS_CODES: Record<number, string> = {
  400: 'http.bad_request',
  401: 'http.unauthenticated',
  403: 'http.forbidden',
  404: 'http.not_found',
  405: 'http.method_not_allowed',
  406: 'http.not_acceptable',
  409: 'http.conflict',
  410: 'http.gone',
  412: 'http.precondition_failed',
  413: 'http.content_too_large',
  414: 'http.uri_too_long',
  415: 'http.unsupported_media_type',
  422: 'http.unprocessable_content',
  429: 'http.too_many_requests',
  431: 'http.request_header_fields_too_large',
  500: 'http.internal_error',
  501: 'http.not_implemented',
  503: 'http.service_unavailable',
};

export function statusCode(status: number): string {
  return STATUS_CODES[status] ?? (status >= 500 ? 'http.server_error' : 'http.client_error');
}

/** type, title, status and code of a problem (the members every Benteng problem has). */
export function problemBase(status: number, code: string = statusCode(status)): { type: string; title: string; status: number; code: string } {
  return { type: `urn:benteng:problem:${code}`, title: statusTitle(status), status, code };
}

/**
 * A refusal by the HTTP layer itself (guards, the queue board's gate) with a code of its own, for
 * causes that are not a feature's domain error: e.g. `access.denied` (the principal's abilities do
 * not cover the route), `access.undeclared` (deny by default).
 */
export class RefusalException extends HttpException {
  constructor(
    status: HttpStatus,
    readonly code: string,
  ) {
    super(statusTitle(status), status);
  }
}
