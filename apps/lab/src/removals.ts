import { Catch, Controller, Get, Inject, Injectable, type ExceptionFilter, type ExecutionContext, type PipeTransform, type Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createPrismaAbility } from '@casl/prisma/runtime';
import { decodeJwt } from 'jose';
import { AccessTokens, AuthError, AuthErrorCode, PartnerAuthService, PartnerCredentials, PasswordHasher, RefreshTokens, RevocationStore, SigningKeys, type AccessClaims, type SigningKey, type RequestMeta, type Revocation, type VerifiedPartnerCredential } from '@benteng/auth';
import { AbilityFactory, defineAbilityFor, definePlatformAbility, PARTNER_SCOPES, type AppAbility, type OperatorPrincipal, type PartnerScope, type PartnerTier, type Principal } from '@benteng/authz';
import { AccessLog, AuditLog } from '@benteng/audit';
import { PrismaService, TenantDatabase, type MembershipRole, type TenantTx } from '@benteng/database';
import { DocumentTypeDetector, type DocumentType } from '@benteng/documents';
import { CsvFormulaGuard, DownloadLinks, type DownloadLinkClaims, type PresentedLink } from '@benteng/exports';
import { InvitationsService, type InvitationView } from '@benteng/members';
import { PaymentWebhookVerifier, type VerifiedDelivery } from '@benteng/payments';
import { AbuseDetector, EgressError, LoginThrottle, policyName, RateLimiter, SafeHttpClient, type ActiveBlock, SERVICE_SIGNATURE_HEADERS, type EgressRequestOptions, type EgressResponse, type IncomingServiceRequest, type RateLimitResult, type RateLimitSubject, type Sensitivity, type ServiceSignatureResult } from '@benteng/security';
import type { Scope } from '@benteng/tenancy';
import { JobSigner, parseEnvelope } from '@benteng/jobs';
import { PartnerRequestSignatures, type SignatureOutcome } from '@benteng/partners';
import { WebhookSigner, type SignedHeaders } from '@benteng/webhooks';
import { Anonymous, ROUTE_ACCESS, type RouteAccess } from '../../api/src/http/access.decorator.js';
import { DeclaredAccess } from '../../api/src/http/gate/declared-access.js';
import { ProblemDetailsFilter } from '../../api/src/http/problem-details.filter.js';
import { SecurityHeaders } from '../../api/src/http/security-headers.js';
import { RequestValidationPipe } from '../../api/src/http/validation.js';
import { RouteInventory } from '../../api/src/http/route-inventory.js';
import { InternalSignatures } from '../../api/src/internal/internal-signatures.js';
import { InternalProblemDetailsFilter } from '../../api/src/internal/internal-problem-details.filter.js';
import { LogRedaction, type LoggedRequest } from '../../api/src/logging/logging.js';
import { InvoiceResponses, type InvoiceResponse } from '../../api/src/public/invoice.response.js';
import type { ControlId } from '../../../test/security/support/controls.js';

/**
 * The controls removed: each class below replaces one provider of the real application through
 * Nest's DI (production code is never edited). This module is the one seam shared by the
 * kill-switch scenarios (test/security/kill-switches/, which build one app with the control and
 * one without) and the training lab (apps/lab/src/lab.ts, `npm run lab -- <CONTROL-ID>`, which runs
 * the seeded demo with one control removed). Dev-only: apps/dev/tsconfig.build.json leaves apps/lab
 * out of dist/, so neither the production build nor the image contains it.
 */

// --- Authentication -------------------------------------------------------------------------------

/** AUTHN-ACCESS-TOKEN removed: the payload is believed as it is, signed or not. */
export class UnverifiedAccessTokens extends AccessTokens {
  override verify(token: string): Promise<AccessClaims> {
    return Promise.resolve(decodeJwt(token) as unknown as AccessClaims);
  }
}

/** AUTHN-REVOCATION removed: no session, user or tenant is ever considered revoked. */
export class NeverRevoked extends RevocationStore {
  override isRevoked(): Promise<boolean> {
    return Promise.resolve(false);
  }
}

