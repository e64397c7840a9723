import { createHash, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { Webhook } from 'standardwebhooks';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { PaymentsError, PaymentsErrorCode } from './payment.errors.js';
import type { PaymentRequestMeta, VerifiedDelivery } from './payment.types.js';

/** How far a delivery's signed timestamp may lie from our clock, either way (Standard Webhooks' default). */
export const SIGNATURE_TOLERANCE_S = 5 * 60;

/** A message id is stored and used as a Redis key: visible ASCII only, bounded. */
const MESSAGE_ID = /^[\x21-\x7e]{1,255}$/;
const MAX_TIMESTAMP_CHARS = 20;
const MAX_SIGNATURE_CHARS = 1_024;
const TIMESTAMP = /^[0-9]{1,15}$/;

/** The three Standard Webhooks headers of a delivery, present and bounded, not yet verified. */
export interface WebhookHeaders {
  id: string;
  timestamp: string;
  signature: string;
}

export type RefusalReason = 'malformed_timestamp' | 'stale_timestamp' | 'future_timestamp' | 'body_not_utf8' | 'no_v1_signature' | 'signature_mismatch';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Equal-length digests, so neither the contents nor the length of `a` shows in the time taken. */
function constantTimeEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Standard Webhooks 1.0 verification of the payment provider's deliveries (webhook-id,
 * webhook-timestamp, webhook-signature: `v1,<base64 HMAC-SHA256 over "id.timestamp.body">`, several
 * space-separated signatures allowed, so the provider can rotate its secret).
 *
 * The `standardwebhooks` package computes the signature (secret decoding and the signed content,
 * through `Webhook.sign`). Its `verify` is not used: it compares in constant time, but checks the
 * timestamp window against `Date.now()`, which cannot be replaced, and Benteng decides expiry with
 * the injected Clock everywhere (tests move time instead of sleeping). So the window is checked
 * here against the Clock, and every candidate is compared with `crypto.timingSafeEqual` over
 * SHA-256 digests (fixed length, so not even the length of a wrong guess shows).
 *
 * The package signs a string, and would turn invalid UTF-8 into U+FFFD first, so that two different
 * byte sequences could carry one signature: a body that is not valid UTF-8 is refused instead.
 */
@Injectable()
export class PaymentWebhookVerifier {
  private readonly webhook: Webhook | undefined;

  constructor(
    config: AppConfig,
    private readonly clock: Clock,
    private readonly logger: PinoLogger,
  ) {
    this.webhook = config.PAYMENTS_WEBHOOK_SECRET ? new Webhook(config.PAYMENTS_WEBHOOK_SECRET) : undefined;
    this.logger.setContext(PaymentWebhookVerifier.name);
  }

  /** False when PAYMENTS_WEBHOOK_SECRET is unset: nothing can be verified, the route answers 503. */
  get configured(): boolean {
    return this.webhook !== undefined;
  }

  /**
   * The delivery's headers, or 400: a request without them (or with empty or oversized
   * ones) is not a webhook delivery at all, whatever its body.
   */
  headersOf(headers: Record<string, string | string[] | undefined>, meta: PaymentRequestMeta): WebhookHeaders {
    const id = headers['webhook-id'];
    const timestamp = headers['webhook-timestamp'];
    const signature = headers['webhook-signature'];
    if (
      typeof id !== 'string' ||
      !MESSAGE_ID.test(id) ||
      typeof timestamp !== 'string' ||
      timestamp.length === 0 ||
      timestamp.length > MAX_TIMESTAMP_CHARS ||
      typeof signature !== 'string' ||
      signature.length === 0 ||
      signature.length > MAX_SIGNATURE_CHARS
    ) {
      this.logger.info({ event: 'payments.delivery_refused', reason: 'malformed_headers', ip: meta.ip, requestId: meta.requestId }, 'payment webhook refused');
      throw new PaymentsError(PaymentsErrorCode.MalformedDelivery);
    }
    return { id, timestamp, signature };
  }

  /**
   * Verifies the signature over the exact bytes received, or 401 with one body for every reason
   * (the reason is logged, never answered).
   */
  verify(headers: WebhookHeaders, rawBody: Buffer, meta: PaymentRequestMeta): VerifiedDelivery {
    if (!this.webhook) throw new Error('PaymentWebhookVerifier.verify: PAYMENTS_WEBHOOK_SECRET is not set (check `configured` first)');
    const refuse = (reason: RefusalReason): PaymentsError => {
      this.logger.warn({ event: 'payments.delivery_refused', reason, messageId: headers.id, ip: meta.ip, requestId: meta.requestId }, 'payment webhook refused');
      return new PaymentsError(PaymentsErrorCode.Unverified);
    };

    if (!TIMESTAMP.test(headers.timestamp)) throw refuse('malformed_timestamp');
    const signedAt = Number(headers.timestamp);
    const now = this.clock.nowSeconds();
    if (now - signedAt > SIGNATURE_TOLERANCE_S) throw refuse('stale_timestamp');
    if (signedAt - now > SIGNATURE_TOLERANCE_S) throw refuse('future_timestamp');

    let body: string;
    try {
      body = utf8.decode(rawBody);
    } catch {
      throw refuse('body_not_utf8');
    }
    const timestamp = new Date(signedAt * 1000);
    const expected = this.webhook.sign(headers.id, timestamp, body).slice('v1,'.length);
    const candidates = headers.signature
      .split(' ')
      .filter((entry) => entry.startsWith('v1,'))
      .map((entry) => entry.slice('v1,'.length));
    if (candidates.length === 0) throw refuse('no_v1_signature');
    // Every candidate is compared (no early exit), so the time taken does not say which one matched.
    const matched = candidates.map((candidate) => constantTimeEqual(candidate, expected)).includes(true);
    if (!matched) throw refuse('signature_mismatch');
    return { id: headers.id, timestamp };
  }
}
