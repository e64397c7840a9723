import { Injectable } from '@nestjs/common';
import { subject } from '@casl/ability';
import { Prisma } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { InvoiceError, InvoiceErrorCode } from './invoice.errors.js';
import type { InvoiceListQuery, InvoiceWithLines, NewInvoice } from './invoice.types.js';
import { InvoicesRepository } from './invoices.repository.js';

export const MAX_PAGE_SIZE = 100;

@Injectable()
export class InvoicesService {
  constructor(private readonly invoices: InvoicesRepository) {}

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
    if (scope.principal.kind !== 'user') throw new InvoiceError(InvoiceErrorCode.Forbidden);
    const userId = scope.principal.userId;
    const draft = { tenantId: scope.tenantId, createdById: userId, status: 'draft' as const };
    if (!scope.ability.can('create', subject('Invoice', draft as never))) {
      throw new InvoiceError(InvoiceErrorCode.Forbidden);
    }
    const lines = input.lines.map((line, index) => ({
      position: index + 1,
      description: line.description,
      quantity: line.quantity,
      unitPriceMinor: line.unitPriceMinor,
      amountMinor: line.unitPriceMinor * BigInt(line.quantity),
    }));
    const totalMinor = lines.reduce((sum, line) => sum + line.amountMinor, 0n);
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
          createdById: userId,
        },
        lines,
      );
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        throw new InvoiceError(InvoiceErrorCode.NumberTaken);
      }
      throw error;
    }
  }
}
