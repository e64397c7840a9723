import { Global, Module } from '@nestjs/common';
import { AccessLog } from './access-log.js';
import { AuditLog } from './audit-log.js';
import { AuditVerifier } from './audit-verifier.js';
import { DeferredAuditLog } from './deferred-audit-log.js';
import { PlatformAuditLog } from './platform-audit-log.js';

/** Global: every feature records security events, so none should have to import this module. */
@Global()
@Module({
  providers: [AuditLog, AuditVerifier, DeferredAuditLog, AccessLog],
  exports: [AuditLog, AuditVerifier, DeferredAuditLog, AccessLog],
})
export class AuditModule {}

/** The platform audit log (events with no tenant): imported by the internal listener only. */
@Module({
  providers: [PlatformAuditLog],
  exports: [PlatformAuditLog],
})
export class PlatformAuditModule {}
