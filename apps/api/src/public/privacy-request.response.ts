import type { PrivacyRequestView } from '@benteng/privacy';
import type { Scope } from '@benteng/tenancy';
import { dateTime, nullable, isoOrNull, type Schema } from '../http/response-shape.js';

/**
 * The public shape of a data subject request. Built field by field; `result` holds counts only
 * (what an erasure changed), never the person's data, which an access request delivers as its
 * export (`exportId`, downloaded through /v1/exports/:id/content by the requester).
 */
export interface PrivacyRequestResponse {
  id: string;
  kind: 'access' | 'erasure';
  /** The subject as /v1/members names them (gone from the members list after an erasure). */
  subjectMemberId: string;
  subjectIsMe: boolean;
  requestedByMe: boolean;
  status: 'processing' | 'completed' | 'failed';
  exportId: string | null;
  result: Record<string, number | boolean>;
  errorCode: string | null;
  createdAt: string;
  completedAt: string | null;
}

export function privacyRequestResponse(request: PrivacyRequestView, scope: Scope): PrivacyRequestResponse {
  const me = scope.principal.kind === 'user' ? scope.principal.userId : null;
  const result: Record<string, number | boolean> = {};
  for (const [key, value] of Object.entries(request.result ?? {})) {
    if (typeof value === 'number' || typeof value === 'boolean') result[key] = value;
  }
  return {
    id: request.id,
    kind: request.kind,
    subjectMemberId: request.subjectMemberId,
    subjectIsMe: request.subjectUserId === me,
    requestedByMe: request.requestedById === me,
    status: request.status,
    exportId: request.exportId,
    result,
    errorCode: request.errorCode,
    createdAt: request.createdAt.toISOString(),
    completedAt: isoOrNull(request.completedAt),
  };
}

const uuid: Schema = { type: 'string', format: 'uuid' };
const PROPERTIES: Record<string, Schema> = {
  id: uuid,
  kind: { type: 'string', enum: ['access', 'erasure'] },
  subjectMemberId: { ...uuid, description: 'The subject, as /v1/members/{id} names them.' },
  subjectIsMe: { type: 'boolean' },
  requestedByMe: { type: 'boolean' },
  status: { type: 'string', enum: ['processing', 'completed', 'failed'] },
  exportId: nullable({ ...uuid, description: 'Access: the export that carries the answer (GET /v1/exports/{id}/content once ready).' }),
  result: { type: 'object', additionalProperties: { oneOf: [{ type: 'integer' }, { type: 'boolean' }] }, description: 'Erasure: what was erased, as counts.' },
  errorCode: nullable({ type: 'string' }),
  createdAt: dateTime,
  completedAt: nullable(dateTime),
};

/** For apps/api/src/openapi/openapi.schemas.ts. */
export const PRIVACY_RESPONSE_SCHEMAS: Record<string, Schema> = {
  PrivacyRequest: { type: 'object', properties: PROPERTIES, required: Object.keys(PROPERTIES), additionalProperties: false },
  PrivacyRequestPage: {
    type: 'object',
    properties: { items: { type: 'array', items: { $ref: '#/components/schemas/PrivacyRequest' } }, nextCursor: nullable({ type: 'string' }) },
    required: ['items', 'nextCursor'],
    additionalProperties: false,
  },
};

export const PRIVACY_SUCCESS_BODIES: Record<string, { json: string }> = {
  'PrivacyController.create': { json: 'PrivacyRequest' },
  'PrivacyController.list': { json: 'PrivacyRequestPage' },
  'PrivacyController.get': { json: 'PrivacyRequest' },
};

/** 409: erasing the tenant's only owner. */
export const PRIVACY_EXTRA_ERRORS: Record<string, number[]> = {
  'PrivacyController.create': [409],
};
