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
