/**
 * Queues the worker serves. Tenant jobs (exports, webhook deliveries) carry a signed tenant
 * envelope; platform jobs are a separate, named kind (ARCHITECTURE.md, invariant 7). Their
 * processors arrive with those features; the queues exist from the start so producers and the
 * worker agree on names.
 */
export const QUEUE_NAMES = ['platform'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];
