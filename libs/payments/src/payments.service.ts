import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { auditActor, AuditLog, type AuditEntry } from '@benteng/audit';
import { InvoiceError, InvoiceErrorCode, InvoicesService, type InvoiceWithLines } from '@benteng/invoices';
import { InjectRedis, type RedisClient } from '@benteng/redis';
import { Scope } from '@benteng/tenancy';
import { PaymentsError, PaymentsErrorCode } from './payment.errors.js';
import { PAYMENT_PROVIDER, type PaymentOutcome, type PaymentReceipt, type PaymentRequestMeta, type ProviderPaymentEvent, type VerifiedDelivery } from './payment.types.js';
import { PaymentsRepository } from './payments.repository.js';
import { SIGNATURE_TOLERANCE_S } from './payment-webhook.verifier.js';

/**
 * How long Redis remembers a message id: twice the signature tolerance, so that a captured
 * delivery is refused as a duplicate for as long as its signature could still verify, and as
 * stale (401) after that.
 */
export const DEDUPE_TTL_S = 2 * SIGNATURE_TOLERANCE_S;

/** The Redis key that marks a provider message in flight or done. */
export function dedupeKeyOf(messageId: string): string {
  return `benteng:payments:seen:${PAYMENT_PROVIDER}:${messageId}`;
}

type Claim = 'claimed' | 'done' | 'in_flight' | 'unavailable';

/**
 * Inbound payment events from the payment provider (its Standard Webhooks signature was verified
 * before this runs). Each message is applied at most once:
 *
 * - Redis is the fast path: `SET NX` on the message id marks it in flight, then done. A replay of
 *   a finished message is answered `duplicate` without touching PostgreSQL; a delivery racing one
 *   still in flight gets 409, so the provider retries it rather than believe it applied. A failed
 *   attempt clears its mark, so the provider's retry runs again. Redis being down costs only the
 *   fast path.
 * - payment_events is the durable path: unique (tenant_id, provider, message_id), checked before
 *   anything changes and enforced again when the outcome is recorded.
 *
 * The tenant comes from the provider account named in the signed event, through one named
 * cross-tenant lookup (invariant 4); everything after runs in that tenant's Scope as the `payments`
 * system principal, whose rules allow reading invoices and paying issued ones, nothing more. So an
 * invoice id of another tenant is simply not found there (invariant 5).
 *
 * The invoice is marked paid through InvoicesService.transition, which commits the status change
 * and its `invoice.paid` outbox event in its own transaction; the payment_events row and the audit
 * event follow in a second one (InvoicesService owns its transaction; reaching into it would mean
 * a second copy of the invoice state machine). If the process dies between the two, the
 * provider's retries get 409 until the in-flight mark expires (DEDUPE_TTL_S), then find the
 * invoice paid and no record of the message, and record it as `already_paid`: the payment is
 * applied once either way, only the label of that one message is less precise.
 */
@Injectable()
export class PaymentsService {
  constructor(
    private readonly payments: PaymentsRepository,
    private readonly invoices: InvoicesService,
    private readonly audit: AuditLog,
    @InjectRedis() private readonly redis: RedisClient,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(PaymentsService.name);
  }

  async receive(delivery: VerifiedDelivery, event: ProviderPaymentEvent, meta: PaymentRequestMeta): Promise<PaymentReceipt> {
    const key = dedupeKeyOf(delivery.id);
    const claim = await this.claim(key);
    if (claim === 'done') {
      this.logger.info({ event: 'payments.duplicate', via: 'redis', messageId: delivery.id, requestId: meta.requestId }, 'payment message already processed');
      return { status: 'duplicate' };
    }
    if (claim === 'in_flight') throw new PaymentsError(PaymentsErrorCode.InFlight);
    try {
      const receipt = await this.apply(delivery, event, meta);
      if (claim === 'claimed') await this.redis.set(key, 'done', 'EX', DEDUPE_TTL_S).catch(() => undefined);
      return receipt;
    } catch (error) {
      if (claim === 'claimed') await this.redis.del(key).catch(() => undefined);
      throw error;
    }
  }

  private async claim(key: string): Promise<Claim> {
    try {
      if ((await this.redis.set(key, 'pending', 'EX', DEDUPE_TTL_S, 'NX')) === 'OK') return 'claimed';
      return (await this.redis.get(key)) === 'done' ? 'done' : 'in_flight';
    } catch (error) {
      this.logger.warn({ event: 'payments.dedupe_unavailable', err: error }, 'Redis unavailable: deduplicating payment messages in PostgreSQL only');
      return 'unavailable';
    }
  }

