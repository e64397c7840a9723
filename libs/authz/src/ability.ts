import { AbilityBuilder, type Ability } from '@casl/ability';
import { createPrismaAbility, type Model, type PrismaQueryOf, type Subjects } from '@casl/prisma/runtime';
import type { AuditEvent, MetricsScrapeCredential, Document, Invitation, Operator, PlatformAuditEvent, PrivacyRequest, Export, Invoice, InvoiceLine, Membership, PartnerApiKey, PartnerClient, PartnerSigningKey, PaymentEvent, Prisma, RefreshToken, SecurityBlock, Session, Tenant, Ticket, TicketComment, User, WebhookDelivery, WebhookEndpoint } from '@benteng/database';
import type { OperatorPrincipal, Principal, UserPrincipal } from './principal.js';
import { operatorRules } from './rules/operator.rules.js';
import { documentRules } from './rules/documents.rules.js';
import { invoiceRules } from './rules/invoices.rules.js';
import { membershipRules } from './rules/memberships.rules.js';
import { partnerClientRules, partnerRules } from './rules/partner.rules.js';
import { securityRules } from './rules/security.rules.js';
import { exportRules } from './rules/exports.rules.js';
import { privacyRules } from './rules/privacy.rules.js';
import { webhookRules } from './rules/webhooks.rules.js';
import { sessionRules } from './rules/sessions.rules.js';
import { systemRules } from './rules/system.rules.js';
import { tenantRules } from './rules/tenants.rules.js';
import { ticketRules } from './rules/tickets.rules.js';

export type Action = 'manage' | 'create' | 'read' | 'update' | 'delete' | 'issue' | 'void' | 'pay' | 'assign' | 'comment' | 'download';

/**
 * Platform subjects that are no table (operator rules only, libs/authz/src/rules/operator.rules.ts):
 * a route acts on them as a whole, never on a row, so they carry no fields.
 */
type PlatformResource = Record<never, never>;

export type SubjectModels = {
  Tenant: Tenant;
  User: User;
  Membership: Membership;
  Invitation: Invitation;
  Invoice: Invoice;
  InvoiceLine: InvoiceLine;
  Session: Session;
  RefreshToken: RefreshToken;
  AuditEvent: AuditEvent;
  Ticket: Ticket;
  TicketComment: TicketComment;
  Document: Document;
  PartnerClient: PartnerClient;
  PartnerApiKey: PartnerApiKey;
  PartnerSigningKey: PartnerSigningKey;
  SecurityBlock: SecurityBlock;
  Export: Export;
  WebhookEndpoint: WebhookEndpoint;
  WebhookDelivery: WebhookDelivery;
  PaymentEvent: PaymentEvent;
  /** A data subject request (libs/privacy). */
  PrivacyRequest: PrivacyRequest;
  Operator: Operator;
  PlatformAuditEvent: PlatformAuditEvent;
  /** The Prometheus scrape of the internal listener (GET /internal/metrics). */
  PlatformMetrics: PlatformResource;
  MetricsScrapeCredential: MetricsScrapeCredential;
  /** The BullMQ queues behind Bull Board (/internal/queues). */
  JobQueue: PlatformResource;
};
export type SubjectName = keyof SubjectModels;
export const SUBJECT_NAMES: readonly SubjectName[] = ['Tenant', 'User', 'Membership', 'Invitation', 'Invoice', 'InvoiceLine', 'Session', 'RefreshToken', 'AuditEvent', 'Ticket', 'TicketComment', 'Document', 'PartnerClient', 'PartnerApiKey', 'PartnerSigningKey', 'SecurityBlock', 'Export', 'WebhookEndpoint', 'WebhookDelivery', 'PaymentEvent', 'PrivacyRequest', 'Operator', 'PlatformAuditEvent', 'PlatformMetrics', 'JobQueue', 'MetricsScrapeCredential'];

export type PrismaQuery<T extends Model<object, string> = Model<object, string>> = PrismaQueryOf<Prisma.TypeMap, T>;
export type AppSubjects = Subjects<SubjectModels>;
export type AppAbility = Ability<[Action, AppSubjects | 'all'], PrismaQuery>;
export type AppAbilityBuilder = AbilityBuilder<AppAbility>;

/** What every rule set is given: the tenant the ability is bound to and who acts in it. */
export interface TenantPrincipal {
  readonly tenantId: string;
  readonly principal: Principal;
}

/** Rules for users, one file per feature. */
const USER_RULE_SETS: ReadonlyArray<(builder: AppAbilityBuilder, context: TenantUserPrincipal) => void> = [
  tenantRules,
  membershipRules,
  sessionRules,
  invoiceRules,
  ticketRules,
  documentRules,
  partnerClientRules,
  securityRules,
  exportRules,
  webhookRules,
  privacyRules,
];

export interface TenantUserPrincipal extends TenantPrincipal {
  readonly principal: UserPrincipal;
}

/**
 * The one place that answers "what may this principal do in this tenant". Deny by default: a
 * subject or action without a rule is refused, and every rule is bound to `tenantId` so a row of
 * another tenant never matches, even before row-level security looks at it.
 */
export function defineAbilityFor(tenantId: string, principal: Principal): AppAbility {
  const builder = new AbilityBuilder<AppAbility>(createPrismaAbility);
  switch (principal.kind) {
    case 'system':
      systemRules(builder, { tenantId, principal });
      break;
    case 'partner':
      partnerRules(builder, { tenantId, principal });
      break;
    case 'user':
      for (const rules of USER_RULE_SETS) rules(builder, { tenantId, principal });
      break;
    case 'operator':
      // Operators get no ability inside a tenant from this function: their rules are platform
      // rules (definePlatformAbility), not bound to one tenant, and a tenant Scope built for an
      // operator must not quietly inherit them. Acting inside a tenant (support impersonation,
      // repairs) will be an explicit, audited Scope of its own, with the admin functions.
      break;
  }
  return builder.build();
}

/**
 * What an operator may do on the platform (internal listener). Not bound to a tenant, because
 * operator tools cross tenants; the rules stay deny by default and each cross-tenant read goes
 * through a named SQL function (docs/architecture.md, invariant 4), never a plain table query.
 */
export function definePlatformAbility(principal: OperatorPrincipal): AppAbility {
  const builder = new AbilityBuilder<AppAbility>(createPrismaAbility);
  operatorRules(builder, principal);
  return builder.build();
}
