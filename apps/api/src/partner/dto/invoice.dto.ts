import { ArrayMaxSize, ArrayMinSize, IsEmail, IsIn, IsISO8601, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { INVOICE_SORTS, type InvoiceSort } from '@benteng/invoices';
import { NestedArray, NestedObject } from '../../http/nested.decorator.js';
import { InvoiceLineDto } from '../../public/dto/invoice.dto.js';
import { PageQuery } from '../../public/dto/page.dto.js';

const CURRENCIES = Intl.supportedValuesOf('currency');
const STATUSES = ['draft', 'issued', 'paid', 'void'] as const;

/**
 * The customer as a partner may give it: no tax id. Partners never read a customer's tax id back
 * (partner invoice responses leave it out), so they do not write one either.
 */
export class PartnerCustomerDto {
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name!: string;

  @IsOptional()
  @IsEmail()
  @MaxLength(254)
  email?: string | null;
}

/**
 * A line as on /v1: one set of rules for money and quantities on every surface. The same class, not
 * an empty subclass: a subclass carries no validation metadata of its own, so the partner OpenAPI
 * document referenced a PartnerInvoiceLineDto schema it never defined (found by
 * test/security/validation.spec.ts, which derives bodies from the document).
 */
export const PartnerInvoiceLineDto = InvoiceLineDto;
export type PartnerInvoiceLineDto = InvoiceLineDto;

/** POST /partner/v1/invoices: always a draft; status, totals and creator are never the client's to say. */
export class PartnerCreateInvoiceDto {
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$/, { message: 'must be 1-40 letters, digits, dots, dashes, slashes or underscores' })
  number!: string;

  @IsOptional()
  @IsIn(CURRENCIES, { message: 'must be an ISO 4217 currency code' })
  currency?: string;

  @NestedObject(() => PartnerCustomerDto)
  customer!: PartnerCustomerDto;

  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'must be a date (YYYY-MM-DD)' })
  dueDate?: string | null;

  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @NestedArray(() => PartnerInvoiceLineDto)
  lines!: PartnerInvoiceLineDto[];
}

export class PartnerListInvoicesQuery extends PageQuery {
  @IsOptional()
  @IsIn(STATUSES)
  status?: (typeof STATUSES)[number];

  @IsOptional()
  @IsIn(INVOICE_SORTS)
  sort?: InvoiceSort;
}
