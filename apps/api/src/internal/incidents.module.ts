import { Module } from '@nestjs/common';
import { AuditModule, PlatformAuditModule } from '@benteng/audit';
import { AbuseDetector } from '@benteng/security';
import { IncidentsController } from './incidents.controller.js';
import { IncidentTools } from './incidents.service.js';

/**
 * Incident tools on the internal listener: abuse blocks, cross-tenant audit search and chain
 * verification, the incident view. Its own AbuseDetector reads and lifts the same Redis blocks
 * and counters every public API instance writes.
 */
@Module({
  imports: [AuditModule, PlatformAuditModule],
  controllers: [IncidentsController],
  providers: [AbuseDetector, IncidentTools],
})
export class InternalIncidentsModule {}
