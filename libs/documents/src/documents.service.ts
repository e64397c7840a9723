import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { authorize } from '@benteng/authz';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import type { Document, InTransaction } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { DocumentError, DocumentErrorCode } from './document.errors.js';
import { safeFileName } from './document-file-name.js';
import { DocumentStorage } from './document.storage.js';
import { DocumentTypeDetector } from './document-type.js';
import type { DocumentDownload, DocumentLink, DocumentListQuery, NewDocument } from './document.types.js';
import { DocumentsRepository } from './documents.repository.js';

export const MAX_DOCUMENT_PAGE = 100;

/** At most one of invoiceId and ticketId. */
function linkOf(input: NewDocument): DocumentLink | undefined {
  if (input.invoiceId && input.ticketId) throw new DocumentError(DocumentErrorCode.OneLink);
  if (input.invoiceId) return { invoiceId: input.invoiceId };
  if (input.ticketId) return { ticketId: input.ticketId };
  return undefined;
}

@Injectable()
export class DocumentsService {
  constructor(
    private readonly documents: DocumentsRepository,
    private readonly storage: DocumentStorage,
    private readonly types: DocumentTypeDetector,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(DocumentsService.name);
  }

  list(scope: Scope, query: DocumentListQuery): Promise<Document[]> {
    return this.documents.list(scope, { ...query, limit: Math.min(Math.max(query.limit, 1), MAX_DOCUMENT_PAGE) });
  }

  /** Missing, another tenant's, or on a ticket the caller cannot see: the same answer (invariant 5). */
  async get(scope: Scope, id: string): Promise<Document> {
    const document = await this.documents.findById(scope, id);
    if (!document) throw new DocumentError(DocumentErrorCode.NotFound);
    return document;
  }

  async download(scope: Scope, id: string): Promise<DocumentDownload> {
    const document = await this.get(scope, id);
    const content = await this.storage.get(scope, document.storageKey);
    // Deleted between the two reads.
    if (!content) throw new DocumentError(DocumentErrorCode.NotFound);
    return { document, content };
  }

  /**
   * Stores an upload. The type comes from the bytes and the name is rebuilt around it; the link,
   * if any, must be an invoice or ticket the caller can see. The bytes go to the storage first and
   * the metadata with its `document.uploaded` event second, in one transaction; if that fails,
   * the bytes are removed again, so a refused upload leaves nothing behind.
   */
  /** `also` runs in the create's transaction (an Idempotency-Key's answer: apps/api/src/http/idempotency.ts). */
  async upload(scope: Scope, input: NewDocument, also?: InTransaction<Document>): Promise<Document> {
    if (scope.principal.kind !== 'user') throw new DocumentError(DocumentErrorCode.Forbidden);
    const uploadedById = scope.principal.userId;
    authorize(scope, 'create', 'Document', { tenantId: scope.tenantId, uploadedById }, () => new DocumentError(DocumentErrorCode.Forbidden));

    if (input.content.length === 0) throw new DocumentError(DocumentErrorCode.Empty);
    // The HTTP layer stops larger uploads while they stream; this holds for every other caller.
    if (input.content.length > this.config.DOCUMENTS_MAX_BYTES) throw new DocumentError(DocumentErrorCode.TooLarge);
    const contentType = await this.types.detect(input.content, input.fileName);
    if (!contentType) throw new DocumentError(DocumentErrorCode.TypeNotAllowed);
    const link = linkOf(input);
    if (link && !(await this.documents.linkVisible(scope, link))) throw new DocumentError(DocumentErrorCode.LinkNotFound);

    const storageKey = await this.storage.put(scope, input.content);
    try {
      return await this.documents.create(
        scope,
        {
          fileName: safeFileName(input.fileName, contentType),
          contentType,
          size: input.content.length,
          sha256: createHash('sha256').update(input.content).digest('hex'),
          storageKey,
          invoiceId: link && 'invoiceId' in link ? link.invoiceId : null,
          ticketId: link && 'ticketId' in link ? link.ticketId : null,
          uploadedById,
        },
        link,
        this.clock.now(),
        also,
      );
    } catch (error) {
      await this.discard(scope, storageKey);
      throw error;
    }
  }

  /** Members delete their own uploads, owners and admins any; the bytes go after the metadata. */
  async remove(scope: Scope, id: string): Promise<void> {
    const storageKey = await this.documents.delete(scope, id);
    // Once the metadata is gone nothing can reach the bytes; a failure here leaves an orphan, not a leak.
    await this.discard(scope, storageKey);
  }

  private async discard(scope: Scope, storageKey: string): Promise<void> {
    try {
      await this.storage.delete(scope, storageKey);
    } catch (error) {
      this.logger.error({ err: error, tenantId: scope.tenantId }, 'document bytes could not be removed; they are unreachable but still stored');
    }
  }
}
