import { NestedObject } from '../../http/nested.decorator.js';
import { Currency, CustomerEmail, CustomerName, CustomerTaxId, DueDate, InvoiceLines, InvoiceNumber, OptionalCustomerName, type InvoiceLineDto } from '../../http/dto/invoice.dto.js';

export class CustomerDto {
  @CustomerName()
  name!: string;

  @CustomerEmail()
  email?: string | null;

  @CustomerTaxId()
  taxId?: string | null;
}

export class CreateInvoiceDto {
  @InvoiceNumber()
  number!: string;

  @Currency()
  currency?: string;

  @NestedObject(() => CustomerDto)
  customer!: CustomerDto;

  @DueDate()
  dueDate?: string | null;

  @InvoiceLines()
  lines!: InvoiceLineDto[];
}

export class UpdateCustomerDto {
  @OptionalCustomerName()
  name?: string;

  @CustomerEmail()
  email?: string | null;

  @CustomerTaxId()
  taxId?: string | null;
}

export class UpdateInvoiceDto {
  @Currency()
  currency?: string;

  @NestedObject(() => UpdateCustomerDto, { optional: true })
  customer?: UpdateCustomerDto;

  @DueDate()
  dueDate?: string | null;

  @InvoiceLines({ optional: true })
  lines?: InvoiceLineDto[];
}
