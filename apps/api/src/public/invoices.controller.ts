import { Body, Controller, Delete, Get, Headers, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { AuthenticatedUser } from '@benteng/auth';
import { InvoiceError, InvoiceErrorCode, InvoicesService, type InvoicePatch, type InvoiceTransition } from '@benteng/invoices';
import type { Scope } from '@benteng/tenancy';
import { Authorize } from '../http/access.decorator.js';
import { Idempotent } from '../http/idempotency.js';
import { decodeCursor, etag, nextCursor, parseIfMatch, parseSort } from '../http/pagination.js';
import { CurrentScope, CurrentUser } from '../http/request-auth.js';
import { CreateInvoiceDto, ListInvoicesQuery, UpdateInvoiceDto } from './dto/invoice.dto.js';
import { InvoiceResponses, type InvoiceResponse } from './invoice.response.js';

const DEFAULT_PAGE = 20;
const mismatch = () => new InvoiceError(InvoiceErrorCode.VersionMismatch);
const expectedVersion = (ifMatch: string | undefined) => parseIfMatch(ifMatch, mismatch);
const dateOrNull = (value: string | null | undefined) => (value === undefined ? undefined : value === null ? null : new Date(`${value}T00:00:00Z`));

@Controller('v1/invoices')
export class InvoicesController {
  constructor(
    private readonly invoices: InvoicesService,
    private readonly views: InvoiceResponses,
  ) {}

  @Get()
  @Authorize('read', 'Invoice')
  async list(@CurrentScope() scope: Scope, @CurrentUser() user: AuthenticatedUser, @Query() query: ListInvoicesQuery): Promise<{ items: InvoiceResponse[]; nextCursor: string | null }> {
    const limit = query.limit ?? DEFAULT_PAGE;
    const { field } = parseSort(query.sort ?? '-createdAt');
    const items = await this.invoices.list(scope, {
      limit,
      ...(query.status ? { status: query.status } : {}),
      ...(query.sort ? { sort: query.sort } : {}),
      ...(query.cursor ? { after: decodeCursor(query.cursor, field) } : {}),
    });
    return { items: items.map((i) => this.views.shape(i, user)), nextCursor: nextCursor(items, limit, field) };
  }

  @Post()
  @Authorize('create', 'Invoice')
  @Idempotent()
  async create(@CurrentScope() scope: Scope, @CurrentUser() user: AuthenticatedUser, @Body() body: CreateInvoiceDto, @Res({ passthrough: true }) reply: FastifyReply): Promise<InvoiceResponse> {
    const invoice = await this.invoices.create(scope, {
      number: body.number,
      ...(body.currency ? { currency: body.currency } : {}),
      customerName: body.customer.name,
      customerEmail: body.customer.email ?? null,
      customerTaxId: body.customer.taxId ?? null,
      dueDate: dateOrNull(body.dueDate) ?? null,
      lines: body.lines.map((l) => ({ description: l.description, quantity: l.quantity, unitPriceMinor: BigInt(l.unitPriceMinor) })),
    });
    reply.header('etag', etag(invoice.version)).header('location', `/v1/invoices/${invoice.id}`);
    return this.views.shape(invoice, user);
  }

  @Get(':id')
  @Authorize('read', 'Invoice')
  async get(@CurrentScope() scope: Scope, @CurrentUser() user: AuthenticatedUser, @Param('id', new ParseUUIDPipe()) id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<InvoiceResponse> {
    const invoice = await this.invoices.get(scope, id);
    reply.header('etag', etag(invoice.version));
    return this.views.shape(invoice, user);
  }

  @Patch(':id')
  @Authorize('update', 'Invoice')
  async update(
    @CurrentScope() scope: Scope,
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: UpdateInvoiceDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<InvoiceResponse> {
    const patch: InvoicePatch = {};
    if (body.currency !== undefined) patch.currency = body.currency;
    if (body.customer?.name !== undefined) patch.customerName = body.customer.name;
    if (body.customer?.email !== undefined) patch.customerEmail = body.customer.email;
    if (body.customer?.taxId !== undefined) patch.customerTaxId = body.customer.taxId;
    const due = dateOrNull(body.dueDate);
    if (due !== undefined) patch.dueDate = due;
    if (body.lines) patch.lines = body.lines.map((l) => ({ description: l.description, quantity: l.quantity, unitPriceMinor: BigInt(l.unitPriceMinor) }));
    const invoice = await this.invoices.update(scope, id, patch, expectedVersion(ifMatch));
    reply.header('etag', etag(invoice.version));
    return this.views.shape(invoice, user);
  }

  @Post(':id/issue')
  @HttpCode(200)
  @Authorize('issue', 'Invoice')
  issue(@CurrentScope() scope: Scope, @CurrentUser() user: AuthenticatedUser, @Param('id', new ParseUUIDPipe()) id: string, @Headers('if-match') ifMatch: string | undefined, @Res({ passthrough: true }) reply: FastifyReply): Promise<InvoiceResponse> {
    return this.transition(scope, user, id, 'issue', ifMatch, reply);
  }

  @Post(':id/void')
  @HttpCode(200)
  @Authorize('void', 'Invoice')
  void(@CurrentScope() scope: Scope, @CurrentUser() user: AuthenticatedUser, @Param('id', new ParseUUIDPipe()) id: string, @Headers('if-match') ifMatch: string | undefined, @Res({ passthrough: true }) reply: FastifyReply): Promise<InvoiceResponse> {
    return this.transition(scope, user, id, 'void', ifMatch, reply);
  }

  @Post(':id/pay')
  @HttpCode(200)
  @Authorize('pay', 'Invoice')
  pay(@CurrentScope() scope: Scope, @CurrentUser() user: AuthenticatedUser, @Param('id', new ParseUUIDPipe()) id: string, @Headers('if-match') ifMatch: string | undefined, @Res({ passthrough: true }) reply: FastifyReply): Promise<InvoiceResponse> {
    return this.transition(scope, user, id, 'pay', ifMatch, reply);
  }

  @Delete(':id')
  @HttpCode(204)
  @Authorize('delete', 'Invoice')
  async remove(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Headers('if-match') ifMatch: string | undefined): Promise<void> {
    await this.invoices.remove(scope, id, expectedVersion(ifMatch));
  }

  private async transition(scope: Scope, user: AuthenticatedUser, id: string, action: InvoiceTransition, ifMatch: string | undefined, reply: FastifyReply): Promise<InvoiceResponse> {
    const invoice = await this.invoices.transition(scope, id, action, expectedVersion(ifMatch));
    reply.header('etag', etag(invoice.version));
    return this.views.shape(invoice, user);
  }
}
