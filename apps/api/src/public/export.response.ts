import { visibleFields } from '@benteng/authz';
import type { ExportFilters, ExportView } from '@benteng/exports';
import type { Scope } from '@benteng/tenancy';
import { dateTime, isoOrNull, nullable, type Schema } from '../http/response-shape.js';

/**
 * The public shape of an export. Built field by field: no tenant id, no requester id. The requester
 * sees everything about their export; owners and admins, who see every export of the tenant, get
 * only its status for exports of others (what someone else filtered for, and how many rows they
 * could read, is theirs): a field rule of libs/authz/src/rules/exports.rules.ts.
 */
export interface ExportResponse {
  id: string;
  /** `subject_access`: a data subject access request's export (POST /v1/privacy/requests). */
  type: 'invoices' | 'tickets' | 'subject_access';
  format: 'csv' | 'jsonl' | 'json';
  status: 'queued' | 'running' | 'ready' | 'failed' | 'expired';
  requestedByMe: boolean;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  expiresAt: string | null;
  filters?: ExportFilters;
  rowCount?: number | null;
  byteSize?: number | null;
  sha256?: string | null;
  errorCode?: string | null;
}

export interface DownloadUrlResponse {
  /** Relative to the API's origin; usable without the access token until expiresAt. */
  url: string;
  expiresAt: string;
}

export function exportResponse(exp: ExportView, scope: Scope): ExportResponse {
  const response: ExportResponse = {
    id: exp.id,
    type: exp.type,
    format: exp.format,
    status: exp.status,
    requestedByMe: scope.principal.kind === 'user' && exp.requestedById === scope.principal.userId,
    createdAt: exp.createdAt.toISOString(),
    startedAt: isoOrNull(exp.startedAt),
    completedAt: isoOrNull(exp.completedAt),
    expiresAt: isoOrNull(exp.expiresAt),
  };
  // The requester's own details: the export rules grant owners and admins only the status fields of
  // others' exports. The view has no tenant id: it was read in this Scope, so it is this tenant's.
  const row = { tenantId: scope.tenantId, requestedById: exp.requestedById };
  const details = visibleFields(scope, 'Export', row, ['filters', 'rowCount', 'byteSize', 'sha256', 'errorCode']);
  if (details.includes('filters')) response.filters = { ...(exp.filters.status ? { status: exp.filters.status } : {}), ...(exp.filters.createdFrom ? { createdFrom: exp.filters.createdFrom } : {}), ...(exp.filters.createdTo ? { createdTo: exp.filters.createdTo } : {}) };
  if (details.includes('rowCount')) response.rowCount = exp.rowCount;
  if (details.includes('byteSize')) response.byteSize = exp.byteSize === null ? null : Number(exp.byteSize);
  if (details.includes('sha256')) response.sha256 = exp.sha256;
  if (details.includes('errorCode')) response.errorCode = exp.errorCode;
  return response;
}

export function downloadUrlResponse(link: { path: string; expiresAt: Date }): DownloadUrlResponse {
  return { url: link.path, expiresAt: link.expiresAt.toISOString() };
}

const day: Schema = { type: 'string', format: 'date' };
const REQUESTER_ONLY = ['filters', 'rowCount', 'byteSize', 'sha256', 'errorCode'];

const EXPORT_PROPERTIES: Record<string, Schema> = {
  id: { type: 'string', format: 'uuid' },
  type: { type: 'string', enum: ['invoices', 'tickets', 'subject_access'] },
  format: { type: 'string', enum: ['csv', 'jsonl', 'json'] },
  status: { type: 'string', enum: ['queued', 'running', 'ready', 'failed', 'expired'] },
  requestedByMe: { type: 'boolean' },
  createdAt: dateTime,
  startedAt: nullable(dateTime),
  completedAt: nullable(dateTime),
  expiresAt: nullable({ ...dateTime, description: 'When the file is deleted (ready exports).' }),
  filters: {
    type: 'object',
    properties: { status: { type: 'string' }, createdFrom: day, createdTo: day },
    additionalProperties: false,
    description: 'Only on your own exports.',
  },
  rowCount: nullable({ type: 'integer', description: 'Only on your own exports.' }),
  byteSize: nullable({ type: 'integer', description: 'Only on your own exports.' }),
  sha256: nullable({ type: 'string', pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the file. Only on your own exports.' }),
  errorCode: nullable({ type: 'string', description: 'Why a failed export failed. Only on your own exports.' }),
};

/** For apps/api/src/openapi/openapi.schemas.ts (RESPONSE_SCHEMAS, SUCCESS_BODIES and EXTRA_ERRORS) to spread in. */
export const EXPORT_RESPONSE_SCHEMAS: Record<string, Schema> = {
  Export: { type: 'object', properties: EXPORT_PROPERTIES, required: Object.keys(EXPORT_PROPERTIES).filter((k) => !REQUESTER_ONLY.includes(k)), additionalProperties: false },
  ExportPage: {
    type: 'object',
    properties: { items: { type: 'array', items: { $ref: '#/components/schemas/Export' } }, nextCursor: nullable({ type: 'string' }) },
    required: ['items', 'nextCursor'],
    additionalProperties: false,
  },
  ExportDownloadUrl: {
    type: 'object',
    properties: {
      url: { type: 'string', description: 'GET it (relative to the API origin) without an access token, until expiresAt.' },
      expiresAt: dateTime,
    },
    required: ['url', 'expiresAt'],
    additionalProperties: false,
  },
};

export const EXPORT_SUCCESS_BODIES: Record<string, { json: string } | { binary: true }> = {
  'ExportsController.create': { json: 'Export' },
  'ExportsController.list': { json: 'ExportPage' },
  'ExportsController.get': { json: 'Export' },
  'ExportsController.content': { binary: true },
  'ExportsController.downloadUrl': { json: 'ExportDownloadUrl' },
  'ExportsController.file': { binary: true },
};

/** 409: not ready or failed; 410: the file has expired; 403 on the link route: the link is not valid. */
export const EXPORT_EXTRA_ERRORS: Record<string, number[]> = {
  'ExportsController.content': [409, 410],
  'ExportsController.downloadUrl': [410],
  'ExportsController.file': [403, 409, 410],
};
