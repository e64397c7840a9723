import { Module } from '@nestjs/common';
import { AuditModule } from '@benteng/audit';
import { BreachScoping, IncidentTools, PlatformModule } from '@benteng/platform';
import { AbuseDetector } from '@benteng/security';
import { IncidentsController } from './incidents.controller.js';

/**
 * Incident tools on the internal listener: abuse blocks, cross-tenant audit search and chain
 * verification, the incident view, breach scoping. Its own AbuseDetector reads and lifts the same Redis blocks
 * and counters every public API instance writes.
 */
@Module({
  imports: [AuditModule, PlatformModule],
  controllers: [IncidentsController],
  providers: [AbuseDetector, IncidentTools, BreachScoping],
})
export class InternalIncidentsModule {}
