import { Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { VerifiedUserToken } from '@benteng/auth';
import type { Document } from '@benteng/database';
import { DocumentsService } from '@benteng/documents';
import type { Scope } from '@benteng/tenancy';
import { Authorize } from '../http/access.decorator.js';
import { setDownloadHeaders } from '../http/content-disposition.js';
import { ListDocumentsQuery } from '../http/dto/document.dto.js';
import { answerInTransaction, Idempotent } from '../http/idempotency.js';
import { SingleFileUpload, UploadedForm, type Upload } from '../http/single-file-upload.interceptor.js';
import { paginate, type Page } from '../http/pagination.js';
import { CurrentScope, CurrentUser } from '../http/request-auth.js';
import { created } from '../http/resource-headers.js';
import { documentResponse, type DocumentResponse } from './document.response.js';
import { UploadDocumentFields } from './dto/document.dto.js';

@Controller('v1/documents')
export class DocumentsController {
  constructor(private readonly documents: DocumentsService) {}

  @Get()
  @Authorize('read', 'Document')
  list(@CurrentScope() scope: Scope, @CurrentUser() user: VerifiedUserToken, @Query() query: ListDocumentsQuery): Promise<Page<DocumentResponse>> {
    const links = { ...(query.invoiceId ? { invoiceId: query.invoiceId } : {}), ...(query.ticketId ? { ticketId: query.ticketId } : {}) };
    return paginate(query, 'createdAt', (page) => this.documents.list(scope, { ...page, ...links }), (d) => documentResponse(d, user));
  }

  /** multipart/form-data: `file`, and optionally `invoiceId` or `ticketId`. */
  @Post()
  @Authorize('create', 'Document')
  @Idempotent()
  @SingleFileUpload(UploadDocumentFields)
  async upload(@CurrentScope() scope: Scope, @CurrentUser() user: VerifiedUserToken, @UploadedForm() form: Upload<UploadDocumentFields>, @Res({ passthrough: true }) reply: FastifyReply): Promise<DocumentResponse> {
    const upload = { fileName: form.file.fileName, content: form.file.content, invoiceId: form.fields.invoiceId, ticketId: form.fields.ticketId };
    const render = (document: Document) => documentResponse(created(reply, '/v1/documents', document), user);
    return render(await this.documents.upload(scope, upload, answerInTransaction(reply, render)));
  }

  @Get(':id')
  @Authorize('read', 'Document')
  async get(@CurrentScope() scope: Scope, @CurrentUser() user: VerifiedUserToken, @Param('id', new ParseUUIDPipe()) id: string): Promise<DocumentResponse> {
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
