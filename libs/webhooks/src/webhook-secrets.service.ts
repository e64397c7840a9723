import { Injectable } from '@nestjs/common';
import { successEntry } from '@benteng/audit';
import type { RequestMeta } from '@benteng/auth';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import type { Scope } from '@benteng/tenancy';
import { WebhookEndpointsRepository } from './webhook-endpoints.repository.js';
import { mintWebhookSecret, WebhookSecretBox } from './webhook-secret-box.js';
import type { WithWebhookSecret } from './webhook.types.js';
import { endpointView } from './webhook.view.js';

/**
 * Rotation of an endpoint's signing secret (POST /v1/webhook-endpoints/:id/secret/rotate). The new
 * secret is returned in clear by this call only and stored encrypted (WebhookSecretBox).
 */
@Injectable()
export class WebhookSecretsService {
  constructor(
    private readonly endpoints: WebhookEndpointsRepository,
    private readonly box: WebhookSecretBox,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  /**
   * A new signing secret. The previous one keeps signing beside it (both signatures in every
   * message) until WEBHOOK_SECRET_ROTATION_OVERLAP_S from now, so the receiver can switch without
   * refusing a message; with an overlap of 0 it stops at once. Rotating again within the window
   * drops the oldest secret.
   */
  async rotate(scope: Scope, id: string, meta: RequestMeta): Promise<WithWebhookSecret> {
    const now = this.clock.now();
    const overlapS = this.config.WEBHOOK_SECRET_ROTATION_OVERLAP_S;
    const previousSecretExpiresAt = overlapS > 0 ? new Date(now.getTime() + overlapS * 1000) : null;
    const secret = mintWebhookSecret();
    const row = await this.endpoints.rotateSecret(scope, id, this.box.seal(secret, scope.tenantId, id), previousSecretExpiresAt, now, {
      ...successEntry(scope, 'webhook.secret_rotated', `webhook_endpoint:${id}`, meta),
      data: { previousValidUntil: previousSecretExpiresAt?.toISOString() ?? null },
    });
    return { endpoint: endpointView(row), secret };
  }
}
