import { createHmac, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { authorize } from '@benteng/authz';
import { Clock, minted } from '@benteng/common';
import { AppConfig, tokenPepper } from '@benteng/config';
import { OperatorAudit } from './operator-audit.js';
import { OperatorError, OperatorErrorCode } from './operator-error.js';
import { PlatformDatabase, type MetricsCredentialRow } from './platform-database.js';
import type { PlatformScope } from './platform-scope.js';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** `bt_ms_<12 base32 prefix>_<256 bits base64url>`: the shape secret scanners and the gate recognise. */
const CREDENTIAL = /^bt_ms_([a-z2-7]{12})_([A-Za-z0-9_-]{43})$/;

/** The stored form: HMAC-SHA256 under the pepper, labelled by kind (domain separation). */
function credentialHash(pepper: Buffer, credential: string): string {
  return createHmac('sha256', pepper).update(`metrics-scrape\0${credential}`).digest('hex');
}

export interface MetricsCredentialView {
  id: string;
  name: string;
  prefix: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  active: boolean;
}

/**
 * Prometheus scrape credentials (docs/metrics.md): bearer credentials that read GET /internal/metrics
 * on the internal listener and nothing else, so a stock Prometheus scrapes without a signing sidecar.
 * Platform-admins create them (shown once), list and revoke them; several may be active, which is
 * how they rotate. Stored as an HMAC under AUTH_TOKEN_PEPPER like partner API keys
 * (libs/auth/src/partner-credentials.ts): high-entropy random values, so a slow hash adds nothing,
 * while every scrape verifies one.
 */
@Injectable()
export class MetricsScrapeCredentials {
  private readonly pepper: Buffer;

  constructor(
    private readonly db: PlatformDatabase,
    private readonly audit: OperatorAudit,
    private readonly clock: Clock,
    config: AppConfig,
    logger: PinoLogger,
  ) {
    this.pepper = tokenPepper(config, 'metrics-scrape', 'metrics scrape credentials', logger);
  }

  async create(scope: PlatformScope, input: { name: string; expiresAt?: Date }): Promise<{ credential: MetricsCredentialView; token: string }> {
    authorize(scope, 'create', 'MetricsScrapeCredential', {}, () => new OperatorError(OperatorErrorCode.Forbidden));
    const prefix = Array.from({ length: 12 }, () => BASE32[randomInt(32)]).join('');
    const token = minted('metrics scrape credential', `bt_ms_${prefix}_${randomBytes(32).toString('base64url')}`);
    const row = await this.db.createMetricsCredential(randomUUID(), input.name, prefix, credentialHash(this.pepper, token), scope.operatorId, input.expiresAt ?? null);
    await this.audit.record(scope, 'internal.metrics_credential_created', `metrics_credential:${row.id}`, { service: scope.principal.service, prefix, ...(input.expiresAt ? { expiresAt: input.expiresAt.toISOString() } : {}) });
    return { credential: this.view(row), token };
  }

  async list(scope: PlatformScope): Promise<MetricsCredentialView[]> {
    authorize(scope, 'read', 'MetricsScrapeCredential', {}, () => new OperatorError(OperatorErrorCode.Forbidden));
    return (await this.db.listMetricsCredentials()).map((row) => this.view(row));
  }

  /** Revokes at once: the next scrape with it is refused. Idempotent; an unknown id is 404. */
  async revoke(scope: PlatformScope, id: string): Promise<{ revoked: boolean }> {
    authorize(scope, 'update', 'MetricsScrapeCredential', {}, () => new OperatorError(OperatorErrorCode.Forbidden));
    const result = await this.db.revokeMetricsCredential(id);
    if (!result) throw new OperatorError(OperatorErrorCode.NotFound);
    await this.audit.record(scope, 'internal.metrics_credential_revoked', `metrics_credential:${id}`, { service: scope.principal.service, wasActive: result.was_active });
    return { revoked: result.was_active };
  }

  /**
   * The credential a presented bearer value is, when it is one that may scrape now: well formed, its
   * prefix known, its hash equal (constant time), not revoked, not expired. Anything else is
   * `undefined` with the reason for the log; the caller answers every refusal alike.
   */
  async verify(presented: string): Promise<{ ok: true; id: string } | { ok: false; refusal: 'malformed' | 'unknown' | 'mismatch' | 'revoked' | 'expired' }> {
    const match = CREDENTIAL.exec(presented);
    if (!match) return { ok: false, refusal: 'malformed' };
    const row = await this.db.findMetricsCredential(match[1]!);
    if (!row) return { ok: false, refusal: 'unknown' };
    const computed = Buffer.from(credentialHash(this.pepper, presented), 'hex');
    const stored = Buffer.from(row.secret_hash, 'hex');
    if (computed.length !== stored.length || !timingSafeEqual(computed, stored)) return { ok: false, refusal: 'mismatch' };
    if (row.revoked_at) return { ok: false, refusal: 'revoked' };
    const now = this.clock.now();
    if (row.expires_at && row.expires_at <= now) return { ok: false, refusal: 'expired' };
    if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() > 60_000) await this.db.markMetricsCredentialUsed(row.id);
    return { ok: true, id: row.id };
  }

  private view(row: MetricsCredentialRow): MetricsCredentialView {
    const now = this.clock.now();
    return {
      id: row.id,
      name: row.name,
      prefix: row.prefix,
      createdBy: row.created_by,
      createdAt: row.created_at.toISOString(),
      expiresAt: row.expires_at?.toISOString() ?? null,
      revokedAt: row.revoked_at?.toISOString() ?? null,
      lastUsedAt: row.last_used_at?.toISOString() ?? null,
      active: !row.revoked_at && (!row.expires_at || row.expires_at > now),
    };
  }
}
