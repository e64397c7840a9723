import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { InvoiceError, InvoiceErrorCode, InvoicesService, type InvoicePatch, type InvoiceTransition, type InvoiceWithLines } from '@benteng/invoices';
import type { Scope } from '@benteng/tenancy';
import { Authorize } from '../http/access.decorator.js';
import { dayOrNull, ListInvoicesQuery, newInvoice, newLines } from '../http/dto/invoice.dto.js';
import { answerInTransaction, Idempotent } from '../http/idempotency.js';
import { paginate, sortField, type Page } from '../http/pagination.js';
import { CurrentScope } from '../http/request-auth.js';
import { created, IfMatch, parseIfMatch, withEtag } from '../http/resource-headers.js';
import { CreateInvoiceDto, UpdateInvoiceDto } from './dto/invoice.dto.js';
import { InvoiceResponses, type InvoiceResponse } from './invoice.response.js';

const expectedVersion = (ifMatch: string | undefined) => parseIfMatch(ifMatch, () => new InvoiceError(InvoiceErrorCode.VersionMismatch));

/** A PATCH body as the service's patch: only the fields the body names (null clears). */
function invoicePatch(body: UpdateInvoiceDto): InvoicePatch {
  const patch: InvoicePatch = {};
  if (body.currency !== undefined) patch.currency = body.currency;
  if (body.customer?.name !== undefined) patch.customerName = body.customer.name;
  if (body.customer?.email !== undefined) patch.customerEmail = body.customer.email;
  if (body.customer?.taxId !== undefined) patch.customerTaxId = body.customer.taxId;
  const due = dayOrNull(body.dueDate);
  if (due !== undefined) patch.dueDate = due;
  if (body.lines) patch.lines = newLines(body.lines);
  return patch;
}

@Controller('v1/invoices')
export class InvoicesController {
  constructor(
    private readonly invoices: InvoicesService,
    private readonly views: InvoiceResponses,
  ) {}

  @Get()
  @Authorize('read', 'Invoice')
  list(@CurrentScope() scope: Scope, @Query() query: ListInvoicesQuery): Promise<Page<InvoiceResponse>> {
    const filters = { ...(query.status ? { status: query.status } : {}), ...(query.sort ? { sort: query.sort } : {}) };
    return paginate(query, sortField(query.sort), (page) => this.invoices.list(scope, { ...page, ...filters }), (i) => this.views.shape(i, scope));
  }

  @Post()
  @Authorize('create', 'Invoice')
  @Idempotent()
  async create(@CurrentScope() scope: Scope, @Body() body: CreateInvoiceDto, @Res({ passthrough: true }) reply: FastifyReply): Promise<InvoiceResponse> {
    const render = (invoice: InvoiceWithLines) => this.views.shape(created(reply, '/v1/invoices', withEtag(reply, invoice)), scope);
    return render(await this.invoices.create(scope, newInvoice(body), answerInTransaction(reply, render)));
  }

  @Get(':id')
  @Authorize('read', 'Invoice')
  async get(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<InvoiceResponse> {
    return this.views.shape(withEtag(reply, await this.invoices.get(scope, id)), scope);
  }

  @Patch(':id')
  @Authorize('update', 'Invoice')
  async update(
    @CurrentScope() scope: Scope,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: UpdateInvoiceDto,
    @IfMatch() ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<InvoiceResponse> {
    return this.views.shape(withEtag(reply, await this.invoices.update(scope, id, invoicePatch(body), expectedVersion(ifMatch))), scope);
  }

  @Post(':id/issue')
  @HttpCode(200)
  @Authorize('issue', 'Invoice')
  issue(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @IfMatch() ifMatch: string | undefined, @Res({ passthrough: true }) reply: FastifyReply): Promise<InvoiceResponse> {
    return this.transition(scope, id, 'issue', ifMatch, reply);
  }

  @Post(':id/void')
  @HttpCode(200)
  @Authorize('void', 'Invoice')
  void(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @IfMatch() ifMatch: string | undefined, @Res({ passthrough: true }) reply: FastifyReply): Promise<InvoiceResponse> {
    return this.transition(scope, id, 'void', ifMatch, reply);
  }

  @Post(':id/pay')
  @HttpCode(200)
  @Authorize('pay', 'Invoice')
  pay(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @IfMatch() ifMatch: string | undefined, @Res({ passthrough: true }) reply: FastifyReply): Promise<InvoiceResponse> {
    return this.transition(scope, id, 'pay', ifMatch, reply);
  }

  @Delete(':id')
  @HttpCode(204)
  @Authorize('delete', 'Invoice')
  async remove(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @IfMatch() ifMatch: string | undefined): Promise<void> {
    await this.invoices.remove(scope, id, expectedVersion(ifMatch));
  }

  private async transition(scope: Scope, id: string, action: InvoiceTransition, ifMatch: string | undefined, reply: FastifyReply): Promise<InvoiceResponse> {
    return this.views.shape(withEtag(reply, await this.invoices.transition(scope, id, action, expectedVersion(ifMatch))), scope);
  }
}