/** AUTHN-REFRESH-ROTATION removed: a refresh token is never spent, so it can be presented again and again. */
export class NonRotatingRefreshTokens extends RefreshTokens {
  override wasSpent(): boolean {
    return false;
  }

  override async spend(tx: TenantTx, id: string, now: Date): Promise<boolean> {
    await tx.refreshToken.updateMany({ where: { id }, data: { rotatedAt: now } });
    return true;
  }
}

/** AUTHN-LOGIN-THROTTLE removed: every attempt is allowed and no failure is counted. */
export const UNTHROTTLED: Pick<LoginThrottle, 'check' | 'recordFailure' | 'recordSuccess' | 'checkRefresh' | 'recordRefreshFailure'> = {
  check: () => Promise.resolve({ allowed: true }),
  recordFailure: () => Promise.resolve({ blocked: null, blockS: 0 }),
  recordSuccess: () => Promise.resolve(),
  checkRefresh: () => Promise.resolve({ allowed: true }),
  recordRefreshFailure: () => Promise.resolve(),
};

/** What NoDummyHash hands LoginService for an account that does not exist: no hash at all. */
const NO_ACCOUNT_HASH = '(no account)';

/**
 * AUTHN-ACCOUNT-ENUMERATION removed: an unknown email is refused without any password
 * verification (no dummy hash), as `if (!user) throw invalidCredentials()` does; a known email
 * still costs its argon2id verification (libs/auth/src/password-hasher.ts).
 */
export class NoDummyHash extends PasswordHasher {
  override dummyHash(): Promise<string> {
    return Promise.resolve(NO_ACCOUNT_HASH);
  }

  override verify(encoded: string, password: string): Promise<boolean> {
    return encoded === NO_ACCOUNT_HASH ? Promise.resolve(false) : super.verify(encoded, password);
  }
}

interface KeyLookupRow {
  tenant_id: string;
  client_id: string;
  key_id: string;
  key_hash: string;
  scopes: string[];
  tier: PartnerTier;
}

/**
 * AUTHN-PARTNER-CREDENTIALS removed: a key is accepted when its secret matches its stored hash,
 * whatever its revocation, expiry, environment, client or tenant say.
 */
@Injectable()
export class SecretOnlyPartnerAuth {
  constructor(
    @Inject(PrismaService) private readonly prisma: PrismaService,
    @Inject(PartnerCredentials) private readonly credentials: PartnerCredentials,
  ) {}

  async authenticate(credential: string): Promise<VerifiedPartnerCredential> {
    const parsed = this.credentials.parseKey(credential);
    const rows = parsed ? await this.prisma.client.$queryRaw<KeyLookupRow[]>`SELECT * FROM partner_key_lookup(${parsed.prefix})` : [];
    const row = rows[0];
    if (!row || !this.credentials.keyMatches(credential, row.key_hash)) throw new AuthError(AuthErrorCode.PartnerUnauthenticated);
    return { tenantId: row.tenant_id, clientId: row.client_id, keyId: row.key_id, scopes: row.scopes as PartnerScope[], tier: row.tier, via: 'api_key' };
  }
}

/** AUTHN-SERVICE-SIGNATURE removed: every request counts as signed, its operator header believed. */
export class UnsignedAccepted {
  verify(req: IncomingServiceRequest): Promise<ServiceSignatureResult> {
    const operator = req.headers[SERVICE_SIGNATURE_HEADERS.operator];
    const reason = req.headers[SERVICE_SIGNATURE_HEADERS.reason];
    return Promise.resolve({
      ok: true,
      service: 'unverified',
      keyId: 'none',
      ...(typeof operator === 'string' ? { operatorId: operator } : {}),
      ...(typeof reason === 'string' ? { reason: decodeURIComponent(reason) } : {}),
    });
  }
}

