/**
 * What kind of failure a domain error is; the HTTP layer maps each kind to one status
 * (apps/api/src/http/problem-details.filter.ts, apps/api/src/http/problem.ts) with an exhaustive switch.
 */
export type DomainErrorKind =
  | 'not_found'
  | 'forbidden'
  | 'conflict'
  | 'invalid'
  | 'precondition_failed'
  | 'unauthenticated'
  | 'rate_limited'
  | 'gone'
  | 'too_large'
  | 'unsupported_media_type';

/**
 * Base of every feature's coded error. `code` is a stable machine-readable identifier; `message`
 * is a fixed sentence per code, never built from ids or input values, because it reaches clients.
 */
export abstract class DomainError<Code extends string = string> extends Error {
  abstract readonly kind: DomainErrorKind;
  /** For `rate_limited`: seconds until the caller may try again (sent as Retry-After). */
  retryAfterS?: number;
  /**
   * Extra problem members a protocol requires (e.g. OAuth 2.0's `error`, RFC 6749 5.2). Fixed
   * vocabulary only: never ids, input values or messages.
   */
  extensions?: Readonly<Record<string, string>>;

  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export function assertUnreachable(value: never): never {
  throw new Error(`Unhandled case: ${String(value)}`);
}
