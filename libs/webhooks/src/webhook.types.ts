import type { Keyset } from '@benteng/database';
import type { DisabledReason, WebhookEventType } from './webhook.events.js';

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

/** An endpoint as the management API sees it: never a secret, in clear or encrypted. */
export interface WebhookEndpointView {
  id: string;
  url: string;
  description: string | null;
  events: WebhookEventType[];
  enabled: boolean;
  /** Since when every attempt has failed (null after any success). */
  failingSince: Date | null;
  disabledAt: Date | null;
  disabledReason: DisabledReason | null;
  /** Until when the secret before the last rotation still signs beside the current one. */
  previousSecretExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  version: number;
}

/** A signing secret in clear, returned by the call that made it and never again. */
export interface WithWebhookSecret {
  endpoint: WebhookEndpointView;
  secret: string;
}

export interface NewWebhookEndpoint {
  url: string;
  description?: string | null;
  events: readonly WebhookEventType[];
  enabled?: boolean;
}

export interface WebhookEndpointPatch {
  url?: string;
  /** null clears it. */
  description?: string | null;
  events?: readonly WebhookEventType[];
  /** true re-enables an endpoint the system disabled (and forgets its failures); false disables it by hand. */
  enabled?: boolean;
}

export interface PageRequest {
  limit: number;
  /** createdAt and id of the last item of the previous page (newest first). */
  after?: Keyset;
}

export interface WebhookDeliveryView {
  id: string;
  messageId: string;
  eventType: string;
  eventId: string | null;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lastStatusCode: number | null;
  deliveredAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface WebhookAttemptView {
  id: string;
  attempt: number;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  responseExcerpt: string | null;
  attemptedAt: Date;
}

/** One delivery with the message it carries and its log of attempts, oldest first. */
export interface WebhookDeliveryDetail extends WebhookDeliveryView {
  payload: unknown;
  attemptLog: WebhookAttemptView[];
}
