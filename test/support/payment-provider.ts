import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { Webhook } from 'standardwebhooks';
import type { TestApi } from './api.js';
import { insertInvoice } from './factories.js';
import type { ApiResponse } from './public-api.js';
import { ownerInTenant } from './db.js';
import { leakRegistry } from './leak-registry.js';

export const INBOUND_PAYMENTS_PATH = '/webhooks/inbound/payments';
export const PROVIDER = 'simpay';

/** A fresh Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export function newWebhookSecret(): string {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  leakRegistry.seeded('webhook secret', secret);
  return secret;
}

export interface PaymentEventBody {
  type: string;
  data: { account_id: string; invoice_id: string; amount_minor: string; currency: string };
}

export interface DeliveryOptions {
  /** webhook-id; a fresh `msg_…` by default. */
  id?: string;
  /** When the provider signs; its clock by default. */
  signedAt?: Date;
  /** Headers to set instead of (or, as undefined, remove from) the ones the provider computed. */
  headers?: Record<string, string | undefined>;
  /** Bytes to send instead of the ones that were signed (a tampered delivery). */
  sendInstead?: string;
}

/**
 * The simulated payment provider "simpay": it signs each delivery with the `standardwebhooks`
 * package exactly as a Standard Webhooks sender does (webhook-id, webhook-timestamp,
 * webhook-signature over `id.timestamp.body`) and posts it to the inbound route.
 */
export class SimulatedPaymentProvider {
  private readonly webhook: Webhook;

  constructor(
    readonly secret: string,
    private readonly clock: () => Date = () => new Date(),
  ) {
    leakRegistry.seeded('webhook secret', secret);
    this.webhook = new Webhook(secret);
  }

  static messageId(): string {
    return `msg_${randomBytes(12).toString('hex')}`;
  }

  /** The headers that sign `body` (the exact text sent). */
  sign(body: string, options: { id?: string; signedAt?: Date } = {}): Record<string, string> {
    const id = options.id ?? SimulatedPaymentProvider.messageId();
    const signedAt = options.signedAt ?? this.clock();
    return {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(signedAt.getTime() / 1000)),
      'webhook-signature': this.webhook.sign(id, signedAt, body),
    };
  }

  /** Signs and posts one delivery; `body` objects are sent as JSON.stringify writes them. */
  async deliver(api: TestApi, body: string | object, options: DeliveryOptions = {}): Promise<ApiResponse & { id: string; sent: Record<string, string> }> {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const signed = this.sign(text, options);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (const [name, value] of Object.entries({ ...signed, ...options.headers })) if (value !== undefined) headers[name] = value;
    const res = await post(api, options.sendInstead ?? text, headers);
    return { ...res, id: signed['webhook-id']!, sent: headers };
  }
}

/** Posts raw bytes with exactly these headers to the inbound payments route. */
export function post(api: TestApi, payload: string | Buffer, headers: Record<string, string>): Promise<ApiResponse> {
  return postRaw(api, INBOUND_PAYMENTS_PATH, payload, headers);
}

/** Posts raw bytes with exactly these headers (JSON clients re-serialize; a signature needs the bytes as signed). */
export async function postRaw(api: TestApi, url: string, payload: string | Buffer, headers: Record<string, string>, remoteAddress?: string): Promise<ApiResponse> {
  const res = await api.app
    .getHttpAdapter()
    .getInstance()
    .inject({ method: 'POST', url, headers, payload, ...(remoteAddress ? { remoteAddress } : {}) });
  let parsed: unknown;
  try {
    parsed = res.body.length > 0 ? JSON.parse(res.body) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text: res.body, body: parsed };
}

/** Registers a provider account for a tenant through the owner connection (the platform path). */
export async function createPaymentAccount(owner: pg.Pool, tenantId: string, accountId = `acct_${randomBytes(6).toString('hex')}`): Promise<string> {
  // payment_accounts forces row-level security: write inside the tenant, as the application would.
  await ownerInTenant(owner, tenantId, (client) => client.query('INSERT INTO payment_accounts (tenant_id, provider, account_id) VALUES ($1, $2, $3)', [tenantId, PROVIDER, accountId]));
  return accountId;
}

/**
 * An issued invoice of the tenant and the `payment.succeeded` event that pays it exactly (its
 * total in its currency, to the tenant's account).
 */
export async function payableInvoice(owner: pg.Pool, tenant: { id: string; users: { owner: { id: string } } }, accountId: string): Promise<{ invoiceId: string; event: PaymentEventBody }> {
  const invoiceId = await insertInvoice(owner, tenant.id, { createdById: tenant.users.owner.id, status: 'issued', lines: 2 });
  const { rows } = await owner.query<{ total: string; currency: string }>('SELECT total_minor::text AS total, currency FROM invoices WHERE tenant_id = $1 AND id = $2', [tenant.id, invoiceId]);
  return { invoiceId, event: paymentSucceeded(accountId, invoiceId, rows[0]!.total, rows[0]!.currency) };
}

export function paymentSucceeded(accountId: string, invoiceId: string, amountMinor: string, currency = 'IDR'): PaymentEventBody {
  return { type: 'payment.succeeded', data: { account_id: accountId, invoice_id: invoiceId, amount_minor: amountMinor, currency } };
}
