import type { AuditDataValue } from '@benteng/audit';

/** A date in an audit entry's data: ISO 8601, or null. */
export const iso = (value: Date | null): AuditDataValue => value?.toISOString() ?? null;
