import type { AcceptedInvitation, InvitationView } from '@benteng/members';
import { dateTime, isoOrNull, nullable, object, ref, type Schema } from '../http/response-shape.js';

/**
 * The public shapes of invitations. Built field by field: no tenant id, no inviter or invitee user
 * id, never the token's hash. The token in clear appears only in the response of the call that made
 * the invitation (and not even there when a mailer delivered it).
 */
export interface InvitationResponse {
  id: string;
  email: string;
  role: InvitationView['role'];
  displayName: string | null;
  status: InvitationView['status'];
  createdAt: string;
  expiresAt: string;
  acceptedAt: string | null;
  revokedAt: string | null;
}

/**
 * Create: the invitation and, once, its token. `token` is null in an Idempotency-Key replay and when
 * a mailer delivered it to the invitee; the inviter then revokes and invites again if it was lost.
 */
export interface InvitationWithTokenResponse extends InvitationResponse {
  token: string | null;
}

export type AcceptedInvitationResponse = AcceptedInvitation;

export function invitationResponse(invitation: InvitationView): InvitationResponse {
  return {
    id: invitation.id,
    email: invitation.email,
    role: invitation.role,
    displayName: invitation.displayName,
    status: invitation.status,
    createdAt: invitation.createdAt.toISOString(),
    expiresAt: invitation.expiresAt.toISOString(),
    acceptedAt: isoOrNull(invitation.acceptedAt),
    revokedAt: isoOrNull(invitation.revokedAt),
  };
}

/** `token` starts null: RevealOnceInterceptor fills it in on the first response only. */
export function invitationWithTokenResponse(invitation: InvitationView): InvitationWithTokenResponse {
  return { ...invitationResponse(invitation), token: null };
}

export function acceptedInvitationResponse(accepted: AcceptedInvitation): AcceptedInvitationResponse {
  return { tenant: { slug: accepted.tenant.slug, name: accepted.tenant.name }, role: accepted.role, memberId: accepted.memberId };
}

const string: Schema = { type: 'string' };
const role: Schema = { type: 'string', enum: ['owner', 'admin', 'member', 'viewer'] };

const INVITATION_PROPERTIES: Record<string, Schema> = {
  id: { type: 'string', format: 'uuid' },
  email: { type: 'string', format: 'email' },
  role,
  displayName: nullable(string),
  status: { type: 'string', enum: ['pending', 'accepted', 'revoked', 'expired'] },
  createdAt: dateTime,
  expiresAt: dateTime,
  acceptedAt: nullable(dateTime),
  revokedAt: nullable(dateTime),
};

/** For apps/api/src/openapi/openapi.schemas.ts (RESPONSE_SCHEMAS and SUCCESS_BODIES) to spread in. */
export const INVITATION_RESPONSE_SCHEMAS: Record<string, Schema> = {
  Invitation: object(INVITATION_PROPERTIES),
  InvitationWithToken: object({
    ...INVITATION_PROPERTIES,
    token: nullable({ type: 'string', description: 'The invitation token (bt_inv_…), shown once: null in an Idempotency-Key replay and when a mailer delivered it.' }),
  }),
  InvitationPage: object({ items: { type: 'array', items: ref('Invitation') }, nextCursor: nullable(string) }),
  AcceptedInvitation: object({ tenant: object({ slug: string, name: string }), role, memberId: { type: 'string', format: 'uuid' } }),
};

export const INVITATION_SUCCESS_BODIES: Record<string, { json: string }> = {
  'InvitationsController.list': { json: 'InvitationPage' },
  'InvitationsController.create': { json: 'InvitationWithToken' },
  'InvitationsController.get': { json: 'Invitation' },
  'InvitationsController.revoke': { json: 'Invitation' },
  'InvitationsController.accept': { json: 'AcceptedInvitation' },
  'InvitationsController.register': { json: 'AcceptedInvitation' },
};

/** Acceptance answers 404 for every token it will not honour (no route parameter implies it). */
export const INVITATION_EXTRA_ERRORS: Record<string, number[]> = {
  'InvitationsController.accept': [404, 409, 429],
  'InvitationsController.register': [404, 409, 429],
  'InvitationsController.create': [409],
};
