import { Global, Module } from '@nestjs/common';
import { AuditLog } from './audit-log.js';
import { AuditVerifier } from './audit-verifier.js';

/** Global: every feature records security events, so none should have to import this module. */
@Global()
@Module({
  providers: [AuditLog, AuditVerifier],
  exports: [AuditLog, AuditVerifier],
})
export class AuditModule {}
