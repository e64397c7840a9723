import { PARTNER_SCOPES } from '@benteng/authz';
import { EXPORT_EXTRA_ERRORS, EXPORT_RESPONSE_SCHEMAS, EXPORT_SUCCESS_BODIES } from '../public/export.response.js';
import { PRIVACY_EXTRA_ERRORS, PRIVACY_RESPONSE_SCHEMAS, PRIVACY_SUCCESS_BODIES } from '../public/privacy-request.response.js';
import { INVITATION_EXTRA_ERRORS, INVITATION_RESPONSE_SCHEMAS, INVITATION_SUCCESS_BODIES } from '../public/invitation.response.js';
import { PARTNER_CLIENT_RESPONSE_SCHEMAS, PARTNER_CLIENT_SUCCESS_BODIES } from '../public/partner-client.response.js';
import { PARTNER_SIGNING_KEY_RESPONSE_SCHEMAS, PARTNER_SIGNING_KEY_SUCCESS_BODIES } from '../public/partner-signing-key.response.js';
import { SECURITY_BLOCK_RESPONSE_SCHEMAS, SECURITY_BLOCK_SUCCESS_BODIES } from '../public/security-block.response.js';
import { WEBHOOK_ENDPOINT_RESPONSE_SCHEMAS, WEBHOOK_ENDPOINT_SUCCESS_BODIES } from '../public/webhook-endpoint.response.js';

/**
 * Response schemas of the public surface, written out by hand: controllers build their responses
 * field by field from TypeScript interfaces (invoice.response.ts and siblings), which leave no
 * runtime trace for @nestjs/swagger to read. Each schema names exactly the fields the builder sends;
 * none carries a tenant id except TokenPair, which tells the client which tenant the token is for.
 * Partner clients and security blocks keep their schemas beside their response builders.
 */
export type Schema = Record<string, unknown>;

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
/** OpenAPI 3.0 reads `nullable` only beside a `type`: a typeless alternative of objects gets `type: 'object'`. */
export const nullable = (schema: Schema): Schema => ({ ...(schema['type'] === undefined ? { type: 'object' } : {}), ...schema, nullable: true });
export const string: Schema = { type: 'string' };
export const uuid: Schema = { type: 'string', format: 'uuid' };
export const dateTime: Schema = { type: 'string', format: 'date-time' };
export const boolean: Schema = { type: 'boolean' };
export const integer: Schema = { type: 'integer' };
/** Money in minor units, as a decimal string: JSON numbers lose precision above 2^53. */
export const minor: Schema = { type: 'string', pattern: '^-?\\d+$' };
const role: Schema = { type: 'string', enum: ['owner', 'admin', 'member', 'viewer'] };

export const object = (properties: Record<string, Schema>, optional: string[] = []): Schema => ({
  type: 'object',
  properties,
  required: Object.keys(properties).filter((key) => !optional.includes(key)),
  additionalProperties: false,
});
const list = (item: string): Schema => object({ items: { type: 'array', items: ref(item) } });
export const page = (item: string): Schema => object({ items: { type: 'array', items: ref(item) }, nextCursor: nullable(string) });

/**
 * What an invoice shows on both surfaces (Invoice and PartnerInvoice), in this order, like
 * invoiceFields in apps/api/src/public/invoice.response.ts; only the customer differs (no tax id for partners).
 */
export const invoiceFields = (customer: Schema): Record<string, Schema> => ({
  id: uuid,
  number: string,
  status: { type: 'string', enum: ['draft', 'issued', 'paid', 'void'] },
  currency: string,
  customer,
  totalMinor: minor,
  dueDate: nullable({ type: 'string', format: 'date' }),
  issuedAt: nullable(dateTime),
  createdAt: dateTime,
  updatedAt: dateTime,
  version: integer,
});

/** What a ticket shows on both surfaces (Ticket and PartnerTicket), in this order. */
export const TICKET_CONTENT: Record<string, Schema> = {
  id: uuid,
  subject: string,
  body: string,
  status: { type: 'string', enum: ['open', 'in_progress', 'resolved', 'closed'] },
  priority: { type: 'string', enum: ['low', 'normal', 'high', 'urgent'] },
};