/**
 * SECRETS-LIFECYCLE (the emergency rotation) removed: SigningKeys that forget revocations, so a
 * ring key revoked by `npm run keys:rotate -- access-token --emergency` keeps verifying the tokens
 * it signed (what the emergency rotation must stop).
 */
export class IgnoresRevocation extends SigningKeys {
  override find(kid: string): SigningKey | undefined {
    return this.verifiesRevoked(kid) ?? super.find(kid);
  }

  private revokedKeys = new Map<string, SigningKey>();

  /** Remembers every key it ever verified with, so a later revocation changes nothing. */
  private verifiesRevoked(kid: string): SigningKey | undefined {
    const current = super.find(kid);
    if (current) this.revokedKeys.set(kid, current);
    return this.revokedKeys.get(kid);
  }
}

// --- Authorization ----------------------------------------------------------------------------------

/** An ability rebuilt from another's rules with every rule's conditions mapped (undefined: no condition). */
export function withConditions(ability: AppAbility, map: (conditions: Record<string, unknown>) => Record<string, unknown> | undefined): AppAbility {
  const rules = ability.rules.map((rule) => {
    const conditions = rule.conditions ? map(rule.conditions as Record<string, unknown>) : undefined;
    const { conditions: _dropped, ...rest } = rule;
    return conditions && Object.keys(conditions).length > 0 ? { ...rest, conditions } : rest;
  });
  return createPrismaAbility(rules as never) as unknown as AppAbility;
}

/** Function level removed: the role is not consulted, every member of a tenant gets the owner's rules. */
@Injectable()
export class RoleBlindAbilities extends AbilityFactory {
  override forTenant(tenantId: string, principal: Principal): AppAbility {
    return defineAbilityFor(tenantId, principal.kind === 'user' ? { ...principal, role: 'owner' } : principal);
  }
}

/** Object level removed: every rule keeps its tenant condition and loses the rest (opened by, assigned to, own…). */
@Injectable()
export class TenantOnlyAbilities extends AbilityFactory {
  override forTenant(tenantId: string, principal: Principal): AppAbility {
    return withConditions(defineAbilityFor(tenantId, principal), (c) => ('tenantId' in c ? { tenantId: c.tenantId } : undefined));
  }
}

/** Partner scopes removed: every partner client acts as if granted every scope. */
@Injectable()
export class ScopeBlindAbilities extends AbilityFactory {
  override forTenant(tenantId: string, principal: Principal): AppAbility {
    return defineAbilityFor(tenantId, principal.kind === 'partner' ? { ...principal, scopes: [...PARTNER_SCOPES] } : principal);
  }
}

/** Operator roles removed: every active operator gets the platform-admin's rules. */
@Injectable()
export class RoleBlindPlatformAbilities extends AbilityFactory {
  override forPlatform(principal: OperatorPrincipal): AppAbility {
    return definePlatformAbility({ ...principal, roles: ['platform-admin'] });
  }
}

/** DeclaredAccess with the permissive default most frameworks have: an undeclared route is public. */
export class OpenByDefaultAccess extends DeclaredAccess {
  override of(context: ExecutionContext): RouteAccess {
    const declared = (Reflect.getMetadata(ROUTE_ACCESS, context.getHandler()) ?? Reflect.getMetadata(ROUTE_ACCESS, context.getClass())) as RouteAccess | undefined;
    return declared ?? { auth: 'none', reason: 'undeclared' };
  }
}

/** Validation removed: the global pipe hands every body and query to the handler as it came. */
@Injectable()
export class NoValidationPipe implements PipeTransform {
  transform(value: unknown): unknown {
    return value;
  }
}

/** The response allowlist removed: the entity is serialized as it is, every column (what a default serializer does). */
@Injectable()
export class EntityResponses {
  shape(invoice: object): InvoiceResponse {
    return JSON.parse(JSON.stringify(invoice, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))) as InvoiceResponse;
  }
}

/**
 * MEMBERSHIP-CONSENT removed: the invitation is made as before, and the invited account, when one
 * exists, is attached at once, the way POST /v1/members did before issue 14. The account is found
 * by the application's own cross-tenant lookup (auth_login_lookup, what a login reads), and the
 * membership is written in the inviter's tenant transaction as the runtime role; nothing asks the
 * invitee.
 */
