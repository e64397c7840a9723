import { Injectable } from '@nestjs/common';
import { authorize, recordedBy } from '@benteng/authz';
import { Clock } from '@benteng/common';
import type { InTransaction } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { InvoiceError, InvoiceErrorCode } from './invoice.errors.js';
import type { InvoiceEventType } from './invoice.events.js';
import type { InvoiceListQuery, InvoicePatch, InvoiceTransition, InvoiceWithLines, NewInvoice, NewInvoiceLine } from './invoice.types.js';
import { InvoicesRepository } from './invoices.repository.js';

export const MAX_PAGE_SIZE = 100;

const TRANSITIONS: Record<InvoiceTransition, { to: 'issued' | 'void' | 'paid'; event: InvoiceEventType }> = {
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

const forbidden = () => new InvoiceError(InvoiceErrorCode.Forbidden);

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

  /**
   * Creates a draft, recorded as created by a user or a partner client (never both; system and
   * operator principals create none); totals are computed here from the lines, never taken from
   * the client.
   */
  async create(scope: Scope, input: NewInvoice, also?: InTransaction<InvoiceWithLines>): Promise<InvoiceWithLines> {
    const creator = recordedBy(scope.principal, { user: 'createdById', client: 'createdByClientId' });
    if (!creator) throw forbidden();
    authorize(scope, 'create', 'Invoice', { tenantId: scope.tenantId, ...creator, status: 'draft' }, forbidden);
    const { rows, totalMinor } = priced(input.lines);
    return this.invoices.create(
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
      also,
    );
  }

  /** Edits a draft. `expectedVersion` comes from If-Match; a stale one is refused with 412. */
  async update(scope: Scope, id: string, patch: InvoicePatch, expectedVersion?: number): Promise<InvoiceWithLines> {
    const { lines, ...fields } = patch;
    const repriced = lines ? priced(lines) : undefined;
    const change = { data: { ...fields, ...(repriced ? { totalMinor: repriced.totalMinor } : {}) }, ...(repriced ? { lines: repriced.rows } : {}) };
    return this.invoices.update(scope, id, 'update', change, expectedVersion, this.clock.now());
  }

  transition(scope: Scope, id: string, action: InvoiceTransition, expectedVersion?: number): Promise<InvoiceWithLines> {
    const { to, event } = TRANSITIONS[action];
    const now = this.clock.now();
    return this.invoices.update(scope, id, action, { data: { status: to, ...(action === 'issue' ? { issuedAt: now } : {}) }, event }, expectedVersion, now);
  }

  /** Deletes a draft; `expectedVersion` as for `update`. */
  remove(scope: Scope, id: string, expectedVersion?: number): Promise<void> {
    return this.invoices.delete(scope, id, expectedVersion);
  }
}
