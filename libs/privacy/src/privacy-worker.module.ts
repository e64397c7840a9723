import { Module } from '@nestjs/common';
import { ExportStreams, ExportsRepository } from '@benteng/exports';
import { PrivacyAccessHandler } from './privacy-access.handler.js';
import { PrivacyRequestsRepository } from './privacy-requests.repository.js';
import { SubjectDataRepository } from './subject-data.repository.js';

/** The worker side of data subject requests: `privacy.access` (listed in apps/worker/src/job-handlers.ts). */
@Module({
  providers: [PrivacyAccessHandler, PrivacyRequestsRepository, SubjectDataRepository, ExportsRepository, ExportStreams],
})
export class PrivacyWorkerModule {}
