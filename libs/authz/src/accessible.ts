import { accessibleBy } from '@casl/prisma/runtime';
import type { Action, AppAbility, SubjectName } from './ability.js';
import type { Prisma } from '@benteng/database';

type WhereInputs = {
  Membership: Prisma.MembershipWhereInput;
  Invitation: Prisma.InvitationWhereInput;
  Invoice: Prisma.InvoiceWhereInput;
  InvoiceLine: Prisma.InvoiceLineWhereInput;
  Session: Prisma.SessionWhereInput;
  RefreshToken: Prisma.RefreshTokenWhereInput;
  AuditEvent: Prisma.AuditEventWhereInput;
  Ticket: Prisma.TicketWhereInput;
  TicketComment: Prisma.TicketCommentWhereInput;
  Document: Prisma.DocumentWhereInput;
  User: Prisma.UserWhereInput;
  Tenant: Prisma.TenantWhereInput;
  PartnerClient: Prisma.PartnerClientWhereInput;
  PartnerApiKey: Prisma.PartnerApiKeyWhereInput;
  PartnerSigningKey: Prisma.PartnerSigningKeyWhereInput;
  SecurityBlock: Prisma.SecurityBlockWhereInput;
  Export: Prisma.ExportWhereInput;
  WebhookEndpoint: Prisma.WebhookEndpointWhereInput;
  WebhookDelivery: Prisma.WebhookDeliveryWhereInput;
  PaymentEvent: Prisma.PaymentEventWhereInput;
  PrivacyRequest: Prisma.PrivacyRequestWhereInput;
};

export class AccessConditionError extends Error {
  constructor(subject: string, action: string) {
    super(`CASL produced no condition object for ${action} on ${subject}`);
    this.name = 'AccessConditionError';
  }
}

/**
 * The Prisma where-condition for "rows of `subject` this ability may `action`".
 *
 * Fails closed twice: with no matching rule CASL returns a marker condition that the CASL Prisma
 * extension turns into "no rows"; and if a wrong usage ever yields `undefined` (which Prisma reads
 * as "no filter", i.e. every row) this throws instead of returning it.
 */
export function accessibleWhere<S extends keyof WhereInputs & SubjectName>(
  ability: AppAbility,
  action: Action,
  subject: S,
): WhereInputs[S] {
  const where: unknown = accessibleBy(ability, action).ofType(subject);
  if (where === undefined || where === null || typeof where !== 'object') {
    throw new AccessConditionError(subject, action);
  }
  return where as WhereInputs[S];
}

/**
 * "Rows of `subject` this ability may `action`" as plain column equalities, for a read that cannot
 * take a Prisma where: a SQL function's parameters (InvoicesRepository.list,
 * `tenant_invoice_page`). Derived from exactly what `accessibleWhere` would put in the query, and
 * only where that translation is exact:
 * - `none`: no rule grants the action, so no row (Prisma's `{ OR: [] }`);
 * - `equal`: one rule whose conditions are all equalities to text on `columns` (e.g.
 *   `{ tenantId, createdByClientId }`): exactly the rows with those values;
 * - `other`: anything else (several rules, a `cannot` with conditions, an operator, a relation, a
 *   null, a column not in `columns`): the caller must filter with `accessibleWhere` instead, never
 *   read it as "no condition" (libs/authz/src/accessible.spec.ts).
 */
export type AccessibleEqualities<C extends string> = { kind: 'none' } | { kind: 'equal'; values: Partial<Record<C, string>> } | { kind: 'other' };

export function accessibleEqualities<S extends keyof WhereInputs & SubjectName, C extends string>(
  ability: AppAbility,
  action: Action,
  subject: S,
  columns: readonly C[],
): AccessibleEqualities<C> {
  const where = accessibleWhere(ability, action, subject) as Record<string, unknown>;
  const keys = Object.keys(where);
  if (keys.length !== 1 || keys[0] !== 'OR' || !Array.isArray(where.OR)) return { kind: 'other' };
  const branches = where.OR as unknown[];
  if (branches.length === 0) return { kind: 'none' };
  const [branch] = branches;
  if (branches.length !== 1 || branch === null || typeof branch !== 'object' || Array.isArray(branch)) return { kind: 'other' };
  const values: Partial<Record<C, string>> = {};
  for (const [column, value] of Object.entries(branch)) {
    if (!(columns as readonly string[]).includes(column) || typeof value !== 'string') return { kind: 'other' };
    values[column as C] = value;
  }
  return { kind: 'equal', values };
}
