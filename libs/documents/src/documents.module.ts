import { Module } from '@nestjs/common';
import { DocumentStorage } from './document.storage.js';
import { DocumentTypeDetector } from './document-type.js';
import { DocumentsRepository } from './documents.repository.js';
import { DocumentsService } from './documents.service.js';
import { PostgresDocumentStorage } from './postgres-document.storage.js';

/** Documents; the bytes go to PostgreSQL unless another DocumentStorage is bound here. */
@Module({
  providers: [DocumentsRepository, DocumentsService, DocumentTypeDetector, { provide: DocumentStorage, useClass: PostgresDocumentStorage }],
  // DocumentStorage too: a data subject erasure (libs/privacy) deletes the subject's files.
  exports: [DocumentsService, DocumentStorage],
})
export class DocumentsModule {}
