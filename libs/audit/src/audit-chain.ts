import { createHash } from 'node:crypto';
import { canonicalize, type CanonicalValue } from '@benteng/common';

/** The `prev_hash` of a tenant's first event (seq 1). */
export const GENESIS_HASH = '0'.repeat(64);

/** Every stored column of an audit row except `hash` itself: what the hash covers. */
export interface ChainedEvent {
  tenantId: string;
  seq: bigint;
  id: string;
  occurredAt: Date;
  type: string;
  outcome: string;
  actor: string;
  subject: string | null;
  requestId: string | null;
  ip: string | null;
  /** The jsonb `data` column; checked by canonicalize, so a value JSON cannot hold throws. */
  data: unknown;
  prevHash: string;
}

/**
 * The hash of one audit row: lowercase hex SHA-256 of the canonical JSON of all its columns,
 * including the previous row's hash. Changing any column of a row changes its hash, and since the
 * next row stores that hash, changing a row without rewriting every later one breaks the chain.
 *
 * The writer and the verifier both call this with values as PostgreSQL stores them (time in
 * milliseconds, absent text as null), so a row read back hashes to what was written.
 */
export function auditEventHash(event: ChainedEvent): string {
  const canonical = canonicalize({
    tenantId: event.tenantId,
    seq: event.seq,
    id: event.id,
    occurredAt: event.occurredAt.toISOString(),
    type: event.type,
    outcome: event.outcome,
    actor: event.actor,
    subject: event.subject,
    requestId: event.requestId,
    ip: event.ip,
    data: event.data as CanonicalValue,
    prevHash: event.prevHash,
  });
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}
