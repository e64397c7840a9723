import { Injectable, Module } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { PlatformAuditModule } from '@benteng/audit';
import { AppConfig, keyRingRootKeys } from '@benteng/config';
import { PlatformJob, QueuedJobRevocation, type PlatformJobHandler, type PlatformJobRun } from '@benteng/jobs';
import { KeyRingRepository, KEY_FAMILIES } from '@benteng/database';
import { KeyRotationService } from './key-rotation.service.js';

export const KEY_ROTATION_JOB = 'platform.key-rotation';

/**
 * The scheduled rotation (docs/operations.md, "Key rotation"): every KEY_ROTATION_CHECK_INTERVAL_S
 * each family of the key ring gets a `scheduled` rotation, which publishes a next key when there is
 * none and promotes it once the active key has reached its family's maximum age
 * (ACCESS_TOKEN_KEY_MAX_AGE_S, JOB_ENVELOPE_KEY_MAX_AGE_S: rotationPolicy) and the next key has been
 * published for KEY_PUBLISH_LEAD_S. Without a key ring (production
 * without KEY_RING_ROOT_KEYS) it does nothing.
 */
@PlatformJob(KEY_ROTATION_JOB, { everyMs: (config: AppConfig) => config.KEY_ROTATION_CHECK_INTERVAL_S * 1000 })
@Injectable()
export class KeyRotationHandler implements PlatformJobHandler {
  constructor(
    private readonly rotation: KeyRotationService,
    private readonly config: AppConfig,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(KeyRotationHandler.name);
  }

  async handle(_data: unknown, context: PlatformJobRun): Promise<void> {
    if (!keyRingRootKeys(this.config)) return;
    for (const family of KEY_FAMILIES) {
      const outcome = await this.rotation.rotate(family, 'scheduled');
      this.logger.info({ event: 'keys.rotation_checked', requestId: context.requestId, ...outcome }, 'scheduled key rotation check');
    }
  }
}

/** The worker side of key rotation: pass it to the worker's job handler modules (apps/worker/src/job-handlers.ts). */
@Module({ imports: [PlatformAuditModule], providers: [KeyRingRepository, KeyRotationService, KeyRotationHandler, QueuedJobRevocation] })
export class KeyRotationWorkerModule {}
