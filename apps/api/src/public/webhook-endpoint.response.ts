import { WEBHOOK_EVENT_TYPES, type WebhookAttemptView, type WebhookDeliveryDetail, type WebhookDeliveryView, type WebhookEndpointView } from '@benteng/webhooks';
import { dateTime, isoOrNull, nullable, object, ref, uuid, type Schema } from '../http/response-shape.js';

/**
 * The public shapes of webhook endpoints and their delivery log. Built field by field: no tenant
 * id, no creator id, and never a signing secret or its ciphertext. The secret in clear appears only
 * in the response of the call that made it (create, rotate); that response is the only copy.
 */
export interface WebhookEndpointResponse {
  id: string;
  url: string;
  description: string | null;
  events: string[];
  enabled: boolean;
  failingSince: string | null;
  disabledAt: string | null;
  disabledReason: 'gone' | 'failing' | 'manual' | null;
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** Create and rotation. `secret` is null only in an Idempotency-Key replay: rotate if the first response was lost. */
export interface WebhookEndpointWithSecretResponse extends WebhookEndpointResponse {
  secret: string | null;
}

export interface WebhookDeliveryResponse {
  id: string;
  messageId: string;
  eventType: string;
  eventId: string | null;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  deliveredAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface WebhookAttemptResponse {
  id: string;
  attempt: number;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  responseExcerpt: string | null;
  attemptedAt: string;
}

export interface WebhookDeliveryDetailResponse extends WebhookDeliveryResponse {
  payload: unknown;
  attemptLog: WebhookAttemptResponse[];
}

export function webhookEndpointResponse(endpoint: WebhookEndpointView): WebhookEndpointResponse {
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    events: [...endpoint.events],
    enabled: endpoint.enabled,
    failingSince: isoOrNull(endpoint.failingSince),
    disabledAt: isoOrNull(endpoint.disabledAt),
    disabledReason: endpoint.disabledReason,
    previousSecretExpiresAt: isoOrNull(endpoint.previousSecretExpiresAt),
    createdAt: endpoint.createdAt.toISOString(),
    updatedAt: endpoint.updatedAt.toISOString(),
    version: endpoint.version,
  };
}

/** `secret` starts null: RevealOnceInterceptor fills it in on the first response only. */
export function webhookEndpointWithSecretResponse(endpoint: WebhookEndpointView): WebhookEndpointWithSecretResponse {
  return { ...webhookEndpointResponse(endpoint), secret: null };
}

export function webhookDeliveryResponse(delivery: WebhookDeliveryView): WebhookDeliveryResponse {
  return {
    id: delivery.id,
    messageId: delivery.messageId,
    eventType: delivery.eventType,
    eventId: delivery.eventId,
    status: delivery.status,
    attempts: delivery.attempts,
    nextAttemptAt: isoOrNull(delivery.nextAttemptAt),
    lastStatusCode: delivery.lastStatusCode,
    deliveredAt: isoOrNull(delivery.deliveredAt),
    createdAt: delivery.createdAt.toISOString(),
    updatedAt: delivery.updatedAt.toISOString(),
  };
}

function attemptResponse(attempt: WebhookAttemptView): WebhookAttemptResponse {
  return {
    id: attempt.id,
    attempt: attempt.attempt,
    statusCode: attempt.statusCode,
    latencyMs: attempt.latencyMs,
    error: attempt.error,
    responseExcerpt: attempt.responseExcerpt,
    attemptedAt: attempt.attemptedAt.toISOString(),
  };
}

export function webhookDeliveryDetailResponse(delivery: WebhookDeliveryDetail): WebhookDeliveryDetailResponse {
  return { ...webhookDeliveryResponse(delivery), payload: delivery.payload, attemptLog: delivery.attemptLog.map(attemptResponse) };
}

const integer: Schema = { type: 'integer' };

const ENDPOINT_PROPERTIES: Record<string, Schema> = {
  id: uuid,
  url: { type: 'string', format: 'uri', maxLength: 2048 },
  description: nullable({ type: 'string', maxLength: 500 }),
  events: { type: 'array', items: { type: 'string', enum: [...WEBHOOK_EVENT_TYPES] } },
  enabled: { type: 'boolean' },
  failingSince: nullable({ ...dateTime, description: 'Since when every attempt has failed; null after a success.' }),
  disabledAt: nullable(dateTime),
  disabledReason: nullable({ type: 'string', enum: ['gone', 'failing', 'manual'], description: 'gone: the receiver answered 410; failing: no success for WEBHOOK_DISABLE_AFTER_S; manual: switched off by an admin.' }),
  previousSecretExpiresAt: nullable({ ...dateTime, description: 'Until then the secret before the last rotation signs too (a second signature).' }),
  createdAt: dateTime,
  updatedAt: dateTime,
  version: integer,
};
const DELIVERY_PROPERTIES: Record<string, Schema> = {
  id: uuid,
  messageId: { type: 'string', description: 'The webhook-id header: the same on every attempt and redelivery.' },
  eventType: { type: 'string' },
  eventId: nullable(uuid),
  status: { type: 'string', enum: ['pending', 'succeeded', 'failed'] },
  attempts: integer,
  nextAttemptAt: nullable(dateTime),
  lastStatusCode: nullable(integer),
  deliveredAt: nullable(dateTime),
  createdAt: dateTime,
  updatedAt: dateTime,
};
const ATTEMPT_PROPERTIES: Record<string, Schema> = {
  id: uuid,
  attempt: integer,
  statusCode: nullable(integer),
  latencyMs: integer,
  error: nullable({ type: 'string', description: 'Why no response came (blocked_address, timeout, dns, tls, connect_failed, too_large, secret_unavailable, ...); never an address.' }),
  responseExcerpt: nullable({ type: 'string', description: 'At most 1 KiB of the response body.' }),
  attemptedAt: dateTime,
};

/**
 * The OpenAPI component schemas of these shapes and the success body of every route of
 * WebhookEndpointsController, for apps/api/src/openapi/openapi.schemas.ts to spread in.
 */
export const WEBHOOK_ENDPOINT_RESPONSE_SCHEMAS: Record<string, Schema> = {
  WebhookEndpoint: object(ENDPOINT_PROPERTIES),
  WebhookEndpointPage: object({ items: { type: 'array', items: ref('WebhookEndpoint') }, nextCursor: nullable({ type: 'string' }) }),
  WebhookEndpointWithSecret: object({
    ...ENDPOINT_PROPERTIES,
    secret: nullable({ type: 'string', pattern: '^whsec_[A-Za-z0-9+/]{43}=$', description: 'Shown once (Standard Webhooks secret). null in an Idempotency-Key replay: rotate the secret if the first response was lost.' }),
  }),
  WebhookDelivery: object(DELIVERY_PROPERTIES),
  WebhookDeliveryPage: object({ items: { type: 'array', items: ref('WebhookDelivery') }, nextCursor: nullable({ type: 'string' }) }),
  WebhookAttempt: object(ATTEMPT_PROPERTIES),
  WebhookDeliveryDetail: object({
    ...DELIVERY_PROPERTIES,
    payload: { type: 'object', description: 'The message body sent: {type, timestamp, data}.' },
    attemptLog: { type: 'array', items: ref('WebhookAttempt') },
  }),
};

export const WEBHOOK_ENDPOINT_SUCCESS_BODIES: Record<string, { json: string } | { none: true }> = {
  'WebhookEndpointsController.list': { json: 'WebhookEndpointPage' },
  'WebhookEndpointsController.create': { json: 'WebhookEndpointWithSecret' },
  'WebhookEndpointsController.get': { json: 'WebhookEndpoint' },
  'WebhookEndpointsController.update': { json: 'WebhookEndpoint' },
  'WebhookEndpointsController.remove': { none: true },
  'WebhookEndpointsController.rotateSecret': { json: 'WebhookEndpointWithSecret' },
  'WebhookEndpointsController.deliveries': { json: 'WebhookDeliveryPage' },
  'WebhookEndpointsController.delivery': { json: 'WebhookDeliveryDetail' },
  'WebhookEndpointsController.redeliver': { json: 'WebhookDelivery' },
  'WebhookEndpointsController.ping': { json: 'WebhookDelivery' },
};