@Injectable()
export class AttachingInvitations extends InvitationsService {
  @Inject(PrismaService) private readonly prisma!: PrismaService;
  @Inject(TenantDatabase) private readonly db!: TenantDatabase;

  override async create(scope: Scope, input: { email: string; role: MembershipRole; displayName?: string }, meta: RequestMeta): Promise<{ invitation: InvitationView; token: string | null }> {
    const made = await super.create(scope, input, meta);
    const [account] = await this.prisma.client.$queryRaw<{ user_id: string }[]>`SELECT user_id FROM auth_login_lookup(${input.email.trim().toLowerCase()})`;
    if (account) {
      await this.db.run(scope, (tx) => tx.membership.create({ data: { tenantId: scope.tenantId, userId: account.user_id, role: input.role, displayName: input.displayName ?? null }, select: { id: true } }));
    }
    return made;
  }
}

// --- Resource consumption and uploads ---------------------------------------------------------------

/** RateLimiter without limits: every request is admitted (the removed RATE-LIMIT control). */
export class UnlimitedRateLimiter {
  consume(subject: RateLimitSubject, sensitivity: Sensitivity): Promise<RateLimitResult> {
    return Promise.resolve({ allowed: true, policy: policyName(subject.principalClass, sensitivity), headers: {} });
  }

  /** No combined round trip: the gate's stages read for themselves and then call `consume`. */
  consumeUnless(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
}

/**
 * A type check that believes the file's name, as naive upload handlers do (the removed
 * UPLOAD-CONTENT control): `.pdf` is a PDF whatever its bytes are.
 */
export class DeclaredNameTypes extends DocumentTypeDetector {
  override detect(_content: Uint8Array, declaredName: string): Promise<DocumentType | null> {
    const extension = /\.([a-z0-9]+)$/i.exec(declaredName.trim())?.[1]?.toLowerCase();
    const byExtension: Record<string, DocumentType> = { pdf: 'application/pdf', png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', csv: 'text/csv' };
    return Promise.resolve(byExtension[extension ?? ''] ?? 'text/plain');
  }
}

/**
 * TRUSTED_PROXIES that trusts every peer: the two halves of the IPv4 and of the IPv6 space. The
 * variable refuses a /0 (trustProxyOption), but nothing stops an operator from writing this, which
 * is exactly `trustProxy: true`.
 */
export const TRUST_EVERY_PEER = '0.0.0.0/1,128.0.0.0/1,::/1,8000::/1';

/** AbuseDetector that never counts and never blocks (the removed ABUSE-DETECTION control). */
export const BLIND_ABUSE_DETECTOR: Pick<AbuseDetector, 'observe' | 'blockedFor' | 'lift' | 'recentObjects'> = {
  observe: () => Promise.resolve([]),
  blockedFor: () => Promise.resolve(undefined),
  lift: () => Promise.resolve(false),
  recentObjects: () => Promise.resolve({ notFound: [], read: [] }),
};

/**
 * An AbuseDetector whose every address block counts as explicit (the removed ABUSE-SHARED-ADDRESS
 * control): the address is refused before any credential is looked at, as an operator's deny is,
 * so one client's failures lock out everyone behind its address.
 */
export class AddressWideAbuseDetector extends AbuseDetector {
  override async blockedFor(ip: string | undefined, principal?: string): Promise<ActiveBlock | undefined> {
    const block = await super.blockedFor(ip, principal);
    return block && { ...block, source: 'explicit' };
  }
}

/** DOCUMENTS_MAX_BYTES at its ceiling (the removed upload half of BODY-LIMIT): 50 MiB, which no upload of the attack reaches. */
export const DOCUMENTS_MAX_BYTES_CEILING = String(50 * 1024 * 1024);

// --- Exports -------------------------------------------------------------------------------------

/** CSV-FORMULA removed (a worker provider): every cell is written as it is, formulas included. */
export const IDENTITY_CSV_GUARD: Pick<CsvFormulaGuard, 'neutralize'> = { neutralize: (value: string) => value };

/** EXPORT-LINK removed: DownloadLinks whose verify reads the claims off the link without checking signature or expiry, and which never asks after the minting session. */
export class UncheckedDownloadLinks extends DownloadLinks {
  override verify(link: PresentedLink): DownloadLinkClaims | null {
    return { tenantId: link.tenant, exportId: link.exportId, userId: link.user, sessionId: link.session, expires: Number(link.expires) };
  }

