import { accessibleWhere, authorize } from '@benteng/authz';
import type { Prisma, TenantTx } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { PartnerError, PartnerErrorCode } from './partner.errors.js';

/**
 * Every column the runtime role may read, and nothing else: Prisma reads all scalar columns unless
 * told otherwise, and secret_hash / key_hash are withheld from benteng_app by column grants (a
 * default select would fail with "permission denied", which is the point of the grants).
 */
export const CLIENT_SELECT = {
  id: true,
  name: true,
  environment: true,
  scopes: true,
  tier: true,
  ipAllowlist: true,
  requireSignatures: true,
  expiresAt: true,
  revokedAt: true,
  createdAt: true,
  updatedAt: true,
  version: true,
} as const satisfies Prisma.PartnerClientSelect;
export type ClientRow = Prisma.PartnerClientGetPayload<{ select: typeof CLIENT_SELECT }>;

const clientNotFound = () => new PartnerError(PartnerErrorCode.ClientNotFound);

/** The client if the scope may read it; null when missing or another tenant's (invariant 5). */
export function readableClient(tx: TenantTx, scope: Scope, id: string): Promise<ClientRow | null> {
  return tx.partnerClient.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'PartnerClient'), { id }] }, select: CLIENT_SELECT });
}

/**
 * The client the scope may change, its row locked until the transaction ends; missing and
 * forbidden are both "not found". The lock is taken first, so the state read after it is the one
 * the write will change. Both partner repositories lock the client before a key: one lock order.
 */
export async function lockClient(tx: TenantTx, scope: Scope, id: string): Promise<ClientRow> {
  await tx.$queryRaw`SELECT 1 FROM partner_clients WHERE id = ${id}::uuid FOR UPDATE`;
  const locked = await tx.partnerClient.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'PartnerClient'), { id }] }, select: { ...CLIENT_SELECT, tenantId: true } });
  if (!locked) throw clientNotFound();
  const { tenantId, ...client } = locked;
  authorize(scope, 'update', 'PartnerClient', { tenantId }, clientNotFound);
  return client;
}
