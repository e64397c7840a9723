import { Injectable } from '@nestjs/common';
import { OPERATOR_ROLES, type OperatorRole } from '@benteng/authz';
import { isUuid } from '@benteng/common';
import { PlatformDatabase } from './platform-database.js';

export interface OperatorRecord {
  id: string;
  email: string;
  displayName: string;
  roles: OperatorRole[];
  status: 'active' | 'disabled';
}

/**
 * Operator records, read one at a time through internal_operator_lookup (SECURITY DEFINER, owned
 * by benteng_platform): the runtime role has no grant on the operators table itself.
 */
@Injectable()
export class OperatorDirectory {
  constructor(private readonly db: PlatformDatabase) {}

  async find(operatorId: string): Promise<OperatorRecord | undefined> {
    if (!isUuid(operatorId)) return undefined;
    const row = await this.db.findOperator(operatorId);
    if (!row) return undefined;
    // The CHECK constraint allows only known roles; anything else is dropped rather than trusted.
    const roles = row.roles.filter((r): r is OperatorRole => (OPERATOR_ROLES as readonly string[]).includes(r));
    return { id: row.id, email: row.email, displayName: row.display_name, roles, status: row.status };
  }
}
