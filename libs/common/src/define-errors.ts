import { assertUnreachable, DomainError, type DomainErrorKind } from './domain-error.js';

/** What one code of a feature's coded error means: its kind (one HTTP status) and its fixed message. */
export interface ErrorMeaning {
  readonly kind: DomainErrorKind;
  /** A fixed sentence, never built from ids or input values: it reaches clients. */
  readonly message: string;
}

/**
 * The base class of a feature's coded error, made from a table that gives every code its kind and
 * message (docs/style.md, "Coded errors, mapped exhaustively"):
 *
 * ```ts
 * export enum TicketErrorCode { NotFound = 'ticket.not_found', … }
 * export class TicketError extends defineErrors<TicketErrorCode>({
 *   [TicketErrorCode.NotFound]: { kind: 'not_found', message: 'Ticket not found.' },
 *   …
 * }) {}
 * ```
 *
 * Name the code type: the table is then a `Record<Code, ErrorMeaning>`, so a code without a row (or
 * a row for no code) does not compile, as a `switch` ending in `assertUnreachable` did. The feature
 * still declares its own class, so `error.name`, `instanceof` and a constructor of its own (a
 * Retry-After, a protocol's extension member) stay with it.
 */
export function defineErrors<Code extends string>(table: Readonly<Record<Code, ErrorMeaning>>) {
  abstract class CodedError extends DomainError<Code> {
    readonly kind: DomainErrorKind;

    constructor(code: Code) {
      const { kind, message } = table[code] ?? assertUnreachable(code as never);
      super(code, message);
      this.kind = kind;
    }
  }
  return CodedError;
}
