import { Module } from '@nestjs/common';
import { PlatformAuditModule } from '@benteng/audit';
import { OperatorAudit } from './operator-audit.js';
import { OperatorDirectory } from './operator-directory.js';
import { PlatformDatabase } from './platform-database.js';
import { PlatformTenants } from './platform-tenants.js';
import { MetricsScrapeCredentials } from './metrics-scrape-credentials.js';

/**
 * The platform (operator) side of Benteng, for the internal listener only: the cross-tenant SQL
 * (PlatformDatabase), operator records, the platform's tenant list and the operator audit. The
 * admin and incident services (InternalAdmin, IncidentTools) are provided by the internal
 * listener's modules with the Redis-backed stores they share with the public API.
 */
@Module({
  imports: [PlatformAuditModule],
  providers: [PlatformDatabase, OperatorDirectory, PlatformTenants, OperatorAudit, MetricsScrapeCredentials],
  exports: [PlatformDatabase, OperatorDirectory, PlatformTenants, OperatorAudit, MetricsScrapeCredentials],
})
export class PlatformModule {}
