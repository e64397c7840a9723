import { Global, Module } from '@nestjs/common';
import { PrismaService } from './prisma.service.js';
import { TenantDatabase } from './tenant-database.js';
import { ExportStreams } from './export-stream.js';

@Global()
@Module({
  providers: [PrismaService, TenantDatabase, ExportStreams],
  exports: [PrismaService, TenantDatabase, ExportStreams],
})
export class DatabaseModule {}
