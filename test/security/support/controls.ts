/**
 * The controls Benteng claims, one entry each: what threat it answers, which OWASP API Security
 * Top 10 (2023) item and ASVS 5.0 chapter it belongs to, and where its code lives. This table is
 * the source of docs/controls.md and the training report (`npm run security:report`): every entry
 * needs at least one attack test tagged with its id (`tag(id, title)`) and at least one kill-switch
 * scenario (test/security/kill-switches/) whose outcome is "detected", or the suite fails.
 *
 * Code locations are `path#symbol`; test/security/controls-catalog.spec.ts checks that each file
 * exists and names the symbol, so the map cannot point at code that moved away.
 */

/** OWASP API Security Top 10, 2023 edition. */
export const OWASP_API = {
  'API1:2023': 'Broken Object Level Authorization',
  'API2:2023': 'Broken Authentication',
  'API3:2023': 'Broken Object Property Level Authorization',
  'API4:2023': 'Unrestricted Resource Consumption',
  'API5:2023': 'Broken Function Level Authorization',
  'API6:2023': 'Unrestricted Access to Sensitive Business Flows',
  'API7:2023': 'Server Side Request Forgery',
  'API8:2023': 'Security Misconfiguration',
  'API9:2023': 'Improper Inventory Management',
  'API10:2023': 'Unsafe Consumption of APIs',
} as const;
export type OwaspApiItem = keyof typeof OWASP_API;

/** OWASP ASVS 5.0 chapters. */
export const ASVS = {
  V1: 'Encoding and Sanitization',
  V2: 'Validation and Business Logic',
  V3: 'Web Frontend Security',
  V4: 'API and Web Service',
  V5: 'File Handling',
  V6: 'Authentication',
  V7: 'Session Management',
  V8: 'Authorization',
  V9: 'Self-contained Tokens',
  V10: 'OAuth and OIDC',
  V11: 'Cryptography',
  V12: 'Secure Communication',
  V13: 'Configuration',
  V14: 'Data Protection',
  V15: 'Secure Coding and Architecture',
  V16: 'Security Logging and Error Handling',
  V17: 'WebRTC',
} as const;
export type AsvsChapter = keyof typeof ASVS;

export interface ControlDefinition {
  title: string;
  /** What goes wrong without it, for the training report (one or two sentences). */
  threat: string;
  owasp: readonly OwaspApiItem[];
  asvs: readonly AsvsChapter[];
  /** `path#symbol`, relative to the repository root. */
  code: readonly string[];
}

const define = <T extends Record<string, ControlDefinition>>(controls: T): T => controls;

