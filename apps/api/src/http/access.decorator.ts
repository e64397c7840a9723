import { applyDecorators, SetMetadata } from '@nestjs/common';
import type { Action, SubjectName } from '@benteng/authz';
import type { Sensitivity } from '@benteng/security';

export const ROUTE_ACCESS = 'benteng:route-access';
export const ROUTE_SENSITIVITY = 'benteng:route-sensitivity';
export const ROUTE_HIGH_TRUST = 'benteng:route-high-trust';

/**
 * What a route declares about who may call it. Every route must carry one (the global
 * AccessGuard refuses the rest); the route catalog test snapshots them all, and the
 * function-level matrix test drives every principal through every declared route.
 */
export type RouteAccess =
  | { readonly auth: 'none'; readonly reason: string; readonly credential?: RequestCredential }
  | { readonly auth: 'public-jwt'; readonly action: Action; readonly subject: SubjectName }
  | { readonly auth: 'partner'; readonly action: Action; readonly subject: SubjectName }
  /** Internal listener only: a signed service request naming an active operator (InternalAccessGuard). */
  | {
      readonly auth: 'internal-operator';
      readonly action: Action;
      readonly subject: SubjectName;
      /**
       * Also admits a Prometheus scrape credential (`Authorization: Bearer bt_ms_…`, docs/metrics.md)
       * instead of a signed request: GET /internal/metrics only (test/e2e/metrics-scrape.spec.ts).
       */
      readonly scrapeCredential?: true;
    }
  /** Internal listener only: a signed service request, no operator needed (machine-readable descriptions). */
  | { readonly auth: 'internal-service'; readonly reason: string };

/**
 * The credential an unauthenticated route verifies itself (in its handler or its own guard), when
 * it has one: a login's password, a refresh token, a client secret, a signed download link, a
 * webhook signature, an invitation token.
 */
export type RequestCredential = 'password' | 'refresh-token' | 'client-secret' | 'signed-link' | 'webhook-signature' | 'invitation-token';

/**
 * No authentication at the gate: for health checks, key sets and login. Say why, so review can
 * judge it. A route that verifies a credential of its own names it (`credential`): an automatic
 * address block (the abuse detector's) does not refuse such a route at the gate, because the
 * people sharing the blocked address need it to sign in, refresh their session or fetch their
 * export; the route's own check and throttle (libs/security/src/login-throttle.ts) judge it.
 */
export const Anonymous = (reason: string, options: { credential?: RequestCredential } = {}) =>
  SetMetadata(ROUTE_ACCESS, { auth: 'none', reason, ...(options.credential ? { credential: options.credential } : {}) } satisfies RouteAccess);

/**
 * A tenant user with a valid access token whose role may perform `action` on some `subject`
 * (function-level authorization). Which objects they may touch is decided again in the service,
 * against the same CASL rules (object-level authorization).
 */
export const Authorize = (action: Action, subject: SubjectName) =>
  applyDecorators(SetMetadata(ROUTE_ACCESS, { auth: 'public-jwt', action, subject } satisfies RouteAccess));

/**
 * A partner client (API key or client-credentials token, /partner/v1 only) whose scopes grant
 * `action` on `subject` through the partner CASL rules (libs/authz/src/rules/partner.rules.ts).
 */
export const PartnerAuthorize = (action: Action, subject: SubjectName) =>
  applyDecorators(SetMetadata(ROUTE_ACCESS, { auth: 'partner', action, subject } satisfies RouteAccess));

/**
 * A high-trust partner route (creating invoices, anything about billing or payments): a client
 * with at least one active request-signing key must sign the request (RFC 9421) even when its
 * `requireSignatures` flag is off, so a stolen API key or token alone cannot use it
 * (apps/api/src/http/gate/request-signature.stage.ts, docs/request-signing.md).
 */
export const HighTrust = () => SetMetadata(ROUTE_HIGH_TRUST, true);

/**
 * The rate-limit column a route is counted in (libs/security/src/rate-limit-policy.ts). Without
 * it: `read` for GET and HEAD, `write` for everything else. Login, refresh and token endpoints
 * say `auth`; searches `search`; exports `export`.
 */
export const RateLimit = (sensitivity: Sensitivity) => SetMetadata(ROUTE_SENSITIVITY, sensitivity);

/**
 * An operator on the internal listener: the request carries a valid service signature, names an
 * active operator, and that operator's platform ability (rules/operator.rules.ts) allows `action`
 * on `subject`. Which roles that is, is written in the operator rules only, never at the route.
 * State-changing methods also need a reason (X-Benteng-Reason). InternalAccessGuard enforces it;
 * the public AccessGuard refuses these routes outright.
 */
export const InternalAccess = (action: Action, subject: SubjectName, options: { scrapeCredential?: true } = {}) =>
  SetMetadata(ROUTE_ACCESS, { auth: 'internal-operator', action, subject, ...options } satisfies RouteAccess);

/** A route any configured internal service may call without naming an operator. Say why. */
export const InternalService = (reason: string) => SetMetadata(ROUTE_ACCESS, { auth: 'internal-service', reason } satisfies RouteAccess);
