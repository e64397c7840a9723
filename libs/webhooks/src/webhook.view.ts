import type { DeliveryRow } from './webhook-deliveries.repository.js';
import type { EndpointRow } from './webhook-endpoints.repository.js';
import { canonicalEvents, type DisabledReason } from './webhook.events.js';
import type { DeliveryStatus, WebhookDeliveryView, WebhookEndpointView } from './webhook.types.js';

export function endpointView(row: EndpointRow): WebhookEndpointView {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: canonicalEvents(row.events),
    enabled: row.enabled,
    failingSince: row.failingSince,
    disabledAt: row.disabledAt,
    disabledReason: row.disabledReason as DisabledReason | null,
    previousSecretExpiresAt: row.previousSecretExpiresAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    version: row.version,
  };
}

export function deliveryView(row: DeliveryRow): WebhookDeliveryView {
  return {
    id: row.id,
    messageId: row.messageId,
    eventType: row.eventType,
    eventId: row.eventId,
    status: row.status as DeliveryStatus,
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt,
    lastStatusCode: row.lastStatusCode,
    deliveredAt: row.deliveredAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