/** What a document shows on both surfaces (Document and PartnerDocument), in this order. */
export const DOCUMENT_FILE: Record<string, Schema> = {
  id: uuid,
  fileName: string,
  contentType: string,
  size: integer,
  sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
  link: nullable({ oneOf: [object({ invoiceId: uuid }), object({ ticketId: uuid })] }),
};

export const RESPONSE_SCHEMAS: Record<string, Schema> = {
  /** RFC 9457 problem details, as ProblemDetailsFilter sends them. */
  Problem: {
    type: 'object',
    properties: {
      type: { type: 'string', description: "'about:blank' or a urn:benteng:problem:<code> URI" },
      title: string,
      status: { type: 'integer', minimum: 400, maximum: 599 },
      detail: string,
      code: { type: 'string', description: 'Stable machine-readable code of a domain error.' },
      requestId: { type: 'string', description: 'Quote it when reporting an error.' },
      errors: {
        type: 'array',
        description: 'Validation failures: where (JSON pointer) and which rules, never the offending value.',
        items: object({ pointer: string, rules: { type: 'array', items: string } }),
      },
    },
    required: ['type', 'title', 'status'],
  },
  TokenPair: object({
    tokenType: { type: 'string', enum: ['Bearer'] },
    accessToken: string,
    expiresIn: { type: 'integer', description: 'Seconds until the access token expires.' },
    refreshToken: string,
    tenantId: uuid,
    role,
  }),
  Me: object({
    user: object({ id: uuid, email: { type: 'string', format: 'email' }, displayName: string }),
    tenant: object({ id: uuid, slug: string, name: string }),
    role,
    sessionId: uuid,
    memberships: { type: 'array', items: object({ tenant: object({ slug: string, name: string }), role }) },
  }),
  Session: object({ id: uuid, current: boolean, createdAt: dateTime, lastSeenAt: dateTime, expiresAt: dateTime, userAgent: nullable(string), ip: nullable(string) }),
  SessionList: list('Session'),
  Member: object({ id: uuid, email: { type: 'string', format: 'email' }, displayName: string, role, createdAt: dateTime }),
  MemberList: list('Member'),
  InvoiceLine: object({ position: integer, description: string, quantity: integer, unitPriceMinor: minor, amountMinor: minor }),
  Invoice: object({
    ...invoiceFields(object({ name: string, email: nullable({ type: 'string', format: 'email' }), taxId: nullable(string) }, ['email', 'taxId'])),
    createdByMe: boolean,
    lines: { type: 'array', items: ref('InvoiceLine') },
  }),
  InvoicePage: page('Invoice'),
  Ticket: object({
    ...TICKET_CONTENT,
    openedByMe: boolean,
    assignee: nullable(object({ memberId: uuid, displayName: string })),
    assignedToMe: boolean,
    createdAt: dateTime,
    updatedAt: dateTime,
    version: integer,
  }),
  TicketPage: page('Ticket'),
  TicketList: list('Ticket'),
  Comment: object({ id: uuid, body: string, author: object({ displayName: string }), byMe: boolean, createdAt: dateTime }),
  CommentList: list('Comment'),
  Document: object({
    ...DOCUMENT_FILE,
    uploadedByMe: boolean,
    createdAt: dateTime,
  }),
  DocumentPage: page('Document'),
  JsonWebKeySet: object({ keys: { type: 'array', items: { type: 'object', description: 'A public JSON Web Key (RFC 7517).' } } }),
  /** RFC 8414 metadata of the partner token endpoint (apps/api/src/public/well-known.controller.ts). */
  OAuthServerMetadata: object({
    issuer: { type: 'string', format: 'uri', description: 'PUBLIC_BASE_URL' },
    token_endpoint: { type: 'string', format: 'uri' },
    jwks_uri: { type: 'string', format: 'uri' },
    token_endpoint_auth_methods_supported: { type: 'array', items: { type: 'string', enum: ['client_secret_basic', 'client_secret_post'] } },
    grant_types_supported: { type: 'array', items: { type: 'string', enum: ['client_credentials'] } },
    response_types_supported: { type: 'array', items: { type: 'string' }, maxItems: 0 },
    scopes_supported: { type: 'array', items: { type: 'string', enum: [...PARTNER_SCOPES] } },
    service_documentation: { type: 'string', format: 'uri' },
  }),
  ...PARTNER_CLIENT_RESPONSE_SCHEMAS,
  ...PARTNER_SIGNING_KEY_RESPONSE_SCHEMAS,
  ...SECURITY_BLOCK_RESPONSE_SCHEMAS,
  ...EXPORT_RESPONSE_SCHEMAS,
  ...PRIVACY_RESPONSE_SCHEMAS,
  ...WEBHOOK_ENDPOINT_RESPONSE_SCHEMAS,
  ...INVITATION_RESPONSE_SCHEMAS,
};

