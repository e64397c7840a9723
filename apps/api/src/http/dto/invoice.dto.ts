import { ArrayMaxSize, ArrayMinSize, IsEmail, IsIn, IsInt, IsISO8601, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { INVOICE_SORTS, type InvoiceSort, type NewInvoice, type NewInvoiceLine } from '@benteng/invoices';
import { NestedArray } from '../nested.decorator.js';
import { Rules } from './field-rules.js';
import { PageQuery } from './page.dto.js';

/**
 * The invoice fields as every surface accepts them (/v1: apps/api/src/public/dto/invoice.dto.ts,
 * /partner/v1: apps/api/src/partner/dto/invoice.dto.ts): one set of rules for numbers, money,
 * dates and the customer.
 */

const CURRENCIES = Intl.supportedValuesOf('currency');
const STATUSES = ['draft', 'issued', 'paid', 'void'] as const;
/** Largest unit price / quantity product stays far below 2^63 (bigint column). */
const MAX_MINOR = 1_000_000_000_000_000;

export const InvoiceNumber = () => Rules(Matches(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$/, { message: 'must be 1-40 letters, digits, dots, dashes, slashes or underscores' }));
export const Currency = () => Rules(IsOptional(), IsIn(CURRENCIES, { message: 'must be an ISO 4217 currency code' }));
export const DueDate = () => Rules(IsOptional(), IsISO8601({ strict: true, strictSeparator: true }), Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'must be a date (YYYY-MM-DD)' }));
export const InvoiceLines = (options: { optional?: boolean } = {}) => Rules(ArrayMinSize(1), ArrayMaxSize(100), NestedArray(() => InvoiceLineDto, options));

const customerName = () => [IsString(), MinLength(1), MaxLength(200)];
export const CustomerName = () => Rules(...customerName());
export const OptionalCustomerName = () => Rules(IsOptional(), ...customerName());
export const CustomerEmail = () => Rules(IsOptional(), IsEmail(), MaxLength(254));
export const CustomerTaxId = () => Rules(IsOptional(), IsString(), MinLength(1), MaxLength(40));

/** A line as on every surface: one set of rules for money and quantities. */
export class InvoiceLineDto {
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  description!: string;

  @IsInt()
  @Min(1)
  @Max(1_000_000)
  quantity!: number;

  /** Integer minor units (e.g. sen); no floats anywhere near money. */
  @IsInt()
  @Min(0)
  @Max(MAX_MINOR / 1_000_000)
  unitPriceMinor!: number;
}

/**
 * GET /v1/invoices and GET /partner/v1/invoices: the same filters and sorts. Query DTOs are spelled
 * out as parameters in the OpenAPI documents, never as named schemas, so both surfaces share it.
 */
export class ListInvoicesQuery extends PageQuery {
  @IsOptional()
  @IsIn(STATUSES)
  status?: (typeof STATUSES)[number];

  @IsOptional()
  @IsIn(INVOICE_SORTS)
  sort?: InvoiceSort;
}

/** The service's lines: integer minor units as bigint. */
export const newLines = (lines: readonly InvoiceLineDto[]): NewInvoiceLine[] => lines.map((l) => ({ description: l.description, quantity: l.quantity, unitPriceMinor: BigInt(l.unitPriceMinor) }));

/** A calendar day of a body (`YYYY-MM-DD`) as the service takes it; null clears, undefined leaves alone. */
export const dayOrNull = (value: string | null | undefined): Date | null | undefined => (value === undefined ? undefined : value === null ? null : new Date(`${value}T00:00:00Z`));

/** A create body of either surface as the service's draft (a partner's customer has no tax id). */
export function newInvoice(body: { number: string; currency?: string; customer: { name: string; email?: string | null; taxId?: string | null }; dueDate?: string | null; lines: InvoiceLineDto[] }): NewInvoice {
  return {
    number: body.number,
    ...(body.currency ? { currency: body.currency } : {}),
    customerName: body.customer.name,
    customerEmail: body.customer.email ?? null,
    customerTaxId: body.customer.taxId ?? null,
    dueDate: dayOrNull(body.dueDate) ?? null,
    lines: newLines(body.lines),
  };
}
