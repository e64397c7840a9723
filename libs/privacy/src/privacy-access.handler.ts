import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { principalId } from '@benteng/authz';
import { Clock, isUuid } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { ChunkedFile, ExportStreams, ExportsRepository } from '@benteng/exports';
import { JobRejection, TenantJob, type JobRun, type TenantJobHandler } from '@benteng/jobs';
import type { Scope } from '@benteng/tenancy';
import { PrivacyRequestsRepository } from './privacy-requests.repository.js';
import { privacyScope } from './privacy.service.js';
import { PRIVACY_ACCESS_JOB, type PrivacyAccessJobData } from './privacy.types.js';
import { SubjectDataRepository } from './subject-data.repository.js';

/** Names the document's format, so a reader years later knows what they hold. */
export const SUBJECT_ACCESS_FORMAT = 'benteng.subject-access.v1';

/**
 * `privacy.access`: builds the answer to an access request as the request's `subject_access`
 * export, in the requester's Scope re-derived by the worker (a requester who left the tenant or was
 * locked meanwhile is refused before this runs), through the export tables and their rules exactly
 * as `exports.run` does (libs/exports/src/export-run.handler.ts): the run claims the export (only its
 * requester's `download` rule finds it), writes the chunks under that claim's version and completes
 * it with `export.completed` audited. The subject's data is read as `system:privacy` after the
 * request has been found through the requester's own PrivacyRequest rule.
 *
 * One JSON document (the data of one person is small: no batching). Idempotent like exports.run: a
 * finished export is left alone, a repeated run re-claims and rewrites it.
 */
@TenantJob(PRIVACY_ACCESS_JOB)
@Injectable()
export class PrivacyAccessHandler implements TenantJobHandler<PrivacyAccessJobData> {
  constructor(
    private readonly requests: PrivacyRequestsRepository,
    private readonly subjects: SubjectDataRepository,
    private readonly exports: ExportsRepository,
    private readonly streams: ExportStreams,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(PrivacyAccessHandler.name);
  }

  async handle(scope: Scope, data: PrivacyAccessJobData, context: JobRun<PrivacyAccessJobData>): Promise<void> {
    if (scope.principal.kind !== 'user') throw new JobRejection('wrong_actor');
    const { requestId, exportId } = data ?? ({} as PrivacyAccessJobData);
    if (typeof requestId !== 'string' || !isUuid(requestId) || typeof exportId !== 'string' || !isUuid(exportId)) throw new JobRejection('malformed');
    const request = await this.requests.findById(scope, requestId);
    if (!request || request.kind !== 'access' || request.exportId !== exportId.toLowerCase()) throw new JobRejection('privacy_request_not_permitted');

    const claim = await this.exports.claim(scope, exportId, this.clock.now());
    if (claim.kind === 'not_permitted') throw new JobRejection('export_not_permitted');
    if (claim.kind !== 'claimed') {
      this.logger.info({ exportId, outcome: claim.kind }, 'access export run skipped');
      return;
    }
    const system = privacyScope(scope.tenantId);
    const collected = await this.subjects.collect(system, request.subjectUserId);
    const document = { format: SUBJECT_ACCESS_FORMAT, generatedAt: this.clock.now().toISOString(), tenantId: scope.tenantId, subjectUserId: request.subjectUserId, requestId: request.id, ...collected };
    const file = new ChunkedFile(async (seq, bytes) => {
      if (!(await this.streams.writeChunk(scope, exportId, claim.version, seq, bytes))) throw new Error('access export run superseded');
    });
    await file.write(`${JSON.stringify(document, null, 2)}\n`);
    const { byteSize, sha256 } = await file.end();
    const now = this.clock.now();
    const completed = await this.exports.complete(
      scope,
      exportId,
      claim.version,
      { rowCount: 1, byteSize, sha256, completedAt: now, expiresAt: new Date(now.getTime() + this.config.EXPORT_TTL_S * 1000) },
      { type: 'export.completed', outcome: 'success', actor: principalId(scope.principal), subject: `export:${exportId}`, requestId: context.requestId, data: { rowCount: 1, byteSize } },
    );
    if (completed) {
      await this.requests.finish(system, request.id, { status: 'completed', result: { exportId, byteSize }, at: now }, {
        type: 'privacy.access_completed',
        outcome: 'success',
        actor: principalId(scope.principal),
        subject: `privacy_request:${request.id}`,
        requestId: context.requestId,
        data: { exportId, byteSize },
      });
    }
    this.logger.info({ exportId, byteSize, completed }, 'access export ready');
  }
}
