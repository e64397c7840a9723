import type { SecurityBlockView } from '@benteng/security';
import { dateTime, type Schema } from '../http/response-shape.js';

/**
 * The public shape of an abuse block (GET /v1/security/blocks). Built field by field: no tenant id,
 * and not who lifted it (operators' tool names stay internal). `status` is decided against the
 * server's clock at the time of the response.
 */
export interface SecurityBlockResponse {
  id: string;
  /** Whom the block applies to: a member of this tenant (null once removed) or a partner client. */
  subject: { kind: 'member'; memberId: string | null } | { kind: 'partner_client'; clientId: string };
  ip: string | null;
  signal: string;
  observed: number;
  threshold: number;
  windowS: number;
  blockedAt: string;
  expiresAt: string;
  liftedAt: string | null;
  status: 'active' | 'expired' | 'lifted';
}

export function securityBlockResponse(block: SecurityBlockView, now: Date): SecurityBlockResponse {
  return {
    id: block.id,
    subject: block.subject.kind === 'member' ? { kind: 'member', memberId: block.subject.memberId } : { kind: 'partner_client', clientId: block.subject.clientId },
    ip: block.ip,
    signal: block.signal,
    observed: block.observed,
    threshold: block.threshold,
    windowS: block.windowS,
    blockedAt: block.blockedAt.toISOString(),
    expiresAt: block.expiresAt.toISOString(),
    liftedAt: block.liftedAt?.toISOString() ?? null,
    status: block.liftedAt ? 'lifted' : block.expiresAt.getTime() <= now.getTime() ? 'expired' : 'active',
  };
}

const SECURITY_BLOCK: Schema = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    subject: {
      oneOf: [
        {
          type: 'object',
          properties: { kind: { type: 'string', enum: ['member'] }, memberId: { type: 'string', format: 'uuid', nullable: true } },
          required: ['kind', 'memberId'],
          additionalProperties: false,
        },
        {
          type: 'object',
          properties: { kind: { type: 'string', enum: ['partner_client'] }, clientId: { type: 'string', format: 'uuid' } },
          required: ['kind', 'clientId'],
          additionalProperties: false,
        },
      ],
    },
    ip: { type: 'string', nullable: true },
    signal: { type: 'string', enum: ['not_found', 'auth_failure', 'scraping', 'burst'] },
    observed: { type: 'integer' },
    threshold: { type: 'integer' },
    windowS: { type: 'integer', description: 'The detection window, seconds.' },
    blockedAt: dateTime,
    expiresAt: dateTime,
    liftedAt: { ...dateTime, nullable: true },
    status: { type: 'string', enum: ['active', 'expired', 'lifted'] },
  },
  additionalProperties: false,
};
SECURITY_BLOCK['required'] = Object.keys(SECURITY_BLOCK['properties'] as Schema);

/** For apps/api/src/openapi/openapi.schemas.ts (RESPONSE_SCHEMAS and SUCCESS_BODIES) to spread in. */
export const SECURITY_BLOCK_RESPONSE_SCHEMAS: Record<string, Schema> = {
  SecurityBlock: SECURITY_BLOCK,
  SecurityBlockPage: {
    type: 'object',
    properties: { items: { type: 'array', items: { $ref: '#/components/schemas/SecurityBlock' } }, nextCursor: { type: 'string', nullable: true } },
    required: ['items', 'nextCursor'],
    additionalProperties: false,
  },
};

export const SECURITY_BLOCK_SUCCESS_BODIES: Record<string, { json: string }> = {
  'SecurityBlocksController.list': { json: 'SecurityBlockPage' },
};
