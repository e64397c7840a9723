export { IdempotencyModule } from './idempotency.module.js';
export { IdempotencyRepository } from './idempotency.repository.js';
export type { IdempotencyRecord, IdempotentRequest, StoredResponse } from './idempotency.types.js';
