import { Body, Controller, Get, Param, ParseUUIDPipe, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { AuthenticatedPartner } from '@benteng/auth';
import { InvoicesService } from '@benteng/invoices';
import type { Scope } from '@benteng/tenancy';
import { PartnerAuthorize } from '../http/access.decorator.js';
import { Idempotent } from '../http/idempotency.js';
import { decodeCursor, etag, nextCursor, parseSort } from '../http/pagination.js';
import { CurrentPartner, CurrentScope } from '../http/request-auth.js';
import { PartnerCreateInvoiceDto, PartnerListInvoicesQuery } from './dto/invoice.dto.js';
import { partnerInvoiceResponse, type PartnerInvoiceResponse } from './invoice.response.js';

const DEFAULT_PAGE = 20;

/** Invoices for partner clients: invoices:read lists and reads them, invoices:write creates drafts. */
@Controller('partner/v1/invoices')
export class PartnerInvoicesController {
  constructor(private readonly invoices: InvoicesService) {}

  @Get()
  @PartnerAuthorize('read', 'Invoice')
  async list(
    @CurrentScope() scope: Scope,
    @CurrentPartner() partner: AuthenticatedPartner,
    @Query() query: PartnerListInvoicesQuery,
  ): Promise<{ items: PartnerInvoiceResponse[]; nextCursor: string | null }> {
    const limit = query.limit ?? DEFAULT_PAGE;
    const { field } = parseSort(query.sort ?? '-createdAt');
    const items = await this.invoices.list(scope, {
      limit,
      ...(query.status ? { status: query.status } : {}),
      ...(query.sort ? { sort: query.sort } : {}),
      ...(query.cursor ? { after: decodeCursor(query.cursor, field) } : {}),
    });
    return { items: items.map((i) => partnerInvoiceResponse(i, partner.clientId)), nextCursor: nextCursor(items, limit, field) };
  }

  /** Always a draft, recorded as created by this client (the partner rules allow nothing else). */
  @Post()
  @PartnerAuthorize('create', 'Invoice')
  @Idempotent()
  async create(
    @CurrentScope() scope: Scope,
    @CurrentPartner() partner: AuthenticatedPartner,
    @Body() body: PartnerCreateInvoiceDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PartnerInvoiceResponse> {
    const invoice = await this.invoices.create(scope, {
      number: body.number,
      ...(body.currency ? { currency: body.currency } : {}),
      customerName: body.customer.name,
      customerEmail: body.customer.email ?? null,
      dueDate: body.dueDate ? new Date(`${body.dueDate}T00:00:00Z`) : null,
      lines: body.lines.map((l) => ({ description: l.description, quantity: l.quantity, unitPriceMinor: BigInt(l.unitPriceMinor) })),
    });
    reply.header('etag', etag(invoice.version)).header('location', `/partner/v1/invoices/${invoice.id}`);
    return partnerInvoiceResponse(invoice, partner.clientId);
  }

  @Get(':id')
  @PartnerAuthorize('read', 'Invoice')
  async get(
    @CurrentScope() scope: Scope,
    @CurrentPartner() partner: AuthenticatedPartner,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PartnerInvoiceResponse> {
    const invoice = await this.invoices.get(scope, id);
    reply.header('etag', etag(invoice.version));
    return partnerInvoiceResponse(invoice, partner.clientId);
  }
}
