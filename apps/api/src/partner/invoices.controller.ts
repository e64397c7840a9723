import { Body, Controller, Get, Param, ParseUUIDPipe, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { InvoicesService, type InvoiceWithLines } from '@benteng/invoices';
import type { Scope } from '@benteng/tenancy';
import { HighTrust, PartnerAuthorize } from '../http/access.decorator.js';
import { ListInvoicesQuery, newInvoice } from '../http/dto/invoice.dto.js';
import { answerInTransaction, Idempotent } from '../http/idempotency.js';
import { paginate, sortField, type Page } from '../http/pagination.js';
import { CurrentScope } from '../http/request-auth.js';
import { created, withEtag } from '../http/resource-headers.js';
import { PartnerCreateInvoiceDto } from './dto/invoice.dto.js';
import { partnerInvoiceResponse, type PartnerInvoiceResponse } from './invoice.response.js';

/** Invoices for partner clients: invoices:read lists and reads them, invoices:write creates drafts. */
@Controller('partner/v1/invoices')
export class PartnerInvoicesController {
  constructor(private readonly invoices: InvoicesService) {}

  @Get()
  @PartnerAuthorize('read', 'Invoice')
  list(@CurrentScope() scope: Scope, @Query() query: ListInvoicesQuery): Promise<Page<PartnerInvoiceResponse>> {
    const filters = { ...(query.status ? { status: query.status } : {}), ...(query.sort ? { sort: query.sort } : {}) };
    return paginate(query, sortField(query.sort), (page) => this.invoices.list(scope, { ...page, ...filters }), (i) => partnerInvoiceResponse(i, scope));
  }

  /**
   * Always a draft, recorded as created by this client (the partner rules allow nothing else).
   * High trust: billing, so a client with a signing key must sign it (docs/request-signing.md).
   */
  @Post()
  @PartnerAuthorize('create', 'Invoice')
  @HighTrust()
  @Idempotent()
  async create(@CurrentScope() scope: Scope, @Body() body: PartnerCreateInvoiceDto, @Res({ passthrough: true }) reply: FastifyReply): Promise<PartnerInvoiceResponse> {
    const render = (invoice: InvoiceWithLines) => partnerInvoiceResponse(created(reply, '/partner/v1/invoices', withEtag(reply, invoice)), scope);
    return render(await this.invoices.create(scope, newInvoice(body), answerInTransaction(reply, render)));
  }

  @Get(':id')
  @PartnerAuthorize('read', 'Invoice')
  async get(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<PartnerInvoiceResponse> {
    return partnerInvoiceResponse(withEtag(reply, await this.invoices.get(scope, id)), scope);
  }
}