/** A success body: a JSON schema, or raw bytes of the stored type (document downloads). */
export type SuccessBody = { json: string } | { binary: true } | { none: true };

/**
 * What each public operation answers on success, keyed `Controller.handler`. An operation missing
 * here fails the document build, so a new route cannot ship undocumented.
 */
export const SUCCESS_BODIES: Record<string, SuccessBody> = {
  'AuthController.login': { json: 'TokenPair' },
  'AuthController.refresh': { json: 'TokenPair' },
  'AuthController.logout': { none: true },
  'AuthController.logoutAll': { none: true },
  'AuthController.switchTenant': { json: 'TokenPair' },
  'AuthController.changePassword': { none: true },
  'MeController.me': { json: 'Me' },
  'SessionsController.list': { json: 'SessionList' },
  'SessionsController.revoke': { none: true },
  'MembersController.list': { json: 'MemberList' },
  'MembersController.changeRole': { json: 'Member' },
  'MembersController.remove': { none: true },
  'InvoicesController.list': { json: 'InvoicePage' },
  'InvoicesController.create': { json: 'Invoice' },
  'InvoicesController.get': { json: 'Invoice' },
  'InvoicesController.update': { json: 'Invoice' },
  'InvoicesController.issue': { json: 'Invoice' },
  'InvoicesController.void': { json: 'Invoice' },
  'InvoicesController.pay': { json: 'Invoice' },
  'InvoicesController.remove': { none: true },
  'TicketsController.list': { json: 'TicketPage' },
  'TicketsController.search': { json: 'TicketList' },
  'TicketsController.open': { json: 'Ticket' },
  'TicketsController.get': { json: 'Ticket' },
  'TicketsController.update': { json: 'Ticket' },
  'TicketsController.assign': { json: 'Ticket' },
  'TicketsController.comments': { json: 'CommentList' },
  'TicketsController.comment': { json: 'Comment' },
  'DocumentsController.list': { json: 'DocumentPage' },
  'DocumentsController.upload': { json: 'Document' },
  'DocumentsController.get': { json: 'Document' },
  'DocumentsController.download': { binary: true },
  'DocumentsController.remove': { none: true },
  'WellKnownController.jwks': { json: 'JsonWebKeySet' },
  'WellKnownController.oauthMetadata': { json: 'OAuthServerMetadata' },
  ...PARTNER_CLIENT_SUCCESS_BODIES,
  ...PARTNER_SIGNING_KEY_SUCCESS_BODIES,
  ...SECURITY_BLOCK_SUCCESS_BODIES,
  ...EXPORT_SUCCESS_BODIES,
  ...PRIVACY_SUCCESS_BODIES,
  ...WEBHOOK_ENDPOINT_SUCCESS_BODIES,
  ...INVITATION_SUCCESS_BODIES,
};

/** Errors only some routes raise beyond what their declarations imply (credentials, throttling). */
export const EXTRA_ERRORS: Record<string, number[]> = {
  'AuthController.login': [401, 429],
  'AuthController.refresh': [401, 429],
  ...EXPORT_EXTRA_ERRORS,
  ...PRIVACY_EXTRA_ERRORS,
  ...INVITATION_EXTRA_ERRORS,
};