  override sessionLive(): Promise<boolean> {
    return Promise.resolve(true);
  }
}

// --- Webhooks -------------------------------------------------------------------------------------

/** PaymentWebhookVerifier whose verify believes any signature. */
export class TrustingPaymentVerifier extends PaymentWebhookVerifier {
  override verify(headers: { id: string; timestamp: string }): VerifiedDelivery {
    return { id: headers.id, timestamp: new Date(Number(headers.timestamp) * 1000) };
  }
}

// --- Errors, headers, logs ------------------------------------------------------------------------

class NeverThrown extends Error {}

/** A filter that catches nothing: every error falls through to Nest's default handling. */
@Catch(NeverThrown)
export class CatchesNothing implements ExceptionFilter {
  catch(): void {
    // Never reached: NeverThrown is never thrown.
  }
}

/** Registers no security header at all. */
export class NoSecurityHeaders extends SecurityHeaders {
  override register(_app: NestFastifyApplication): Promise<void> {
    return Promise.resolve();
  }
}

/** Redacts nothing: no censored paths, and the request as pino-http's standard serializer logs it (headers included). */
export class NoLogRedaction extends LogRedaction {
  override readonly paths: readonly string[] = [];

  override request(req: LoggedRequest): Record<string, unknown> {
    return { id: req.id, method: req.method, url: req.url, headers: req.headers, remoteAddress: req.remoteAddress };
  }

  override censor(fields: Record<string, unknown>): Record<string, unknown> {
    return fields;
  }
}

// --- Audit -----------------------------------------------------------------------------------------

/** AuditLog that records nothing (the removed AUDIT-TRAIL control): every write path still runs, without its trace. */
export class SilentAuditLog {
  record(): Promise<void> {
    return Promise.resolve();
  }
  recordFor(): Promise<void> {
    return Promise.resolve();
  }
  recordIn(): Promise<void> {
    return Promise.resolve();
  }
}

// --- Jobs, outbound webhooks and egress -----------------------------------------------------------

/** JOB-ENVELOPE removed: JobSigner.verify only checks the envelope's shape, the signature is believed as it is. */
export class ShapeOnlyJobSigner extends JobSigner {
  override verify(signed: unknown) {
    return parseEnvelope((signed as { envelope?: unknown } | null)?.envelope);
  }
}

/** WEBHOOK-SIGNING removed: a signer that signs nothing; the headers keep their names, the signature is empty. */
export class UnsignedWebhookSigner extends WebhookSigner {
  override sign(messageId: string, at: Date): SignedHeaders {
    return { 'webhook-id': messageId, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': '' };
  }
}

/** SSRF-EGRESS removed: an HTTP client with no destination checks at all, what a webhook sender without SafeHttpClient does. */
export class UnguardedHttpClient extends SafeHttpClient {
  override assertDeliverableUrl(): void {}

