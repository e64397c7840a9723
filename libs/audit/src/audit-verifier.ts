import { Inject, Injectable, Optional } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { TenantDatabase, type AuditEvent, type TenantTx } from '@benteng/database';
import { Scope } from '@benteng/tenancy';
import { auditEventHash, GENESIS_HASH, personalCommitment } from './audit-chain.js';
import type { AuditLogSink } from './audit-log.js';

/**
 * Where a chain first fails, and how. `seq` is the sequence number at which it fails:
 * - `bad_start`: seq 1 is missing, or does not start from the genesis hash;
 * - `gap`: rows are contiguous up to `seq - 1` and row `seq` is missing;
 * - `broken_link`: row `seq` does not carry the hash of row `seq - 1` (an earlier row was rewritten
 *   with a recomputed hash, or this row's link was edited);
 * - `hash_mismatch`: row `seq` does not hash to its stored hash (a column was edited in place).
 */
export type ChainProblem = 'bad_start' | 'gap' | 'broken_link' | 'hash_mismatch';

/**
 * The outcome of checking one tenant's chain. `count` is the number of rows that checked out
 * (before the failure, if any); `head` is the last row, null for an empty log.
 *
 * A chain cannot show that rows were cut from its end: compare `head` with a copy kept elsewhere
 * (the log lines of the latest events, a periodically exported head) to notice that.
 */
export type ChainVerification =
  | { ok: true; count: number; head: { seq: number; hash: string } | null }
  | { ok: false; count: number; seq: number; problem: ChainProblem };

/** Rows per query: memory stays flat however long the chain grows. */
const PAGE_SIZE = 1000;

/**
 * Recomputes a tenant's chain in `seq` order inside `tx`, which must be a transaction of that
 * tenant (RLS shows no other rows). Run it in a REPEATABLE READ transaction to check one
 * consistent snapshot while appends continue.
 */
export async function verifyChain(tx: TenantTx, tenantId: string): Promise<ChainVerification> {
  let count = 0;
  // The last row that checked out; seq 0 with the genesis hash stands before the first row.
  let lastSeq = 0n;
  let lastHash = GENESIS_HASH;
  const fail = (problem: ChainProblem, seq: bigint): ChainVerification => ({ ok: false, count, seq: Number(seq), problem });
  for (;;) {
    const page: AuditEvent[] = await tx.auditEvent.findMany({
      where: { tenantId: tenantId.toLowerCase(), seq: { gt: lastSeq } },
      orderBy: { seq: 'asc' },
      take: PAGE_SIZE,
    });
    for (const row of page) {
      const expectedSeq = lastSeq + 1n;
      if (expectedSeq === 1n && (row.seq !== 1n || row.prevHash !== GENESIS_HASH)) return fail('bad_start', 1n);
      if (row.seq !== expectedSeq) return fail('gap', expectedSeq);
      if (row.prevHash !== lastHash) return fail('broken_link', row.seq);
      const { hash, personalSalt, erasedAt, ...columns } = row;
      if (auditEventHash(columns) !== hash) return fail('hash_mismatch', row.seq);
      if (!detailHolds(row.hashVersion, row.personalCommitment, personalSalt, erasedAt, row.ip, row.data)) return fail('hash_mismatch', row.seq);
      count += 1;
      lastSeq = row.seq;
      lastHash = hash;
    }
    if (page.length < PAGE_SIZE) break;
  }
  return { ok: true, count, head: count > 0 ? { seq: Number(lastSeq), hash: lastHash } : null };
}

/**
 * A version 2 row's erasable detail: present, it must open the hashed commitment with its salt (an
 * edited ip or data is a mismatch like any edited column); erased, ip, data and salt must all be
 * gone. A version 1 row's ip and data are covered by its hash directly.
 */
function detailHolds(version: number, commitment: string | null, salt: string | null, erasedAt: Date | null, ip: string | null, data: unknown): boolean {
  if (version !== 2) return salt === null && erasedAt === null;
  if (erasedAt !== null) return salt === null && ip === null && isEmptyObject(data);
  return salt !== null && commitment === personalCommitment(salt, { ip, data });
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
}

/** Checks a tenant's audit chain as the `system:audit` principal, for operator tools and jobs. */
@Injectable()
export class AuditVerifier {
  constructor(
    private readonly db: TenantDatabase,
    @Optional() @Inject(PinoLogger) private readonly logger?: AuditLogSink,
  ) {
    if (logger instanceof PinoLogger) logger.setContext(AuditVerifier.name);
  }

  async verify(tenantId: string): Promise<ChainVerification> {
    const scope = Scope.for(tenantId, { kind: 'system', name: 'audit' });
    // The ability is checked although system:audit always has it, so the rule stays the authority.
    if (!scope.ability.can('read', 'AuditEvent')) throw new Error('AuditVerifier: system:audit may not read the audit log');
    const result = await this.db.run(scope, (tx) => verifyChain(tx, scope.tenantId), { isolationLevel: 'RepeatableRead' });
    // A broken chain means someone with database rights rewrote history: an incident, not a bug.
    if (!result.ok) this.logger?.error({ audit: { tenantId: scope.tenantId, ...result } }, 'audit chain broken');
    return result;
  }
}
