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
