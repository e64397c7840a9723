import { Module } from '@nestjs/common';
import { AuthModule } from '@benteng/auth';
import { DocumentsModule } from '@benteng/documents';
import { PrivacyRequestsRepository } from './privacy-requests.repository.js';
import { PrivacyService } from './privacy.service.js';
import { SubjectDataRepository } from './subject-data.repository.js';

/**
 * Data subject requests on the API side. AuthModule for the RevocationStore (an erasure ends the
 * subject's sessions at once), DocumentsModule for the DocumentStorage (their files are deleted);
 * JobQueue, database, audit and clock are global.
 */
@Module({
  imports: [AuthModule, DocumentsModule],
  providers: [PrivacyService, PrivacyRequestsRepository, SubjectDataRepository],
  exports: [PrivacyService],
})
export class PrivacyModule {}
