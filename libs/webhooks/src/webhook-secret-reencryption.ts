import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { PlatformAuditLog } from '@benteng/audit';
import { accessibleWhere } from '@benteng/authz';
import { AppConfig } from '@benteng/config';
import { PrismaService, TenantDatabase } from '@benteng/database';
import { PlatformJob, type PlatformJobHandler, type PlatformJobRun } from '@benteng/jobs';
import { Scope } from '@benteng/tenancy';
import { WebhookSecretBox } from './webhook-secret-box.js';

export const DATA_REENCRYPTION_JOB = 'platform.data-reencryption';
/** Endpoints per page of the cross-tenant scan (each row is re-sealed in its own tenant transaction). */
export const REENCRYPTION_BATCH = 100;
/** Unreadable rows named in the audit event and the report (the count is always complete). */
const NAMED_UNREADABLE = 20;

export interface ReencryptionReport {
  /** The DATA_ENCRYPTION_KEYS key everything was moved to. */
  activeKid: string;
  /** Endpoints examined (a secret under another key when the scan found them). */
  examined: number;
  /** Ciphertexts sealed again under the active key (an endpoint has one or two). */
  resealed: number;
  /** Endpoints whose secret no configured key opens for them: left as they are, named (first 20). */
  unreadable: number;
  unreadableRows: { tenantId: string; id: string }[];
  /** Stopped by its signal (worker shutdown, the test): run it again, it continues with what is left. */
  interrupted: boolean;
  /** Ciphertexts still sealed under an older key of the ring after the run, per kid (empty: those keys can go). */
  remainingByKid: Record<string, number>;
  /**
   * Ciphertexts under kids DATA_ENCRYPTION_KEYS does not hold at all (a key removed before its
   * values were moved): no key here opens them, with or without this job. Reported, never changed.
   */
  unknownByKid: Record<string, number>;
  /** Not interrupted, nothing unreadable, nothing left under an older key: the older keys may be removed. */
  complete: boolean;
}

export interface ReencryptionOptions {
  /** Who started it, for the platform audit event: `system:key-rotation` or `operator-cli:keys-rotate`. */
  actor: string;
  requestId?: string | undefined;
  batchSize?: number;
  /** Checked between rows: an aborted run stops, audits what it did and reports `interrupted`. */
  signal?: AbortSignal;
  /** Called after each page (progress; the tests interrupt a run from here). */
  onBatch?: (progress: { examined: number; resealed: number }) => void;
}

/**
 * The re-encryption job of the data-encryption keys (docs/operations.md, "Key rotation"): every
 * stored webhook signing secret (current and previous) sealed under a DATA_ENCRYPTION_KEYS key
 * other than the active one is opened and sealed again under the active key, so an old key can be
 * removed from the ring. These are all the values sealed with DATA_ENCRYPTION_KEYS: WebhookSecretBox
 * is the key ring's only user (libs/config/src/keyrings.ts, dataEncryptionKeys).
 *
 * Resumable and safe to run twice or concurrently: the scan (`data_reencryption_webhook_pending`,
 * a platform function that returns ids only) pages by (tenant_id, id) and returns only rows still
 * under another key, so a new run starts with what is left; each row is re-sealed in a tenant
 * transaction of the `webhooks` system principal with the row locked and its ciphertexts read again,
 * so two runs (or a secret rotation through the API) never overwrite each other. The endpoint's
 * version and updated_at do not change: nothing a client sees changed.
 *
 * A row under an older key that does not open with it (a damaged value, a ciphertext moved to
 * another row) is never lost: it stays as it is, is counted and named, and the run does not
 * complete (audit outcome `failure`, the job fails, the CLI exits 1), so the key is not removed.
 * Values under kids the ring does not hold at all are counted apart (`unknownByKid`): nothing here
 * opens them. One platform audit event `platform.data_reencrypted` per run with the counts.
 */
@Injectable()
export class WebhookSecretReencryption {
  constructor(
    private readonly prisma: PrismaService,
    private readonly db: TenantDatabase,
    private readonly box: WebhookSecretBox,
    private readonly platformAudit: PlatformAuditLog,
  ) {}

  /** Stored ciphertexts per kid that sealed them (both secret columns of every endpoint). */
  async sealedCounts(): Promise<Record<string, number>> {
    const rows = await this.prisma.client.$queryRaw<{ kid: string; sealed: bigint }[]>`SELECT kid, sealed FROM data_encryption_sealed_counts()`;
    return Object.fromEntries(rows.map((r) => [r.kid, Number(r.sealed)]));
  }

