import { Injectable } from '@nestjs/common';
import ipaddr from 'ipaddr.js';
import { PinoLogger } from 'nestjs-pino';
import { AuditLog } from '@benteng/audit';
import { PARTNER_SCOPES, type PartnerScope, type PartnerTier } from '@benteng/authz';
import { Clock, isCanonicalUuid } from '@benteng/common';
import { AppConfig, partnerEnvironment } from '@benteng/config';
import { Scope } from '@benteng/tenancy';
import { AccessTokenError, AccessTokens } from './access-tokens.js';
import { AuthError, AuthErrorCode } from './auth.errors.js';
import type { RequestMeta } from './auth.types.js';
import { looksLikeApiKey, PartnerCredentials } from './partner-credentials.js';
import { PartnerCredentialsRepository, type PartnerClientState, type PartnerKeyRow } from './partner-credentials.repository.js';

/** A partner request's verified identity: which client of which tenant, with which scopes. */
export interface VerifiedPartnerCredential {
  tenantId: string;
  clientId: string;
  scopes: PartnerScope[];
  tier: PartnerTier;
  via: 'api_key' | 'access_token';
  /** The key used, for API-key requests. */
  keyId?: string;
}

export interface PartnerTokenResponse {
  accessToken: string;
  expiresIn: number;
  scopes: PartnerScope[];
}

type Refusal =
  | 'malformed'
  | 'wrong_environment'
  | 'unknown_credential'
  | 'bad_secret'
  | 'key_revoked'
  | 'key_expired'
  | 'client_revoked'
  | 'client_expired'
  | 'tenant_suspended'
  | 'ip_not_allowed'
  | 'token_invalid';

/** lastUsedAt is written at most this often per key, so verification stays a read on hot paths. */
const LAST_USED_RESOLUTION_MS = 60_000;
/** Compared against when a presented credential names nothing, so both paths cost one HMAC. */
const DUMMY_HASH = '0'.repeat(64);

const knownScopes = (scopes: readonly string[]): PartnerScope[] => scopes.filter((s): s is PartnerScope => (PARTNER_SCOPES as readonly string[]).includes(s));

/** True when `ip` lies in one of the CIDR ranges (an empty list allows every address). */
export function ipAllowed(ip: string, allowlist: readonly string[]): boolean {
  if (allowlist.length === 0) return true;
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.process(ip);
  } catch {
    return false;
  }
  return allowlist.some((cidr) => {
    try {
      const [range, bits] = ipaddr.parseCIDR(cidr);
      const normalized = range.kind() === 'ipv6' && (range as ipaddr.IPv6).isIPv4MappedAddress() ? [(range as ipaddr.IPv6).toIPv4Address(), bits - 96] as const : [range, bits] as const;
      return address.kind() === normalized[0].kind() && address.match(normalized[0], normalized[1]);
    } catch {
      return false;
    }
  });
}

/**
 * Authentication of the partner surface (/partner/v1), for both credential kinds:
 * - an API key `bt_<env>_<prefix>_<secret>`, found by its prefix through the SECURITY DEFINER
 *   function `partner_key_lookup` (no tenant is known yet: docs/architecture.md, invariant 4) and
 *   compared as an HMAC in constant time;
 * - a client-credentials access token (JWT, audience benteng-partner), whose client is looked up
 *   again on every request through `partner_client_lookup`.
 * Either way the current state decides: a revoked or expired key or client, a suspended tenant,
 * an address outside the client's allowlist, or a credential of the other environment is refused
 * on the next request, with one 401 body for every reason. Refusals of genuine credentials (the
 * secret matched) are audited in the client's tenant; all refusals are logged with their reason.
 */
@Injectable()
export class PartnerAuthService {
  constructor(
    private readonly repository: PartnerCredentialsRepository,
    private readonly credentials: PartnerCredentials,
    private readonly tokens: AccessTokens,
    private readonly audit: AuditLog,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(PartnerAuthService.name);
  }

  /** Verifies the bearer credential of a /partner/v1 request. */
  authenticate(credential: string, meta: RequestMeta): Promise<VerifiedPartnerCredential> {
    return looksLikeApiKey(credential) ? this.byKey(credential, meta) : this.byToken(credential, meta);
  }

  /**
   * POST /partner/oauth/token, grant client_credentials (RFC 6749 4.4). `scope` narrows the token
   * to a subset of the client's scopes; asking for more is `invalid_scope`, never silently granted.
   */
  async issueToken(input: { clientId: string; clientSecret: string; scope?: string }, meta: RequestMeta): Promise<PartnerTokenResponse> {
    const row = isCanonicalUuid(input.clientId) ? await this.repository.partnerClientLookup(input.clientId) : undefined;
    if (!this.credentials.clientSecretMatches(input.clientSecret, row?.secret_hash ?? DUMMY_HASH) || !row) {
      this.refuse(row ? 'bad_secret' : 'unknown_credential', meta, 'client_credentials');
      throw new AuthError(AuthErrorCode.InvalidClient);
    }
    const refusal = this.stateRefusal(row, row, meta.ip);
    if (refusal) {
      await this.refuseGenuine(refusal, row.tenant_id, row.client_id, meta, 'client_credentials');
      throw new AuthError(AuthErrorCode.InvalidClient);
    }
    const granted = knownScopes(row.scopes);
    const requested = input.scope === undefined ? granted : input.scope.split(' ').filter((s) => s !== '');
    if (!requested.every((s) => (granted as string[]).includes(s))) throw new AuthError(AuthErrorCode.InvalidScope);
    const scopes = knownScopes(requested);
    const { token, expiresIn } = await this.tokens.issuePartner({ clientId: row.client_id, tid: row.tenant_id, scopes });
    await this.audit.recordFor(row.tenant_id, {
      type: 'partner.token_issued',
      outcome: 'success',
      actor: `partner:${row.client_id}`,
      subject: `partner_client:${row.client_id}`,
      ip: meta.ip,
      ...(meta.requestId ? { requestId: meta.requestId } : {}),
      data: { scope: scopes.join(' '), expiresIn },
    });
    return { accessToken: token, expiresIn, scopes };
  }

