import { JOBS_QUEUE, PLATFORM_QUEUE } from '@benteng/jobs';

/**
 * Queues the worker serves (libs/jobs): tenant jobs carry a signed tenant envelope and run in a
 * Scope; platform jobs are a separate, named kind (docs/architecture.md, invariant 7).
 */
export const QUEUE_NAMES = [JOBS_QUEUE, PLATFORM_QUEUE] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];
