import { Injectable } from '@nestjs/common';
import { AuditLog } from '@benteng/audit';
import { principalId } from '@benteng/authz';
import type { Scope } from '@benteng/tenancy';
import { TenantJob, type JobRun, type TenantJobHandler } from './job-handlers.js';

export const JOB_PROBE = 'jobs.probe';

/**
 * A diagnostic tenant job: records, as an audit event `job.probe` in the tenant, which Scope the
 * worker built for it (principal, current role or partner scopes) under the request id it carried.
 * Operators use it to check the whole path (API → Redis → worker → database) end to end; the e2e
 * tests use it to prove that path with the real worker process. It reads nothing and changes
 * nothing else, and only a holder of the job signing key can queue it.
 */
@TenantJob(JOB_PROBE)
@Injectable()
export class JobProbeHandler implements TenantJobHandler {
  constructor(private readonly audit: AuditLog) {}

  async handle(scope: Scope, _data: unknown, context: JobRun): Promise<void> {
    const principal = scope.principal;
    await this.audit.recordFor(scope.tenantId, {
      type: 'job.probe',
      outcome: 'success',
      actor: principalId(principal),
      subject: `job:${context.jobId}`,
      requestId: context.requestId,
      data: {
        attempt: context.attempt,
        role: principal.kind === 'user' ? principal.role : null,
        scopes: principal.kind === 'partner' ? principal.scopes.join(' ') : null,
      },
    });
  }
}
