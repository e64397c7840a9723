import { Injectable } from '@nestjs/common';
import { Webhook } from 'standardwebhooks';

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * The Standard Webhooks headers of one attempt: `webhook-id` (the message id, the same on every
 * attempt, for the receiver's deduplication), `webhook-timestamp` (this attempt's time, in seconds,
 * so the receiver can refuse replays outside its tolerance) and `webhook-signature`:
 * `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` for each secret, space-separated. During
 * a rotation window the new secret signs first and the previous one second, so a receiver holding
 * either secret verifies the message.
 */
export function signatureHeaders(messageId: string, at: Date, body: string, secrets: readonly string[]): SignedHeaders {
  if (secrets.length === 0) throw new Error('signatureHeaders: at least one secret is needed');
  // Whole seconds: the header carries seconds, and the signed content must use the same value.
  const timestamp = new Date(Math.floor(at.getTime() / 1000) * 1000);
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(timestamp.getTime() / 1000),
    'webhook-signature': secrets.map((secret) => new Webhook(secret).sign(messageId, timestamp, body)).join(' '),
  };
}

/**
 * The signing of outbound deliveries as an injectable unit: WebhookDeliveryService signs every
 * attempt through it. Production always provides this class (WebhooksWorkerModule); the seam
 * exists so the security suite can build a worker without it and show that receivers notice.
 */
@Injectable()
export class WebhookSigner {
  sign(messageId: string, at: Date, body: string, secrets: readonly string[]): SignedHeaders {
    return signatureHeaders(messageId, at, body, secrets);
  }
}
