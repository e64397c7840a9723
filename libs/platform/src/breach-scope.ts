import { Injectable } from '@nestjs/common';
import { OperatorAudit } from './operator-audit.js';
import { OperatorError, OperatorErrorCode } from './operator-error.js';
import { PlatformDatabase, type BreachRow } from './platform-database.js';
import type { PlatformScope } from './platform-scope.js';

/** UU PDP (Law 27 of 2022), art. 46: notify within 3 × 24 hours of detection (docs/privacy.md). */
export const NOTIFICATION_WINDOW_MS = 72 * 3600 * 1000;

/** Rows read per query at most; an answer that reaches it says so (`truncated`). */
const MAX_ROWS = 10_000;

export const COMPROMISED_CREDENTIAL_KINDS = ['session', 'api_key', 'partner_client', 'user'] as const;
export type CompromisedCredentialKind = (typeof COMPROMISED_CREDENTIAL_KINDS)[number];

export interface BreachQuery {
  /** A compromised credential: `session:<id>`, `api_key:<id>`, `partner_client:<id>` or `user:<id>`. */
  credential?: { kind: CompromisedCredentialKind; id: string } | undefined;
  /** Principals (`user:<id>`, `partner:<id>`) and client addresses, within the window. */
  principals?: string[] | undefined;
  ips?: string[] | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  /** When the breach was detected: the notification deadline runs from here. */
  detectedAt: Date;
}

export interface RecordTypeScope {
  recordType: string;
  /** Access records: reads and changes of single records, reads of lists (no record named). */
  read: number;
  changed: number;
  listReads: number;
  /** Distinct records named. */
  records: number;
}

export interface TenantBreachScope {
  tenantId: string;
  /** Who acted, as access records and audit events name them. */
  principals: string[];
  /** Data subjects whose personal data is in the records read or changed, or acted on in audit events. */
  dataSubjects: string[];
  recordTypes: RecordTypeScope[];
  auditEvents: { type: string; count: number }[];
}

export interface BreachScopeView {
  query: { credential: string | null; principals: string[]; ips: string[]; from: string | null; to: string | null };
  detectedAt: string;
  notificationDeadline: string;
  tenants: TenantBreachScope[];
  totals: { tenants: number; dataSubjects: number; accessRecords: number; auditEvents: number };
  /** True when the query reached MAX_ROWS: narrow the window and ask again. */
  truncated: boolean;
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Breach scoping for operators (POST /internal/v1/incidents/breach-scope; docs/privacy.md,
 * "Breach scoping"): given a compromised credential, or principals and addresses in a window, which
 * tenants, which data subjects and which record types were read or changed, and the notification
 * deadline. The rows come from one named cross-tenant function, internal_breach_scope
 * (prisma/migrations/20261207156000_retention_and_access_records), over the access records
 * (apps/api/src/http/access-recorder.ts) and the audit trail; each record's data subjects are read
 * as the database holds the record now. The call is recorded in the platform audit log.
 */
@Injectable()
export class BreachScoping {
  constructor(
    private readonly platformDb: PlatformDatabase,
    private readonly operatorAudit: OperatorAudit,
  ) {}

  async scope(scope: PlatformScope, query: BreachQuery): Promise<BreachScopeView> {
    if (!scope.ability.can('read', 'PlatformAuditEvent')) throw new OperatorError(OperatorErrorCode.Forbidden);
    const principals = new Set(query.principals ?? []);
    let credential: string | null = null;
    if (query.credential?.kind === 'session') credential = `session:${query.credential.id}`;
    else if (query.credential?.kind === 'api_key') credential = `partner_key:${query.credential.id}`;
    else if (query.credential?.kind === 'partner_client') principals.add(`partner:${query.credential.id}`);
    else if (query.credential?.kind === 'user') principals.add(`user:${query.credential.id}`);
    const ips = [...new Set(query.ips ?? [])].sort(byString);
    const rows = await this.platformDb.breachScope({ credential, principals: [...principals].sort(byString), ips, from: query.from ?? null, to: query.to ?? null, limit: MAX_ROWS });
    const tenants = summarise(rows);
    const dataSubjects = new Set(tenants.flatMap((t) => t.dataSubjects.map((s) => `${t.tenantId}/${s}`)));
    const view: BreachScopeView = {
      query: {
        credential: query.credential ? `${query.credential.kind}:${query.credential.id}` : null,
        principals: [...(query.principals ?? [])].sort(byString),
        ips,
        from: query.from?.toISOString() ?? null,
        to: query.to?.toISOString() ?? null,
      },
      detectedAt: query.detectedAt.toISOString(),
      notificationDeadline: new Date(query.detectedAt.getTime() + NOTIFICATION_WINDOW_MS).toISOString(),
      tenants,
      totals: {
        tenants: tenants.length,
        dataSubjects: dataSubjects.size,
        accessRecords: rows.filter((r) => r.source === 'access').length,
        auditEvents: rows.filter((r) => r.source === 'audit').length,
      },
      truncated: rows.length >= MAX_ROWS,
    };
    await this.operatorAudit.record(scope, 'internal.breach_scoped', view.query.credential ?? 'principals', {
      service: scope.principal.service,
      principals: view.query.principals.length,
      ips: ips.length,
      from: view.query.from,
      to: view.query.to,
      detectedAt: view.detectedAt,
      tenants: view.totals.tenants,
      dataSubjects: view.totals.dataSubjects,
      accessRecords: view.totals.accessRecords,
      auditEvents: view.totals.auditEvents,
    });
    return view;
  }
}

/** Groups the rows by tenant: principals, subjects, per record type counts, audit event types. */
function summarise(rows: BreachRow[]): TenantBreachScope[] {
  const tenants = new Map<string, { principals: Set<string>; subjects: Set<string>; types: Map<string, RecordTypeScope & { ids: Set<string> }>; events: Map<string, number> }>();
  for (const row of rows) {
    let t = tenants.get(row.tenant_id);
    if (!t) tenants.set(row.tenant_id, (t = { principals: new Set(), subjects: new Set(), types: new Map(), events: new Map() }));
    t.principals.add(row.principal);
    for (const subject of row.subjects) t.subjects.add(subject);
    if (row.source === 'audit') {
      if (row.event_type) t.events.set(row.event_type, (t.events.get(row.event_type) ?? 0) + 1);
      continue;
    }
    const type = row.record_type ?? 'unknown';
    let entry = t.types.get(type);
    if (!entry) t.types.set(type, (entry = { recordType: type, read: 0, changed: 0, listReads: 0, records: 0, ids: new Set() }));
    if (row.record_id === null && row.action === 'read') entry.listReads += 1;
    else if (row.record_id === null) entry.changed += 1;
    else {
      entry.ids.add(row.record_id);
      if (row.action === 'read') entry.read += 1;
      else entry.changed += 1;
    }
  }
  return [...tenants.entries()]
    .sort(([a], [b]) => byString(a, b))
    .map(([tenantId, t]) => ({
      tenantId,
      principals: [...t.principals].sort(byString),
      dataSubjects: [...t.subjects].sort(byString),
      recordTypes: [...t.types.values()]
        .sort((a, b) => byString(a.recordType, b.recordType))
        .map(({ ids, ...counts }) => ({ ...counts, records: ids.size })),
      auditEvents: [...t.events.entries()].sort(([a], [b]) => byString(a, b)).map(([type, count]) => ({ type, count })),
    }));
}
