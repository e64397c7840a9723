import { Module } from '@nestjs/common';
import { AuthModule } from '@benteng/auth';
import { DownloadLinks } from './download-links.js';
import { ExportsRepository } from './exports.repository.js';
import { ExportsService } from './exports.service.js';

/**
 * Exports on the API side. JobQueue comes from JobsModule.forProducer() (global, imported once by
 * the application); database, audit and clock are global too.
 */
@Module({
  // AuthModule for the RevocationStore: a download link ends with the session that minted it.
  imports: [AuthModule],
  providers: [ExportsService, ExportsRepository, DownloadLinks],
  exports: [ExportsService],
})
export class ExportsModule {}