export const CONTROLS = define({
  // --- Authentication and sessions --------------------------------------------------------------
  'AUTHN-ACCESS-TOKEN': {
    title: 'Access tokens are verified: signature, algorithm allowlist, issuer, exact audience, expiry, lifetime within the TTL',
    threat: 'A forged, unsigned (alg "none"), expired, over-long-lived or other-surface token is accepted, so anyone can act as any user.',
    owasp: ['API2:2023'],
    asvs: ['V9', 'V6'],
    code: ['libs/auth/src/access-tokens.ts#AccessTokens', 'libs/auth/src/public-jwt.strategy.ts#PublicJwtStrategy'],
  },
  'AUTHN-REVOCATION': {
    title: 'Every request re-checks that its session, user and tenant are still valid',
    threat: 'A logged-out session, a locked user or a suspended tenant keeps working until its token expires.',
    owasp: ['API2:2023'],
    asvs: ['V7'],
    code: ['libs/auth/src/revocation-store.ts#RevocationStore', 'libs/auth/src/public-jwt.strategy.ts#PublicJwtStrategy'],
  },
  'AUTHN-REFRESH-ROTATION': {
    title: 'Refresh tokens rotate on use; a reused refresh token ends the whole session family',
    threat: 'A stolen refresh token is replayed alongside the victim and keeps minting access tokens.',
    owasp: ['API2:2023'],
    asvs: ['V7', 'V9'],
    code: ['libs/auth/src/refresh-tokens.ts#RefreshTokens', 'libs/auth/src/refresh.service.ts#RefreshService'],
  },
  'AUTHN-LOGIN-THROTTLE': {
    title: 'Login attempts are throttled per account and per address',
    threat: 'Online password guessing and credential stuffing run at full speed.',
    owasp: ['API2:2023', 'API4:2023'],
    asvs: ['V6'],
    code: ['libs/security/src/login-throttle.ts#LoginThrottle'],
  },
  'AUTHN-ACCOUNT-ENUMERATION': {
    title: 'Failed logins look alike whether or not the account exists: same body, same hash work, same time',
    threat: 'A login that answers faster (or differently) for unknown emails tells an attacker which emails have accounts, to aim guessing and phishing at.',
    owasp: ['API2:2023'],
    asvs: ['V6'],
    code: ['libs/auth/src/login.service.ts#LoginService.login', 'libs/audit/src/deferred-audit-log.ts#DeferredAuditLog', 'libs/auth/src/password-hasher.ts#dummyHash'],
  },
  'AUTHN-PARTNER-CREDENTIALS': {
    title: 'Partner API keys and client tokens are verified against current state on every request',
    threat: 'A revoked, expired, other-environment or guessed partner key keeps access to tenant data.',
    owasp: ['API2:2023'],
    asvs: ['V6', 'V10'],
    code: ['libs/auth/src/partner-auth.service.ts#PartnerAuthService', 'libs/auth/src/partner.strategy.ts#PartnerStrategy'],
  },
  'PARTNER-REQUEST-SIGNING': {
    title: 'Partner requests are signed (RFC 9421, Ed25519, RFC 9530 Content-Digest) where the client requires it and on high-trust routes',
    threat:
      'Whoever steals a partner API key or token (a log, a proxy, a laptop) creates invoices in the tenant, and a signed request altered on the way (body, URI) or replayed is accepted as the partner’s.',
    owasp: ['API2:2023'],
    asvs: ['V4', 'V6', 'V11'],
    code: ['libs/partners/src/partner-request-signatures.ts#PartnerRequestSignatures', 'apps/api/src/http/gate/request-signature.stage.ts#RequestSignatureStage', 'libs/partners/src/partner-signing-keys.repository.ts#PartnerSigningKeysRepository'],
  },
  'AUTHN-SERVICE-SIGNATURE': {
    title: 'Internal requests carry an HMAC signature with timestamp window and single-use nonce',
    threat: 'Anyone who reaches the internal listener, or replays a captured request, runs platform administration.',
    owasp: ['API2:2023', 'API8:2023'],
    asvs: ['V4', 'V11'],
    code: ['libs/security/src/service-signature.ts#ServiceSignatureVerifier', 'apps/api/src/internal/internal-signatures.ts#InternalSignatures', 'apps/api/src/internal/internal-access.guard.ts#InternalAccessGuard'],
  },
  // --- Authorization and tenancy ----------------------------------------------------------------
  'AUTHZ-FUNCTION': {
    title: 'Every route declares an action and subject; the gate refuses principals without that permission',
    threat: 'A member or viewer calls an owner-only function (roles, partner clients, webhook endpoints).',
    owasp: ['API5:2023'],
    asvs: ['V8'],
    code: ['apps/api/src/http/gate/authorize.stage.ts#AuthorizeStage', 'libs/authz/src/ability.ts#defineAbilityFor', 'libs/authz/src/ability-factory.ts#AbilityFactory'],
  },
  'AUTHZ-OBJECT': {
    title: 'Repository queries are filtered by the CASL ability of the tenant scope (fail closed)',
    threat: 'A user reads or changes objects the role may not see (another member\u2019s ticket, a foreign tenant\u2019s invoice).',
    owasp: ['API1:2023'],
    asvs: ['V8'],
    code: ['libs/authz/src/accessible.ts#accessibleWhere', 'libs/authz/src/rules/tickets.rules.ts#ticketRules', 'libs/authz/src/ability-factory.ts#AbilityFactory'],
  },
  'TENANT-RLS': {
    title: 'PostgreSQL row-level security bounds every query to the transaction\u2019s tenant',
    threat: 'One query that forgets its tenant condition returns or changes every tenant\u2019s rows.',
    owasp: ['API1:2023'],
    asvs: ['V8', 'V15'],
    code: ['libs/database/src/tenant-database.ts#TenantDatabase', 'prisma/migrations/20261128000000_init/migration.sql#tenant_isolation', 'libs/config/src/load-config.ts#runtimeDatabaseUrl'],
  },
  'AUTHZ-PARTNER-SCOPES': {
    title: 'Partner credentials act only within their granted scopes',
    threat: 'A read-only integration key creates invoices or reads tickets it was never granted.',
    owasp: ['API5:2023'],
    asvs: ['V8', 'V10'],
    code: ['libs/authz/src/rules/partner.rules.ts#partnerRules', 'libs/authz/src/ability-factory.ts#AbilityFactory'],
  },
  'AUTHZ-OPERATOR': {
    title: 'Operators act on the platform only within their role',
    threat: 'A support operator suspends tenants or revokes credentials reserved for security staff.',
    owasp: ['API5:2023'],
    asvs: ['V8'],
    code: ['libs/authz/src/rules/operator.rules.ts#operatorRules', 'libs/authz/src/ability.ts#definePlatformAbility', 'apps/api/src/internal/internal-access.guard.ts#InternalAccessGuard'],
  },
  'MEMBERSHIP-CONSENT': {
    title: 'A tenant cannot attach an account without the account holder\u2019s consent (single-use, expiring invitations)',
    threat: 'A tenant adds the email of someone who has an account elsewhere; that person shows up in the tenant\u2019s member list, can be assigned tickets and gets the tenant in their account, without ever agreeing.',
    owasp: ['API1:2023', 'API6:2023'],
    asvs: ['V8', 'V2'],
    code: ['libs/members/src/invitations.service.ts#InvitationsService', 'libs/members/src/invitations.repository.ts#InvitationsRepository', 'libs/members/src/invitation-tokens.ts#InvitationTokens', 'prisma/migrations/20261207060000_invitations/migration.sql#invitation_lookup'],
  },
  'INPUT-VALIDATION': {
    title: 'Request bodies and queries are validated against allowlisted DTOs (unknown fields refused, nested objects and pagination cursors type-checked)',
    threat: 'Mass assignment (status, tenantId, createdBy) and malformed input (an array where an object belongs, a forged pagination cursor) reach the database.',
    owasp: ['API3:2023', 'API8:2023'],
    asvs: ['V2', 'V15'],
    code: [
      'apps/api/src/http/validation.ts#RequestValidationPipe',
      'apps/api/src/http/validation.ts#strictValidation',
      'apps/api/src/http/validation.ts#structuralErrors',
      'apps/api/src/http/unexpected-body.interceptor.ts#UnexpectedBodyInterceptor',
      'apps/api/src/http/nested.decorator.ts#NestedObject',
      'apps/api/src/http/pagination.ts#decodeCursor',
      'apps/api/src/http/media-types.ts#refuseUndeclaredMediaTypes',
    ],
  },
  'OUTPUT-ALLOWLIST': {
    title: 'Responses carry only the allowlisted fields of each resource',
    threat: 'Hashes, secrets, internal flags or other users\u2019 data leak through response bodies.',
    owasp: ['API3:2023'],
    asvs: ['V14', 'V8'],
    code: ['apps/api/src/public/invoice.response.ts#InvoiceResponses', 'apps/api/src/public/invoice.response.ts#invoiceResponse', 'apps/api/src/partner/invoice.response.ts#partnerInvoiceResponse', 'libs/authz/src/visible-fields.ts#visibleFields'],
  },
  // --- Resource consumption and abuse -----------------------------------------------------------
  'RATE-LIMIT': {
    title: 'Tiered rate limits per principal and sensitivity, shared across instances',
    threat: 'One client exhausts the service for everyone, or scrapes and brute-forces without limit.',
    owasp: ['API4:2023'],
    asvs: ['V2'],
    code: ['libs/security/src/rate-limiter.ts#RateLimiter', 'libs/security/src/rate-limit-policy.ts#rateLimitPolicy', 'apps/api/src/http/gate/rate-limit.stage.ts#RateLimitStage'],
  },
  'CLIENT-IP-TRUST': {
    title: 'X-Forwarded-For is honoured only from configured trusted proxies',
    threat: 'A client rotates a spoofed X-Forwarded-For to escape per-address limits and blocks.',
    owasp: ['API4:2023', 'API8:2023'],
    asvs: ['V4', 'V13'],
    code: ['libs/security/src/client-ip.ts#trustProxyOption', 'libs/security/src/client-ip.ts#clientIp', 'apps/api/src/app.factory.ts#createFastifyAdapter'],
  },
  'ABUSE-DETECTION': {
    title: 'Enumeration, scraping and credential-failure storms block the principal and its address',
    threat: 'An attacker walks object ids or guesses credentials for as long as they like.',
    owasp: ['API6:2023', 'API1:2023'],
    asvs: ['V2', 'V16'],
    code: ['libs/security/src/abuse-detector.ts#AbuseDetector', 'apps/api/src/http/abuse-observer.ts#AbuseObserver', 'libs/security/src/security-blocks.service.ts#SecurityBlocksService'],
  },
  'ABUSE-SHARED-ADDRESS': {
    title: 'One client\u2019s failures on a shared address do not lock out the other principals behind it',
    threat:
      'An anonymous client behind an office NAT, a carrier\u2019s CGNAT or a partner\u2019s egress sends bad tokens, keys or passwords until the address is blocked or throttled, and every valid user and partner behind that address is refused, again and again.',
    owasp: ['API4:2023', 'API2:2023'],
    asvs: ['V2', 'V6'],
    code: [
      'apps/api/src/http/access.guard.ts#AccessGuard.canActivate',
      'apps/api/src/http/gate/address-block.stage.ts#AddressBlockStage',
      'libs/security/src/abuse-detector.ts#AbuseDetector.blockedFor',
      'libs/security/src/login-throttle.ts#LoginThrottle.check',
      'libs/auth/src/refresh.service.ts#RefreshService.refresh',
    ],
  },
  'BODY-LIMIT': {
    title: 'Request bodies and uploads are size-limited at the edge',
    threat: 'Huge bodies exhaust memory and CPU of the API.',
    owasp: ['API4:2023'],
    asvs: ['V4', 'V5'],
    code: ['apps/api/src/app.factory.ts#createFastifyAdapter', 'apps/api/src/http/single-file-upload.interceptor.ts#multipartLimits', 'apps/api/src/http/single-file-upload.interceptor.ts#SingleFileUploadInterceptor'],
  },
  'UPLOAD-CONTENT': {
    title: 'Uploaded documents are accepted by their sniffed content type, not the declared one',
    threat: 'HTML or executables are stored as "PDF" and later served to other users.',
    owasp: ['API8:2023'],
    asvs: ['V5'],
    code: ['libs/documents/src/document-type.ts#DocumentTypeDetector', 'libs/documents/src/document-type.ts#detectDocumentType'],
  },
  // --- Jobs, exports and webhooks ---------------------------------------------------------------
  'JOB-ENVELOPE': {
    title: 'Jobs carry a signed tenant context that the worker verifies and re-derives',
    threat: 'Anyone who can write to Redis makes the worker act in another tenant or as another user.',
    owasp: ['API8:2023'],
    asvs: ['V11', 'V15'],
    code: ['libs/jobs/src/job-signer.ts#JobSigner', 'libs/jobs/src/tenant-job.processor.ts#TenantJobProcessor', 'libs/jobs/src/job-actors.ts#JobActors'],
  },
  'EXPORT-LINK': {
    title: 'Export downloads need the requester\u2019s token or a short-lived signed link bound to them and their session',
    threat: 'A guessed or edited download link hands a tenant\u2019s full export to someone else, or a leaked link keeps working after its user logged out everywhere.',
    owasp: ['API1:2023', 'API2:2023'],
    asvs: ['V8', 'V11'],
    code: ['libs/exports/src/download-links.ts#DownloadLinks', 'libs/exports/src/download-links.ts#verifyDownloadLink', 'libs/exports/src/exports.service.ts#openLinkDownload'],
  },
  'CSV-FORMULA': {
    title: 'CSV exports neutralise spreadsheet formulas',
    threat: 'A customer name like =HYPERLINK(...) runs as a formula on the exporter\u2019s machine.',
    owasp: ['API8:2023'],
    asvs: ['V1'],
    code: ['libs/exports/src/export-formats.ts#neutralizeCell', 'libs/exports/src/export-formats.ts#CsvFormulaGuard'],
  },
  'WEBHOOK-SIGNING': {
    title: 'Outbound webhooks are signed (Standard Webhooks) with per-endpoint secrets',
    threat: 'Receivers cannot tell Benteng\u2019s events from forged ones.',
    owasp: ['API8:2023'],
    asvs: ['V11', 'V4'],
    code: ['libs/webhooks/src/webhook-signer.ts#WebhookSigner', 'libs/webhooks/src/webhook-signer.ts#signatureHeaders', 'libs/webhooks/src/webhook-secret-box.ts#WebhookSecretBox'],
  },
  'WEBHOOK-INBOUND': {
    title: 'Inbound provider webhooks are verified over raw bytes, time-boxed and deduplicated',
    threat: 'A forged or replayed "payment succeeded" event marks invoices paid.',
    owasp: ['API10:2023'],
    asvs: ['V4', 'V11'],
    code: ['libs/payments/src/payment-webhook.verifier.ts#PaymentWebhookVerifier', 'apps/api/src/inbound/payment-signature.guard.ts#PaymentSignatureGuard', 'libs/payments/src/payments.service.ts#dedupeKeyOf'],
  },
  'SSRF-EGRESS': {
    title: 'Outbound HTTP reaches public unicast addresses only, checked at connect time',
    threat: 'A webhook URL points at 169.254.169.254, localhost or the internal network.',
    owasp: ['API7:2023'],
    asvs: ['V1', 'V12'],
    code: ['libs/security/src/safe-http-client.ts#SafeHttpClient', 'libs/security/src/safe-http-client.ts#checkUrl', 'libs/security/src/safe-http-client.ts#guardedLookup'],
  },
  'API-INVENTORY': {
    title: 'Each listener serves exactly its inventory: its route catalog and its OpenAPI documents, every route under a versioned surface prefix',
    threat: 'A forgotten debug route, an endpoint a plugin added behind the documents\u2019 back, or an operator route on the public listener is served, unreviewed and unprotected.',
    owasp: ['API9:2023'],
    asvs: ['V4', 'V13'],
    code: ['apps/api/src/http/route-inventory.ts#RouteInventory', 'apps/api/src/http/route-catalog.ts#listRoutes'],
  },
  // --- Errors, logs, headers --------------------------------------------------------------------
  'ERROR-PROBLEM': {
    title: 'Every error is RFC 9457 problem+json without stack traces or internal messages',
    threat: 'Error bodies reveal stack traces, SQL or internal state.',
    owasp: ['API8:2023'],
    asvs: ['V16'],
    code: [
      'apps/api/src/http/problem-details.filter.ts#ProblemDetailsFilter',
      'apps/api/src/internal/internal-problem-details.filter.ts#InternalProblemDetailsFilter',
      'apps/api/src/app.factory.ts#createFastifyAdapter',
      'apps/api/src/http/client-errors.ts#clientErrorHandler',
    ],
  },
  'LOG-REDACTION': {
    title: 'Logs redact credentials, tokens and secrets wherever they appear',
    threat: 'Passwords, tokens and keys end up in log storage readable by many more people.',
    owasp: ['API8:2023'],
    asvs: ['V16', 'V14'],
    code: ['libs/common/src/redaction.ts#REDACT_PATHS', 'apps/api/src/logging/logging.ts#LogRedaction', 'libs/common/src/log-serializers.ts#describeError', 'libs/common/src/log-serializers.ts#bindEachKeyOnce'],
  },
  'SECURITY-HEADERS': {
    title: 'Security headers on every listener (CSP, nosniff, frame denial, no CORS grant)',
    threat: 'Responses can be framed, sniffed into HTML or read cross-origin by a hostile page.',
    owasp: ['API8:2023'],
    asvs: ['V3', 'V4'],
    code: ['apps/api/src/http/security-headers.ts#HELMET_OPTIONS', 'apps/api/src/http/security-headers.ts#SecurityHeaders', 'apps/api/src/http/security-headers.ts#helmetHeaders'],
  },
  'SECRETS-LIFECYCLE': {
    title: 'Secrets come from one declared place each (environment, mounted file or a secret manager), never from the repository, and signing keys rotate with overlap and can be revoked at once',
    threat: 'A leaked key left in the environment silently wins over the rotated one mounted beside it, a real credential is committed to the repository, or an exposed signing key cannot be withdrawn, so an attacker holding the old, committed or exposed key keeps forging what it signs.',
    owasp: ['API8:2023'],
    asvs: ['V13', 'V11'],
    code: ['libs/config/src/secret-source.ts#resolveSecret', 'libs/config/src/secret-source.ts#FileSecretSource', 'libs/config/src/load-config.ts#loadConfig', 'libs/auth/src/key-rotation.ts#planRotation', 'libs/auth/src/signing-keys.ts#SigningKeys', 'libs/jobs/src/queued-job-revocation.ts#QueuedJobRevocation', 'libs/webhooks/src/webhook-secret-reencryption.ts#WebhookSecretReencryption'],
  },
  // --- Audit --------------------------------------------------------------------------------------
  'AUDIT-TRAIL': {
    title: 'Security events are recorded in an append-only, hash-chained audit log per tenant',
    threat: 'Denied attempts leave no trace, and someone with database rights rewrites history unnoticed.',
    owasp: ['API8:2023'],
    asvs: ['V16'],
    code: ['libs/audit/src/audit-log.ts#AuditLog', 'libs/audit/src/audit-verifier.ts#AuditVerifier'],
  },
  'ACCESS-RECORD': {
    title: 'Every read or change of a personal-data record is recorded, so a breach can be scoped to its data subjects',
    threat: 'A stolen credential reads customers’ records and nobody can tell whose data it exposed, so the 3 × 24 hour breach notification (UU PDP) cannot name the people affected.',
    owasp: ['API8:2023'],
    asvs: ['V16', 'V14'],
    code: ['apps/api/src/http/access-recorder.ts#AccessRecorder', 'libs/audit/src/access-log.ts#AccessLog', 'libs/platform/src/breach-scope.ts#BreachScoping'],
  },
  // --- Privacy ------------------------------------------------------------------------------------
  'PRIVACY-ERASURE': {
    title: "A data subject erasure ends the person's access at once and removes their personal data from the tenant, and the audit chain still verifies",
    threat: 'An erased person keeps acting with the tokens they hold, or their address, texts and files stay behind in sessions, uploads and audit rows.',
    owasp: ['API2:2023', 'API3:2023'],
    asvs: ['V14', 'V7'],
    code: ['libs/privacy/src/privacy.service.ts#PrivacyService', 'libs/privacy/src/subject-data.repository.ts#SubjectDataRepository', 'libs/audit/src/audit-chain.ts#personalCommitment'],
  },
});

export type ControlId = keyof typeof CONTROLS;
export const CONTROL_IDS = Object.keys(CONTROLS) as ControlId[];

/**
 * A test or describe title tagged with its control, OWASP item(s) and ASVS chapter(s), e.g.
 * `[AUTHN-ACCESS-TOKEN · API2:2023 · ASVS V9,V6] refuses alg none`. The report finds tests by the
 * `[ID ·` prefix; every id must be in CONTROLS (typed).
 */
export function tag(id: ControlId, title: string): string {
  const control = CONTROLS[id];
  return `[${id} · ${control.owasp.join(',')} · ASVS ${control.asvs.join(',')}] ${title}`;
}

/** Every control id a test's full name is tagged with. */
export function controlTagsOf(fullName: string): ControlId[] {
  const ids = [...fullName.matchAll(/\[([A-Z0-9-]+) · /g)].map((m) => m[1]!);
  return ids.filter((id): id is ControlId => id in CONTROLS);
}
