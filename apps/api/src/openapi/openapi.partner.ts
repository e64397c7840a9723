import type { OpenAPIObject } from '@nestjs/swagger';
import { PARTNER_SCOPE_GRANTS, PARTNER_SCOPES, type PartnerScope } from '@benteng/authz';
import { OAUTH_ERROR_CODES } from '../partner/oauth-error.filter.js';
import { boolean, dateTime, DOCUMENT_FILE, integer, invoiceFields, nullable, object, page, ref, RESPONSE_SCHEMAS, string, TICKET_CONTENT, type Schema, type SuccessBody } from './openapi.schemas.js';

/**
 * What the partner document (/partner/v1/openapi.json) says beyond the routes themselves: its
 * security schemes, the scope each route needs, and the response shapes of the partner surface
 * (apps/api/src/partner/*.response.ts), written out field by field like the public ones.
 */

export const PARTNER_API_KEY = 'apiKey';
export const PARTNER_OAUTH = 'oauth2';
export const CLIENT_SECRET_BASIC = 'clientSecretBasic';
export const PARTNER_TOKEN_URL = '/partner/oauth/token';

/** Shown in the OAuth flow and on each operation; a scope added to @benteng/authz must be described here. */
const SCOPE_DESCRIPTIONS: Record<PartnerScope, string> = {
  'invoices:read': "List and read the tenant's invoices and their lines",
  'invoices:write': 'Create draft invoices, recorded as created by this client',
  'tickets:read': 'List and read the tickets this client opened',
  'tickets:write': 'Open tickets',
  'documents:read': "List, read and download the tenant's documents, except attachments of tickets other than this client's",
};

export const PARTNER_SECURITY_SCHEMES: NonNullable<NonNullable<OpenAPIObject['components']>['securitySchemes']> = {
  [PARTNER_API_KEY]: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'bt_<live|test>_<prefix>_<secret>',
    description: "A partner API key, as `Authorization: Bearer bt_…`. It carries its client's scopes; a key of the other environment (live/test) is refused.",
  },
  [PARTNER_OAUTH]: {
    type: 'oauth2',
    description:
      'Client credentials grant (RFC 6749 4.4): a short-lived access token, as `Authorization: Bearer <token>`, with at most the scopes of its client. ' +
      'The token is a JWT verified per RFC8725 (pinned algorithm, exact audience and issuer, bounded lifetime; libs/auth/src/access-tokens.ts).',
    flows: { clientCredentials: { tokenUrl: PARTNER_TOKEN_URL, scopes: Object.fromEntries(PARTNER_SCOPES.map((s) => [s, SCOPE_DESCRIPTIONS[s]])) } },
  },
  [CLIENT_SECRET_BASIC]: {
    type: 'http',
    scheme: 'basic',
    description: 'Token endpoint only: client id and secret, each form-urlencoded (client_secret_basic). The alternative is client_id and client_secret in the body (client_secret_post), never both.',
  },
};

/** The scopes whose grants include (action, subject): any one of them lets a client call the route. */
export function scopesGranting(action: string, subject: string): PartnerScope[] {
  return PARTNER_SCOPES.filter((scope) => PARTNER_SCOPE_GRANTS[scope].some(([a, s]) => a === action && s === subject));
}

/**
 * A partner route's security: an API key (its client must hold one of the scopes), or an OAuth
 * token carrying one of them. Requirements are alternatives, so each granting scope gets its own.
 */
export function partnerSecurity(label: string, action: string, subject: string): { security: Record<string, string[]>[]; scopes: PartnerScope[] } {
  const scopes = scopesGranting(action, subject);
  if (scopes.length === 0) throw new Error(`OpenAPI: no partner scope grants ${action} ${subject} (${label})`);
  return { security: [{ [PARTNER_API_KEY]: [] }, ...scopes.map((scope) => ({ [PARTNER_OAUTH]: [scope] }))], scopes };
}

export const PARTNER_RESPONSE_SCHEMAS: Record<string, Schema> = {
  Problem: RESPONSE_SCHEMAS['Problem']!,
  /**
   * Token endpoint errors: RFC 6749 5.2 JSON (application/json), not problem+json, so OAuth 2.0
   * client libraries read them (apps/api/src/partner/oauth-error.filter.ts).
   */
  OAuthError: {
    type: 'object',
    required: ['error'],
    additionalProperties: false,
    properties: {
      error: { type: 'string', enum: [...OAUTH_ERROR_CODES] },
      error_description: { type: 'string', description: 'A fixed sentence; never an input value.' },
      code: { type: 'string', description: "Benteng's code of the error (e.g. `oauth.invalid_client`, `rate_limit.exceeded`, `security.blocked`), beside the OAuth `error`." },
      errors: {
        type: 'array',
        description: 'Validation failures: the parameter (JSON pointer) and the rules it broke, never its value.',
        items: { type: 'object', properties: { pointer: { type: 'string' }, rules: { type: 'array', items: { type: 'string' } } } },
      },
    },
  },
  PartnerToken: object({
    access_token: string,
    token_type: { type: 'string', enum: ['Bearer'] },
    expires_in: { type: 'integer', description: 'Seconds until the token expires (at most 600).' },
    scope: { type: 'string', description: 'The granted scopes, space-separated.' },
  }),
  InvoiceLine: RESPONSE_SCHEMAS['InvoiceLine']!,
  PartnerInvoice: object({
    ...invoiceFields(object({ name: string, email: nullable({ type: 'string', format: 'email' }) })),
    createdByThisClient: boolean,
    lines: { type: 'array', items: ref('InvoiceLine') },
  }),
  PartnerInvoicePage: page('PartnerInvoice'),
  PartnerTicket: object({
    ...TICKET_CONTENT,
    openedByThisClient: boolean,
    createdAt: dateTime,
    updatedAt: dateTime,
    version: integer,
  }),
  PartnerTicketPage: page('PartnerTicket'),
  PartnerDocument: object({
    ...DOCUMENT_FILE,
    createdAt: dateTime,
  }),
  PartnerDocumentPage: page('PartnerDocument'),
};

/** What each partner operation answers on success, keyed `Controller.handler`; a missing one fails the build. */
export const PARTNER_SUCCESS_BODIES: Record<string, SuccessBody> = {
  'PartnerTokenController.token': { json: 'PartnerToken' },
  'PartnerInvoicesController.list': { json: 'PartnerInvoicePage' },
  'PartnerInvoicesController.create': { json: 'PartnerInvoice' },
  'PartnerInvoicesController.get': { json: 'PartnerInvoice' },
  'PartnerTicketsController.list': { json: 'PartnerTicketPage' },
  'PartnerTicketsController.open': { json: 'PartnerTicket' },
  'PartnerTicketsController.get': { json: 'PartnerTicket' },
  'PartnerDocumentsController.list': { json: 'PartnerDocumentPage' },
  'PartnerDocumentsController.get': { json: 'PartnerDocument' },
  'PartnerDocumentsController.download': { binary: true },
};

/** The token endpoint: client authentication failures, its own throttle, a malformed or oversized body of the wrong type. */
export const PARTNER_EXTRA_ERRORS: Record<string, number[]> = {
  'PartnerTokenController.token': [401, 413, 415, 429],
};

/** Operations whose errors are not problem+json: their media type and schema. */
export const PARTNER_ERROR_BODIES: Record<string, { media: string; schema: string }> = {
  'PartnerTokenController.token': { media: 'application/json', schema: 'OAuthError' },
};

/** Operations that authenticate a client by HTTP Basic rather than a bearer credential. */
export const CLIENT_AUTH_OPERATIONS = new Set(['PartnerTokenController.token']);
