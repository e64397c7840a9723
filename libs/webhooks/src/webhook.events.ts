import type { DomainEventInput } from '@benteng/database';

/**
 * The domain events an endpoint may subscribe to: every type the outbox carries
 * (the features' *.events.ts files) plus the webhook feature's own announcement. An endpoint subscribes to
 * a non-empty subset; a type that is not listed here is published from the outbox without being
 * delivered anywhere.
 */
export const WEBHOOK_EVENT_TYPES = [
  'invoice.issued',
  'invoice.voided',
  'invoice.paid',
  'ticket.created',
  'ticket.updated',
  'document.uploaded',
  'security.principal_blocked',
  'webhook_endpoint.disabled',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Event types in one canonical order, so a reordered list is no change. */
export const canonicalEvents = (events: readonly string[]): WebhookEventType[] => WEBHOOK_EVENT_TYPES.filter((type) => events.includes(type));

/** The test message of POST /v1/webhook-endpoints/:id/ping: sent to that endpoint only, never subscribable. */
export const PING_EVENT_TYPE = 'webhook.ping';

export const ENDPOINT_DISABLED_EVENT = 'webhook_endpoint.disabled' satisfies WebhookEventType;

/** Why an endpoint stopped receiving: the receiver said 410 Gone, it kept failing, or an admin switched it off. */
export type DisabledReason = 'gone' | 'failing' | 'manual';

/**
 * The outbox event that tells a tenant's other endpoints that one endpoint was disabled by the
 * system. The disabled endpoint itself never receives it (the relay skips it explicitly, beside
 * skipping disabled endpoints). No URL: it can carry a receiver's access token in its query.
 */
export function endpointDisabledEvent(endpointId: string, reason: DisabledReason, disabledAt: Date): DomainEventInput {
  return {
    type: ENDPOINT_DISABLED_EVENT,
    subjectType: 'webhook_endpoint',
    subjectId: endpointId,
    payload: { id: endpointId, reason, disabledAt: disabledAt.toISOString() },
  };
}

/** The Standard Webhooks body: `{type, timestamp, data}`; the webhook-id header names the message. */
export interface WebhookMessage {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/** `msg_<event id>`: one message per domain event, the same webhook-id on every endpoint and attempt. */
export const messageIdForEvent = (eventId: string): string => `msg_${eventId}`;
