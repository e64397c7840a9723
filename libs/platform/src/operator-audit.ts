import { Injectable } from '@nestjs/common';
import { PlatformAuditLog, type AuditDataValue, type PlatformAuditEventType } from '@benteng/audit';
import type { PlatformScope } from './platform-scope.js';

/**
 * An operator's successful action in the platform audit log: actor `operator:<id>`, the reason,
 * address and request id of the PlatformScope. `data` is recorded as given (callers name the
 * signing service in it).
 */
@Injectable()
export class OperatorAudit {
  constructor(private readonly platformAudit: PlatformAuditLog) {}

  record(scope: PlatformScope, type: PlatformAuditEventType, subject: string, data: Record<string, AuditDataValue>): Promise<void> {
    return this.platformAudit.record({
      type,
      outcome: 'success',
      actor: scope.actor,
      subject,
      reason: scope.request.reason,
      ip: scope.request.ip,
      requestId: scope.request.requestId,
      data,
    });
  }
}
