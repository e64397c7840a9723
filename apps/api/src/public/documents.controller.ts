import { Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { AuthenticatedUser } from '@benteng/auth';
import { DocumentsService } from '@benteng/documents';
import type { Scope } from '@benteng/tenancy';
import { Authorize } from '../http/access.decorator.js';
import { setDownloadHeaders } from '../http/content-disposition.js';
import { Idempotent } from '../http/idempotency.js';
import { SingleFileUpload, UploadedForm, type Upload } from '../http/multipart-upload.js';
import { decodeCursor, nextCursor } from '../http/pagination.js';
import { CurrentScope, CurrentUser } from '../http/request-auth.js';
import { documentResponse, type DocumentResponse } from './document.response.js';
import { ListDocumentsQuery, UploadDocumentFields } from './dto/document.dto.js';

const DEFAULT_PAGE = 20;


@Controller('v1/documents')
export class DocumentsController {
  constructor(private readonly documents: DocumentsService) {}

  @Get()
  @Authorize('read', 'Document')
  async list(@CurrentScope() scope: Scope, @CurrentUser() user: AuthenticatedUser, @Query() query: ListDocumentsQuery): Promise<{ items: DocumentResponse[]; nextCursor: string | null }> {
    const limit = query.limit ?? DEFAULT_PAGE;
    const items = await this.documents.list(scope, {
      limit,
      ...(query.cursor ? { after: decodeCursor(query.cursor, 'createdAt') } : {}),
      ...(query.invoiceId ? { invoiceId: query.invoiceId } : {}),
      ...(query.ticketId ? { ticketId: query.ticketId } : {}),
    });
    return { items: items.map((d) => documentResponse(d, user)), nextCursor: nextCursor(items, limit, 'createdAt') };
  }

  /** multipart/form-data: `file`, and optionally `invoiceId` or `ticketId`. */
  @Post()
  @Authorize('create', 'Document')
  @Idempotent()
  @SingleFileUpload(UploadDocumentFields)
  async upload(
    @CurrentScope() scope: Scope,
    @CurrentUser() user: AuthenticatedUser,
    @UploadedForm() form: Upload<UploadDocumentFields>,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<DocumentResponse> {
    const document = await this.documents.upload(scope, {
      fileName: form.file.fileName,
      content: form.file.content,
      invoiceId: form.fields.invoiceId,
      ticketId: form.fields.ticketId,
    });
    reply.header('location', `/v1/documents/${document.id}`);
    return documentResponse(document, user);
  }

  @Get(':id')
  @Authorize('read', 'Document')
  async get(@CurrentScope() scope: Scope, @CurrentUser() user: AuthenticatedUser, @Param('id', new ParseUUIDPipe()) id: string): Promise<DocumentResponse> {
    return documentResponse(await this.documents.get(scope, id), user);
  }

  /**
   * The bytes, as a download: the type detected at upload (never the client's), nosniff so no
   * browser second-guesses it, `attachment` so none renders it in the API's origin, no caching.
   */
  @Get(':id/content')
  @Authorize('read', 'Document')
  async download(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<Buffer> {
    const { document, content } = await this.documents.download(scope, id);
    setDownloadHeaders(reply, { contentType: document.contentType, fileName: document.fileName, length: content.length });
    return content;
  }

  @Delete(':id')
  @HttpCode(204)
  @Authorize('delete', 'Document')
  async remove(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    await this.documents.remove(scope, id);
  }
}
