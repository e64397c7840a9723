import { NestedObject } from '../../http/nested.decorator.js';
import { Currency, CustomerEmail, CustomerName, DueDate, InvoiceLines, InvoiceNumber, type InvoiceLineDto } from '../../http/dto/invoice.dto.js';

/**
 * The customer as a partner may give it: no tax id. Partners never read a customer's tax id back
 * (the partner rules hide it, libs/authz/src/rules/partner.rules.ts), so they do not write one either.
 */
export class PartnerCustomerDto {
  @CustomerName()
  name!: string;

  @CustomerEmail()
  email?: string | null;
}

/**
 * POST /partner/v1/invoices: always a draft; status, totals and creator are never the client's to
 * say. The same field rules as /v1's CreateInvoiceDto (apps/api/src/http/dto/invoice.dto.ts); lines
 * are /v1's InvoiceLineDto itself, not a subclass: a subclass carries no validation metadata of its
 * own, so the partner OpenAPI document would reference a schema it never defines (found by
 * test/security/validation.spec.ts, which derives bodies from the document).
 */
export class PartnerCreateInvoiceDto {
  @InvoiceNumber()
  number!: string;

  @Currency()
  currency?: string;

  @NestedObject(() => PartnerCustomerDto)
  customer!: PartnerCustomerDto;

  @DueDate()
  dueDate?: string | null;

  @InvoiceLines()
  lines!: InvoiceLineDto[];
}
