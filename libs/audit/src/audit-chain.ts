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
  /** 1 (absent): the hash covers ip and data. 2: it covers personalCommitment instead. */
  hashVersion?: number;
  /** Version 2: the salted commitment to ip and data (personalCommitment()). */
  personalCommitment?: string | null;
}

/**
 * The commitment a version 2 row stores to its erasable detail: lowercase hex SHA-256 of the salt
 * and the canonical JSON of `{ip, data}`. The chain hashes the commitment, not the detail, so a data
 * subject erasure can clear ip, data and the salt (docs/privacy.md, Data subject requests) and the
 * chain still verifies. While the detail is present it must open the commitment, so editing it is
 * still detected; once the salt is gone, the commitment cannot be tested against a guessed IPv4
 * address (2^32 guesses would suffice without the 128-bit salt).
 */
export function personalCommitment(salt: string, detail: { ip: string | null; data: unknown }): string {
  const canonical = canonicalize({ ip: detail.ip, data: detail.data as CanonicalValue });
  return createHash('sha256').update(`${salt}:${canonical}`, 'utf8').digest('hex');
}

/**
 * The hash of one audit row: lowercase hex SHA-256 of the canonical JSON of all its columns,
 * including the previous row's hash. Changing any column of a row changes its hash, and since the
 * next row stores that hash, changing a row without rewriting every later one breaks the chain.
 *
 * Version 2 rows (every row written since prisma/migrations/20261207155000_privacy) hash the same
 * columns with the commitment in place of ip and data; version 1 rows keep their original hash.
 *
 * The writer and the verifier both call this with values as PostgreSQL stores them (time in
 * milliseconds, absent text as null), so a row read back hashes to what was written.
 */
export function auditEventHash(event: ChainedEvent): string {
  if (event.hashVersion === 2) {
    if (typeof event.personalCommitment !== 'string') throw new TypeError('auditEventHash: a version 2 row needs its personal commitment');
    return sha256(canonicalize({
      hashVersion: 2,
      tenantId: event.tenantId,
      seq: event.seq,
      id: event.id,
      occurredAt: event.occurredAt.toISOString(),
      type: event.type,
      outcome: event.outcome,
      actor: event.actor,
      subject: event.subject,
      requestId: event.requestId,
      personalCommitment: event.personalCommitment,
      prevHash: event.prevHash,
    }));
  }
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
  return sha256(canonical);
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
