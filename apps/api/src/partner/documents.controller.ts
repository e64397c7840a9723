import { Controller, Get, Param, ParseUUIDPipe, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DocumentsService } from '@benteng/documents';
import type { Scope } from '@benteng/tenancy';
import { PartnerAuthorize } from '../http/access.decorator.js';
import { setDownloadHeaders } from '../http/content-disposition.js';
import { ListDocumentsQuery } from '../http/dto/document.dto.js';
import { paginate, type Page } from '../http/pagination.js';
import { CurrentScope } from '../http/request-auth.js';
import { partnerDocumentResponse, type PartnerDocumentResponse } from './document.response.js';

/**
 * Documents for partner clients (documents:read): read-only. Documents on a ticket are visible
 * only when the client opened that ticket (partner rules); the others are a 404.
 */
@Controller('partner/v1/documents')
export class PartnerDocumentsController {
  constructor(private readonly documents: DocumentsService) {}

  @Get()
  @PartnerAuthorize('read', 'Document')
  list(@CurrentScope() scope: Scope, @Query() query: ListDocumentsQuery): Promise<Page<PartnerDocumentResponse>> {
    const links = { ...(query.invoiceId ? { invoiceId: query.invoiceId } : {}), ...(query.ticketId ? { ticketId: query.ticketId } : {}) };
    return paginate(query, 'createdAt', (page) => this.documents.list(scope, { ...page, ...links }), partnerDocumentResponse);
  }

  @Get(':id')
  @PartnerAuthorize('read', 'Document')
  async get(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string): Promise<PartnerDocumentResponse> {
    return partnerDocumentResponse(await this.documents.get(scope, id));
  }

  /** The bytes, with /v1's download headers: detected type, nosniff, attachment, no caching. */
  @Get(':id/content')
  @PartnerAuthorize('read', 'Document')
  async download(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<Buffer> {
    const { document, content } = await this.documents.download(scope, id);
    setDownloadHeaders(reply, { contentType: document.contentType, fileName: document.fileName, length: content.length });
    return content;
  }
}
