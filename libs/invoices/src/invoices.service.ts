import { Injectable } from '@nestjs/common';
import { subject } from '@casl/ability';
import type { Action } from '@benteng/authz';
import { Clock } from '@benteng/common';
import { Prisma } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { InvoiceError, InvoiceErrorCode } from './invoice.errors.js';
import { invoiceEvent } from './invoice.events.js';
import type { InvoiceListQuery, InvoicePatch, InvoiceTransition, InvoiceWithLines, NewInvoice, NewInvoiceLine } from './invoice.types.js';
import { InvoicesRepository } from './invoices.repository.js';

export const MAX_PAGE_SIZE = 100;

const TRANSITIONS: Record<InvoiceTransition, { to: 'issued' | 'void' | 'paid'; event: 'invoice.issued' | 'invoice.voided' | 'invoice.paid' }> = {
  issue: { to: 'issued', event: 'invoice.issued' },
  void: { to: 'void', event: 'invoice.voided' },
  pay: { to: 'paid', event: 'invoice.paid' },
};

/** Lines with positions and amounts; totals are computed here, never taken from the client. */
function priced(lines: NewInvoiceLine[]) {
  const rows = lines.map((line, index) => ({
    position: index + 1,
    description: line.description,
    quantity: line.quantity,
    unitPriceMinor: line.unitPriceMinor,
    amountMinor: line.unitPriceMinor * BigInt(line.quantity),
  }));
  return { rows, totalMinor: rows.reduce((sum, line) => sum + line.amountMinor, 0n) };
}

/** Who an invoice is recorded as created by: a user, or a partner client (never both). */
function creatorOf(scope: Scope): { createdById: string } | { createdByClientId: string } {
  switch (scope.principal.kind) {
    case 'user':
      return { createdById: scope.principal.userId };
    case 'partner':
      return { createdByClientId: scope.principal.clientId };
    // Operators create no tenant data implicitly (their tenant ability is empty anyway).
    case 'system':
    case 'operator':
      throw new InvoiceError(InvoiceErrorCode.Forbidden);
  }
}

@Injectable()
export class InvoicesService {
  constructor(
    private readonly invoices: InvoicesRepository,
    private readonly clock: Clock,
  ) {}

  list(scope: Scope, query: InvoiceListQuery): Promise<InvoiceWithLines[]> {
    return this.invoices.list(scope, { ...query, limit: Math.min(Math.max(query.limit, 1), MAX_PAGE_SIZE) });
  }

  /** Missing and another tenant's invoice are the same answer: not found (invariant 5). */
  async get(scope: Scope, id: string): Promise<InvoiceWithLines> {
    const invoice = await this.invoices.findById(scope, id);
    if (!invoice) throw new InvoiceError(InvoiceErrorCode.NotFound);
    return invoice;
  }

  /** Creates a draft; totals are computed here from the lines, never taken from the client. */
  async create(scope: Scope, input: NewInvoice): Promise<InvoiceWithLines> {
    const creator = creatorOf(scope);
    const draft = { tenantId: scope.tenantId, ...creator, status: 'draft' as const };
    if (!scope.ability.can('create', subject('Invoice', draft as never))) throw new InvoiceError(InvoiceErrorCode.Forbidden);
    const { rows, totalMinor } = priced(input.lines);
    try {
      return await this.invoices.create(
        scope,
        {
          number: input.number,
          currency: input.currency ?? 'IDR',
          customerName: input.customerName,
          customerEmail: input.customerEmail ?? null,
          customerTaxId: input.customerTaxId ?? null,
          dueDate: input.dueDate ?? null,
          status: 'draft',
          totalMinor,
          ...creator,
        },
        rows,
      );
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') throw new InvoiceError(InvoiceErrorCode.NumberTaken);
      throw error;
    }
  }

  /** Edits a draft. `expectedVersion` comes from If-Match; a stale one is refused with 412. */
  update(scope: Scope, id: string, patch: InvoicePatch, expectedVersion?: number): Promise<InvoiceWithLines> {
    return this.mutate(scope, id, 'update', expectedVersion, () => {
      const { lines, ...fields } = patch;
      const repriced = lines ? priced(lines) : undefined;
      return {
        data: { ...fields, ...(repriced ? { totalMinor: repriced.totalMinor } : {}) },
        ...(repriced ? { lines: repriced.rows } : {}),
      };
    });
  }

  transition(scope: Scope, id: string, action: InvoiceTransition, expectedVersion?: number): Promise<InvoiceWithLines> {
    const { to, event } = TRANSITIONS[action];
    const now = this.clock.now();
    return this.mutate(scope, id, action, expectedVersion, () => ({
      data: { status: to, ...(action === 'issue' ? { issuedAt: now } : {}) },
      event: (updated) => invoiceEvent(event, updated),
    }));
  }

  async remove(scope: Scope, id: string, expectedVersion?: number): Promise<void> {
    const current = await this.get(scope, id);
    this.authorize(scope, 'delete', current);
    if (expectedVersion !== undefined && current.version !== expectedVersion) throw new InvoiceError(InvoiceErrorCode.VersionMismatch);
    if (!(await this.invoices.delete(scope, id, current.version))) throw new InvoiceError(InvoiceErrorCode.VersionMismatch);
  }

  private async mutate(
    scope: Scope,
    id: string,
    action: Action,
    expectedVersion: number | undefined,
    change: Parameters<InvoicesRepository['mutate']>[2],
  ): Promise<InvoiceWithLines> {
    const result = await this.invoices.mutate(
      scope,
      id,
      (current) => {
        this.authorize(scope, action, current);
        if (expectedVersion !== undefined && current.version !== expectedVersion) throw new InvoiceError(InvoiceErrorCode.VersionMismatch);
        return change(current);
      },
      this.clock.now(),
    );
    if (result.outcome === 'not_found') throw new InvoiceError(InvoiceErrorCode.NotFound);
    // Someone else changed it between our read and our write.
    if (result.outcome === 'conflict') throw new InvoiceError(InvoiceErrorCode.VersionMismatch);
    return result.invoice;
  }

  /**
   * The caller can see this invoice (or it would be "not found"); may they do this to it? If the
   * role could do it to an invoice in another status, the status is the problem (409); otherwise
   * the role is (403).
   */
  private authorize(scope: Scope, action: Action, invoice: InvoiceWithLines): void {
    if (scope.ability.can(action, subject('Invoice', invoice as never))) return;
    const otherStatuses = (['draft', 'issued', 'paid', 'void'] as const).filter((s) => s !== invoice.status);
    const statusIsTheProblem = otherStatuses.some((status) => scope.ability.can(action, subject('Invoice', { ...invoice, status } as never)));
    if (!statusIsTheProblem) throw new InvoiceError(InvoiceErrorCode.Forbidden);
    throw new InvoiceError(action === 'update' || action === 'delete' ? InvoiceErrorCode.NotDraft : InvoiceErrorCode.WrongStatus);
  }
}
