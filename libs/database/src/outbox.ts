import type { Prisma } from './generated/prisma/client.js';
import type { TenantTx } from './tenant-database.js';

export interface DomainEventInput {
  type: string;
  subjectType: string;
  subjectId: string;
  /** What subscribers receive: ids and business facts, never secrets or another tenant's data. */
  payload: Prisma.InputJsonObject;
}

/**
 * Appends a domain event to the outbox inside the caller's transaction: the event exists if and
 * only if the change it describes was committed. The webhook relay publishes it later.
 */
export async function appendDomainEvent(tx: TenantTx, tenantId: string, event: DomainEventInput, occurredAt: Date): Promise<void> {
  await tx.domainEvent.create({ data: { tenantId, type: event.type, subjectType: event.subjectType, subjectId: event.subjectId, payload: event.payload, occurredAt } });
}
