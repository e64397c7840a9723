import { DomainError } from '@benteng/common';

export enum OperatorErrorCode {
  Forbidden = 'operator.forbidden',
  NotFound = 'operator.not_found',
  SlugTaken = 'operator.slug_taken',
}

const OPERATOR_MESSAGES: Record<OperatorErrorCode, string> = {
  [OperatorErrorCode.Forbidden]: 'The operator may not perform this action.',
  [OperatorErrorCode.NotFound]: 'No such record.',
  [OperatorErrorCode.SlugTaken]: 'A tenant with this slug already exists.',
};

/** The coded refusals of platform (operator) services: 403, 404, 409. */
export class OperatorError extends DomainError<OperatorErrorCode> {
  readonly kind;

  constructor(code: OperatorErrorCode) {
    super(code, OPERATOR_MESSAGES[code]);
    this.kind = code === OperatorErrorCode.Forbidden ? ('forbidden' as const) : code === OperatorErrorCode.NotFound ? ('not_found' as const) : ('conflict' as const);
  }
}
