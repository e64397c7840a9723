import { ArrayMaxSize, ArrayMinSize, IsEmail, IsIn, IsInt, IsISO8601, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { INVOICE_SORTS, type InvoiceSort } from '@benteng/invoices';
import { NestedArray, NestedObject } from '../../http/nested.decorator.js';
import { PageQuery } from './page.dto.js';

const CURRENCIES = Intl.supportedValuesOf('currency');
const STATUSES = ['draft', 'issued', 'paid', 'void'] as const;
/** Largest unit price / quantity product stays far below 2^63 (bigint column). */
const MAX_MINOR = 1_000_000_000_000_000;

export class CustomerDto {
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name!: string;

  @IsOptional()
  @IsEmail()
  @MaxLength(254)
  email?: string | null;

  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(40)
  taxId?: string | null;
}

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

export class CreateInvoiceDto {
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$/, { message: 'must be 1-40 letters, digits, dots, dashes, slashes or underscores' })
  number!: string;

  @IsOptional()
  @IsIn(CURRENCIES, { message: 'must be an ISO 4217 currency code' })
  currency?: string;

  @NestedObject(() => CustomerDto)
  customer!: CustomerDto;

  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'must be a date (YYYY-MM-DD)' })
  dueDate?: string | null;

  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @NestedArray(() => InvoiceLineDto)
  lines!: InvoiceLineDto[];
}

export class UpdateCustomerDto {
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name?: string;

  @IsOptional()
  @IsEmail()
  @MaxLength(254)
  email?: string | null;

  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(40)
  taxId?: string | null;
}

export class UpdateInvoiceDto {
  @IsOptional()
  @IsIn(CURRENCIES, { message: 'must be an ISO 4217 currency code' })
  currency?: string;

  @NestedObject(() => UpdateCustomerDto, { optional: true })
  customer?: UpdateCustomerDto;

  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'must be a date (YYYY-MM-DD)' })
  dueDate?: string | null;

  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @NestedArray(() => InvoiceLineDto, { optional: true })
  lines?: InvoiceLineDto[];
}

export class ListInvoicesQuery extends PageQuery {
  @IsOptional()
  @IsIn(STATUSES)
  status?: (typeof STATUSES)[number];

  @IsOptional()
  @IsIn(INVOICE_SORTS)
  sort?: InvoiceSort;
}