  override async post(url: string, body: string, headers: Record<string, string>, options: EgressRequestOptions = {}): Promise<EgressResponse> {
    const started = performance.now();
    try {
      const res = await fetch(url, { method: 'POST', body, headers, redirect: 'follow', signal: AbortSignal.timeout(options.timeoutMs ?? 5_000) });
      const text = await res.text();
      return { status: res.status, headers: Object.fromEntries(res.headers), body: text.slice(0, options.maxBytes ?? 1024), truncated: false, latencyMs: Math.round(performance.now() - started) };
    } catch {
      throw new EgressError('connect_failed', 'The connection failed.');
    }
  }
}

// --- Access records, privacy, partner request signing -----------------------------------------------

/** ACCESS-RECORD removed: an AccessLog that records nothing; requests are answered, their reads leave no record. */
export class SilentAccessLog {
  record(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * PRIVACY-ERASURE removed: the revocation store with publication removed. An erasure still deletes
 * the person's sessions in PostgreSQL, but the access tokens they hold are never announced as
 * revoked, so the gate keeps honouring them until they expire.
 */
export class SilentRevocationStore extends RevocationStore {
  override publish(_revocations: Revocation[]): Promise<void> {
    return Promise.resolve();
  }
}

/** PARTNER-REQUEST-SIGNING removed: every partner request counts as needing no signature, signed or not. */
export class NoSignatureCheck {
  verify(): Promise<SignatureOutcome> {
    return Promise.resolve({ signed: false });
  }
}

// --- API inventory ----------------------------------------------------------------------------------

/**
 * The careless change of the API-INVENTORY scenario (test/security/kill-switches/inventory.ts) and
 * lab mode: a debug route someone forgot to remove, outside every surface and every document, that
 * answers anyone with the process's internals.
 */
@Controller('debug')
@Anonymous('a debug route someone forgot to remove (the API-INVENTORY kill-switch scenario and lab mode)')
export class ForgottenDebugController {
  @Get('runtime')
  runtime(): { node: string; pid: number; environmentVariables: number; memory: number } {
    return { node: process.version, pid: process.pid, environmentVariables: Object.keys(process.env).length, memory: process.memoryUsage().rss };
  }
}

/** API-INVENTORY removed: a RouteInventory that watches nothing, so every route Fastify registers is served. */
export class NoRouteInventory extends RouteInventory {
  override watch(): void {}
}

// --- The lab's registry ---------------------------------------------------------------------------

/** One provider replaced: by a value, or by a class Nest instantiates with injection. */
export type Override = { token: unknown; value: unknown } | { token: unknown; useClass: Type };

const replace = (token: unknown, useClass: unknown): Override => ({ token, useClass: useClass as Type });

/** How the lab removes one control from the running demo. */
export interface LabRemoval {
  /** Word for word the `removal` of the kill-switch scenario this lab mode reproduces. */
  removal: string;
  /** Providers replaced in the public listener's application (AppModule). */
  api?: Override[];
  /** Providers replaced in the internal listener's application (InternalAppModule). */
  internal?: Override[];
  /** Providers replaced in the worker (WorkerModule). */
  worker?: Override[];
  /** Configuration variables set for the lab's processes (over the environment). */
  env?: Record<string, string>;
  /**
   * A careless change the lab makes beside the removal: the kill-switch scenario's own, which the
   * control exists to catch (API-INVENTORY: a forgotten route, which a build with the inventory on
   * refuses to serve). Without it the demo gives the removed control nothing to miss.
   */
  change?: {
    /** What the change is, for the lab's banner and the exercise. */
    description: string;
    /** Controllers added to the public listener's application (AppModule). */
    controllers: Type[];
  };
  /** The processes connect with the migration owner's login (DATABASE_URL) instead of the runtime role's: row-level security no longer applies. */
  runtimeAsOwner?: boolean;
}

/**
 * Every control that has a lab mode, with exactly one scenario's removal. Controls missing here are
 * listed, with the reason, in NOT_IN_LAB (test/security/training.spec.ts checks that the two cover
 * the catalog, and that each removal is the text of one of that control's kill-switch scenarios).
 */
export const LAB_REMOVALS: Partial<Record<ControlId, LabRemoval>> = {
  'AUTHN-ACCESS-TOKEN': { removal: 'AccessTokens.verify is replaced by a decoder that checks nothing', api: [replace(AccessTokens, UnverifiedAccessTokens)] },
  'AUTHN-REVOCATION': { removal: 'RevocationStore.isRevoked always answers "not revoked"', api: [replace(RevocationStore, NeverRevoked)] },
  'AUTHN-REFRESH-ROTATION': { removal: 'RefreshTokens.wasSpent and RefreshTokens.spend treat every refresh token as unspent', api: [replace(RefreshTokens, NonRotatingRefreshTokens)] },
  'AUTHN-LOGIN-THROTTLE': { removal: 'LoginThrottle is replaced by one that allows every attempt and counts nothing', api: [{ token: LoginThrottle, value: UNTHROTTLED }] },
  'AUTHN-PARTNER-CREDENTIALS': {
    removal: 'PartnerAuthService is replaced by a verifier that checks only the key\u2019s secret (not its revocation, expiry, environment or tenant)',
    api: [replace(PartnerAuthService, SecretOnlyPartnerAuth)],
  },
  'AUTHN-SERVICE-SIGNATURE': { removal: 'InternalSignatures.verify accepts every request and believes its X-Benteng-Operator header', internal: [replace(InternalSignatures, UnsignedAccepted)] },
  'AUTHZ-FUNCTION': { removal: 'the ability factory ignores the role (every member of the tenant gets the owner\u2019s permissions)', api: [replace(AbilityFactory, RoleBlindAbilities)] },
  'AUTHZ-OBJECT': { removal: 'the ability factory keeps only each rule\u2019s tenant condition (the opened-by / assigned-to conditions are gone)', api: [replace(AbilityFactory, TenantOnlyAbilities)] },
  'AUTHZ-PARTNER-SCOPES': { removal: 'the ability factory ignores the partner client\u2019s scopes (every client acts with every scope)', api: [replace(AbilityFactory, ScopeBlindAbilities)] },
  'AUTHZ-OPERATOR': { removal: 'the platform ability factory ignores the operator\u2019s roles (every active operator gets platform-admin\u2019s rules)', internal: [replace(AbilityFactory, RoleBlindPlatformAbilities)] },
  'INPUT-VALIDATION': { removal: 'the global validation pipe (RequestValidationPipe) passes every body through unchecked', api: [replace(RequestValidationPipe, NoValidationPipe)] },
  'OUTPUT-ALLOWLIST': { removal: 'the invoice response shape (InvoiceResponses) is replaced by a plain serialization of the entity', api: [replace(InvoiceResponses, EntityResponses)] },
  'RATE-LIMIT': { removal: 'RateLimiter is replaced by one that admits every request', api: [replace(RateLimiter, UnlimitedRateLimiter)] },
  'CLIENT-IP-TRUST': { removal: `TRUSTED_PROXIES trusts every peer (${TRUST_EVERY_PEER}) instead of the real proxy range 10.0.0.0/8`, env: { TRUSTED_PROXIES: TRUST_EVERY_PEER } },
  'UPLOAD-CONTENT': { removal: 'DocumentTypeDetector is replaced by one that believes the file name', api: [replace(DocumentTypeDetector, DeclaredNameTypes)] },
  'CSV-FORMULA': { removal: 'CsvFormulaGuard.neutralize is replaced by the identity (cells written as they are)', worker: [{ token: CsvFormulaGuard, value: IDENTITY_CSV_GUARD }] },
  'WEBHOOK-INBOUND': { removal: 'PaymentWebhookVerifier.verify is replaced by one that believes any signature', api: [replace(PaymentWebhookVerifier, TrustingPaymentVerifier)] },
  'ERROR-PROBLEM': {
    removal: 'ProblemDetailsFilter is replaced by a filter that catches nothing (Nest\u2019s default error handling)',
    api: [replace(ProblemDetailsFilter, CatchesNothing)],
    internal: [replace(InternalProblemDetailsFilter, CatchesNothing)],
  },
  'SECURITY-HEADERS': {
    removal: 'SecurityHeaders.register (helmet with HELMET_OPTIONS) registers nothing on the public listener',
    api: [replace(SecurityHeaders, NoSecurityHeaders)],
    internal: [replace(SecurityHeaders, NoSecurityHeaders)],
  },
  'LOG-REDACTION': { removal: 'LogRedaction is replaced by one that censors no path and logs requests with their headers', api: [replace(LogRedaction, NoLogRedaction)], internal: [replace(LogRedaction, NoLogRedaction)] },
  'MEMBERSHIP-CONSENT': { removal: 'the invitations service is replaced (DI) by one that attaches an existing account as soon as it is invited', api: [replace(InvitationsService, AttachingInvitations)] },
  'ABUSE-DETECTION': { removal: 'AbuseDetector is replaced by one that never counts and never blocks', api: [{ token: AbuseDetector, value: BLIND_ABUSE_DETECTOR }] },
  'ABUSE-SHARED-ADDRESS': { removal: 'AbuseDetector reports every address block as explicit, so the address is refused before any credential is looked at', api: [replace(AbuseDetector, AddressWideAbuseDetector)] },
  'BODY-LIMIT': { removal: 'DOCUMENTS_MAX_BYTES (the multipart file limit and the service check) is raised to its ceiling (50 MiB)', env: { DOCUMENTS_MAX_BYTES: DOCUMENTS_MAX_BYTES_CEILING } },
  'EXPORT-LINK': { removal: 'DownloadLinks is replaced by one that reads the claims without checking the signature, expiry or minting session', api: [replace(DownloadLinks, UncheckedDownloadLinks)] },
  'AUDIT-TRAIL': { removal: 'AuditLog is replaced by a writer that records nothing', api: [replace(AuditLog, SilentAuditLog)] },
  'PRIVACY-ERASURE': { removal: "RevocationStore.publish does nothing, so the erased person's sessions are never announced as revoked", api: [replace(RevocationStore, SilentRevocationStore)] },
  'PARTNER-REQUEST-SIGNING': { removal: 'PartnerRequestSignatures is replaced by a verifier that asks for no signature and checks none', api: [replace(PartnerRequestSignatures, NoSignatureCheck)] },
  'WEBHOOK-SIGNING': { removal: 'WebhookSigner.sign is replaced by one that sends the headers with an empty signature', worker: [replace(WebhookSigner, UnsignedWebhookSigner)] },
  'SSRF-EGRESS': { removal: 'SafeHttpClient is replaced by a plain HTTP client without destination checks', worker: [replace(SafeHttpClient, UnguardedHttpClient)] },
  'ACCESS-RECORD': { removal: 'AccessLog is replaced by a writer that records nothing', api: [replace(AccessLog, SilentAccessLog)] },
  'AUTHN-ACCOUNT-ENUMERATION': { removal: 'PasswordHasher has no dummy hash: an unknown email is refused without a password verification', api: [replace(PasswordHasher, NoDummyHash)] },
  'TENANT-RLS': { removal: 'the API connects as a role that bypasses row-level security (DATABASE_APP_URL = the owner role)', runtimeAsOwner: true },
  'JOB-ENVELOPE': { removal: 'JobSigner.verify is replaced by a shape check that believes the signature', worker: [replace(JobSigner, ShapeOnlyJobSigner)] },
  'SECRETS-LIFECYCLE': { removal: 'SigningKeys is replaced by one that keeps verifying with every key it once knew (revocation ignored)', api: [replace(SigningKeys, IgnoresRevocation)] },
  'API-INVENTORY': {
    removal: 'RouteInventory is replaced by one that watches nothing',
    api: [replace(RouteInventory, NoRouteInventory)],
    change: {
      description:
        'a change left a debug controller in the application (the kill-switch scenario\u2019s forgotten route): GET /debug/runtime, anonymous, outside every surface and OpenAPI document. With the inventory on, this build refuses to start',
      controllers: [ForgottenDebugController],
    },
  },
};

/**
 * Controls without a lab mode, and why: the running demo cannot show the harm of their removal
 * with a few requests, or the removal is only meaningful beside a target the scenario builds.
 */
export const NOT_IN_LAB: Partial<Record<ControlId, string>> = {
};
