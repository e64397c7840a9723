import { Module } from '@nestjs/common';
import { OperatorDirectory } from './operator-directory.js';
import { PlatformTenants } from './platform-tenants.service.js';

/** Operator records and the platform-level reads operator tools make (internal listener only). */
@Module({
  providers: [OperatorDirectory, PlatformTenants],
  exports: [OperatorDirectory, PlatformTenants],
})
export class OperatorsModule {}
