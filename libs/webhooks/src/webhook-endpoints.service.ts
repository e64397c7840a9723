import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { successEntry } from '@benteng/audit';
import type { RequestMeta } from '@benteng/auth';
import { authorize } from '@benteng/authz';
import { Clock } from '@benteng/common';
import type { InTransaction } from '@benteng/database';
import { EgressError, SafeHttpClient } from '@benteng/security';
import type { Scope } from '@benteng/tenancy';
import { queueAfterCommit, WebhookDispatcher } from './webhook-dispatch.js';
import { WebhookEndpointsRepository, type EndpointChanges } from './webhook-endpoints.repository.js';
import { canonicalEvents } from './webhook.events.js';
import { WebhookError, WebhookErrorCode } from './webhook.errors.js';
import { pageSize, userOf } from './webhook-request.js';
import { mintWebhookSecret, WebhookSecretBox } from './webhook-secret-box.js';
import type { NewWebhookEndpoint, PageRequest, WebhookEndpointPatch, WebhookEndpointView, WithWebhookSecret } from './webhook.types.js';
import { endpointView } from './webhook.view.js';

/**
 * Webhook endpoints of a tenant, managed by owners and admins (libs/authz/src/rules/webhooks.rules.ts).
 * The signing secret is minted here on create (WebhookSecretsService rotates it), returned in clear
 * by the call that made it only, and stored encrypted (WebhookSecretBox); no read returns one.
 * Every change is audited in its transaction (WebhookEndpointsRepository). Deliveries resumed by
 * enabling an endpoint are queued after the commit; if Redis refuses the job, the sweeper
 * (WebhookRelayService) queues it within a minute or two, so the request still succeeds.
 */
@Injectable()
export class WebhookEndpointsService {
  constructor(
    private readonly endpoints: WebhookEndpointsRepository,
    private readonly box: WebhookSecretBox,
    private readonly egress: SafeHttpClient,
    private readonly dispatcher: WebhookDispatcher,
    private readonly clock: Clock,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(WebhookEndpointsService.name);
  }

  async list(scope: Scope, page: PageRequest): Promise<WebhookEndpointView[]> {
    const rows = await this.endpoints.list(scope, page, pageSize(page));
    return rows.map(endpointView);
  }

  /** Missing and another tenant's endpoint are the same answer: not found (invariant 5). */
  async get(scope: Scope, id: string): Promise<WebhookEndpointView> {
    const row = await this.endpoints.findById(scope, id);
    if (!row) throw new WebhookError(WebhookErrorCode.EndpointNotFound);
    return endpointView(row);
  }

  /** `also` runs in the create's transaction (an Idempotency-Key's answer: apps/api/src/http/idempotency.ts). */
  async create(scope: Scope, input: NewWebhookEndpoint, meta: RequestMeta, also?: InTransaction<WebhookEndpointView>): Promise<WithWebhookSecret> {
    const createdById = userOf(scope);
    authorize(scope, 'create', 'WebhookEndpoint', { tenantId: scope.tenantId }, () => new WebhookError(WebhookErrorCode.Forbidden));
    const url = this.deliverableUrl(input.url);
    const events = canonicalEvents(input.events);
    const enabled = input.enabled ?? true;
    const now = this.clock.now();
    const id = randomUUID();
    const secret = mintWebhookSecret();
    const row = await this.endpoints.create(
      scope,
      { id, url, description: input.description ?? null, events, enabled, secretCiphertext: this.box.seal(secret, scope.tenantId, id), createdById, now },
      { ...successEntry(scope, 'webhook.endpoint_created', `webhook_endpoint:${id}`, meta), data: { host: new URL(url).host, events: events.join(' '), enabled } },
      also ? (tx, created) => also(tx, endpointView(created)) : undefined,
    );
    return { endpoint: endpointView(row), secret };
  }

  /**
   * Changes the URL, description, subscriptions or the enabled switch. `expectedVersion` comes from
   * If-Match (412 when stale). Enabling an endpoint the system disabled forgets its failures and
   * resumes the deliveries that were held back while it was off; disabling by hand records
   * `manual` as the reason; a new URL starts without a failure streak. A patch that changes nothing returns the endpoint unversioned and unaudited.
   */
  async update(scope: Scope, id: string, patch: WebhookEndpointPatch, expectedVersion: number | undefined, meta: RequestMeta): Promise<WebhookEndpointView> {
    const wanted: EndpointChanges = {};
    if (patch.url !== undefined) wanted.url = this.deliverableUrl(patch.url);
    if (patch.description !== undefined) wanted.description = patch.description;
    if (patch.events !== undefined) wanted.events = canonicalEvents(patch.events);
    if (patch.enabled !== undefined) wanted.enabled = patch.enabled;
    const now = this.clock.now();
    const { endpoint, resumed } = await this.endpoints.update(scope, id, wanted, expectedVersion, now, (changed) => ({
      ...successEntry(scope, 'webhook.endpoint_updated', `webhook_endpoint:${id}`, meta),
      data: { changed: changed.sort().join(' ') },
    }));
    for (const held of resumed) await queueAfterCommit(this.logger, () => this.dispatcher.now(scope.tenantId, held.id, held.attempts + 1), held.id);
    return endpointView(endpoint);
  }

  /** Deletes the endpoint with its deliveries and their log (queued attempts then find nothing to do). */
  async remove(scope: Scope, id: string, expectedVersion: number | undefined, meta: RequestMeta): Promise<void> {
    await this.endpoints.remove(scope, id, expectedVersion, successEntry(scope, 'webhook.endpoint_deleted', `webhook_endpoint:${id}`, meta));
  }

  /** The URL as it will be stored and called (WHATWG-normalized), or 400 with the rule it broke. */
  private deliverableUrl(input: string): string {
    try {
      this.egress.assertDeliverableUrl(input);
    } catch (error) {
      if (error instanceof EgressError) throw new WebhookError(WebhookErrorCode.UrlNotAllowed, error.reason);
      throw error;
    }
    return new URL(input).href;
  }
}
