import { principalId, type Principal } from '@benteng/authz';
import { AUDIT_EVENT_TYPES, AUDIT_OUTCOMES, type AuditDataValue, type AuditEntry } from './audit.types.js';

/** Longest string value kept in an audit row, in characters (code points). */
export const MAX_AUDIT_TEXT = 200;

/** Data keys that name a secret, or something derived from one. See AuditEntry. */
const SECRET_KEY = /password|token|secret|key|hash/i;

/** The actor of an entry: the principal's id, or `anonymous` before anyone is authenticated. */
export function auditActor(principal: Principal | undefined): string {
  return principal ? principalId(principal) : 'anonymous';
}

/**
 * A successful change by the acting principal (a Scope's) to `subject` (`membership:<id>`,
 * `partner_key:<id>`, `webhook_endpoint:<id>`), with the request's address and id: the audit entry
 * most management calls record.
 */
export function successEntry(by: { readonly principal: Principal }, type: AuditEntry['type'], subject: string, meta: { readonly ip: string; readonly requestId?: string }): AuditEntry {
  return { type, outcome: 'success', actor: principalId(by.principal), subject, ip: meta.ip, ...(meta.requestId ? { requestId: meta.requestId } : {}) };
}

/** An entry ready to hash and store: validated, absent fields as null, strings cleaned and capped. */
export interface NormalizedEntry {
  type: string;
  outcome: string;
  actor: string;
  subject: string | null;
  requestId: string | null;
  ip: string | null;
  data: Record<string, AuditDataValue>;
}

/**
 * Checks an entry and brings it to the exact form it is stored in, so the hash computed now is the
 * hash the verifier recomputes from the row later. Throws a plain Error for programming mistakes
 * (an unknown type, a secret-looking key, a nested value); messages name the offending key, never
 * a value.
 */
export function normalizeEntry(entry: AuditEntry): NormalizedEntry {
  if (!(AUDIT_EVENT_TYPES as readonly string[]).includes(entry.type)) throw new Error('Audit entry has an unknown type');
  if (!(AUDIT_OUTCOMES as readonly string[]).includes(entry.outcome)) throw new Error('Audit entry has an unknown outcome');
  if (typeof entry.actor !== 'string' || entry.actor === '') throw new Error('Audit entry needs an actor');
  return {
    type: entry.type,
    outcome: entry.outcome,
    actor: cleanText(entry.actor),
    subject: optionalText(entry.subject),
    requestId: optionalText(entry.requestId),
    ip: optionalText(entry.ip),
    data: normalizeData(entry.data ?? {}),
  };
}

function normalizeData(data: Record<string, AuditDataValue>): Record<string, AuditDataValue> {
  const result: Record<string, AuditDataValue> = {};
  for (const [key, value] of Object.entries(data)) {
    if (SECRET_KEY.test(key)) {
      throw new Error(`Audit data key "${key}" looks like a secret; audit data must never carry secrets (AuditEntry)`);
    }
    if (typeof value === 'string') result[key] = cleanText(value);
    else if (value === null || typeof value === 'boolean') result[key] = value;
    // NaN and Infinity would be stored as null by JSON serialisation and break the row's hash.
    else if (typeof value === 'number' && Number.isFinite(value)) result[key] = value;
    else throw new Error(`Audit data key "${key}" must hold a string, a finite number, a boolean or null`);
  }
  return result;
}

function optionalText(value: string | undefined | null): string | null {
  return value === undefined || value === null ? null : cleanText(value);
}

/**
 * Makes a string storable and bounded. PostgreSQL refuses NUL in text and jsonb, and lone UTF-16
 * surrogates in jsonb; either would turn a hostile header or form value into a failed audit write.
 * The cap counts code points, so it never cuts a surrogate pair in half; 200 code points lie within
 * the first 400 UTF-16 units, so a huge input is never walked in full.
 */
function cleanText(value: string): string {
  const capped = value.length <= MAX_AUDIT_TEXT ? value : Array.from(value.slice(0, 2 * MAX_AUDIT_TEXT)).slice(0, MAX_AUDIT_TEXT).join('');
  return capped.toWellFormed().replaceAll('\u0000', '\uFFFD');
}