  private async byKey(key: string, meta: RequestMeta): Promise<VerifiedPartnerCredential> {
    const parsed = this.credentials.parseKey(key);
    if (!parsed) throw this.refuse('malformed', meta, 'api_key');
    if (parsed.environment !== partnerEnvironment(this.config)) throw this.refuse('wrong_environment', meta, 'api_key');
    const row = await this.repository.partnerKeyLookup(parsed.prefix);
    if (!this.credentials.keyMatches(key, row?.key_hash ?? DUMMY_HASH) || !row) throw this.refuse(row ? 'bad_secret' : 'unknown_credential', meta, 'api_key');
    const now = this.clock.now().getTime();
    let refusal: Refusal | undefined;
    if (row.key_revoked_at) refusal = 'key_revoked';
    else if (row.key_expires_at && row.key_expires_at.getTime() <= now) refusal = 'key_expired';
    else if (row.environment !== parsed.environment) refusal = 'wrong_environment';
    else refusal = this.stateRefusal(row, { expires_at: row.client_expires_at, revoked_at: row.client_revoked_at }, meta.ip);
    if (refusal) {
      await this.refuseGenuine(refusal, row.tenant_id, row.client_id, meta, 'api_key', row.key_id);
      throw new AuthError(AuthErrorCode.PartnerUnauthenticated);
    }
    await this.touch(row);
    return { tenantId: row.tenant_id, clientId: row.client_id, keyId: row.key_id, scopes: knownScopes(row.scopes), tier: row.tier, via: 'api_key' };
  }

  private async byToken(token: string, meta: RequestMeta): Promise<VerifiedPartnerCredential> {
    let claims;
    try {
      claims = await this.tokens.verifyPartner(token);
    } catch (error) {
      this.logger.info({ event: 'partner.auth_refused', reason: 'token_invalid', detail: error instanceof AccessTokenError ? error.reason : 'error', ip: meta.ip }, 'partner credential refused');
      throw new AuthError(AuthErrorCode.PartnerUnauthenticated);
    }
    const row = await this.repository.partnerClientLookup(claims.client_id);
    // A token whose tenant disagrees with its client's cannot have been issued by us.
    if (!row || row.tenant_id !== claims.tid) throw this.refuse('token_invalid', meta, 'access_token');
    const refusal = this.stateRefusal(row, row, meta.ip);
    if (refusal) {
      await this.refuseGenuine(refusal, row.tenant_id, row.client_id, meta, 'access_token');
      throw new AuthError(AuthErrorCode.PartnerUnauthenticated);
    }
    // Scopes removed from the client since the token was issued are gone at once.
    const current = knownScopes(row.scopes);
    const scopes = current.filter((s) => claims.scope.includes(s));
    return { tenantId: row.tenant_id, clientId: row.client_id, scopes, tier: row.tier, via: 'access_token' };
  }

  private stateRefusal(row: PartnerClientState, client: { expires_at: Date | null; revoked_at: Date | null }, ip: string): Refusal | undefined {
    if (row.environment !== partnerEnvironment(this.config)) return 'wrong_environment';
    if (client.revoked_at) return 'client_revoked';
    if (client.expires_at && client.expires_at.getTime() <= this.clock.now().getTime()) return 'client_expired';
    if (row.tenant_status !== 'active') return 'tenant_suspended';
    if (!ipAllowed(ip, row.ip_allowlist)) return 'ip_not_allowed';
    return undefined;
  }

  /** Logs a refusal and returns the one error every refusal gets. */
  private refuse(reason: Refusal, meta: RequestMeta, via: string): AuthError {
    this.logger.info({ event: 'partner.auth_refused', reason, via, ip: meta.ip, requestId: meta.requestId }, 'partner credential refused');
    return new AuthError(AuthErrorCode.PartnerUnauthenticated);
  }

  /** A genuine credential (its secret matched) used where it no longer may be: audited too. */
  private async refuseGenuine(reason: Refusal, tenantId: string, clientId: string, meta: RequestMeta, via: string, keyId?: string): Promise<void> {
    this.logger.warn({ event: 'partner.auth_refused', reason, via, tenantId, clientId, keyId, ip: meta.ip, requestId: meta.requestId }, 'partner credential refused');
    await this.audit.recordFor(tenantId, {
      type: 'partner.auth_refused',
      outcome: 'denied',
      actor: `partner:${clientId}`,
      subject: keyId ? `partner_key:${keyId}` : `partner_client:${clientId}`,
      ip: meta.ip,
      ...(meta.requestId ? { requestId: meta.requestId } : {}),
      data: { reason, via },
    });
  }

  private async touch(row: PartnerKeyRow): Promise<void> {
    const now = this.clock.now();
    if (row.last_used_at && now.getTime() - row.last_used_at.getTime() < LAST_USED_RESOLUTION_MS) return;
    const scope = Scope.for(row.tenant_id, { kind: 'system', name: 'partner-auth' });
    await this.repository.touchKey(scope, row.key_id, now);
  }
}
