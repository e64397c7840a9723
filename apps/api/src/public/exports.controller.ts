import { Readable } from 'node:stream';
import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query, Res, StreamableFile } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { RequestMeta } from '@benteng/auth';
import { ExportsService, type ExportDownload, type ExportFilters, type ExportListQuery, type ExportView } from '@benteng/exports';
import type { Scope } from '@benteng/tenancy';
import { Authorize, Anonymous, RateLimit } from '../http/access.decorator.js';
import { setDownloadHeaders } from '../http/content-disposition.js';
import { answerInTransaction, Idempotent } from '../http/idempotency.js';
import { paginate, type Page } from '../http/pagination.js';
import { CurrentScope, Meta } from '../http/request-auth.js';
import { created } from '../http/resource-headers.js';
import { CreateExportDto, DownloadLinkQuery, ListExportsQuery, type ExportFiltersDto } from './dto/export.dto.js';
import { downloadUrlResponse, exportResponse, type DownloadUrlResponse, type ExportResponse } from './export.response.js';

/** null and absent filter fields mean the same: no filter. */
function filtersOf(dto: ExportFiltersDto | null | undefined): ExportFilters {
  return {
    ...(dto?.status ? { status: dto.status } : {}),
    ...(dto?.createdFrom ? { createdFrom: dto.createdFrom } : {}),
    ...(dto?.createdTo ? { createdTo: dto.createdTo } : {}),
  };
}

/** The file as an attachment, streamed chunk by chunk from the database. */
function fileResponse(reply: FastifyReply, download: ExportDownload, chunks: AsyncIterable<Buffer>): StreamableFile {
  setDownloadHeaders(reply, { contentType: download.contentType, fileName: download.fileName, length: download.byteSize });
  return new StreamableFile(Readable.from(chunks));
}

/**
 * Exports of invoices or tickets (libs/exports): requested here, built by the worker in the
 * requester's Scope, downloaded by the requester only, with the access token or a short-lived link
 * signed for them.
 */
@Controller('v1/exports')
export class ExportsController {
  constructor(private readonly exports: ExportsService) {}

  /** 202: the export is queued; poll its Location until `status` is `ready`. */
  @Post()
  @HttpCode(202)
  @Authorize('create', 'Export')
  @RateLimit('export')
  @Idempotent()
  async create(@CurrentScope() scope: Scope, @Body() body: CreateExportDto, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<ExportResponse> {
    const render = (exp: ExportView) => exportResponse(created(reply, '/v1/exports', exp), scope);
    return render(await this.exports.request(scope, { type: body.type, format: body.format, filters: filtersOf(body.filters) }, meta, answerInTransaction(reply, render)));
  }

  @Get()
  @Authorize('read', 'Export')
  list(@CurrentScope() scope: Scope, @Query() query: ListExportsQuery): Promise<Page<ExportResponse>> {
    // Exports page by createdAt, whose cursor value is always a Date (decodeCursor).
    return paginate(query, 'createdAt', (page) => this.exports.list(scope, page as ExportListQuery), (e) => exportResponse(e, scope));
  }

  @Get(':id')
  @Authorize('read', 'Export')
  async get(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string): Promise<ExportResponse> {
    return exportResponse(await this.exports.get(scope, id), scope);
  }

  /** The file, for its requester: 409 until ready, 410 once expired. */
  @Get(':id/content')
  @Authorize('download', 'Export')
  async content(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string, @Meta() meta: RequestMeta, @Res({ passthrough: true }) reply: FastifyReply): Promise<StreamableFile> {
    const download = await this.exports.openDownload(scope, id, 'token', meta);
    return fileResponse(reply, download, this.exports.chunks(scope, download));
  }

  /** A link to the file that works without the access token, for EXPORT_URL_TTL_S (at most 5 minutes). */
  @Post(':id/download-url')
  @HttpCode(200)
  @Authorize('download', 'Export')
  async downloadUrl(@CurrentScope() scope: Scope, @Param('id', new ParseUUIDPipe()) id: string): Promise<DownloadUrlResponse> {
    return downloadUrlResponse(await this.exports.issueLink(scope, id));
  }

  @Get(':id/file')
  @Anonymous('the HMAC signature bound to tenant, export, user, session and expiry is the credential; the user and session are checked against current state', { credential: 'signed-link' })
  async file(
    @Param('id', new ParseUUIDPipe()) id: string,
    @Query() query: DownloadLinkQuery,
    @Meta() meta: RequestMeta,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<StreamableFile> {
    const { scope, download } = await this.exports.openLinkDownload({ tenant: query.tenant, exportId: id, user: query.user, session: query.session, expires: query.expires, sig: query.sig }, meta);
    return fileResponse(reply, download, this.exports.chunks(scope, download));
  }
}
