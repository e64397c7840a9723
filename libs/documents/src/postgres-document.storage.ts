import { Injectable } from '@nestjs/common';
import { TenantDatabase } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { DocumentStorage } from './document.storage.js';
import { isCanonicalUuid } from '@benteng/common';


/**
 * The default document storage: one `document_contents` row per document, in a tenant
 * transaction. Row-level security keeps the bytes of one tenant out of another's reach exactly as
 * it does the metadata, and backups, replicas and tenant exports include them with no extra
 * machinery. The key is the row id.
 *
 * Authorization (may this caller read or delete this document?) is decided on the metadata
 * before a key reaches this class; here the tenant boundary is enforced twice, by the explicit
 * tenant in every query and by RLS.
 */
@Injectable()
export class PostgresDocumentStorage extends DocumentStorage {
  constructor(private readonly db: TenantDatabase) {
    super();
  }

  async put(scope: Scope, content: Buffer): Promise<string> {
    const row = await this.db.run(scope, (tx) =>
      tx.documentContent.create({ data: { tenantId: scope.tenantId, content: new Uint8Array(content) }, select: { id: true } }),
    );
    return row.id;
  }

  async get(scope: Scope, key: string): Promise<Buffer | null> {
    if (!isCanonicalUuid(key)) return null;
    const row = await this.db.run(scope, (tx) =>
      tx.documentContent.findUnique({ where: { tenantId_id: { tenantId: scope.tenantId, id: key } }, select: { content: true } }),
    );
    return row ? Buffer.from(row.content) : null;
  }

  async delete(scope: Scope, key: string): Promise<void> {
    if (!isCanonicalUuid(key)) return;
    await this.db.run(scope, (tx) => tx.documentContent.deleteMany({ where: { tenantId: scope.tenantId, id: key } }));
  }
}