  private async apply(delivery: VerifiedDelivery, event: ProviderPaymentEvent, meta: PaymentRequestMeta): Promise<PaymentReceipt> {
    const { account_id: accountId, invoice_id: invoiceId } = event.data;
    const tenantId = await this.payments.tenantForAccount(PAYMENT_PROVIDER, accountId);
    if (!tenantId) {
      // 200, not 404: the caller is the provider (the signature proved it), which knows its own
      // accounts; no retry can make the account known, and a stream of failures would have the
      // provider disable the endpoint for every tenant. Logged as a warning for operators.
      this.logger.warn({ event: 'payments.account_unknown', provider: PAYMENT_PROVIDER, accountId, messageId: delivery.id, requestId: meta.requestId }, 'payment event for an unknown account ignored');
      return { status: 'ignored' };
    }

    const scope = Scope.for(tenantId, { kind: 'system', name: 'payments' });
    const audit = (outcome: PaymentOutcome | 'duplicate'): AuditEntry => ({
      type: 'payments.event_received',
      outcome: outcome === 'paid' ? 'success' : 'failure',
      actor: auditActor(scope.principal),
      subject: `invoice:${invoiceId}`,
      ip: meta.ip,
      ...(meta.requestId ? { requestId: meta.requestId } : {}),
      data: {
        provider: PAYMENT_PROVIDER,
        accountId,
        messageId: delivery.id,
        eventType: event.type,
        amountMinor: event.data.amount_minor,
        currency: event.data.currency,
        result: outcome,
        // How the tenant was found: the one cross-tenant step of this path (invariant 4).
        tenantResolvedBy: 'payments_tenant_for_account',
      },
    });

    if (await this.payments.isRecorded(scope, PAYMENT_PROVIDER, delivery.id)) return this.duplicate(scope, audit('duplicate'), delivery, meta);
    const outcome = await this.settle(scope, event);
    const recorded = await this.payments.record(scope, { provider: PAYMENT_PROVIDER, messageId: delivery.id, eventType: event.type, invoiceId, outcome }, audit(outcome));
    if (!recorded) return this.duplicate(scope, audit('duplicate'), delivery, meta);
    const line = { event: 'payments.event_applied', tenantId, invoiceId, messageId: delivery.id, outcome, requestId: meta.requestId };
    if (outcome === 'paid') this.logger.info(line, 'invoice paid by payment event');
    else this.logger.warn(line, 'payment event rejected');
    return outcome === 'paid' ? { status: 'paid' } : { status: 'rejected', reason: outcome };
  }

  /** Marks the invoice paid when the event settles it exactly; otherwise says why not. */
  private async settle(scope: Scope, event: ProviderPaymentEvent): Promise<PaymentOutcome> {
    let invoice: InvoiceWithLines;
    try {
      invoice = await this.invoices.get(scope, event.data.invoice_id);
    } catch (error) {
      if (error instanceof InvoiceError && error.code === InvoiceErrorCode.NotFound) return 'invoice_not_found';
      throw error;
    }
    if (invoice.status === 'paid') return 'already_paid';
    if (invoice.status !== 'issued') return 'not_payable';
    if (invoice.currency !== event.data.currency || invoice.totalMinor !== BigInt(event.data.amount_minor)) return 'amount_mismatch';
    try {
      // The version read above: if anything changed the invoice since, nothing is written.
      await this.invoices.transition(scope, invoice.id, 'pay', invoice.version);
    } catch (error) {
      // Changed between our read and our write (voided, paid by hand, edited): let the provider
      // retry against the new state rather than record an outcome decided on the old one.
      if (error instanceof InvoiceError && [InvoiceErrorCode.VersionMismatch, InvoiceErrorCode.WrongStatus, InvoiceErrorCode.NotFound].includes(error.code)) {
        throw new PaymentsError(PaymentsErrorCode.Retry);
      }
      throw error;
    }
    return 'paid';
  }

  /**
   * The tenant already recorded this message (Redis had forgotten it, or two deliveries raced):
   * nothing changes. Audited, because the account lookup crossed tenants to get here.
   */
  private async duplicate(scope: Scope, entry: AuditEntry, delivery: VerifiedDelivery, meta: PaymentRequestMeta): Promise<PaymentReceipt> {
    this.logger.info({ event: 'payments.duplicate', via: 'database', tenantId: scope.tenantId, messageId: delivery.id, requestId: meta.requestId }, 'payment message already processed');
    await this.audit.record(scope, entry);
    return { status: 'duplicate' };
  }
}
