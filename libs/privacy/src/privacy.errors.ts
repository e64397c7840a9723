import { defineErrors } from '@benteng/common';

export enum PrivacyErrorCode {
  /** The request, or the subject (not a member of this tenant, another tenant's user): not found alike. */
  NotFound = 'privacy.not_found',
  Forbidden = 'privacy.forbidden',
  /** Erasing the tenant's only owner would leave it without one. */
  LastOwner = 'privacy.last_owner',
}

export class PrivacyError extends defineErrors<PrivacyErrorCode>({
  [PrivacyErrorCode.NotFound]: { kind: 'not_found', message: 'Privacy request or data subject not found.' },
  [PrivacyErrorCode.Forbidden]: { kind: 'forbidden', message: 'You may make data subject requests only about yourself.' },
  [PrivacyErrorCode.LastOwner]: { kind: 'conflict', message: 'The only owner of a tenant cannot be erased: make another member an owner first.' },
}) {}