  async run(options: ReencryptionOptions): Promise<ReencryptionReport> {
    const activeKid = this.box.activeKid;
    const olderKids = this.box.olderKids;
    const batchSize = options.batchSize ?? REENCRYPTION_BATCH;
    let examined = 0;
    let resealed = 0;
    const unreadable: { tenantId: string; id: string }[] = [];
    let interrupted = false;
    let after: { tenantId: string; id: string } | null = null;
    scan: for (;;) {
      if (olderKids.length === 0) break;
      const page: { tenant_id: string; id: string }[] = await this.prisma.client.$queryRaw`
        SELECT tenant_id::text, id::text FROM data_reencryption_webhook_pending(${olderKids}::text[], ${after?.tenantId ?? null}::uuid, ${after?.id ?? null}::uuid, ${batchSize}::int)`;
      for (const row of page) {
        if (options.signal?.aborted) {
          interrupted = true;
          break scan;
        }
        examined += 1;
        const outcome = await this.resealRow(row.tenant_id, row.id);
        if (outcome === 'unreadable') unreadable.push({ tenantId: row.tenant_id, id: row.id });
        else resealed += outcome;
        after = { tenantId: row.tenant_id, id: row.id };
      }
      options.onBatch?.({ examined, resealed });
      if (page.length < batchSize) break;
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
    }
    const counts = Object.entries(await this.sealedCounts());
    const remainingByKid = Object.fromEntries(counts.filter(([kid]) => olderKids.includes(kid)));
    const unknownByKid = Object.fromEntries(counts.filter(([kid]) => kid !== activeKid && !olderKids.includes(kid)));
    const complete = !interrupted && unreadable.length === 0 && Object.keys(remainingByKid).length === 0;
    const report: ReencryptionReport = { activeKid, examined, resealed, unreadable: unreadable.length, unreadableRows: unreadable.slice(0, NAMED_UNREADABLE), interrupted, remainingByKid, unknownByKid, complete };
    await this.platformAudit.record({
      type: 'platform.data_reencrypted',
      outcome: complete ? 'success' : 'failure',
      actor: options.actor,
      subject: 'data-encryption',
      ...(options.requestId ? { requestId: options.requestId } : {}),
      data: {
        family: 'data-encryption',
        activeKid,
        examined,
        resealed,
        unreadable: unreadable.length,
        unreadableRows: unreadable
          .slice(0, NAMED_UNREADABLE)
          .map((r) => `${r.tenantId}/${r.id}`)
          .join(' '),
        interrupted,
        remaining: Object.values(remainingByKid).reduce((sum, n) => sum + n, 0),
        remainingKids: Object.keys(remainingByKid).join(' '),
        unknown: Object.values(unknownByKid).reduce((sum, n) => sum + n, 0),
        unknownKids: Object.keys(unknownByKid).join(' '),
      },
    });
    return report;
  }

  /** One endpoint, locked: its ciphertexts under another key sealed again; how many, or 'unreadable'. */
  private resealRow(tenantId: string, id: string): Promise<number | 'unreadable'> {
    const scope = Scope.for(tenantId, { kind: 'system', name: 'webhooks' });
    return this.db.run(scope, async (tx) => {
      await tx.$queryRaw`SELECT 1 FROM webhook_endpoints WHERE id = ${id}::uuid FOR UPDATE`;
      const row = await tx.webhookEndpoint.findFirst({
        where: { AND: [accessibleWhere(scope.ability, 'update', 'WebhookEndpoint'), { id }] },
        select: { secretCiphertext: true, previousSecretCiphertext: true },
      });
      if (!row) return 0; // deleted meanwhile
      let current: string | null;
      let previous: string | null = null;
      try {
        current = this.box.reseal(row.secretCiphertext, tenantId, id);
        if (row.previousSecretCiphertext) previous = this.box.reseal(row.previousSecretCiphertext, tenantId, id);
      } catch {
        return 'unreadable';
      }
      if (current === null && previous === null) return 0; // another run moved it meanwhile
      await tx.webhookEndpoint.update({
        where: { tenantId_id: { tenantId, id } },
        data: { ...(current !== null ? { secretCiphertext: current } : {}), ...(previous !== null ? { previousSecretCiphertext: previous } : {}) },
        select: { id: true },
      });
      return (current !== null ? 1 : 0) + (previous !== null ? 1 : 0);
    });
  }
}

/**
 * `platform.data-reencryption`, every KEY_ROTATION_CHECK_INTERVAL_S (a new DATA_ENCRYPTION_KEYS
 * reaches the worker by a restart, which schedules it again): when some stored secret is sealed
 * under an older key of the ring, moves it (WebhookSecretReencryption). Nothing to move: nothing done,
 * nothing audited. A run that cannot complete (unreadable rows) fails the job after auditing it.
 */
@PlatformJob(DATA_REENCRYPTION_JOB, { everyMs: (config: AppConfig) => config.KEY_ROTATION_CHECK_INTERVAL_S * 1000 })
@Injectable()
export class DataReencryptionHandler implements PlatformJobHandler {
  constructor(
    private readonly reencryption: WebhookSecretReencryption,
    private readonly box: WebhookSecretBox,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(DataReencryptionHandler.name);
  }

  async handle(_data: unknown, context: PlatformJobRun): Promise<void> {
    const older = this.box.olderKids;
    const counts = await this.reencryption.sealedCounts();
    if (!Object.keys(counts).some((kid) => older.includes(kid))) return;
    const report = await this.reencryption.run({ actor: 'system:key-rotation', requestId: context.requestId });
    this.logger.info({ event: 'keys.data_reencrypted', requestId: context.requestId, ...report }, 'data re-encryption run');
    if (!report.complete && report.unreadable > 0) throw new Error(`data re-encryption: ${report.unreadable} stored secret(s) no configured key opens; see the platform audit event platform.data_reencrypted`);
  }
}
