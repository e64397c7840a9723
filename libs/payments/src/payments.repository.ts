import { Injectable } from '@nestjs/common';
import { AuditLog, type AuditEntry } from '@benteng/audit';
import { accessibleWhere, authorize } from '@benteng/authz';
import { isUniqueViolation, PrismaService, TenantDatabase } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import type { PaymentOutcome } from './payment.types.js';

export interface NewPaymentEvent {
  provider: string;
  messageId: string;
  eventType: string;
  invoiceId: string;
  outcome: PaymentOutcome;
}

/**
 * Inbound payment persistence: the account → tenant lookup (the one step taken before a tenant is
 * known) and the per-tenant record of every message, each in its own tenant transaction.
 */
@Injectable()
export class PaymentsRepository {
  constructor(
    private readonly prisma: PrismaService,
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
  ) {}

  /**
   * Which active tenant owns the provider account, through the SECURITY DEFINER function
   * payments_tenant_for_account (docs/architecture.md, invariant 4): it answers one tenant id for one
   * exact (provider, account) pair and nothing else; payment_accounts itself stays under RLS.
   */
  async tenantForAccount(provider: string, accountId: string): Promise<string | null> {
    const [row] = await this.prisma.client.$queryRaw<{ tenant_id: string | null }[]>`SELECT payments_tenant_for_account(${provider}, ${accountId}) AS tenant_id`;
    return row?.tenant_id ?? null;
  }

  /** Whether this tenant already recorded the provider's message (the durable deduplication). */
  isRecorded(scope: Scope, provider: string, messageId: string): Promise<boolean> {
    return this.db.run(scope, async (tx) => {
      const found = await tx.paymentEvent.findFirst({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'PaymentEvent'), { provider, messageId }] },
        select: { id: true },
      });
      return found !== null;
    });
  }

  /**
   * Records the message's outcome and its audit event in one transaction. False when the message
   * is already recorded: the unique (tenant_id, provider, message_id) index decides between two
   * deliveries of one message racing each other, and the loser writes nothing (not even its audit row).
   */
  async record(scope: Scope, event: NewPaymentEvent, audit: AuditEntry): Promise<boolean> {
    const row = { tenantId: scope.tenantId, ...event };
    authorize(scope, 'create', 'PaymentEvent', row, () => new Error('PaymentsRepository.record: the scope may not record payment events'));
    try {
      await this.db.run(scope, async (tx) => {
        await tx.paymentEvent.create({ data: row, select: { id: true } });
        await this.audit.recordIn(tx, scope.tenantId, audit);
      });
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }
}
